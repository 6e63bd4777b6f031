//! `GET/POST /userinfo`: OpenID Connect Core §5.3. The caller presents an
//! access token gatehouse issued to a person, with `openid`, as
//! `Authorization: Bearer` (RFC 6750 §2.1); the answer is the person's
//! `sub` and the standard claims the token's scopes grant (§5.4).

use super::error::ApiError;
use super::presented::{bearer, verify_access};
use crate::app::issue::{has_scope, user_claims};
use crate::app::AppState;
use crate::oauth::OAuthError;
use crate::store::models::revoked_access_token::AccessGrant;
use crate::tokens::UserClaims;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

/// §5.3.2: `sub` always, then what the scopes grant.
#[derive(Debug, Serialize)]
struct UserInfo {
    sub: String,
    #[serde(flatten)]
    claims: UserClaims,
}

fn invalid_token(why: &str) -> OAuthError {
    OAuthError::InvalidToken(why.into())
}

/// §5.3.1 (GET and POST alike). RFC 6750 §3.1: a missing, unknown,
/// expired or revoked token is 401 `invalid_token`; a token without
/// `openid` is 403 `insufficient_scope`. The token is validated as
/// `/introspect` does: signature, issuer, audience, expiry, the deny list,
/// and that its client and person still stand.
pub async fn userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = bearer(&req)
        .ok_or_else(|| invalid_token("send the access token as Authorization: Bearer"))?;
    let claims = verify_access(&state, token)
        .ok_or_else(|| invalid_token("the access token is invalid or expired"))?;
    // RFC 8707 / RFC 9068 §4: a token for another resource is not for
    // `/userinfo`, whose audience is gatehouse's own (`GATEHOUSE_AUDIENCE`).
    if !claims.aud.contains(&state.audience) {
        return Err(invalid_token("the access token is for another resource").into());
    }
    // A client's own token (client_credentials) speaks for no person.
    if claims.sub == claims.client_id {
        return Err(invalid_token("the access token was not issued for a person").into());
    }
    let (jti, client_id, sub) = (
        claims.jti.clone(),
        claims.client_id.clone(),
        claims.sub.clone(),
    );
    let user = state
        .store
        .run(move |c| -> Result<_, OAuthError> {
            let standing = c.access_token_standing(AccessGrant {
                jti: &jti,
                client_id: &client_id,
                user_id: Some(&sub),
            })?;
            Ok(if standing { c.find_user(&sub)? } else { None })
        })
        .await?
        .ok_or_else(|| invalid_token("the access token has been revoked"))?;
    if !has_scope(&claims.scope, "openid") {
        return Err(OAuthError::InsufficientScope(
            "the access token does not have the openid scope".into(),
        )
        .into());
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(UserInfo {
            claims: user_claims(&user, &claims.scope),
            sub: user.id,
        }))
}
