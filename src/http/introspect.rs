//! `POST /introspect`: RFC 7662 token introspection, for resource servers
//! registered as confidential clients with `can_introspect`.

use super::client_auth::authenticate_client;
use super::presented::{find, Presented};
use super::token::parse_form;
use super::AppState;
use crate::oauth::refresh::is_active;
use crate::oauth::OAuthError;
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
    aud: String,
    token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
}

/// RFC 7662 §2.1. Callers must authenticate as a confidential client
/// (otherwise 401 `invalid_client`, §2.3) and be allowed to introspect
/// (otherwise 403, see `forbidden`). §2.2: inactive tokens, whatever the
/// reason, get exactly `{"active": false}`: "the authorization server
/// SHOULD NOT include any additional information about an inactive token".
pub async fn introspect(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let form = parse_form(&req, &body)?;
    let client = authenticate_client(&req, &form, &state).await?;
    // §2.1: "the endpoint MUST also require some form of authorization to
    // access this endpoint". A public client proved nothing but its id.
    if client.is_public {
        return Err(OAuthError::InvalidClient(
            "introspection requires client authentication".into(),
        ));
    }
    if !client.can_introspect {
        return Ok(forbidden());
    }
    let token = form.require("token")?;
    let found = find(&state, token, form.get("token_type_hint")).await?;
    let resp = match describe(&state, found).await? {
        Some(active) => serde_json::to_value(active)
            .map_err(|e| OAuthError::Server(format!("introspection response: {e}")))?,
        None => serde_json::json!({"active": false}),
    };
    Ok(no_store(HttpResponse::Ok()).json(resp))
}

/// The §2.2 description of a token, or `None` when it is not active.
async fn describe(
    state: &AppState,
    found: Option<Presented>,
) -> Result<Option<Active>, OAuthError> {
    Ok(match found {
        Some(Presented::Access(claims)) => {
            let jti = claims.jti.clone();
            if state
                .store
                .run(move |c| c.is_access_token_revoked(&jti))
                .await?
            {
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
            })
        }
        Some(Presented::Refresh(t, f)) if is_active(&t, &f, state.clock.now()) => Some(Active {
            active: true,
            scope: t.scope,
            sub: f.user_id.unwrap_or_else(|| f.client_id.clone()),
            client_id: f.client_id,
            exp: t.expires_at,
            iat: t.created_at,
            iss: state.issuer.clone(),
            // A refresh token is only ever presented back to gatehouse.
            aud: state.issuer.clone(),
            token_type: "refresh_token",
            jti: None,
        }),
        _ => None,
    })
}

fn no_store(mut b: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    b.insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"));
    b
}

/// An authenticated client without introspection permission. RFC 7662
/// leaves the answer open (§2.1, §4); gatehouse says 403 with an RFC 6749
/// §5.2-shaped body instead of `{"active": false}`, so a misconfigured
/// resource server fails loudly rather than treating every token as dead.
/// It reveals nothing about the token.
fn forbidden() -> HttpResponse {
    no_store(HttpResponse::Forbidden()).json(serde_json::json!({
        "error": "unauthorized_client",
        "error_description": "this client may not introspect tokens",
    }))
}
