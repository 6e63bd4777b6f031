//! `POST /introspect`: RFC 7662 token introspection. Any confidential
//! client may ask about its own tokens; resource servers registered with
//! `can_introspect` may ask about any token.

use super::client_auth::authenticate_client;
use super::error::ApiError;
use super::presented::{find, Presented};
use super::token::parse_form;
use crate::app::AppState;
use crate::oauth::refresh::is_active;
use crate::oauth::OAuthError;
use crate::store::models::revoked_access_token::AccessGrant;
use crate::tokens::Audience;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

/// RFC 7662 §2.2 response for an active token.
#[derive(Debug, Serialize)]
struct Active {
    active: bool,
    scope: String,
    client_id: String,
    sub: String,
    exp: i64,
    iat: i64,
    iss: String,
    /// RFC 7662 §2.2 / RFC 7519 §4.1.3: as in the token, a string for one
    /// audience and an array for several (RFC 8707 resources).
    aud: Audience,
    token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    /// The access token's authentication claims (RFC 9068 §2.2.1), when
    /// it has them: RFC 9470 §6.2 has introspection show them too.
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amr: Option<Vec<String>>,
}

/// RFC 7662 §2.1. Callers must authenticate as a confidential client
/// (otherwise 401 `invalid_client`, §2.3). Every confidential client may
/// introspect the tokens issued to it; one created with `--introspect` (a
/// resource server) may introspect any token (§4: the server decides which
/// tokens a caller may see). §2.2: a token the caller may not see, and an
/// inactive one whatever the reason, get exactly `{"active": false}`: "the
/// authorization server SHOULD NOT include any additional information
/// about an inactive token".
pub async fn introspect(
    req: HttpRequest,
    body: super::body::Body,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form = parse_form(&req, &body)?;
    let client = authenticate_client(&req, &form, &state).await?;
    // §2.1: "the endpoint MUST also require some form of authorization to
    // access this endpoint". A public client proved nothing but its id.
    if client.is_public {
        return Err(OAuthError::InvalidClient(
            "introspection requires client authentication".into(),
        )
        .into());
    }
    let token = form.require("token")?;
    let found = find(&state, token, form.get("token_type_hint")).await?;
    let visible = found.filter(|p| client.can_introspect || issued_to(p) == client.id);
    let resp = match describe(&state, visible).await? {
        Some(active) => serde_json::to_value(active)
            .map_err(|e| OAuthError::Server(format!("introspection response: {e}")))?,
        None => serde_json::json!({"active": false}),
    };
    Ok(no_store(HttpResponse::Ok()).json(resp))
}

/// The client a token was issued to.
fn issued_to(p: &Presented) -> &str {
    match p {
        Presented::Access(claims) => &claims.client_id,
        Presented::Refresh(_, family) => &family.client_id,
    }
}

/// The §2.2 description of a token, or `None` when it is not active: on
/// top of signature, expiry and revocation, the grant must still stand
/// (its client not deleted, its user not disabled).
async fn describe(
    state: &AppState,
    found: Option<Presented>,
) -> Result<Option<Active>, OAuthError> {
    Ok(match found {
        Some(Presented::Access(claims)) => {
            let (jti, client_id, sub) = (
                claims.jti.clone(),
                claims.client_id.clone(),
                claims.sub.clone(),
            );
            let standing = state
                .store
                .run(move |c| {
                    c.access_token_standing(AccessGrant {
                        jti: &jti,
                        client_id: &client_id,
                        // A client's own token has `sub` = its client id.
                        user_id: (sub != client_id).then_some(sub.as_str()),
                    })
                })
                .await?;
            if !standing {
                return Ok(None);
            }
            Some(Active {
                active: true,
                scope: claims.scope,
                client_id: claims.client_id,
                sub: claims.sub,
                exp: claims.exp,
                iat: claims.iat,
                iss: claims.iss,
                aud: claims.aud,
                token_type: "Bearer",
                jti: Some(claims.jti),
                auth_time: claims.auth_time,
                acr: claims.acr,
                amr: claims.amr,
            })
        }
        Some(Presented::Refresh(t, f)) if is_active(&t.state(), &f.state(), state.clock.now()) => {
            if let Some(user_id) = f.user_id.clone() {
                if !state.store.run(move |c| c.user_is_active(&user_id)).await? {
                    return Ok(None);
                }
            }
            Some(Active {
                active: true,
                scope: t.scope,
                sub: f.user_id.unwrap_or_else(|| f.client_id.clone()),
                client_id: f.client_id,
                exp: t.expires_at,
                iat: t.created_at,
                iss: state.issuer.clone(),
                // A refresh token is only ever presented back to gatehouse.
                aud: Audience::One(state.issuer.clone()),
                token_type: "refresh_token",
                jti: None,
                auth_time: None,
                acr: None,
                amr: None,
            })
        }
        _ => None,
    })
}

fn no_store(mut b: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    b.insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"));
    b
}
