//! Work every instance does in the background while it serves: pruning
//! expired rows (safe with several instances sharing a database) and
//! picking up key rotations made elsewhere without a restart.

use super::AppState;
use actix_web::web;
use std::time::Duration;

/// The first housekeeping pass runs this long after start, then every
/// `HOUSEKEEPING_EVERY`.
pub const HOUSEKEEPING_FIRST_RUN: Duration = Duration::from_secs(30);
pub const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(600);
/// How often the signing keys are read again (a rotation by another
/// instance or by `gatehouse keys rotate` reaches this one within it).
pub const KEY_RELOAD_EVERY: Duration = Duration::from_secs(30);

/// Starts both tasks on the current actix system.
pub fn start(state: web::Data<AppState>) {
    spawn_key_reload(state.clone());
    spawn_housekeeping(state);
}

fn spawn_key_reload(state: web::Data<AppState>) {
    actix_web::rt::spawn(async move {
        loop {
            actix_web::rt::time::sleep(KEY_RELOAD_EVERY).await;
            let s = state.clone();
            let res =
                tokio::task::spawn_blocking(move || s.keys.reload(&s.store, s.clock.now())).await;
            if let Ok(Err(e)) = res {
                tracing::warn!(error = %e, "reloading signing keys failed");
            }
        }
    });
}

/// How long (seconds) an account link is kept past its expiry.
pub const KEEP_DEAD_LINKS: i64 = 24 * 3600;

/// Prunes expired codes, sessions, tokens and throttle rows
/// (`DbConn::prune_expired`), and outbox rows sent or given up a week ago
/// (`DbConn::prune_finished_mail`), account links a day past their
/// expiry (`DbConn::prune_dead_account_tokens`), and audit events older
/// than `GATEHOUSE_AUDIT_RETENTION` (`Tx::prune_audit`).
fn spawn_housekeeping(state: web::Data<AppState>) {
    actix_web::rt::spawn(async move {
        let mut wait = HOUSEKEEPING_FIRST_RUN;
        loop {
            actix_web::rt::time::sleep(wait).await;
            wait = HOUSEKEEPING_EVERY;
            let now = state.clock.now();
            match state
                .store
                .run(move |c| c.prune_expired(now, super::throttle::FORGET_AFTER))
                .await
            {
                Ok(p) if p.total() > 0 => tracing::info!(
                    authorization_codes = p.authorization_codes,
                    device_codes = p.device_codes,
                    browser_sessions = p.browser_sessions,
                    refresh_tokens = p.refresh_tokens,
                    refresh_families = p.refresh_families,
                    revoked_access_tokens = p.revoked_access_tokens,
                    user_access_tokens = p.user_access_tokens,
                    throttle_rows = p.throttle_rows,
                    webauthn_ceremonies = p.webauthn_ceremonies,
                    "housekeeping pruned expired rows"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
            }
            let before = now - super::outbox::KEEP_FINISHED;
            match state
                .store
                .run(move |c| c.prune_finished_mail(before))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(mail_outbox = n, "housekeeping pruned sent mail"),
                Err(e) => tracing::warn!(error = %e, "housekeeping of the mail outbox failed"),
            }
            let before = now - KEEP_DEAD_LINKS;
            match state
                .store
                .run(move |c| c.prune_dead_account_tokens(before))
                .await
            {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(account_tokens = n, "housekeeping pruned dead account links")
                }
                Err(e) => tracing::warn!(error = %e, "housekeeping of account links failed"),
            }
            let before_ms = (now - state.config.audit_retention).saturating_mul(1000);
            match state
                .store
                .run(move |c| c.write(|tx| tx.prune_audit(before_ms)))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(audit_events = n, "housekeeping pruned old audit events"),
                Err(e) => tracing::warn!(error = %e, "housekeeping of the audit trail failed"),
            }
        }
    });
}
