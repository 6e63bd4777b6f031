//! The one place OAuth errors become HTTP responses: RFC 6749 §5.2 JSON,
//! `Cache-Control: no-store`, and for `invalid_client` a 401 with
//! `WWW-Authenticate` (for RFC 6750's `invalid_token` and
//! `insufficient_scope`, a `Bearer` challenge). Internal errors log their cause and answer
//! `server_error` without it.

use crate::oauth::OAuthError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST)
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            OAuthError::Server(cause) => tracing::error!(error = %cause, "internal error"),
            OAuthError::TemporarilyUnavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable")
            }
            _ => {}
        }
        let mut resp = HttpResponse::build(self.status_code());
        resp.insert_header(("Cache-Control", "no-store"))
            .insert_header(("Pragma", "no-cache"));
        match self {
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
            "error": self.code(),
            "error_description": self.description(),
        }))
    }
}
