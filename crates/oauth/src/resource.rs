//! RFC 8707 resource indicators: the `resource` parameter at `/authorize`
//! and `/token`, which resources a client may name (the operator's
//! `GATEHOUSE_RESOURCES` and the client's own list), and what a later
//! request (the code exchange, a refresh, a device poll) may ask for out
//! of what was granted: the same or fewer, never more. The access token's
//! `aud` is the resources asked for (RFC 8707 §2, RFC 9068 §3).

use super::OAuthError;

/// At most this many `resource` parameters in one request.
pub const MAX_RESOURCES: usize = 10;

/// The longest resource URI accepted.
pub const MAX_RESOURCE_LEN: usize = 2000;

fn bad(why: &str) -> OAuthError {
    OAuthError::InvalidTarget(why.into())
}

/// RFC 8707 §2: "Its value MUST be an absolute URI, as specified by
/// Section 4.3 of RFC 3986. The URI MUST NOT include a fragment
/// component." A malformed one is `invalid_target` (§2: "invalid, missing,
/// unknown, or malformed"). Kept as sent (no normalisation), so that the
/// token's `aud` is exactly what the client and the resource server name.
/// No whitespace or control characters (lists are stored space-separated).
pub fn check_resource_uri(raw: &str) -> Result<(), OAuthError> {
    if raw.is_empty() || raw.len() > MAX_RESOURCE_LEN {
        return Err(bad("a resource must be an absolute URI"));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(
            "a resource must not contain spaces or control characters",
        ));
    }
    if raw.contains('#') {
        return Err(bad(
            "a resource must not have a fragment (RFC 8707 section 2)",
        ));
    }
    match url::Url::parse(raw) {
        Ok(u) if !u.cannot_be_a_base() || u.scheme() == "urn" => Ok(()),
        _ => Err(bad(
            "a resource must be an absolute URI (RFC 8707 section 2)",
        )),
    }
}

/// The `resource` values of one request (each repeat is one resource, RFC
/// 8707 §2: "multiple resource parameters MAY be used"), checked, without
/// duplicates, in the order sent.
pub fn parse_resources(values: &[&str]) -> Result<Vec<String>, OAuthError> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        check_resource_uri(v)?;
        if !out.iter().any(|o| o == v) {
            out.push((*v).to_string());
        }
    }
    if out.len() > MAX_RESOURCES {
        return Err(bad("too many resources"));
    }
    Ok(out)
}

/// An entry of an allow-list (`GATEHOUSE_RESOURCES`, a client's own list):
/// a resource URI, or a prefix of them when it ends in `/`.
pub fn check_allow_entry(entry: &str) -> Result<(), String> {
    check_resource_uri(entry).map_err(|e| e.description())
}

/// Whether `resource` is allowed by `entry`: equal to it, or, for an entry
/// ending in `/`, under it. Under a prefix, a path with a `.` or `..`
/// segment (plain or percent-encoded) is refused, so that a resource
/// cannot climb out of the prefix it matched as text.
fn entry_allows(entry: &str, resource: &str) -> bool {
    if entry == resource {
        return true;
    }
    if !entry.ends_with('/') || !resource.starts_with(entry) {
        return false;
    }
    let rest = &resource[entry.len()..];
    let path = rest.split(['?']).next().unwrap_or("");
    !path.split('/').any(|seg| {
        let s = seg.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    })
}

/// Whether a client may name `resource`: the operator allows it for
/// everyone (`operator`, `GATEHOUSE_RESOURCES`) or for this client
/// (`client`).
pub fn may_name(resource: &str, operator: &[String], client: &[String]) -> bool {
    operator
        .iter()
        .chain(client.iter())
        .any(|e| entry_allows(e, resource))
}

/// RFC 8707 §2: `invalid_target` for any resource the client may not
/// name.
pub fn check_allowed(
    requested: &[String],
    operator: &[String],
    client: &[String],
) -> Result<(), OAuthError> {
    if requested.iter().all(|r| may_name(r, operator, client)) {
        Ok(())
    } else {
        Err(bad("this client may not ask for that resource"))
    }
}

/// RFC 8707 §2.2: at the token endpoint (the code exchange, a refresh, a
/// device poll) the client may name one or more of the resources granted
/// (then the token is for those only), or none (then for all granted).
/// Anything not granted is `invalid_target`: a later request narrows,
/// never widens, and a grant made without `resource` cannot gain one.
pub fn narrow(requested: &[String], granted: &[String]) -> Result<Vec<String>, OAuthError> {
    if requested.is_empty() {
        return Ok(granted.to_vec());
    }
    if requested.iter().all(|r| granted.contains(r)) {
        Ok(requested.to_vec())
    } else {
        Err(bad("the resource was not part of the original grant"))
    }
}

/// The stored form of a list of resources: space-separated, `None` when
/// empty.
pub fn join(resources: &[String]) -> Option<String> {
    (!resources.is_empty()).then(|| resources.join(" "))
}

/// The list of a stored form (`join`).
pub fn split(stored: Option<&str>) -> Vec<String> {
    stored
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rfc8707_2_resource_is_an_absolute_uri_without_fragment() {
        for ok in [
            "https://mcp.example.com/mcp",
            "https://mcp.example.com",
            "https://api.example.com/v1?tenant=a",
            "urn:example:resource",
            "http://127.0.0.1:8080/mcp",
        ] {
            assert!(check_resource_uri(ok).is_ok(), "{ok}");
        }
        for badv in [
            "",
            "/relative/path",
            "mcp.example.com",
            "https://mcp.example.com/#frag",
            "https://mcp.example.com/a b",
            "https://mcp.example.com/\n",
        ] {
            let e = check_resource_uri(badv).unwrap_err();
            assert_eq!(e.code(), "invalid_target", "{badv:?}");
            assert_eq!(e.status(), 400);
        }
    }

    #[test]
    fn rfc8707_2_several_resources_may_be_named_and_repeats_count_once() {
        let r = parse_resources(&["https://a/x", "https://b/y", "https://a/x"]).unwrap();
        assert_eq!(r, v(&["https://a/x", "https://b/y"]));
        assert_eq!(parse_resources(&[]).unwrap(), Vec::<String>::new());
        let many: Vec<String> = (0..=MAX_RESOURCES)
            .map(|i| format!("https://r/{i}"))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(parse_resources(&many).unwrap_err().code(), "invalid_target");
    }

    #[test]
    fn rfc8707_2_a_resource_the_client_may_not_name_is_invalid_target() {
        let op = v(&["https://mcp.example.com/mcp", "https://tools.example.com/"]);
        let mine = v(&["https://own.example.com/api"]);
        assert!(may_name("https://mcp.example.com/mcp", &op, &[]));
        assert!(!may_name("https://mcp.example.com/mcp/", &op, &[]));
        assert!(!may_name("https://mcp.example.com/mcpx", &op, &[]));
        // A prefix ending in `/` allows what is under it.
        assert!(may_name("https://tools.example.com/a/b", &op, &[]));
        assert!(!may_name("https://tools.example.com", &op, &[]));
        assert!(!may_name("https://tools.example.com.evil/", &op, &[]));
        // ... but not a path climbing out of it.
        assert!(!may_name("https://tools.example.com/a/../../x", &op, &[]));
        assert!(!may_name("https://tools.example.com/%2E%2e/x", &op, &[]));
        // A client's own list counts for it only.
        assert!(may_name("https://own.example.com/api", &op, &mine));
        assert!(!may_name("https://own.example.com/api", &op, &[]));
        assert!(check_allowed(&v(&["https://mcp.example.com/mcp"]), &op, &[]).is_ok());
        let e = check_allowed(
            &v(&["https://mcp.example.com/mcp", "https://other/"]),
            &op,
            &mine,
        )
        .unwrap_err();
        assert_eq!(e.code(), "invalid_target");
        // Nothing allowed: nothing may be named.
        assert!(check_allowed(&v(&["https://x/"]), &[], &[]).is_err());
        assert!(check_allowed(&[], &[], &[]).is_ok());
    }

    #[test]
    fn rfc8707_2_2_a_token_request_narrows_never_widens() {
        let granted = v(&["https://a/", "https://b/"]);
        assert_eq!(narrow(&[], &granted).unwrap(), granted);
        assert_eq!(
            narrow(&v(&["https://b/"]), &granted).unwrap(),
            v(&["https://b/"])
        );
        let e = narrow(&v(&["https://c/"]), &granted).unwrap_err();
        assert_eq!(e.code(), "invalid_target");
        assert!(narrow(&v(&["https://a/", "https://c/"]), &granted).is_err());
        // A grant made without a resource cannot gain one later.
        assert!(narrow(&v(&["https://a/"]), &[]).is_err());
        assert_eq!(narrow(&[], &[]).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn stored_form_round_trips() {
        let r = v(&["https://a/x", "urn:b"]);
        assert_eq!(split(join(&r).as_deref()), r);
        assert_eq!(join(&[]), None);
        assert!(split(None).is_empty());
    }
}
