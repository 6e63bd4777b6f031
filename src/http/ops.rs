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

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut body = state.metrics.render();
    body.push_str(
        "# HELP gatehouse_argon2_verifications_total Password and secret verifications run (argon2id), including the dummy ones for unknown names.\n",
    );
    body.push_str("# TYPE gatehouse_argon2_verifications_total counter\n");
    body.push_str(&format!(
        "gatehouse_argon2_verifications_total {}\n",
        state.hasher.verifications()
    ));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}
