//! `POST /token` (RFC 6749 §3.2): parses the form, authenticates the
//! client, dispatches on `grant_type`, answers with `Cache-Control: no-store`.

use super::client_auth::authenticate_client;
use super::grants;
use super::sign_in::client_addr;
use super::AppState;
use crate::oauth::wire::Form;
use crate::oauth::OAuthError;
use crate::store::models::refresh_token::IssuedAccess;
use crate::tokens::AccessTokenClaims;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

/// RFC 6749 §5.1 successful response.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl TokenResponse {
    pub fn into_http(self) -> HttpResponse {
        HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Pragma", "no-cache"))
            .json(self)
    }
}

/// Parses a form body with the RFC 6749 rules (form encoding, no repeats).
pub fn parse_form(req: &HttpRequest, body: &[u8]) -> Result<Form, OAuthError> {
    let ct = req
        .headers()
        .get("Content-Type")
        .and_then(|v| v.to_str().ok());
    Form::parse(ct, body)
}

pub async fn token(
    req: HttpRequest,
    body: super::body::Body,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let form = parse_form(&req, &body)?;
    let grant_type = form.require("grant_type")?.to_string();
    let client = authenticate_client(&req, &form, &state).await?;
    let response = match grant_type.as_str() {
        "client_credentials" => grants::client_credentials::grant(&state, &client, &form).await?,
        "authorization_code" => grants::authorization_code::grant(&state, &client, &form).await?,
        crate::oauth::device::GRANT_TYPE => {
            grants::device_code::grant(&state, &client, &form).await?
        }
        "refresh_token" => grants::refresh_token::grant(&state, &client, &form).await?,
        "password" => grants::password::grant(&state, &client, &form, &client_addr(&req)).await?,
        _ => {
            return Err(OAuthError::UnsupportedGrantType(
                "grant_type is not one this server supports".into(),
            ))
        }
    };
    state.metrics.token_issued(&grant_type);
    Ok(response.into_http())
}

/// The identity of an access token about to be issued: chosen before the
/// grant's transaction so the refresh token stored in it can name the
/// access token issued alongside (and revocation can deny-list it).
#[derive(Debug, Clone)]
pub struct AccessTokenId {
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
}

impl AccessTokenId {
    pub fn new(state: &AppState) -> AccessTokenId {
        let now = state.clock.now();
        AccessTokenId {
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now,
            exp: now + state.config.access_token_ttl,
        }
    }

    pub fn as_issued(&self) -> IssuedAccess<'_> {
        IssuedAccess {
            jti: &self.jti,
            expires_at: self.exp,
        }
    }
}

/// Signs an RFC 9068 access token. `sub` is the user's id, or the client's
/// for client_credentials.
pub fn issue_access_token(
    state: &AppState,
    sub: &str,
    client_id: &str,
    scope: &str,
    auth_time: Option<i64>,
) -> Result<(String, AccessTokenClaims), OAuthError> {
    sign_access_token(
        state,
        AccessTokenId::new(state),
        sub,
        client_id,
        scope,
        auth_time,
    )
}

/// Signs an access token whose id was chosen beforehand.
pub fn sign_access_token(
    state: &AppState,
    id: AccessTokenId,
    sub: &str,
    client_id: &str,
    scope: &str,
    auth_time: Option<i64>,
) -> Result<(String, AccessTokenClaims), OAuthError> {
    let claims = AccessTokenClaims {
        iss: state.issuer.clone(),
        sub: sub.to_string(),
        aud: state.audience.clone(),
        exp: id.exp,
        iat: id.iat,
        jti: id.jti,
        client_id: client_id.to_string(),
        scope: scope.to_string(),
        auth_time,
    };
    let jwt = state.keys.current().signer.sign(&claims)?;
    Ok((jwt, claims))
}
