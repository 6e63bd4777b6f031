//! RFC 6749 §4.1.3 with RFC 7636 §4.6: the rules for exchanging an
//! authorization code, decided from what was stored with the code and what
//! the token request says. The grant (`http::grants::authorization_code`)
//! applies the decision; single use is its atomic update's job.

use super::{pkce, ClientId, OAuthError, RedirectUris};

/// What was stored with the code.
#[derive(Debug, Clone)]
pub struct IssuedCode<'a> {
    pub client_id: ClientId<'a>,
    /// The `redirect_uri` the authorization request named, if it named one.
    pub redirect_uri: Option<&'a str>,
    pub code_challenge: Option<&'a str>,
    pub expires_at: i64,
    /// Already redeemed (a replay).
    pub consumed: bool,
}

/// What the token request says.
#[derive(Debug, Clone)]
pub struct Exchange<'a> {
    /// The authenticated client.
    pub client_id: ClientId<'a>,
    pub client_redirect_uris: &'a RedirectUris,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    pub now: i64,
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Issue tokens (after consuming the code atomically).
    Redeem,
    /// The code was redeemed before: deny and revoke what it issued
    /// (§4.1.2).
    Replayed,
}

pub fn bad_code() -> OAuthError {
    OAuthError::InvalidGrant("the authorization code is invalid, expired or already used".into())
}

/// Judges one redemption.
pub fn judge_exchange(code: &IssuedCode<'_>, ex: &Exchange<'_>) -> Result<Verdict, OAuthError> {
    // §4.1.3: "ensure that the authorization code was issued to the
    // authenticated confidential client". Another client learns nothing and
    // changes nothing.
    if code.client_id != ex.client_id {
        return Err(bad_code());
    }
    // §4.1.2: "If an authorization code is used more than once, the
    // authorization server MUST deny the request and SHOULD revoke (when
    // possible) all tokens previously issued based on that authorization
    // code."
    if code.consumed {
        return Ok(Verdict::Replayed);
    }
    if code.expires_at <= ex.now {
        return Err(bad_code());
    }
    // §4.1.3: redirect_uri is "REQUIRED, if the redirect_uri parameter was
    // included in the authorization request", and "their values MUST be
    // identical".
    let expected = code.redirect_uri.or(ex.client_redirect_uris.only());
    match (code.redirect_uri, ex.redirect_uri) {
        (Some(_), None) => {
            return Err(OAuthError::InvalidGrant(
                "redirect_uri is required: the authorization request included it".into(),
            ))
        }
        (_, Some(given)) if Some(given) != expected => {
            return Err(OAuthError::InvalidGrant(
                "redirect_uri does not match the authorization request".into(),
            ))
        }
        _ => {}
    }
    // RFC 7636 §4.6, and RFC 9700 §2.1.1: a verifier without a challenge is
    // refused too (PKCE downgrade).
    match (code.code_challenge, ex.code_verifier) {
        (Some(challenge), Some(v)) if pkce::verify(v, challenge) => Ok(Verdict::Redeem),
        (Some(_), Some(_)) => Err(OAuthError::InvalidGrant(
            "code_verifier does not match the code_challenge".into(),
        )),
        (Some(_), None) => Err(OAuthError::InvalidGrant("code_verifier is required".into())),
        (None, Some(_)) => Err(OAuthError::InvalidGrant(
            "code_verifier sent but the authorization request had no code_challenge".into(),
        )),
        (None, None) => Ok(Verdict::Redeem),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    // RFC 7636 Appendix B.
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn code() -> IssuedCode<'static> {
        IssuedCode {
            client_id: ClientId("c1"),
            redirect_uri: Some("https://app/cb"),
            code_challenge: Some(CHALLENGE),
            expires_at: 100,
            consumed: false,
        }
    }

    fn judge(code: &IssuedCode<'_>, f: impl FnOnce(&mut Exchange<'_>)) -> Result<Verdict, String> {
        let uris = RedirectUris::new(["https://app/cb", "https://app/other"]);
        let mut ex = Exchange {
            client_id: ClientId("c1"),
            client_redirect_uris: &uris,
            redirect_uri: Some("https://app/cb"),
            code_verifier: Some(VERIFIER),
            now: 50,
        };
        f(&mut ex);
        judge_exchange(code, &ex).map_err(|e| e.code().to_string())
    }

    #[test]
    fn rfc6749_4_1_3_a_good_exchange_redeems() {
        assert_eq!(judge(&code(), |_| {}), Ok(Verdict::Redeem));
    }

    #[test]
    fn rfc6749_4_1_3_another_clients_code_is_invalid_grant() {
        assert_eq!(
            judge(&code(), |e| e.client_id = ClientId("c2")),
            Err("invalid_grant".into())
        );
    }

    #[test]
    fn rfc6749_4_1_2_a_used_code_is_a_replay_even_for_a_wrong_request() {
        let used = IssuedCode {
            consumed: true,
            ..code()
        };
        assert_eq!(
            judge(&used, |e| e.code_verifier = None),
            Ok(Verdict::Replayed)
        );
    }

    #[test]
    fn rfc6749_4_1_2_an_expired_code_is_invalid_grant() {
        assert_eq!(judge(&code(), |e| e.now = 100), Err("invalid_grant".into()));
    }

    #[test]
    fn rfc6749_4_1_3_redirect_uri_must_be_repeated_identically() {
        assert_eq!(
            judge(&code(), |e| e.redirect_uri = None),
            Err("invalid_grant".into())
        );
        assert_eq!(
            judge(&code(), |e| e.redirect_uri = Some("https://app/other")),
            Err("invalid_grant".into())
        );
        // Left out of the authorization request: optional, but when sent it
        // must be the only registered one.
        let no_uri = IssuedCode {
            redirect_uri: None,
            ..code()
        };
        assert_eq!(
            judge(&no_uri, |e| e.redirect_uri = Some("https://app/cb")),
            Err("invalid_grant".into()),
            "two registered: none is implied"
        );
        assert_eq!(
            judge(&no_uri, |e| e.redirect_uri = None),
            Ok(Verdict::Redeem)
        );
    }

    #[test]
    fn rfc7636_4_6_verifier_must_match_and_be_present() {
        assert_eq!(
            judge(&code(), |e| e.code_verifier = Some("x".repeat(43).leak())),
            Err("invalid_grant".into())
        );
        assert_eq!(
            judge(&code(), |e| e.code_verifier = None),
            Err("invalid_grant".into())
        );
    }

    #[test]
    fn rfc9700_2_1_1_a_verifier_without_a_challenge_is_refused() {
        let plain = IssuedCode {
            code_challenge: None,
            ..code()
        };
        assert_eq!(judge(&plain, |_| {}), Err("invalid_grant".into()));
        assert_eq!(
            judge(&plain, |e| e.code_verifier = None),
            Ok(Verdict::Redeem)
        );
    }
}
