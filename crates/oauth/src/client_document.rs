//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document):
//! a `client_id` that is an `https` URL names a JSON document, served by the
//! client at that URL, that is the client's metadata. The rules here are
//! pure: which ids are such URLs, what a document must say, which addresses
//! a document may be fetched from (the fetch is an SSRF risk), how long a
//! fetched document is kept, and which hosts an operator's allow-list
//! admits. The fetching itself is the server's (`app::client_documents`).

use super::redirect_uri::{check_redirect_uris, check_web_uri};
use super::scope::parse_scope;
use super::GrantType;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A document larger than this is refused (reading stops past it).
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// A shown name longer than this is refused.
pub const MAX_NAME_CHARS: usize = 100;

/// Whether a `client_id` is meant as a document's URL rather than the id of
/// a registered client. Registered clients' ids never contain `://`.
pub fn is_document_id(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// The draft's §3 rules for the URL itself: `https`, a host, a path
/// component other than `/`, no fragment, no user name or password, no
/// single- or double-dot path segments; and (stricter than its SHOULD NOT)
/// no query. The URL must be in the form the URL standard writes it, so the
/// exact comparison with the document's `client_id` means what it says.
/// `loopback_http` (a development setting) also admits `http` on
/// `localhost`, `127.0.0.1` and `[::1]`.
pub fn check_document_url(client_id: &str, loopback_http: bool) -> Result<url::Url, String> {
    if client_id.len() > 255 {
        return Err("the client_id URL is longer than 255 characters".into());
    }
    let parsed = url::Url::parse(client_id)
        .map_err(|e| format!("the client_id is not an absolute URL: {e}"))?;
    match parsed.scheme() {
        "https" => {}
        "http"
            if loopback_http
                && matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")) => {}
        _ => return Err("a client_id URL must use https".into()),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the client_id URL has no host".into());
    }
    if client_id.contains('#') {
        return Err("the client_id URL must not have a fragment".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("the client_id URL must not contain a user name or password".into());
    }
    if client_id.contains('?') {
        return Err("the client_id URL must not have a query".into());
    }
    // The raw path, before the URL parser removes dot segments.
    let after_scheme = client_id.split_once("://").map_or("", |(_, r)| r);
    let raw_path = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
    if raw_path.split('/').any(|seg| {
        let s = seg.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    }) {
        return Err("the client_id URL must not have . or .. path segments".into());
    }
    if parsed.path() == "/" || parsed.path().is_empty() {
        return Err("the client_id URL must have a path".into());
    }
    if parsed.as_str() != client_id {
        return Err(format!(
            "the client_id URL is not in its normal form (it reads '{}')",
            parsed.as_str()
        ));
    }
    Ok(parsed)
}

/// A document that passed every rule: what gatehouse takes from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientDocument {
    pub client_id: String,
    pub redirect_uris: Vec<String>,
    /// `authorization_code`, and `refresh_token` when the document asks.
    pub grant_types: Vec<GrantType>,
    /// The client's own claims, shown as such.
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    /// The scopes the document says the client uses, when it says.
    pub scope: Option<Vec<String>>,
}

fn optional_string<'a>(
    obj: &'a serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Result<Option<&'a str>, String> {
    match obj.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("the document's {key} must be a string")),
    }
}

fn string_list(
    obj: &serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Result<Option<Vec<String>>, String> {
    match obj.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("the document's {key} must be a list of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(format!("the document's {key} must be a list of strings")),
    }
}

/// The draft's §4 rules for the document fetched from `url`: a JSON object
/// whose `client_id` equals `url` exactly; `redirect_uris` present and each
/// registrable (the rules of registered apps); no `client_secret`, and
/// `token_endpoint_auth_method` `none` (absent reads as `none`: a document
/// client has no secret to use); grant types among `authorization_code`
/// and `refresh_token` (default `authorization_code`); response types
/// `code` only; `client_uri` and `logo_uri` web addresses.
pub fn parse_document(url: &str, body: &[u8]) -> Result<ClientDocument, String> {
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "the document is larger than {MAX_DOCUMENT_BYTES} bytes"
        ));
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "the document is not JSON".to_string())?;
    let serde_json::Value::Object(obj) = value else {
        return Err("the document is not a JSON object".into());
    };
    match optional_string(&obj, "client_id")? {
        Some(id) if id == url => {}
        Some(_) => {
            return Err("the document's client_id is not the URL it was fetched from".into())
        }
        None => return Err("the document has no client_id".into()),
    }
    let redirect_uris = match string_list(&obj, "redirect_uris")? {
        Some(uris) if !uris.is_empty() => uris,
        _ => return Err("the document has no redirect_uris".into()),
    };
    check_redirect_uris(&redirect_uris).map_err(|e| format!("the document's {e}"))?;
    if obj.contains_key("client_secret") || obj.contains_key("client_secret_expires_at") {
        return Err("a client metadata document must not contain a client_secret".into());
    }
    match optional_string(&obj, "token_endpoint_auth_method")? {
        None | Some("none") => {}
        Some(other) => {
            return Err(format!(
                "token_endpoint_auth_method '{other}' is not supported for a client metadata document (only none)"
            ))
        }
    }
    let grant_types = match string_list(&obj, "grant_types")? {
        None => vec![GrantType::AuthorizationCode],
        Some(names) => {
            let mut out = Vec::new();
            for n in &names {
                match GrantType::parse(n) {
                    Some(g @ (GrantType::AuthorizationCode | GrantType::RefreshToken)) => {
                        if !out.contains(&g) {
                            out.push(g)
                        }
                    }
                    _ => {
                        return Err(format!(
                        "grant type '{n}' is not available to a client metadata document (authorization_code and refresh_token are)"
                    ))
                    }
                }
            }
            if !out.contains(&GrantType::AuthorizationCode) {
                return Err("the document's grant_types must include authorization_code".into());
            }
            out
        }
    };
    if let Some(types) = string_list(&obj, "response_types")? {
        if types.iter().any(|t| t != "code") {
            return Err("the document's response_types may only be code".into());
        }
    }
    let client_name = optional_string(&obj, "client_name")?
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    if let Some(n) = &client_name {
        if n.chars().count() > MAX_NAME_CHARS || n.chars().any(char::is_control) {
            return Err(format!(
                "the document's client_name must be at most {MAX_NAME_CHARS} printable characters"
            ));
        }
    }
    let web = |key: &str| -> Result<Option<String>, String> {
        match optional_string(&obj, key)? {
            Some(u) => {
                check_web_uri(u, key).map_err(|e| format!("the document's {e}"))?;
                Ok(Some(u.to_string()))
            }
            None => Ok(None),
        }
    };
    let client_uri = web("client_uri")?;
    let logo_uri = web("logo_uri")?;
    let scope = match optional_string(&obj, "scope")? {
        Some(s) => Some(parse_scope(s).map_err(|e| e.description())?),
        None => None,
    };
    Ok(ClientDocument {
        client_id: url.to_string(),
        redirect_uris,
        grant_types,
        client_name,
        client_uri,
        logo_uri,
        scope,
    })
}

/// Whether a document may be fetched from this address: a public unicast
/// address only. Refused: unspecified, loopback (unless `allow_loopback`,
/// a development setting), private (RFC 1918), shared (RFC 6598),
/// link-local, unique-local (RFC 4193), site-local, multicast, broadcast,
/// reserved, documentation and benchmarking ranges, and the IPv6 forms that
/// carry an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4) judged
/// by the address they carry; Teredo is refused outright.
pub fn fetchable_address(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => fetchable_v4(v4, allow_loopback),
        IpAddr::V6(v6) => fetchable_v6(v6, allow_loopback),
    }
}

fn fetchable_v4(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        return allow_loopback;
    }
    !(a == 0                                   // "this network", 0.0.0.0
        || ip.is_private()                     // 10/8, 172.16/12, 192.168/16
        || (a == 100 && (64..128).contains(&b)) // shared address space, 100.64/10
        || ip.is_link_local()                  // 169.254/16
        || (a == 192 && b == 0 && c == 0)      // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)      // documentation
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || (a == 198 && (b == 18 || b == 19))  // benchmarking
        || (a == 192 && b == 88 && c == 99)    // 6to4 relay anycast
        || ip.is_multicast()                   // 224/4
        || a >= 240) // reserved, and the broadcast address
}

fn fetchable_v6(ip: Ipv6Addr, allow_loopback: bool) -> bool {
    let s = ip.segments();
    if ip.is_loopback() {
        return allow_loopback;
    }
    if ip.is_unspecified() {
        return false;
    }
    // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return fetchable_v4(v4, allow_loopback);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return fetchable_v4(v4, allow_loopback);
    }
    // NAT64 64:ff9b::/96 carries an IPv4 address in its last 32 bits.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return fetchable_v4(v4, false);
    }
    // 6to4 2002:AABB:CCDD::/48 carries one in its second and third groups.
    if s[0] == 0x2002 {
        let v4 = Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
        return fetchable_v4(v4, false);
    }
    !((s[0] & 0xfe00) == 0xfc00        // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80   // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0   // site-local fec0::/10 (deprecated)
        || (s[0] & 0xff00) == 0xff00   // multicast ff00::/8
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation 2001:db8::/32
        || (s[0] == 0x2001 && s[1] == 0)      // Teredo 2001::/32
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only 100::/64
        || (s[0] & 0xe000) != 0x2000) // anything outside global unicast 2000::/3
}

/// How long a fetched document is kept: `max-age` of `Cache-Control`
/// within `[min, max]` seconds; `no-store`, `no-cache` or no usable
/// `max-age` keep it `min` seconds (gatehouse must not fetch once per
/// request, whatever the client says).
pub fn cache_seconds(cache_control: Option<&str>, min: i64, max: i64) -> i64 {
    let Some(header) = cache_control else {
        return min;
    };
    let mut max_age = None;
    for directive in header.split(',') {
        let d = directive.trim().to_ascii_lowercase();
        if d == "no-store" || d == "no-cache" {
            return min;
        }
        if let Some(v) = d.strip_prefix("max-age=") {
            max_age = v.trim_matches('"').parse::<i64>().ok();
        }
    }
    max_age.map_or(min, |a| a.clamp(min, max))
}

/// Whether the operator's allow-list admits `host`: an entry is a host
/// name matched exactly (without case), or `*.example.com`, which admits
/// every name below `example.com` but not `example.com` itself.
pub fn host_allowed(host: &str, allow: &[String]) -> bool {
    let host = host.to_ascii_lowercase();
    allow.iter().any(|entry| {
        let entry = entry.to_ascii_lowercase();
        match entry.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            None => host == entry,
        }
    })
}

/// Whether every redirect URI goes to this very machine: the consent page
/// warns, since any program on a computer can listen there.
pub fn all_redirects_local(uris: &[String]) -> bool {
    !uris.is_empty()
        && uris.iter().all(|u| {
            url::Url::parse(u).is_ok_and(|p| {
                p.scheme() == "http"
                    && matches!(p.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://app.example.com/oauth/client.json";

    fn doc(extra: &str) -> Vec<u8> {
        format!(r#"{{"client_id":"{URL}","redirect_uris":["http://127.0.0.1/cb"]{extra}}}"#)
            .into_bytes()
    }

    #[test]
    fn cimd_3_client_id_urls() {
        assert!(check_document_url(URL, false).is_ok());
        assert!(check_document_url("https://app.example.com:8443/c", false).is_ok());
        for bad in [
            "http://app.example.com/client.json", // not https
            "https://app.example.com",            // no path
            "https://app.example.com/",           // no path
            "https://app.example.com/c#frag",     // fragment
            "https://user:pw@app.example.com/c",  // userinfo
            "https://user@app.example.com/c",     // userinfo
            "https://app.example.com/a/../c",     // dot segments
            "https://app.example.com/a/./c",      // dot segments
            "https://app.example.com/a/%2e%2e/c", // encoded dot segments
            "https://app.example.com/c?x=1",      // query
            "https://APP.example.com/c",          // not normal form
            "https://app.example.com:443/c",      // not normal form
            "ftp://app.example.com/c",            // scheme
            "not a url",
        ] {
            assert!(check_document_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_document_url("http://localhost:8080/c", false).is_err());
        assert!(check_document_url("http://localhost:8080/c", true).is_ok());
        assert!(check_document_url("http://example.com/c", true).is_err());
        assert!(is_document_id(URL));
        assert!(!is_document_id("3f1c0e8e-client"));
    }

    #[test]
    fn cimd_4_a_good_document() {
        let d = parse_document(
            URL,
            &doc(r#","client_name":"Editor","client_uri":"https://app.example.com","logo_uri":"https://app.example.com/l.png","grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none","scope":"read openid"}"#.trim_end_matches('}')),
        )
        .unwrap();
        assert_eq!(d.client_name.as_deref(), Some("Editor"));
        assert_eq!(
            d.grant_types,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(
            d.scope,
            Some(vec!["read".to_string(), "openid".to_string()])
        );
        let minimal = parse_document(URL, &doc("")).unwrap();
        assert_eq!(minimal.grant_types, vec![GrantType::AuthorizationCode]);
        assert_eq!(minimal.redirect_uris, vec!["http://127.0.0.1/cb"]);
    }

    #[test]
    fn cimd_4_client_id_must_equal_the_url_exactly() {
        let other = br#"{"client_id":"https://app.example.com/oauth/client.json/","redirect_uris":["https://a/cb"]}"#;
        assert!(parse_document(URL, other)
            .unwrap_err()
            .contains("client_id"));
        let none = br#"{"redirect_uris":["https://a/cb"]}"#;
        assert!(parse_document(URL, none).is_err());
    }

    #[test]
    fn cimd_4_documents_that_are_refused() {
        for (body, why) in [
            (b"not json".to_vec(), "not JSON"),
            (b"[1,2]".to_vec(), "not a JSON object"),
            (
                format!(r#"{{"client_id":"{URL}"}}"#).into_bytes(),
                "redirect_uris",
            ),
            (
                format!(r#"{{"client_id":"{URL}","redirect_uris":[]}}"#).into_bytes(),
                "redirect_uris",
            ),
            (
                format!(r#"{{"client_id":"{URL}","redirect_uris":["javascript:x"]}}"#).into_bytes(),
                "redirect URI",
            ),
            (doc(r#","client_secret":"s""#), "client_secret"),
            (
                doc(r#","token_endpoint_auth_method":"client_secret_basic""#),
                "token_endpoint_auth_method",
            ),
            (
                doc(r#","token_endpoint_auth_method":"private_key_jwt""#),
                "token_endpoint_auth_method",
            ),
            (
                doc(r#","grant_types":["client_credentials"]"#),
                "grant type",
            ),
            (
                doc(r#","grant_types":["refresh_token"]"#),
                "authorization_code",
            ),
            (doc(r#","response_types":["token"]"#), "response_types"),
            (doc(r#","logo_uri":"javascript:alert(1)""#), "logo_uri"),
            (doc(r#","client_uri":"http://example.com""#), "client_uri"),
            (doc(r#","client_name":5"#), "client_name"),
        ] {
            let e = parse_document(URL, &body).unwrap_err();
            assert!(e.contains(why), "{e} / {why}");
        }
        let big = doc(&format!(
            r#","client_name":"{}""#,
            "x".repeat(MAX_DOCUMENT_BYTES)
        ));
        assert!(parse_document(URL, &big).unwrap_err().contains("larger"));
    }

    fn ok(s: &str) -> bool {
        fetchable_address(s.parse().unwrap(), false)
    }

    #[test]
    fn ssrf_public_addresses_only() {
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:93.184.216.34",
        ] {
            assert!(ok(public), "{public}");
        }
        for (range, addrs) in [
            ("loopback", &["127.0.0.1", "127.8.9.10", "::1"][..]),
            (
                "private",
                &["10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1"],
            ),
            ("shared", &["100.64.0.1", "100.127.255.254"]),
            ("link-local", &["169.254.169.254", "fe80::1"]),
            ("unique-local", &["fc00::1", "fd12:3456::1"]),
            ("site-local", &["fec0::1"]),
            ("multicast", &["224.0.0.1", "239.255.255.250", "ff02::1"]),
            ("unspecified", &["0.0.0.0", "0.1.2.3", "::"]),
            ("broadcast and reserved", &["255.255.255.255", "240.0.0.1"]),
            (
                "documentation",
                &["192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1"],
            ),
            ("benchmarking", &["198.18.0.1"]),
            (
                "IPv4-mapped",
                &[
                    "::ffff:127.0.0.1",
                    "::ffff:10.0.0.1",
                    "::ffff:169.254.169.254",
                ],
            ),
            ("IPv4-compatible", &["::127.0.0.1", "::10.0.0.1"]),
            ("NAT64", &["64:ff9b::a00:1", "64:ff9b::7f00:1"]),
            ("6to4", &["2002:7f00:1::1", "2002:a00:1::1"]),
            ("Teredo", &["2001:0:4136:e378::1"]),
        ] {
            for a in addrs {
                assert!(!ok(a), "{range}: {a}");
            }
        }
    }

    #[test]
    fn ssrf_loopback_only_with_the_development_setting() {
        for a in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(fetchable_address(a.parse().unwrap(), true), "{a}");
        }
        for a in ["10.0.0.1", "169.254.169.254", "fd00::1", "64:ff9b::7f00:1"] {
            assert!(!fetchable_address(a.parse().unwrap(), true), "{a}");
        }
    }

    #[test]
    fn cache_control_within_bounds() {
        assert_eq!(cache_seconds(None, 60, 86400), 60);
        assert_eq!(cache_seconds(Some("max-age=600"), 60, 86400), 600);
        assert_eq!(cache_seconds(Some("public, max-age=5"), 60, 86400), 60);
        assert_eq!(cache_seconds(Some("max-age=99999999"), 60, 86400), 86400);
        assert_eq!(cache_seconds(Some("no-store, max-age=600"), 60, 86400), 60);
        assert_eq!(cache_seconds(Some("max-age=600, no-cache"), 60, 86400), 60);
        assert_eq!(cache_seconds(Some("max-age=-3"), 60, 86400), 60);
        assert_eq!(cache_seconds(Some("max-age=abc"), 60, 86400), 60);
    }

    #[test]
    fn allow_list_hosts() {
        let list = vec!["app.example.com".to_string(), "*.tools.dev".to_string()];
        assert!(host_allowed("app.example.com", &list));
        assert!(host_allowed("APP.example.com", &list));
        assert!(host_allowed("a.tools.dev", &list));
        assert!(host_allowed("x.y.tools.dev", &list));
        assert!(!host_allowed("tools.dev", &list));
        assert!(!host_allowed("eviltools.dev", &list));
        assert!(!host_allowed("example.com", &list));
        assert!(!host_allowed("app.example.com.evil", &list));
    }

    #[test]
    fn rfc8252_localhost_only_redirects() {
        assert!(all_redirects_local(&[
            "http://127.0.0.1/cb".into(),
            "http://localhost:3000/cb".into()
        ]));
        assert!(!all_redirects_local(&[
            "http://127.0.0.1/cb".into(),
            "https://app.example.com/cb".into()
        ]));
        assert!(!all_redirects_local(&[]));
    }
}
