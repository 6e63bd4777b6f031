//! The body of a JSON endpoint's request (`/token`, `/revoke`,
//! `/introspect`, `/device_authorization`). Reading it can fail before any
//! handler runs (too large, a broken gzip stream, a dropped connection);
//! those failures are answered like every other error of these endpoints:
//! RFC 6749 §5.2 JSON, `invalid_request`, never actix's plain text.

use super::error::ApiError;
use crate::oauth::OAuthError;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest};
use std::future::Future;
use std::pin::Pin;

/// The raw request body, read within the configured size limit.
pub struct Body(pub web::Bytes);

impl std::ops::Deref for Body {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl FromRequest for Body {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Body, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let read = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            read.await.map(Body).map_err(|e| {
                ApiError(
                    if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                        OAuthError::PayloadTooLarge
                    } else {
                        OAuthError::InvalidRequest("the request body could not be read".into())
                    },
                )
            })
        })
    }
}
