//! `POST /token` (RFC 6749 §3.2): parses the form, authenticates the
//! client, dispatches on `grant_type`, answers with `Cache-Control: no-store`.

use super::client_auth::authenticate_client;
use super::error::ApiError;
use super::grants;
use crate::app::issue::TokenResponse;
use crate::app::sign_in::client_addr;
use crate::app::AppState;
use crate::oauth::wire::Form;
use crate::oauth::{GrantType, OAuthError};
use actix_web::{web, HttpRequest, HttpResponse};

/// Parses a form body with the RFC 6749 rules (form encoding, no repeats).
pub fn parse_form(req: &HttpRequest, body: &[u8]) -> Result<Form, OAuthError> {
    let ct = req
        .headers()
        .get("Content-Type")
        .and_then(|v| v.to_str().ok());
    Form::parse(ct, body)
}

/// `parse_form` for a request that may name several RFC 8707 `resource`s
/// (the token and device authorization endpoints).
pub fn parse_form_with_resources(req: &HttpRequest, body: &[u8]) -> Result<Form, OAuthError> {
    let ct = req
        .headers()
        .get("Content-Type")
        .and_then(|v| v.to_str().ok());
    Form::parse_with_lists(ct, body, &["resource"])
}

/// RFC 8707 §2: the request's `resource`s, checked as URIs.
pub fn resources(form: &Form) -> Result<Vec<String>, OAuthError> {
    crate::oauth::resource::parse_resources(&form.get_all("resource"))
}

pub async fn token(
    req: HttpRequest,
    body: super::body::Body,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form = parse_form_with_resources(&req, &body)?;
    // Parsed once, here. `implicit` answers at /authorize, never here.
    let grant_type = GrantType::parse(form.require("grant_type")?);
    let client = authenticate_client(&req, &form, &state).await?;
    // RFC 6749 §5.2 `unauthorized_client`: checked once, here, for every
    // grant. client_credentials is for confidential clients only (§4.4:
    // "MUST only be used by confidential clients").
    if let Some(g) = grant_type.filter(|g| *g != GrantType::Implicit) {
        let public_service = g == GrantType::ClientCredentials && client.is_public;
        if !client.has_grant(g) || public_service {
            return Err(OAuthError::UnauthorizedClient(format!(
                "this client may not use the {} grant",
                g.as_str()
            ))
            .into());
        }
    }
    let (grant_type, response) = match grant_type {
        Some(g @ GrantType::ClientCredentials) => (
            g,
            grants::client_credentials::grant(&state, &client, &form).await?,
        ),
        Some(g @ GrantType::AuthorizationCode) => (
            g,
            grants::authorization_code::grant(&state, &client, &form).await?,
        ),
        Some(g @ GrantType::DeviceCode) => {
            (g, grants::device_code::grant(&state, &client, &form).await?)
        }
        Some(g @ GrantType::RefreshToken) => (
            g,
            grants::refresh_token::grant(&state, &client, &form).await?,
        ),
        Some(g @ GrantType::Password) => (
            g,
            grants::password::grant(&state, &client, &form, &client_addr(&req)).await?,
        ),
        Some(GrantType::Implicit) | None => {
            return Err(OAuthError::UnsupportedGrantType(
                "grant_type is not one this server supports".into(),
            )
            .into())
        }
    };
    state.metrics.token_issued(grant_type);
    Ok(respond(response))
}

/// RFC 6749 §5.1: the token response, never cached.
pub fn respond(response: TokenResponse) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(response)
}
