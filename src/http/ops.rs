//! Liveness, readiness and Prometheus metrics.

use crate::app::AppState;
use actix_web::{web, HttpResponse};

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Ready when the database answers.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.check_ready().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({"status": "ready"})),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(
                serde_json::json!({"status": "unavailable", "reason": "database unreachable"}),
            )
        }
    }
}

/// The Prometheus text format (0.0.4), written by `prometheus-client`'s
/// encoder; see `app::metrics`.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let body = crate::app::metrics::render(&state);
    HttpResponse::Ok()
        .content_type(crate::app::metrics::CONTENT_TYPE)
        .body(body)
}
