//! The outbox: mail is queued in the transaction of the change it
//! reports, and sent by a task of its own, so sending never holds up a
//! request.

use crate::mail::Mail;
use crate::store::models::mail_outbox::NewMail;
use crate::store::{StoreError, StoreResult, Tx};
use std::sync::Arc;
use tokio::sync::Notify;

/// What pages and commands queue mail through.
pub struct Outbox {
    /// Whether `GATEHOUSE_SMTP_URL` is set: without it nothing is queued
    /// and the pages that need mail say so.
    enabled: bool,
    /// Wakes the sender after a commit that queued mail.
    wake: Arc<Notify>,
}

impl Outbox {
    pub fn new(enabled: bool) -> Outbox {
        Outbox {
            enabled,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Queues `mail` inside the caller's transaction; call `wake` once the
    /// transaction has committed.
    pub fn queue(&self, tx: &mut Tx<'_>, mail: &Mail, now: i64) -> StoreResult<String> {
        let body = serde_json::to_string(&(&mail.text, &mail.html))
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        tx.enqueue_mail(
            &NewMail {
                recipient: &mail.to,
                subject: &mail.subject,
                body: &body,
            },
            now,
        )
    }

    /// Tells the sender there is mail due (after the queuing commit).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}
