//! Passkeys in the browser: the JSON endpoints `/static/passkeys.js` calls
//! (same origin, each with the page's CSRF token in the body field
//! `csrf_token` or the `X-CSRF-Token` header, checked as forms are), and
//! removing one (a plain form).
//!
//! - `POST /account/passkeys/options` → the creation options of a new
//!   passkey for the person signed in; `POST /account/passkeys`
//!   (`ceremony`, `name`, `credential`) saves it (`201`).
//! - `POST /account/passkeys/{id}/delete` (form) removes one, unless the
//!   factor policy requires a second step and it is their last.
//! - `POST /login/passkey/options`, `POST /login/passkey` (`ceremony`,
//!   `credential`, `next`): a password-less sign-in with a discoverable
//!   passkey (also the sign-in page's autofill, conditional UI); answers
//!   `{"next": …}`, where to go, with the session cookie.
//! - `POST /login/factor/passkey/options`, `POST /login/factor/passkey`:
//!   a passkey as the second step (`pending::first_factor`), the same
//!   answer.
//!
//! Every refusal is a 4xx JSON `{"error": code, "message": words}`.

use super::filters;
use super::{parse_form, pending, safe_next, see_other, session, sign_in_first};
use crate::app::factors::{self, FactorChange};
use crate::app::passkeys::{self as pk, PasskeyError};
use crate::app::sign_in::client_addr;
use crate::app::AppState;
use crate::oauth::amr::Amr;
use crate::store::models::audit_event::AuditType;
use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde_json::{json, Value};

/// A refusal of a JSON endpoint.
#[derive(Debug)]
pub struct JsonError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl JsonError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> JsonError {
        JsonError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for JsonError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status);
        resp.insert_header(("Cache-Control", "no-store"));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.insert_header(("Retry-After", "1"));
        }
        resp.json(json!({"error": self.code, "message": self.message}))
    }
}

impl From<StoreError> for JsonError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable for a passkey request");
                JsonError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "The service is briefly unavailable. Try again in a few seconds.",
                )
            }
            other => {
                tracing::error!(error = %other, "internal error in a passkey request");
                JsonError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "An internal error occurred. Please try again later.",
                )
            }
        }
    }
}

impl From<PasskeyError> for JsonError {
    fn from(e: PasskeyError) -> Self {
        let message = e.to_string();
        let (status, code) = match e {
            PasskeyError::Unavailable => (StatusCode::NOT_FOUND, "unavailable"),
            PasskeyError::Ceremony => (StatusCode::BAD_REQUEST, "ceremony"),
            PasskeyError::Refused(_) => (StatusCode::BAD_REQUEST, "refused"),
            PasskeyError::UnknownCredential => (StatusCode::BAD_REQUEST, "unknown_passkey"),
            PasskeyError::Duplicate => (StatusCode::CONFLICT, "duplicate"),
            PasskeyError::NoPasskeys => (StatusCode::BAD_REQUEST, "no_passkeys"),
            PasskeyError::BadName(_) => (StatusCode::BAD_REQUEST, "name"),
            PasskeyError::Throttled(_) => (StatusCode::TOO_MANY_REQUESTS, "throttled"),
            PasskeyError::Store(s) => return s.into(),
            PasskeyError::Internal(cause) => {
                tracing::error!(error = %cause, "internal error in a passkey request");
                return JsonError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "An internal error occurred. Please try again later.",
                );
            }
        };
        if status != StatusCode::NOT_FOUND {
            tracing::info!(code, reason = %message, "passkey request refused");
        }
        JsonError::new(status, code, message)
    }
}

impl From<super::PageError> for JsonError {
    fn from(e: super::PageError) -> Self {
        match e {
            super::PageError::Unavailable(cause) => StoreError::Unavailable(cause).into(),
            other => {
                tracing::error!(error = %other, "internal error in a passkey request");
                JsonError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "An internal error occurred. Please try again later.",
                )
            }
        }
    }
}

/// The JSON body of a request, as an object, with its CSRF token checked
/// (body field `csrf_token`, else the `X-CSRF-Token` header).
fn read(req: &HttpRequest, state: &AppState, body: &[u8]) -> Result<Value, JsonError> {
    let v: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|_| {
            JsonError::new(StatusCode::BAD_REQUEST, "bad_json", "The body is not JSON.")
        })?
    };
    if !v.is_object() {
        return Err(JsonError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            "The body must be a JSON object.",
        ));
    }
    let header = req
        .headers()
        .get("x-csrf-token")
        .and_then(|h| h.to_str().ok());
    let token = v.get("csrf_token").and_then(Value::as_str).or(header);
    if !super::csrf::verify(req, state, token) {
        return Err(JsonError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "The page expired or the request did not come from this site. Reload the page and try again.",
        ));
    }
    Ok(v)
}

fn text<'a>(v: &'a Value, key: &str) -> Result<&'a str, JsonError> {
    v.get(key).and_then(Value::as_str).ok_or_else(|| {
        JsonError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("`{key}` is missing or not a string."),
        )
    })
}

fn credential<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, JsonError> {
    let c = v.get("credential").cloned().ok_or_else(|| {
        JsonError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "`credential` is missing.",
        )
    })?;
    serde_json::from_value(c).map_err(|e| {
        JsonError::new(
            StatusCode::BAD_REQUEST,
            "bad_credential",
            format!("`credential` is not a WebAuthn credential: {e}"),
        )
    })
}

fn not_signed_in() -> JsonError {
    JsonError::new(StatusCode::UNAUTHORIZED, "not_signed_in", "Sign in first.")
}

fn options(ceremony: String, options: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"ceremony": ceremony, "options": options}))
}

/// A sign-in's answer: where to go next, with the cookies of `started` (a
/// `303` from `session::start` or `pending::finish`).
fn signed_in(started: HttpResponse, next: &str) -> HttpResponse {
    let mut resp = HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"next": next}));
    for c in started.cookies() {
        let _ = resp.add_cookie(&c);
    }
    resp
}

/// `POST /account/passkeys/options`
pub async fn register_options(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, JsonError> {
    read(&req, &state, &body)?;
    let me = session::current(&req, &state)
        .await?
        .ok_or_else(not_signed_in)?;
    let (id, opts) = pk::start_registration(&state, &me.user).await?;
    Ok(options(id, opts))
}

/// `POST /account/passkeys`
pub async fn register(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, JsonError> {
    let v = read(&req, &state, &body)?;
    let me = session::current(&req, &state)
        .await?
        .ok_or_else(not_signed_in)?;
    let ceremony = text(&v, "ceremony")?;
    let name = v.get("name").and_then(Value::as_str).unwrap_or("");
    let cred = credential(&v)?;
    let enrolled =
        super::account_totp::factor_event(&req, &me.user.id, AuditType::FactorEnrolled, "passkey");
    let row = pk::finish_registration(&state, &me.user, ceremony, name, &cred, enrolled).await?;
    tracing::info!(user = %me.user.id, passkey = %row.id, "passkey registered");
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"id": row.id, "name": row.name})))
}

/// `POST /account/passkeys/{id}/delete` (a form): removes one of the
/// person's passkeys, and back to `/account`. Refused (409) when the
/// factor policy requires a second step and it is the last one.
pub async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, super::PageError> {
    parse_form(&req, &state, &body)?;
    let Some(me) = session::current(&req, &state).await? else {
        return Ok(sign_in_first("/account"));
    };
    let required = state.config.mfa.requires(me.user.is_admin);
    let (uid, id) = (me.user.id.clone(), path.into_inner());
    let event =
        super::account_totp::factor_event(&req, &me.user.id, AuditType::FactorRemoved, "passkey");
    let at_ms = state.clock.now_millis();
    let notice = factors::factor_notice(&state, &me.user, FactorChange::PasskeyRemoved)?;
    let (st, now) = (state.clone(), state.clock.now());
    let outcome = state
        .store
        .run(move |c| {
            c.transaction(|t| -> Result<Option<bool>, StoreError> {
                let factors = t.user_factors(&uid)?;
                if !factors.passkeys.iter().any(|p| p.id == id) {
                    return Ok(None);
                }
                if !factors.may_remove_one(required) {
                    return Ok(Some(false));
                }
                let removed = t.delete_passkey(&uid, &id)?;
                if removed {
                    t.record_audit(at_ms, &event.detail("passkey_id", id.clone()))?;
                    if let Some(mail) = &notice {
                        st.outbox.queue(t, mail, now)?;
                    }
                }
                Ok(Some(removed))
            })
        })
        .await?;
    match outcome {
        None => Err(super::PageError::NotFound(
            "You have no passkey by that name. It may have been removed already.".into(),
        )),
        Some(false) => Ok(super::render(&state, StatusCode::CONFLICT, &LastFactor {})),
        Some(true) => {
            state.outbox.wake();
            tracing::info!(user = %me.user.id, "passkey removed");
            Ok(see_other("/account#passkeys-heading"))
        }
    }
}

#[derive(askama::Template)]
#[template(path = "passkey_last_factor.html")]
struct LastFactor {}

/// `POST /login/passkey/options`
pub async fn login_options(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, JsonError> {
    read(&req, &state, &body)?;
    let (id, opts) = pk::start_passwordless(&state).await?;
    Ok(options(id, opts))
}

/// `POST /login/passkey`
pub async fn login(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, JsonError> {
    let v = read(&req, &state, &body)?;
    let next = safe_next(v.get("next").and_then(Value::as_str));
    let ceremony = text(&v, "ceremony")?;
    let cred = credential(&v)?;
    let (user, methods) =
        pk::finish_passwordless(&state, ceremony, &cred, &client_addr(&req)).await?;
    tracing::info!(user = %user.id, outcome = "success", "password-less sign-in with a passkey");
    let started = session::start(&req, &state, user.id, &Amr::of(&methods), &next).await?;
    let mut resp = signed_in(started, &next);
    let _ = resp.add_cookie(&pending::removal(&state));
    Ok(resp)
}

/// `POST /login/factor/passkey/options`
pub async fn factor_options(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, JsonError> {
    read(&req, &state, &body)?;
    let first = pending::first_factor(&req, &state)
        .await?
        .ok_or_else(not_signed_in)?;
    let (id, opts) = pk::start_second_factor(&state, &first.user.id).await?;
    Ok(options(id, opts))
}

/// `POST /login/factor/passkey`
pub async fn factor(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, JsonError> {
    let v = read(&req, &state, &body)?;
    let next = safe_next(v.get("next").and_then(Value::as_str));
    let first = pending::first_factor(&req, &state)
        .await?
        .ok_or_else(not_signed_in)?;
    let ceremony = text(&v, "ceremony")?;
    let cred = credential(&v)?;
    let methods =
        pk::finish_second_factor(&state, &first.user.id, ceremony, &cred, &client_addr(&req))
            .await?;
    tracing::info!(user = %first.user.id, outcome = "success", "second step with a passkey");
    let started = pending::finish(&req, &state, &first, &methods, &next).await?;
    Ok(signed_in(started, &next))
}

/// A time as the passkeys list shows it (`account_passkeys.html`).
pub fn when(ts: impl std::borrow::Borrow<i64>) -> String {
    chrono::DateTime::from_timestamp(*ts.borrow(), 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}
