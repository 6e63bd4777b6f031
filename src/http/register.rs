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
use crate::oauth::{GrantType, OAuthError};
use crate::registry::clients::{response_types_of, self_registration_scope, RegistrationTokens};
use crate::registry::{NewClient, RegistryError};
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
    let meta = json_object(&req, &body)?;
    let spec = metadata(&meta, &state, None)?;
    let reg_token = random_token(32);
    let registration = RegistrationTokens {
        management_token_hash: Some(token_hash(&reg_token)),
        spend_token_hash: spend,
    };
    let created = state
        .registry()
        .register_client(spec, registration)
        .await
        .map_err(registration_error)?;
    let mut doc = client_document(&state, &created.client);
    doc.insert("registration_access_token".into(), Value::String(reg_token));
    if let Some(secret) = created.secret {
        doc.insert("client_secret".into(), Value::String(secret));
        doc.insert("client_secret_expires_at".into(), Value::from(0));
    }
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
    let meta = json_object(&req, &body)?;
    match meta.get("client_id") {
        Some(Value::String(id)) if *id == client.id => {}
        _ => {
            return Err(OAuthError::InvalidRequest(
                "the body must repeat this client's client_id (RFC 7592 section 2.2)".into(),
            )
            .into())
        }
    }
    if let Some(secret) = meta.get("client_secret") {
        let matches = match (secret, &client.secret_hash) {
            (Value::String(s), Some(phc)) => state.hasher.verify(s.clone(), phc.clone()).await,
            _ => false,
        };
        if !matches {
            return Err(OAuthError::InvalidRequest(
                "client_secret, when included, must be the current one".into(),
            )
            .into());
        }
    }
    let spec = metadata(&meta, &state, Some(&client))?;
    let updated = state
        .registry()
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
    state
        .registry()
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

/// The body as a JSON object (RFC 7591 §3.1: `application/json`).
fn json_object(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, OAuthError> {
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
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(OAuthError::InvalidClientMetadata(
            "the body must be one JSON object of client metadata".into(),
        )),
    }
}

/// Reads RFC 7591 §2 metadata into a registration; unknown fields are
/// ignored (§2). `existing`: the client being replaced (RFC 7592 §2.2).
fn metadata(
    meta: &Map<String, Value>,
    state: &AppState,
    existing: Option<&Client>,
) -> Result<NewClient, OAuthError> {
    let bad = |m: &str| OAuthError::InvalidClientMetadata(m.to_string());
    let string = |key: &str| -> Result<Option<String>, OAuthError> {
        match meta.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(&format!("{key} must be a string"))),
        }
    };
    let strings = |key: &str| -> Result<Option<Vec<String>>, OAuthError> {
        match meta.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(bad(&format!("{key} must be an array of strings"))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(bad(&format!("{key} must be an array of strings"))),
        }
    };

    let auth_method =
        string("token_endpoint_auth_method")?.unwrap_or_else(|| "client_secret_basic".to_string());
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
    let grant_types =
        strings("grant_types")?.unwrap_or_else(|| vec!["authorization_code".to_string()]);
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
        string("scope")?.as_deref(),
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
        name: string("client_name")?
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "Unnamed app".to_string()),
        website: string("client_uri")?,
        logo_uri: string("logo_uri")?,
        contacts: strings("contacts")?.unwrap_or_default(),
        redirect_uris: strings("redirect_uris")?.unwrap_or_default(),
        grant_types,
        response_types: strings("response_types")?,
        scope,
        public,
        auth_method: (!public).then_some(auth_method),
        can_introspect: false,
        owner: None,
        // Set by the operator (`--post-logout-redirect-uri`) only.
        post_logout_redirect_uris: Vec::new(),
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
fn client_document(state: &AppState, c: &Client) -> Map<String, Value> {
    let mut doc = Map::new();
    let mut put = |k: &str, v: Value| {
        doc.insert(k.to_string(), v);
    };
    put("client_id", c.id.clone().into());
    put("client_id_issued_at", c.created_at.into());
    put("client_name", c.name.clone().into());
    put("redirect_uris", c.redirect_uri_list().into());
    put("grant_types", c.grant_type_list().into());
    put("response_types", response_types_of(c).into());
    put("token_endpoint_auth_method", c.auth_method_name().into());
    put("scope", c.scope.clone().into());
    if let Some(u) = &c.website {
        put("client_uri", u.clone().into());
    }
    if let Some(u) = &c.logo_uri {
        put("logo_uri", u.clone().into());
    }
    let contacts: Vec<&str> = crate::store::models::split_list(&c.contacts).collect();
    if !contacts.is_empty() {
        put("contacts", contacts.into());
    }
    if !c.is_public {
        put("client_secret_expires_at", 0.into());
    }
    put(
        "registration_client_uri",
        state.url(&format!("/register/{}", c.id)).into(),
    );
    doc
}

fn json(status: StatusCode, doc: Map<String, Value>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(Value::Object(doc))
}
