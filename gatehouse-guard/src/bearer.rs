//! RFC 6750 §2.1: the bearer token from the `Authorization` header. Only
//! the header method is supported: tokens in a form body (§2.2) or the
//! query (§2.3, "SHOULD NOT be used") are not looked at.

use crate::GuardError;

/// The token of the one `Authorization: Bearer <token>` header among
/// `values` (every `Authorization` header of the request).
pub fn bearer_token<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Result<String, GuardError> {
    let mut values = values.into_iter();
    let Some(value) = values.next() else {
        return Err(GuardError::MissingToken);
    };
    if values.next().is_some() {
        return Err(GuardError::InvalidRequest(
            "more than one Authorization header",
        ));
    }
    let value = std::str::from_utf8(value)
        .map_err(|_| GuardError::InvalidRequest("malformed Authorization header"))?;
    let value = value.trim_matches([' ', '\t']);
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    // RFC 7235 §2.1: the scheme is case-insensitive. Another scheme, or a
    // bare token without the `Bearer` prefix, is "an unsupported
    // authentication method" (RFC 6750 §3.1): no credentials, no error code.
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(GuardError::MissingToken);
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(GuardError::InvalidRequest("empty bearer token"));
    }
    // b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    let body = token.trim_end_matches('=');
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
    {
        return Err(GuardError::InvalidRequest("malformed bearer token"));
    }
    Ok(token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(v: &str) -> Result<String, GuardError> {
        bearer_token([v.as_bytes()])
    }

    #[test]
    fn rfc6750_2_1_bearer_token_is_read_any_case() {
        assert_eq!(one("Bearer abc.def-_~+/=="), Ok("abc.def-_~+/==".into()));
        assert_eq!(one("bearer  abc"), Ok("abc".into()));
        assert_eq!(one("BEARER abc"), Ok("abc".into()));
    }

    #[test]
    fn rfc6750_3_1_no_header_or_other_scheme_is_no_credentials() {
        assert_eq!(
            bearer_token(std::iter::empty()),
            Err(GuardError::MissingToken)
        );
        assert_eq!(one("Basic dXNlcjpwYXNz"), Err(GuardError::MissingToken));
        // The token without the Bearer prefix.
        assert_eq!(one("eyJhbGciOi.eyJ.sig"), Err(GuardError::MissingToken));
        assert_eq!(one("Bearerabc"), Err(GuardError::MissingToken));
    }

    #[test]
    fn rfc6750_3_1_malformed_header_is_invalid_request() {
        assert!(matches!(one("Bearer"), Err(GuardError::InvalidRequest(_))));
        assert!(matches!(
            one("Bearer    "),
            Err(GuardError::InvalidRequest(_))
        ));
        assert!(matches!(
            one("Bearer a b"),
            Err(GuardError::InvalidRequest(_))
        ));
        assert!(matches!(
            one("Bearer a\"b"),
            Err(GuardError::InvalidRequest(_))
        ));
        assert!(matches!(
            one("Bearer ==="),
            Err(GuardError::InvalidRequest(_))
        ));
        assert!(matches!(
            bearer_token([b"Bearer a".as_slice(), b"Bearer b".as_slice()]),
            Err(GuardError::InvalidRequest(
                "more than one Authorization header"
            ))
        ));
        assert!(matches!(
            bearer_token([b"Bearer \xff".as_slice()]),
            Err(GuardError::InvalidRequest(_))
        ));
    }
}
