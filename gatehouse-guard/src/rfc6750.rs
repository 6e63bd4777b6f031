//! RFC 6750 §3: the `WWW-Authenticate: Bearer …` challenge. Pure, so the
//! framework glue only copies the string into a header.

/// RFC 6750 §3.1 error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 400: missing or repeated parameter, or otherwise malformed.
    InvalidRequest,
    /// 401: expired, revoked, malformed or otherwise invalid.
    InvalidToken,
    /// 403: the token lacks the scope the resource needs.
    InsufficientScope,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest => 400,
            ErrorCode::InvalidToken => 401,
            ErrorCode::InsufficientScope => 403,
        }
    }
}

/// The value of a `WWW-Authenticate` header. With no `error`, only the
/// realm: RFC 6750 §3.1 "If the request lacks any authentication
/// information …, the resource server SHOULD NOT include an error code or
/// other error information."
pub fn challenge(
    realm: &str,
    error: Option<(ErrorCode, &str)>,
    scope: Option<&[String]>,
) -> String {
    challenge_with_metadata(realm, None, error, scope)
}

/// [`challenge`] naming the resource's RFC 9728 metadata document:
/// "`resource_metadata`: The URL of the protected resource metadata"
/// (RFC 9728 §5.1), an absolute URL, right after the realm. A client that
/// gets this 401 (or a 403 `insufficient_scope`) reads the document to find
/// the authorization server.
pub fn challenge_with_metadata(
    realm: &str,
    resource_metadata: Option<&str>,
    error: Option<(ErrorCode, &str)>,
    scope: Option<&[String]>,
) -> String {
    let mut out = format!("Bearer realm=\"{}\"", quoted_string(realm));
    if let Some(url) = resource_metadata {
        out.push_str(&format!(", resource_metadata=\"{}\"", quoted_string(url)));
    }
    if let Some((code, description)) = error {
        out.push_str(&format!(", error=\"{}\"", code.as_str()));
        out.push_str(&format!(
            ", error_description=\"{}\"",
            error_description(description)
        ));
    }
    if let Some(scope) = scope {
        let scope: Vec<String> = scope.iter().map(|s| scope_token(s)).collect();
        out.push_str(&format!(", scope=\"{}\"", scope.join(" ")));
    }
    out
}

/// RFC 7230 quoted-string content: `"` and `\` escaped, controls dropped.
fn quoted_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c == '\t' || (' '..='~').contains(&c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// RFC 6750 §3: error_description "MUST NOT include characters outside the
/// set %x20-21 / %x23-5B / %x5D-7E" (printable ASCII without `"` and `\`).
fn error_description(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            c if (' '..='~').contains(&c) => c,
            _ => '?',
        })
        .collect()
}

/// RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E. Anything else is
/// dropped so a configured scope can never break the header.
fn scope_token(s: &str) -> String {
    s.chars()
        .filter(|c| ('!'..='~').contains(c) && *c != '"' && *c != '\\')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6750_3_1_no_credentials_gets_only_the_realm() {
        assert_eq!(challenge("api", None, None), r#"Bearer realm="api""#);
    }

    #[test]
    fn rfc6750_3_invalid_token_names_error_and_description() {
        assert_eq!(
            challenge(
                "example",
                Some((ErrorCode::InvalidToken, "The access token expired")),
                None
            ),
            r#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#
        );
    }

    #[test]
    fn rfc6750_3_insufficient_scope_carries_the_scope_attribute() {
        let need = vec!["read".to_string(), "write".to_string()];
        assert_eq!(
            challenge(
                "api",
                Some((ErrorCode::InsufficientScope, "needs more")),
                Some(&need)
            ),
            r#"Bearer realm="api", error="insufficient_scope", error_description="needs more", scope="read write""#
        );
    }

    #[test]
    fn rfc6750_3_description_and_realm_cannot_break_the_header() {
        let h = challenge(
            "a\"b\\c\n",
            Some((ErrorCode::InvalidRequest, "x\"y\\z\r\né")),
            Some(&["s\"1".to_string()]),
        );
        assert_eq!(
            h,
            r#"Bearer realm="a\"b\\c", error="invalid_request", error_description="x'y'z???", scope="s1""#
        );
        assert!(!h.contains('\n') && !h.contains('\r'));
    }

    #[test]
    fn rfc9728_5_1_resource_metadata_follows_the_realm() {
        let url = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
        assert_eq!(
            challenge_with_metadata("mcp", Some(url), None, None),
            format!(r#"Bearer realm="mcp", resource_metadata="{url}""#)
        );
        let need = vec!["mcp".to_string()];
        assert_eq!(
            challenge_with_metadata(
                "mcp",
                Some(url),
                Some((ErrorCode::InsufficientScope, "needs more")),
                Some(&need)
            ),
            format!(
                r#"Bearer realm="mcp", resource_metadata="{url}", error="insufficient_scope", error_description="needs more", scope="mcp""#
            )
        );
    }

    #[test]
    fn rfc6750_3_1_codes_map_to_their_statuses() {
        assert_eq!(ErrorCode::InvalidRequest.status(), 400);
        assert_eq!(ErrorCode::InvalidToken.status(), 401);
        assert_eq!(ErrorCode::InsufficientScope.status(), 403);
    }
}
