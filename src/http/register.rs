//! RFC 7591 dynamic client registration (`POST /register`) and RFC 7592
//! management (`GET`, `PUT`, `DELETE /register/{client_id}` with the
//! registration access token). Who may register is the
//! `GATEHOUSE_REGISTRATION` setting: an initial access token, anyone, or
//! no endpoint at all.

use super::body::Body;
use super::error::ApiError;
use super::presented::bearer;
use crate::app::AppState;
use crate::config::Registration;
use crate::crypto::{constant_time_eq, random_token, token_hash};
use crate::oauth::wire::max_len;
use crate::oauth::{ApplicationType, GrantType, OAuthError};
use crate::registry::clients::{self_registration_scope, RegistrationTokens};
use crate::registry::{ClientMetadata, NewClient, RegistryError};
use crate::store::models::audit_event::actor;
use crate::store::models::Client;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};

/// The routes, unless registration is off.
pub fn configure(cfg: &mut web::ServiceConfig, mode: Registration) {
    if mode == Registration::Off {
        return;
    }
    cfg.route("/register", web::post().to(register))
        .route("/register/{client_id}", web::get().to(read))
        .route("/register/{client_id}", web::put().to(replace))
        .route("/register/{client_id}", web::delete().to(delete));
}

/// RFC 7591 §3.1: registers a client from its JSON metadata.
pub async fn register(
    req: HttpRequest,
    body: Body,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let spend = match state.config.registration {
        Registration::Token => {
            let token = bearer(&req).ok_or_else(|| {
                OAuthError::InvalidToken(
                    "registration needs an initial access token (Authorization: Bearer)".into(),
                )
            })?;
            Some(token_hash(token))
        }
        _ => None,
    };
    let meta = read_metadata(&req, &body)?;
    let spec = metadata(meta, &state, None)?;
    let reg_token = random_token(32);
    let registration = RegistrationTokens {
        management_token_hash: Some(token_hash(&reg_token)),
        spend_token_hash: spend,
    };
    let who = crate::app::audit::anonymous(&req);
    let created = state
        .registry()
        .acting(&who)
        .register_client(spec, registration)
        .await
        .map_err(registration_error)?;
    let doc = ClientMetadata {
        registration_access_token: Some(reg_token),
        client_secret: created.secret,
        ..client_document(&state, &created.client)
    };
    tracing::info!(client_id = %created.client.id, "client registered through /register");
    Ok(json(StatusCode::CREATED, doc))
}

/// RFC 7592 §2.1: the client's current metadata.
pub async fn read(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let client = authorized_client(&req, &path, &state).await?;
    Ok(json(StatusCode::OK, client_document(&state, &client)))
}

/// RFC 7592 §2.2: replaces the metadata; what is left out goes back to
/// its default. The client stays what it was (public or confidential)
/// and keeps its secret.
pub async fn replace(
    req: HttpRequest,
    path: web::Path<String>,
    body: Body,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let client = authorized_client(&req, &path, &state).await?;
    let meta = read_metadata(&req, &body)?;
    match &meta.client_id {
        Some(id) if *id == client.id => {}
        _ => {
            return Err(OAuthError::InvalidRequest(
                "the body must repeat this client's client_id (RFC 7592 section 2.2)".into(),
            )
            .into())
        }
    }
    if let Some(secret) = &meta.client_secret {
        let matches = match &client.secret_hash {
            Some(phc) => state.hasher.verify(secret.clone(), phc.clone()).await,
            None => false,
        };
        if !matches {
            return Err(OAuthError::InvalidRequest(
                "client_secret, when included, must be the current one".into(),
            )
            .into());
        }
    }
    let spec = metadata(meta, &state, Some(&client))?;
    let who = crate::app::audit::acting(&req, actor::client(&client.id));
    let updated = state
        .registry()
        .acting(&who)
        .update_client(&client.id, spec)
        .await
        .map_err(registration_error)?;
    Ok(json(StatusCode::OK, client_document(&state, &updated)))
}

/// RFC 7592 §2.3: deletes the client and everything issued to it.
pub async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let client = authorized_client(&req, &path, &state).await?;
    let who = crate::app::audit::acting(&req, actor::client(&client.id));
    state
        .registry()
        .acting(&who)
        .delete_client(&client.id)
        .await
        .map_err(registration_error)?;
    tracing::info!(client_id = %client.id, "client deleted through /register");
    Ok(HttpResponse::NoContent()
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

/// The client at this registration URI, when the request carries its
/// registration access token; anything else is `invalid_token` (RFC 7592
/// §2.1), whether or not the client exists.
async fn authorized_client(
    req: &HttpRequest,
    client_id: &str,
    state: &AppState,
) -> Result<Client, OAuthError> {
    let refused = || {
        OAuthError::InvalidToken(
            "the registration access token is missing or not valid for this client".into(),
        )
    };
    let token = bearer(req).ok_or_else(refused)?;
    // No client id has a NUL or is that long, and PostgreSQL refuses NUL
    // in text: such an id is unknown without asking the database.
    if client_id.contains('\0') || client_id.len() > max_len("client_id") {
        return Err(refused());
    }
    let presented = token_hash(token);
    let id = client_id.to_string();
    let client = state
        .store
        .run(move |c| c.find_client(&id))
        .await?
        .ok_or_else(refused)?;
    match &client.registration_token_hash {
        Some(stored) if constant_time_eq(stored.as_bytes(), presented.as_bytes()) => Ok(client),
        _ => Err(refused()),
    }
}

/// The body as client metadata (RFC 7591 §3.1: one JSON object,
/// `application/json`). A field of the wrong type is named in the error.
fn read_metadata(req: &HttpRequest, body: &[u8]) -> Result<ClientMetadata, OAuthError> {
    let json_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json_type {
        return Err(OAuthError::InvalidRequest(
            "the body must be JSON (Content-Type: application/json)".into(),
        ));
    }
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(OAuthError::InvalidClientMetadata(
            "the body must be one JSON object of client metadata".into(),
        ));
    };
    serde_json::from_value(Value::Object(fields.clone())).map_err(|e| {
        // serde names the type, not the field: find the field by itself.
        let field = fields.into_iter().find(|(k, v)| {
            let one = Map::from_iter([(k.clone(), v.clone())]);
            serde_json::from_value::<ClientMetadata>(Value::Object(one)).is_err()
        });
        let what = field.map_or_else(String::new, |(k, _)| format!("{k}: "));
        OAuthError::InvalidClientMetadata(format!("{what}{e}"))
    })
}

/// RFC 7591 §2 metadata as a registration; fields this server does not
/// know were ignored when it was read. `existing`: the client being
/// replaced (RFC 7592 §2.2).
fn metadata(
    meta: ClientMetadata,
    state: &AppState,
    existing: Option<&Client>,
) -> Result<NewClient, OAuthError> {
    let bad = |m: &str| OAuthError::InvalidClientMetadata(m.to_string());
    let auth_method = meta
        .token_endpoint_auth_method
        .unwrap_or_else(|| "client_secret_basic".to_string());
    let public = match auth_method.as_str() {
        "none" => true,
        "client_secret_basic" | "client_secret_post" => false,
        other => {
            return Err(bad(&format!(
                "token_endpoint_auth_method '{other}' is not supported (client_secret_basic, client_secret_post, none)"
            )))
        }
    };
    if let Some(c) = existing {
        if c.is_public != public {
            return Err(bad(
                "a client cannot change between public (none) and confidential",
            ));
        }
    }
    // OpenID Connect DCR §2: `web` or `native`; absent, the redirect URIs
    // decide (`NewClient::application_type`).
    let application_type = match meta.application_type.as_deref() {
        None => None,
        Some(t) => Some(ApplicationType::parse(t).ok_or_else(|| {
            bad(&format!(
                "application_type '{t}' is not supported (web or native)"
            ))
        })?),
    };
    // RFC 7591 §2: without grant_types, authorization_code alone.
    let grant_types = meta
        .grant_types
        .unwrap_or_else(|| vec!["authorization_code".to_string()]);
    for g in &grant_types {
        // The legacy grants are for the operator to turn on, never for a
        // client to give itself (RFC 9700 §2.4, §2.1.2).
        if matches!(
            GrantType::parse(g),
            Some(GrantType::Password | GrantType::Implicit)
        ) {
            return Err(bad(&format!(
                "the grant type {g} cannot be registered here"
            )));
        }
    }
    let scope = self_registration_scope(
        meta.scope.as_deref(),
        &state.config.registration_scopes,
        &[],
    )
    .map_err(|e| {
        bad(&format!(
            "the scope {} is not available to registered apps (allowed: {})",
            e.scope,
            e.allowed.join(" ")
        ))
    })?;
    Ok(NewClient {
        // RFC 7591 §2: client_name is optional; people still need a name
        // on the consent page.
        name: meta
            .client_name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "Unnamed app".to_string()),
        website: meta.client_uri,
        logo_uri: meta.logo_uri,
        contacts: meta.contacts.unwrap_or_default(),
        redirect_uris: meta.redirect_uris.unwrap_or_default(),
        grant_types,
        response_types: meta.response_types,
        scope,
        public,
        auth_method: (!public).then_some(auth_method),
        can_introspect: false,
        owner: None,
        // Set by the operator (`--post-logout-redirect-uri`) only.
        post_logout_redirect_uris: Vec::new(),
        // RFC 8707: set by the operator (`--resource`) only; self-registered
        // clients name what `GATEHOUSE_RESOURCES` allows.
        resources: Vec::new(),
        application_type,
    })
}

fn registration_error(e: RegistryError) -> OAuthError {
    match e {
        RegistryError::Field { field, message } => {
            if field == "redirect_uris" {
                OAuthError::InvalidRedirectUri(message)
            } else {
                OAuthError::InvalidClientMetadata(message)
            }
        }
        RegistryError::Invalid(m) => OAuthError::InvalidClientMetadata(m),
        RegistryError::NotFound(_) => OAuthError::InvalidToken(
            "the registration access token is not valid for this client".into(),
        ),
        RegistryError::Store(e) => e.into(),
        RegistryError::TokenRefused => OAuthError::InvalidToken(
            "the initial access token is unknown, expired or used up".into(),
        ),
    }
}

/// RFC 7591 §3.2.1 / RFC 7592 §3: the client's metadata as registered,
/// with its management URI. No secret: only its hash is kept.
fn client_document(state: &AppState, c: &Client) -> ClientMetadata {
    ClientMetadata {
        registration_client_uri: Some(state.url(&format!("/register/{}", c.id))),
        ..ClientMetadata::of(c)
    }
}

fn json(status: StatusCode, doc: ClientMetadata) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(doc)
}
