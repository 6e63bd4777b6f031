//! What may be registered as a redirect URI or as a client's web address,
//! one set of rules for the CLI, the application pages and `POST /register`
//! (RFC 6749 §3.1.2, RFC 8252 §7, RFC 9700 §2.1, RFC 7591 §2), and how a
//! loopback redirect URI is matched (RFC 8252 §7.3).

/// More than this many redirect URIs for one app is a mistake, not a need.
pub const MAX_REDIRECT_URIS: usize = 20;
/// Longer URIs are refused before parsing.
pub const MAX_URI_LEN: usize = 2000;

/// Schemes that run code or read local data when followed; never a
/// redirect target nor a link on a page, whatever their form.
const DANGEROUS_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "vbscript",
    "file",
    "blob",
    "about",
    "filesystem",
    "view-source",
    "chrome",
    "jar",
];

/// The three loopback hosts of RFC 8252 §7.3 that may use plain `http`.
const LOOPBACK_HOSTS: &[&str] = &["127.0.0.1", "[::1]", "localhost"];

/// Checks one redirect URI for registration; the error is one sentence
/// naming the URI and the rule.
///
/// - absolute, no fragment, no userinfo, no whitespace (RFC 6749 §3.1.2);
/// - `https`, or `http` on a loopback host (RFC 8252 §7.3), or a native
///   app's private-use scheme in reverse-domain form (RFC 8252 §7.1);
/// - never a dangerous scheme such as `javascript:` or `data:`.
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let parsed = parse_absolute(uri, "redirect URI")?;
    if uri.contains('#') {
        return Err(format!("redirect URI '{uri}' must not contain a fragment"));
    }
    match parsed.scheme() {
        "https" => require_host(&parsed, uri, "redirect URI"),
        "http" if is_loopback_http(&parsed) => Ok(()),
        "http" => Err(format!(
            "redirect URI '{uri}' must use https (plain http only for 127.0.0.1, [::1] or localhost)"
        )),
        scheme if is_private_use_scheme(scheme) => Ok(()),
        _ => Err(format!(
            "redirect URI '{uri}' must use https, loopback http, or a private-use scheme in reverse-domain form such as com.example.app:/callback"
        )),
    }
}

/// Checks a list of redirect URIs: each one, no duplicates, not too many.
pub fn check_redirect_uris(uris: &[String]) -> Result<(), String> {
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(format!(
            "at most {MAX_REDIRECT_URIS} redirect URIs per app, got {}",
            uris.len()
        ));
    }
    for (i, uri) in uris.iter().enumerate() {
        check_redirect_uri(uri)?;
        if uris[..i].contains(uri) {
            return Err(format!("redirect URI '{uri}' is listed twice"));
        }
    }
    Ok(())
}

/// Checks a web page address a person will be sent to (`client_uri`,
/// `logo_uri`, RFC 7591 §2): `https`, or `http` on a loopback host.
pub fn check_web_uri(uri: &str, what: &str) -> Result<(), String> {
    let parsed = parse_absolute(uri, what)?;
    match parsed.scheme() {
        "https" => require_host(&parsed, uri, what),
        "http" if is_loopback_http(&parsed) => Ok(()),
        _ => Err(format!(
            "{what} '{uri}' must be an https address (plain http only for 127.0.0.1, [::1] or localhost)"
        )),
    }
}

fn parse_absolute(uri: &str, what: &str) -> Result<url::Url, String> {
    if uri.len() > MAX_URI_LEN {
        return Err(format!("{what} is longer than {MAX_URI_LEN} characters"));
    }
    if uri.is_empty() || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{what} '{}' must be one URI without spaces",
            uri.escape_debug()
        ));
    }
    let parsed =
        url::Url::parse(uri).map_err(|e| format!("{what} '{uri}' is not an absolute URI: {e}"))?;
    if DANGEROUS_SCHEMES.contains(&parsed.scheme()) {
        return Err(format!(
            "{what} '{uri}' uses the {}: scheme, which is never allowed",
            parsed.scheme()
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "{what} '{uri}' must not contain a user name or password"
        ));
    }
    Ok(parsed)
}

fn require_host(parsed: &url::Url, uri: &str, what: &str) -> Result<(), String> {
    match parsed.host_str() {
        Some(h) if !h.is_empty() => Ok(()),
        _ => Err(format!("{what} '{uri}' has no host")),
    }
}

fn is_loopback_http(parsed: &url::Url) -> bool {
    parsed.scheme() == "http"
        && parsed
            .host_str()
            .is_some_and(|h| LOOPBACK_HOSTS.contains(&h))
}

/// Whether a redirect URI is one only a native app may register (RFC 8252
/// §7.1 a private-use scheme, §7.3 loopback http); `false` for https and
/// for anything `check_redirect_uri` refuses.
pub fn is_native_only_redirect_uri(uri: &str) -> bool {
    check_redirect_uri(uri).is_ok() && url::Url::parse(uri).is_ok_and(|u| u.scheme() != "https")
}

/// RFC 8252 §7.1: a private-use scheme is a reverse domain name the app
/// controls, e.g. `com.example.app`: at least two dot-separated labels.
fn is_private_use_scheme(scheme: &str) -> bool {
    !DANGEROUS_SCHEMES.contains(&scheme)
        && scheme.contains('.')
        && scheme
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// Splits `http://HOST[:PORT]REST` into (HOST, REST) when HOST is one of
/// the loopback hosts, from the text itself so that nothing but the port
/// is ever ignored when matching.
fn loopback_parts(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("http://")?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if h.ends_with(']') || !h.contains(':') => {
            if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            h
        }
        _ => authority,
    };
    LOOPBACK_HOSTS.contains(&host).then_some((host, tail))
}

/// Whether a redirect URI given in a request matches a registered one:
/// character for character (RFC 6749 §3.1.2.3, RFC 9700 §2.1), except that
/// for a registered loopback `http` URI any port is accepted (RFC 8252
/// §7.3: native apps listen on an ephemeral port).
pub fn redirect_uri_matches(registered: &str, given: &str) -> bool {
    if registered == given {
        return true;
    }
    match (loopback_parts(registered), loopback_parts(given)) {
        (Some(r), Some(g)) => r == g,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8252_7_redirect_uris_that_may_be_registered() {
        for ok in [
            "https://app.example/cb",
            "https://app.example:8443/cb?x=1",
            "http://127.0.0.1/cb",
            "http://127.0.0.1:53123/cb",
            "http://[::1]:8080/cb",
            "http://localhost:3000/cb",
            "com.example.app:/oauth2redirect",
            "com.example.app:/cb?x=1",
        ] {
            assert!(
                check_redirect_uri(ok).is_ok(),
                "{ok}: {:?}",
                check_redirect_uri(ok)
            );
        }
    }

    #[test]
    fn rfc6749_3_1_2_and_rfc8252_7_redirect_uris_that_are_refused() {
        for bad in [
            "",
            "/cb",
            "app.example/cb",
            "https://app.example#frag",
            "https://app.example/cb#",
            "https://user:pw@app.example/cb",
            "https://user@app.example/cb",
            "http://app.example/cb",
            "http://localhost.evil.com/cb",
            "http://127.0.0.1.evil.com/cb",
            "http://evil.com/?localhost",
            "javascript:alert(1)//",
            "JavaScript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox",
            "file:///etc/passwd",
            "myapp:/cb",
            "https://app.example/c b",
            "https://app.example/cb\n",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad:?} was accepted");
        }
        let long = format!("https://app.example/{}", "a".repeat(MAX_URI_LEN));
        assert!(check_redirect_uri(&long).is_err());
    }

    #[test]
    fn redirect_uri_lists_are_bounded_and_without_duplicates() {
        let many: Vec<String> = (0..=MAX_REDIRECT_URIS)
            .map(|i| format!("https://app.example/cb{i}"))
            .collect();
        assert!(check_redirect_uris(&many).is_err());
        assert!(check_redirect_uris(&many[..MAX_REDIRECT_URIS]).is_ok());
        let twice = vec!["https://a.example/cb".to_string(); 2];
        assert!(check_redirect_uris(&twice).is_err());
    }

    #[test]
    fn rfc7591_2_client_uri_must_be_https_or_loopback() {
        assert!(check_web_uri("https://app.example", "client_uri").is_ok());
        assert!(check_web_uri("http://localhost:8000/", "client_uri").is_ok());
        for bad in [
            "http://app.example",
            "javascript:alert(1)//",
            "data:image/png;base64,AAAA",
            "com.example.app:/x",
            "https://u:p@app.example",
            "not a uri",
        ] {
            assert!(check_web_uri(bad, "client_uri").is_err(), "{bad}");
        }
    }

    #[test]
    fn rfc8252_7_3_loopback_redirect_uris_match_any_port() {
        let reg = "http://127.0.0.1/cb";
        assert!(redirect_uri_matches(reg, "http://127.0.0.1:53123/cb"));
        assert!(redirect_uri_matches(reg, "http://127.0.0.1/cb"));
        assert!(redirect_uri_matches(
            "http://127.0.0.1:8080/cb",
            "http://127.0.0.1:9/cb"
        ));
        assert!(redirect_uri_matches(
            "http://[::1]:1/cb?x=1",
            "http://[::1]:2/cb?x=1"
        ));
        assert!(redirect_uri_matches(
            "http://localhost:1/cb",
            "http://localhost:2/cb"
        ));
        for no in [
            "http://127.0.0.1:53123/cb/",
            "http://127.0.0.1:53123/other",
            "http://127.0.0.1:53123/cb?x=1",
            "http://localhost:53123/cb",
            "http://127.0.0.1.evil.com:80/cb",
            "http://127.0.0.1:abc/cb",
            "https://127.0.0.1:53123/cb",
            "http://127.0.0.1@evil.com/cb",
        ] {
            assert!(!redirect_uri_matches(reg, no), "{no}");
        }
        // Only loopback http is lenient about the port.
        assert!(!redirect_uri_matches(
            "https://app.example:1/cb",
            "https://app.example:2/cb"
        ));
    }
}

#[cfg(test)]
mod proptests {
    //! Property tests: any input is parsed or refused, never a panic, and
    //! what is accepted keeps the rules. `cargo test` runs 256 cases each;
    //! `.ci/run` many more (`PROPTEST_CASES`). The hand-picked inputs of
    //! `crates/oauth/corpus/` run on every `cargo test`.

    use super::*;
    use crate::testing::*;
    use proptest::prelude::*;

    proptest! {
    /// Whatever the redirect-URI rules accept is absolute, has no fragment,
    /// no spaces, no user info, and a safe scheme.
    #[test]
    fn accepted_redirect_uris_keep_the_rules(uri in prop_oneof![
        uri_ish(120),
        uri_ish(60).prop_map(|s| format!("https://{s}")),
        uri_ish(60).prop_map(|s| format!("http://127.0.0.1{s}")),
        uri_ish(60).prop_map(|s| format!("http://localhost{s}")),
        uri_ish(60).prop_map(|s| format!("com.example.app:{s}")),
        uri_ish(60).prop_map(|s| format!("javascript:{s}")),
    ]) {
        if check_redirect_uri(&uri).is_ok() {
            prop_assert!(!uri.contains('#') && !uri.chars().any(char::is_whitespace), "{uri:?}");
            let parsed = url::Url::parse(&uri);
            prop_assert!(parsed.is_ok(), "{uri:?}");
            let parsed = parsed.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(parsed.username().is_empty() && parsed.password().is_none());
            let scheme = parsed.scheme();
            let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
            prop_assert!(
                scheme == "https" || (scheme == "http" && loopback) || scheme.contains('.'),
                "{uri:?}"
            );
            // RFC 8252 §7: everything accepted but https is native apps' only.
            prop_assert_eq!(is_native_only_redirect_uri(&uri), scheme != "https", "{:?}", uri);
        } else {
            prop_assert!(!is_native_only_redirect_uri(&uri), "{uri:?}");
        }
        let _ = check_web_uri(&uri, "client_uri");
    }

    /// RFC 6749 §3.1.2.3: a URI matches itself; anything but a loopback
    /// http URI matches only itself, character for character.
    #[test]
    fn redirect_uris_match_exactly_except_loopback_ports(a in uri_ish(80), b in uri_ish(80)) {
        prop_assert!(redirect_uri_matches(&a, &a));
        if !a.starts_with("http://") || !b.starts_with("http://") {
            prop_assert_eq!(redirect_uri_matches(&a, &b), a == b);
        }
    }

    /// RFC 8252 §7.3: a registered loopback URI matches on any port, and
    /// only with the same host, path and query.
    #[test]
    fn loopback_redirect_uris_match_on_any_port(
        host in prop::sample::select(vec!["127.0.0.1", "[::1]", "localhost"]),
        p1 in 1u16.., p2 in 1u16.., path in "/[a-z/]{0,20}(\\?[a-z=&]{0,10})?", other in "/[a-z/]{0,20}"
    ) {
        let reg = format!("http://{host}{path}");
        let on_p1 = format!("http://{host}:{p1}{path}");
        let on_p2 = format!("http://{host}:{p2}{path}");
        let elsewhere = format!("http://{host}:{p2}{other}");
        let lookalike = format!("http://{host}.evil.example:{p2}{path}");
        prop_assert!(redirect_uri_matches(&reg, &on_p2));
        prop_assert!(redirect_uri_matches(&on_p1, &on_p2));
        if other != path {
            prop_assert!(!redirect_uri_matches(&reg, &elsewhere));
        }
        prop_assert!(!redirect_uri_matches(&reg, &lookalike));
    }
    }

    #[test]
    fn corpus_uris_never_panic_and_keep_the_rules() {
        for uri in corpus("uri") {
            if check_redirect_uri(&uri).is_ok() {
                assert!(!uri.contains('#'), "{uri:?}");
                assert!(
                    !uri.to_ascii_lowercase().starts_with("javascript:"),
                    "{uri:?}"
                );
            }
            let _ = check_web_uri(&uri, "client_uri");
            assert!(redirect_uri_matches(&uri, &uri));
        }
    }

    #[test]
    fn uris_at_the_size_limits_are_refused() {
        let long_uri = format!("https://app.example/{}", "%2F".repeat(20_000));
        assert!(check_redirect_uri(&long_uri).is_err());
    }
}
