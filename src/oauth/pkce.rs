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
