//! RFC 7636 PKCE, S256 only.

use super::OAuthError;
use crate::crypto::{b64url, constant_time_eq, sha256};

/// RFC 7636 §4.1: `code-verifier = 43*128unreserved`, and §4.2 the
/// challenge has the same shape.
fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Checks the challenge sent to the authorization endpoint. Only `S256` is
/// accepted: `plain` offers no protection when the challenge leaks, and
/// RFC 9700 §2.1.1 recommends S256.
pub fn check_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
) -> Result<Option<String>, OAuthError> {
    match (challenge, method) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(OAuthError::InvalidRequest(
            "code_challenge_method without code_challenge".into(),
        )),
        (Some(_), Some(m)) if m != "S256" => Err(OAuthError::InvalidRequest(
            "code_challenge_method is not supported; use S256".into(),
        )),
        // RFC 7636 §4.3: "defaults to plain if not present" — which we refuse.
        (Some(_), None) => Err(OAuthError::InvalidRequest(
            "code_challenge_method is required and must be S256".into(),
        )),
        (Some(c), Some(_)) => {
            if !is_pkce_string(c) {
                return Err(OAuthError::InvalidRequest(
                    "code_challenge must be 43 to 128 unreserved characters (RFC 7636 section 4.2)"
                        .into(),
                ));
            }
            Ok(Some(c.to_string()))
        }
    }
}

/// RFC 7636 §4.6: `BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) == code_challenge`.
pub fn verify(verifier: &str, challenge: &str) -> bool {
    is_pkce_string(verifier)
        && constant_time_eq(
            b64url(&sha256(verifier.as_bytes())).as_bytes(),
            challenge.as_bytes(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_example_verifies() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verify(verifier, challenge));
        assert!(!verify(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
            challenge
        ));
    }

    #[test]
    fn rfc7636_4_4_1_plain_is_refused() {
        let c = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(
            check_challenge(Some(c), Some("plain")).unwrap_err().code(),
            "invalid_request"
        );
        assert_eq!(
            check_challenge(Some(c), None).unwrap_err().code(),
            "invalid_request"
        );
        assert!(check_challenge(Some(c), Some("S256")).unwrap().is_some());
        assert_eq!(
            check_challenge(Some("short"), Some("S256"))
                .unwrap_err()
                .code(),
            "invalid_request"
        );
    }
}

#[cfg(test)]
mod proptests {
    //! Property tests: any input is parsed or refused, never a panic, and
    //! what is accepted keeps the rules. `cargo test` runs 256 cases each;
    //! `.ci/run` many more (`PROPTEST_CASES`). The hand-picked inputs of
    //! `crates/oauth/corpus/` run on every `cargo test`.

    use crate::pkce;
    use crate::testing::*;
    use proptest::prelude::*;

    proptest! {
    /// RFC 7636 §4.6: only the verifier whose S256 hash is the challenge
    /// passes; any input is judged without panicking.
    #[test]
    fn pkce_accepts_only_the_matching_verifier(
        v in "[A-Za-z0-9._~-]{43,128}", w in "[A-Za-z0-9._~-]{43,128}", junk in any_text(200)
    ) {
        let challenge = crate::crypto::b64url(&crate::crypto::sha256(v.as_bytes()));
        prop_assert!(pkce::verify(&v, &challenge));
        if v != w {
            prop_assert!(!pkce::verify(&w, &challenge));
        }
        prop_assert!(!pkce::verify(&junk, &challenge) || junk == v);
        let _ = pkce::verify(&junk, &junk);
        let _ = pkce::check_challenge(Some(&junk), Some("S256"));
        let _ = pkce::check_challenge(Some(&challenge), Some(&junk));
    }
    }
}
