//! Finding what a token presented to `/revoke` (RFC 7009 §2.1) or
//! `/introspect` (RFC 7662 §2.1) is: one of our access tokens, one of our
//! refresh tokens, or nothing we know.

use crate::app::AppState;
use crate::crypto::token_hash;
use crate::oauth::OAuthError;
use crate::store::models::refresh_token::{RefreshFamily, RefreshToken};
use crate::tokens::AccessTokenClaims;

pub enum Presented {
    /// A JWT we signed, for our issuer and audience, not yet expired.
    Access(AccessTokenClaims),
    /// A refresh token we issued (in any state) and its family.
    Refresh(RefreshToken, Box<RefreshFamily>),
}

/// Looks the token up. `token_type_hint` only picks which kind is tried
/// first: RFC 7009 §2.1 "If the server is unable to locate the token using
/// the given hint, it MUST extend its search across all of its supported
/// token types." Unknown hint values are ignored (RFC 7009 §2.1 lets the
/// server ignore the parameter), so `unsupported_token_type` never arises:
/// gatehouse can revoke every kind of token it issues.
pub async fn find(
    state: &AppState,
    token: &str,
    hint: Option<&str>,
) -> Result<Option<Presented>, OAuthError> {
    let refresh_first = hint == Some("refresh_token");
    if !refresh_first {
        if let Some(claims) = verify_access(state, token) {
            return Ok(Some(Presented::Access(claims)));
        }
    }
    let hash = token_hash(token);
    if let Some((t, f)) = state
        .store
        .run(move |c| c.find_refresh_token(&hash))
        .await?
    {
        return Ok(Some(Presented::Refresh(t, Box::new(f))));
    }
    if refresh_first {
        if let Some(claims) = verify_access(state, token) {
            return Ok(Some(Presented::Access(claims)));
        }
    }
    Ok(None)
}

/// RFC 6750 §2.1: the token of an `Authorization: Bearer` header (the
/// scheme in any case).
pub fn bearer(req: &actix_web::HttpRequest) -> Option<&str> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// One of our access tokens: signed by a published key, our `iss`, any
/// `aud` (the default one or RFC 8707 resources: the caller judges it), and
/// unexpired by the server's clock.
pub fn verify_access(state: &AppState, token: &str) -> Option<AccessTokenClaims> {
    let claims = state.keys.current().verify(token, &state.issuer, None)?;
    (claims.exp > state.clock.now()).then_some(claims)
}
