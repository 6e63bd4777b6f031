//! The audit trail from the request side: who is acting (a person, a
//! client, someone not yet known) and from where (the client address as
//! the throttle reads it, the browser's `User-Agent`), and recording an
//! event that is not part of a change's transaction (a failed sign-in,
//! whose attempt was counted before its password was checked).

use super::AppState;
use crate::registry::Acting;
use crate::store::models::audit_event::{actor, NewAuditEvent};
use crate::store::StoreError;
use actix_web::HttpRequest;

/// The request's `User-Agent`, when it sent one.
pub fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `actor` acting through `req`.
pub fn acting(req: &HttpRequest, actor: String) -> Acting {
    Acting {
        actor,
        ip: Some(super::sign_in::client_addr(req)),
        user_agent: user_agent(req),
    }
}

/// The signed-in person `user_id`.
pub fn person(req: &HttpRequest, user_id: &str) -> Acting {
    acting(req, actor::person(user_id))
}

/// Someone not known yet (signing up, signing in).
pub fn anonymous(req: &HttpRequest) -> Acting {
    acting(req, actor::ANONYMOUS.to_string())
}

/// Appends `event` on its own (a lone write, logged at once).
pub async fn record(state: &AppState, event: NewAuditEvent) -> Result<(), StoreError> {
    let at_ms = state.clock.now_millis();
    state
        .store
        .run(move |c| c.write(|tx| tx.record_audit(at_ms, &event)))
        .await
}
