//! The one place OAuth errors become HTTP responses: RFC 6749 §5.2 JSON,
//! `Cache-Control: no-store`, and for `invalid_client` a 401 with
//! `WWW-Authenticate` (for RFC 6750's `invalid_token` and
//! `insufficient_scope`, a `Bearer` challenge). Internal errors log their cause and answer
//! `server_error` without it.

use crate::oauth::OAuthError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

/// An `OAuthError` (the protocol crate's) on its way out of an endpoint:
/// the endpoints answer `Result<HttpResponse, ApiError>`, and `?` turns an
/// `OAuthError`, a `StoreError` or a `TokenError` into one.
#[derive(Debug)]
pub struct ApiError(pub OAuthError);

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        ApiError(e)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError(e.into())
    }
}

impl From<crate::tokens::TokenError> for ApiError {
    fn from(e: crate::tokens::TokenError) -> Self {
        ApiError(e.into())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::BAD_REQUEST)
    }

    fn error_response(&self) -> HttpResponse {
        let this = &self.0;
        match this {
            OAuthError::Server(cause) => tracing::error!(error = %cause, "internal error"),
            OAuthError::TemporarilyUnavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable")
            }
            _ => {}
        }
        let mut resp = HttpResponse::build(self.status_code());
        resp.insert_header(("Cache-Control", "no-store"))
            .insert_header(("Pragma", "no-cache"));
        match this {
            OAuthError::InvalidClient(_) => {
                resp.insert_header(("WWW-Authenticate", r#"Basic realm="gatehouse""#));
            }
            OAuthError::TemporarilyUnavailable(_) => {
                resp.insert_header(("Retry-After", "1"));
            }
            OAuthError::InvalidToken(_) => {
                resp.insert_header((
                    "WWW-Authenticate",
                    r#"Bearer realm="gatehouse", error="invalid_token""#,
                ));
            }
            OAuthError::InsufficientScope(_) => {
                resp.insert_header((
                    "WWW-Authenticate",
                    r#"Bearer realm="gatehouse", error="insufficient_scope""#,
                ));
            }
            _ => {}
        }
        resp.json(serde_json::json!({
            "error": this.code(),
            "error_description": this.description(),
        }))
    }
}
