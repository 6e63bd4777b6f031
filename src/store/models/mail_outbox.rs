//! `mail_outbox`: mail waiting to be sent. A page or command queues a mail
//! in the transaction of the change it reports (`Tx::enqueue_mail`), so a
//! mail is never sent for a change that rolled back, nor lost for one that
//! committed; the sender (`app::outbox`) claims, sends and marks them.
//!
//! A claim is a lease: `claimed_until` in the future keeps other senders
//! (other instances on the same database) off the row while one sends it.
//! On PostgreSQL the claim skips rows another instance is claiming at the
//! same moment (`FOR UPDATE SKIP LOCKED`), so each mail goes to one
//! instance; on SQLite every write waits its turn (one writer per file).

use crate::crypto::record_id;
use crate::store::schema::mail_outbox as mo;
use crate::store::{dispatch, Backend, DbConn, StoreError, StoreResult, Tx};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};

/// A mail as queued: `body` is already sealed (see `app::outbox`).
pub struct NewMail<'a> {
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

/// A mail claimed for sending: `body` is sealed; `attempts` counts this one.
#[derive(Debug, Clone, QueryableByName)]
pub struct ClaimedMail {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub recipient: String,
    #[diesel(sql_type = Text)]
    pub subject: String,
    #[diesel(sql_type = Text)]
    pub body: String,
    #[diesel(sql_type = BigInt)]
    pub created_at: i64,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
}

/// A row of the outbox as an operator (or a test) sees it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mo)]
pub struct OutboxRow {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub created_at: i64,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub claimed_until: Option<i64>,
    pub sent_at: Option<i64>,
    pub given_up_at: Option<i64>,
    pub last_error: Option<String>,
}

const CLAIM_PG: &str = "UPDATE mail_outbox SET claimed_until = $1, attempts = attempts + 1 \
     WHERE id IN (SELECT id FROM mail_outbox \
       WHERE sent_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= $2 \
         AND (claimed_until IS NULL OR claimed_until < $2) \
       ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING id, recipient, subject, body, created_at, attempts";

const CLAIM_SQLITE: &str = "UPDATE mail_outbox SET claimed_until = ?1, attempts = attempts + 1 \
     WHERE id IN (SELECT id FROM mail_outbox \
       WHERE sent_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= ?2 \
         AND (claimed_until IS NULL OR claimed_until < ?2) \
       ORDER BY next_attempt_at LIMIT ?3) \
     RETURNING id, recipient, subject, body, created_at, attempts";

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

    /// Claims up to `limit` mails due at `now` (not sent, not given up,
    /// not leased by another sender) until `lease_until`, counting the
    /// attempt. One statement: on PostgreSQL rows another instance is
    /// claiming at this moment are skipped, not waited for.
    pub fn claim_due_mail(
        &mut self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedMail>> {
        let rows = match &mut self.backend {
            Backend::Pg(c) => diesel::sql_query(CLAIM_PG)
                .bind::<BigInt, _>(lease_until)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(limit)
                .load::<ClaimedMail>(c)?,
            Backend::Sqlite(c) => diesel::sql_query(CLAIM_SQLITE)
                .bind::<BigInt, _>(lease_until)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(limit)
                .load::<ClaimedMail>(c)?,
        };
        Ok(rows)
    }

    /// Marks a mail sent and empties its body (its links are secrets).
    pub fn mark_mail_sent(&mut self, id: &str, now: i64) -> StoreResult<()> {
        dispatch!(self, c => diesel::update(mo::table.find(id))
            .set((
                mo::sent_at.eq(Some(now)),
                mo::body.eq(""),
                mo::claimed_until.eq(None::<i64>),
                mo::last_error.eq(None::<String>),
            ))
            .execute(c))?;
        Ok(())
    }

    /// Puts a mail back after a failed attempt, due again at `next_attempt_at`.
    pub fn retry_mail_later(
        &mut self,
        id: &str,
        next_attempt_at: i64,
        error: &str,
    ) -> StoreResult<()> {
        dispatch!(self, c => diesel::update(mo::table.find(id).filter(mo::sent_at.is_null()))
            .set((
                mo::next_attempt_at.eq(next_attempt_at),
                mo::claimed_until.eq(None::<i64>),
                mo::last_error.eq(Some(error)),
            ))
            .execute(c))?;
        Ok(())
    }

    /// Gives a mail up (never to be tried again) and empties its body.
    pub fn give_up_mail(&mut self, id: &str, now: i64, error: &str) -> StoreResult<()> {
        dispatch!(self, c => diesel::update(mo::table.find(id).filter(mo::sent_at.is_null()))
            .set((
                mo::given_up_at.eq(Some(now)),
                mo::body.eq(""),
                mo::claimed_until.eq(None::<i64>),
                mo::last_error.eq(Some(error)),
            ))
            .execute(c))?;
        Ok(())
    }
}

impl DbConn {
    /// How many mails are waiting: neither sent nor given up.
    pub fn count_unsent_mail(&mut self) -> StoreResult<i64> {
        Ok(dispatch!(self, c => mo::table
            .filter(mo::sent_at.is_null())
            .filter(mo::given_up_at.is_null())
            .count()
            .get_result(c))?)
    }

    /// Every row of the outbox, oldest first (for operators and tests).
    pub fn outbox_rows(&mut self) -> StoreResult<Vec<OutboxRow>> {
        Ok(dispatch!(self, c => mo::table
            .order(mo::created_at.asc())
            .then_order_by(mo::id.asc())
            .select(OutboxRow::as_select())
            .load(c))?)
    }
}
