//! The JSON endpoints' route table and the middleware every response
//! passes (security headers, the request log and its metrics; the body
//! deadline is `deadline.rs`). One file per endpoint; handlers parse, load,
//! call `oauth`, save, respond.

pub mod body;
pub mod client_auth;
pub mod deadline;
pub mod device_authorization;
pub mod error;
pub mod grants;
pub mod introspect;
pub mod metadata;
pub mod ops;
pub mod presented;
pub mod register;
pub mod revoke;
pub mod token;
pub mod userinfo;

use crate::app::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::web;
use std::sync::Arc;
use std::time::Instant;

/// The route table, shared by `serve` and the tests. `issuer`: where the
/// metadata is served depends on its path (`metadata::paths`).
pub fn configure(cfg: &mut web::ServiceConfig, issuer: &str) {
    cfg.configure(|cfg| metadata::configure(cfg, issuer))
        .route("/jwks.json", web::get().to(metadata::jwks))
        .route("/token", web::post().to(token::token))
        .route(
            "/device_authorization",
            web::post().to(device_authorization::device_authorization),
        )
        .route("/revoke", web::post().to(revoke::revoke))
        .route("/introspect", web::post().to(introspect::introspect))
        .route("/userinfo", web::get().to(userinfo::userinfo))
        .route("/userinfo", web::post().to(userinfo::userinfo))
        .route("/healthz", web::get().to(ops::healthz))
        .route("/readyz", web::get().to(ops::readyz))
        .route("/metrics", web::get().to(ops::metrics));
}

/// Security headers on every response (a page or JSON alike).
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'self'; frame-ancestors 'none'; form-action 'self' http: https:",
        ))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Content-Type-Options", "nosniff"))
}

/// One log line per request: method, path (never the query, which can hold
/// codes), status, latency. Also counts responses for `/metrics`, by the
/// matched route *pattern* (bounded: never the raw path), which actix
/// looks up by the index routing recorded rather than matching again.
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_string();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| Arc::clone(&s.metrics.inner));
    let res = next.call(req).await;
    let (status, route) = match &res {
        Ok(r) => (r.status().as_u16(), r.request().match_pattern()),
        Err(e) => (e.as_response_error().status_code().as_u16(), None),
    };
    let micros = start.elapsed().as_micros() as u64;
    if let Some(m) = metrics {
        m.record_request(route.as_deref(), status, micros);
    }
    tracing::info!(
        target: "gatehouse::http",
        %method,
        path = %path,
        status,
        latency_ms = micros as f64 / 1000.0,
        "request"
    );
    res
}
