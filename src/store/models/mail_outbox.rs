//! `mail_outbox`: mail waiting to be sent. A page or command queues a mail
//! in the transaction of the change it reports (`Tx::enqueue_mail`), so a
//! mail is never sent for a change that rolled back, nor lost for one that
//! committed; the sender (`app::outbox`) claims, sends and marks them.

use crate::crypto::record_id;
use crate::store::dispatch;
use crate::store::schema::mail_outbox as mo;
use crate::store::{StoreError, StoreResult, Tx};
use diesel::prelude::*;

/// A mail as queued: `body` is already sealed (see `app::outbox`).
pub struct NewMail<'a> {
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

impl Tx<'_> {
    /// Queues a mail, due now; returns its id.
    pub fn enqueue_mail(&mut self, mail: &NewMail<'_>, now: i64) -> StoreResult<String> {
        let id = record_id();
        dispatch!(self, c => diesel::insert_into(mo::table)
            .values((
                mo::id.eq(&id),
                mo::recipient.eq(mail.recipient),
                mo::subject.eq(mail.subject),
                mo::body.eq(mail.body),
                mo::created_at.eq(now),
                mo::attempts.eq(0),
                mo::next_attempt_at.eq(now),
            ))
            .execute(c))
        .map_err(|e| StoreError::from_insert(e, "mail"))?;
        Ok(id)
    }
}
