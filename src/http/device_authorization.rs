//! `POST /device_authorization` (RFC 8628 §3.1–3.2): a device without a
//! browser asks for a device code and a user code.

use super::client_auth::authenticate_client;
use super::error::ApiError;
use super::token::parse_form_with_resources;
use crate::app::AppState;
use crate::crypto::{random_token, token_hash};
use crate::oauth::device::{format_user_code, generate_user_code, status};
use crate::oauth::scope::resolve_scope;
use crate::oauth::{GrantType, OAuthError};
use crate::store::models::device_code::DeviceCode;
use crate::store::StoreError;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

/// Expired device codes are kept this long (so late polls still get
/// `expired_token`), then purged.
const KEEP_EXPIRED: i64 = 24 * 60 * 60;

/// RFC 8628 §3.2 device authorization response.
#[derive(Debug, Serialize)]
pub struct DeviceAuthorizationResponse {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// RFC 8628 §3.1. Client authentication as at the token endpoint (§3.1:
/// "client_id REQUIRED if the client is not authenticating with the
/// authorization server").
pub async fn device_authorization(
    req: HttpRequest,
    body: super::body::Body,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form = parse_form_with_resources(&req, &body)?;
    let client = authenticate_client(&req, &form, &state).await?;
    if !client.has_grant(GrantType::DeviceCode) {
        return Err(OAuthError::UnauthorizedClient(
            "this client may not use the device authorization grant".into(),
        )
        .into());
    }
    let scope = resolve_scope(form.get("scope"), &client.scope_list())?.join(" ");
    // RFC 8707 §2: the resources the tokens will be for.
    let resource = super::grants::new_resources(&state, &client, &form)?;
    let now = state.clock.now();
    // RFC 8628 §5.2 / RFC 6749 §10.10: at least 128 bits; stored only hashed.
    let device_code = random_token(32);
    let mut row = DeviceCode {
        device_code_hash: token_hash(&device_code),
        user_code: String::new(),
        client_id: client.id.clone(),
        scope,
        status: status::PENDING.to_string(),
        user_id: None,
        poll_interval: state.config.device_interval,
        last_poll_at: None,
        created_at: now,
        expires_at: now + state.config.device_code_ttl,
        auth_time: None,
        sid: None,
        amr: None,
        resource: crate::oauth::resource::join(&resource),
    };
    let user_code = state
        .store
        .run(move |c| -> Result<String, StoreError> {
            c.purge_device_codes(now - KEEP_EXPIRED)?;
            // The user code is unique; on the (rare) clash draw another.
            for _ in 0..5 {
                row.user_code = generate_user_code();
                match c.insert_device_code(&row) {
                    Ok(()) => return Ok(row.user_code),
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(StoreError::Invalid(
                "no free user code after 5 tries".into(),
            ))
        })
        .await?;
    let shown = format_user_code(&user_code);
    let verification_uri = state.url("/device");
    let response = DeviceAuthorizationResponse {
        device_code,
        verification_uri_complete: format!("{verification_uri}?user_code={shown}"),
        user_code: shown,
        verification_uri,
        expires_in: state.config.device_code_ttl,
        interval: state.config.device_interval,
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(response))
}
