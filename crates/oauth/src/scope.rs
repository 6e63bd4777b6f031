//! RFC 6749 §3.3 scopes: space-delimited, case-sensitive tokens.

use super::OAuthError;

/// Parses a scope parameter into its tokens, in order, without repeats.
/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub fn parse_scope(raw: &str) -> Result<Vec<String>, OAuthError> {
    let mut out: Vec<String> = Vec::new();
    for token in raw.split(' ') {
        if token.is_empty() {
            continue;
        }
        let valid = token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        if !valid {
            return Err(OAuthError::InvalidScope(
                "scope has characters RFC 6749 section 3.3 does not allow".into(),
            ));
        }
        if !out.iter().any(|t| t == token) {
            out.push(token.to_string());
        }
    }
    Ok(out)
}

/// The scope to grant: what was requested, which must be a subset of
/// `allowed`; when nothing was requested, all of `allowed` (RFC 6749 §3.3
/// lets the server use a default).
pub fn resolve_scope(requested: Option<&str>, allowed: &[&str]) -> Result<Vec<String>, OAuthError> {
    let Some(raw) = requested else {
        return Ok(allowed.iter().map(|s| s.to_string()).collect());
    };
    let wanted = parse_scope(raw)?;
    if wanted.is_empty() {
        return Ok(allowed.iter().map(|s| s.to_string()).collect());
    }
    if wanted.iter().any(|w| !allowed.contains(&w.as_str())) {
        return Err(OAuthError::InvalidScope(
            "scope asks for more than this client may have".into(),
        ));
    }
    Ok(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_is_granted_in_request_order() {
        let got = resolve_scope(Some("write read read"), &["read", "write"]).unwrap();
        assert_eq!(got, vec!["write", "read"]);
    }

    #[test]
    fn missing_scope_defaults_to_the_clients() {
        assert_eq!(resolve_scope(None, &["a", "b"]).unwrap(), vec!["a", "b"]);
    }

    #[test]
    fn rfc6749_3_3_extra_scope_is_invalid_scope() {
        let e = resolve_scope(Some("read admin"), &["read"]).unwrap_err();
        assert_eq!(e.code(), "invalid_scope");
        // RFC 6749 §5.2: described in our words, never quoting the input.
        assert!(!e.description().contains("admin"));
    }

    #[test]
    fn rfc6749_3_3_bad_characters_are_refused() {
        assert_eq!(parse_scope("a\"b").unwrap_err().code(), "invalid_scope");
        assert_eq!(parse_scope("a\\b").unwrap_err().code(), "invalid_scope");
    }
}

#[cfg(test)]
mod proptests {
    //! Property tests: any input is parsed or refused, never a panic, and
    //! what is accepted keeps the rules. `cargo test` runs 256 cases each;
    //! `.ci/run` many more (`PROPTEST_CASES`). The hand-picked inputs of
    //! `crates/oauth/corpus/` run on every `cargo test`.

    use crate::scope;
    use crate::testing::*;
    use proptest::prelude::*;

    proptest! {
    /// RFC 6749 §3.3: any scope string parses or is refused.
    #[test]
    fn scope_parser_never_panics(raw in any_text(300)) {
        if let Ok(words) = scope::parse_scope(&raw) {
            prop_assert!(words.iter().all(|w| !w.is_empty() && !w.contains(' ')));
        }
    }
    }
}
