//! RFC 6749 §4.1.3: exchanging an authorization code, with RFC 7636 PKCE.

use crate::app::issue::{sign_access_token, AccessTokenId, FamilyLifetimes, TokenResponse};
use crate::app::AppState;
use crate::crypto::token_hash;
use crate::oauth::wire::Form;
use crate::oauth::{pkce, OAuthError};
use crate::store::models::Client;
use actix_web::web;

enum Outcome {
    Issued(TokenResponse),
    /// The code was used before: everything it issued is now revoked.
    Replayed,
}

fn bad_code() -> OAuthError {
    OAuthError::InvalidGrant("the authorization code is invalid, expired or already used".into())
}

pub async fn grant(
    state: &web::Data<AppState>,
    client: &Client,
    form: &Form,
) -> Result<TokenResponse, OAuthError> {
    if !client.has_grant("authorization_code") {
        return Err(OAuthError::UnauthorizedClient(
            "this client may not use the authorization_code grant".into(),
        ));
    }
    let code_hash = token_hash(form.require("code")?);
    let redirect_uri = form.get("redirect_uri").map(str::to_string);
    let verifier = form.get("code_verifier").map(str::to_string);
    let client = client.clone();
    let now = state.clock.now();
    let lifetimes = FamilyLifetimes::new(state);
    let st = state.clone();
    let outcome = state
        .store
        .run(move |c| {
            c.transaction(|c| -> Result<Outcome, OAuthError> {
                let Some(code) = c.find_authorization_code(&code_hash)? else {
                    return Err(bad_code());
                };
                // §4.1.3: "ensure that the authorization code was issued to
                // the authenticated confidential client".
                if code.client_id != client.id {
                    return Err(bad_code());
                }
                // §4.1.2: "If an authorization code is used more than once,
                // the authorization server MUST deny the request and SHOULD
                // revoke (when possible) all tokens previously issued based
                // on that authorization code." The conditional update lets
                // exactly one of two racing redemptions win.
                if code.consumed_at.is_some() || !c.consume_authorization_code(&code_hash, now)? {
                    c.revoke_families_from_code(&code_hash, now)?;
                    if let (Some(jti), Some(exp)) = (&code.issued_jti, code.issued_jti_expires_at) {
                        c.revoke_access_token(jti, exp)?;
                    }
                    return Ok(Outcome::Replayed);
                }
                if code.expires_at <= now {
                    return Err(bad_code());
                }
                // §4.1.3: redirect_uri must be present and identical when the
                // authorization request included it.
                let expected = code.redirect_uri.clone().or_else(|| {
                    let uris = client.redirect_uri_list();
                    (uris.len() == 1).then(|| uris[0].to_string())
                });
                match (&code.redirect_uri, &redirect_uri) {
                    (Some(_), None) => {
                        return Err(OAuthError::InvalidGrant(
                            "redirect_uri is required: the authorization request included it"
                                .into(),
                        ))
                    }
                    (_, Some(given)) if Some(given) != expected.as_ref() => {
                        return Err(OAuthError::InvalidGrant(
                            "redirect_uri does not match the authorization request".into(),
                        ))
                    }
                    _ => {}
                }
                // RFC 7636 §4.6, and RFC 9700 §2.1.1: a verifier without a
                // challenge is refused too (PKCE downgrade).
                match (&code.code_challenge, &verifier) {
                    (Some(challenge), Some(v)) if pkce::verify(v, challenge) => {}
                    (Some(_), Some(_)) => {
                        return Err(OAuthError::InvalidGrant(
                            "code_verifier does not match the code_challenge".into(),
                        ))
                    }
                    (Some(_), None) => {
                        return Err(OAuthError::InvalidGrant("code_verifier is required".into()))
                    }
                    (None, Some(_)) => return Err(OAuthError::InvalidGrant(
                        "code_verifier sent but the authorization request had no code_challenge"
                            .into(),
                    )),
                    (None, None) => {}
                }
                // The user may have been disabled since the code was issued
                // (as the refresh, device and password grants check too).
                if !c.user_is_active(&code.user_id)? {
                    return Err(bad_code());
                }
                let access = AccessTokenId::new(&st);
                c.record_code_access_token(&code_hash, &access.jti, access.exp)?;
                c.record_user_access_token(&access.jti, &code.user_id, &client.id, access.exp)?;
                let refresh_token = if client.has_grant("refresh_token") {
                    Some(c.issue_refresh_token(lifetimes.family(
                        &client.id,
                        &code.user_id,
                        &code.scope,
                        Some(&code_hash),
                        &access,
                    ))?)
                } else {
                    None
                };
                let (jwt, claims) = sign_access_token(
                    &st,
                    access,
                    &code.user_id,
                    &client.id,
                    &code.scope,
                    Some(code.auth_time),
                )?;
                Ok(Outcome::Issued(TokenResponse::new(
                    jwt,
                    &claims,
                    refresh_token,
                )))
            })
        })
        .await?;
    match outcome {
        Outcome::Issued(t) => Ok(t),
        Outcome::Replayed => Err(bad_code()),
    }
}
