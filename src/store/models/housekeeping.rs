//! Pruning rows that can no longer matter. Every statement is a plain
//! `DELETE … WHERE <expired>`, so several instances may prune at once: they
//! only delete the same dead rows, never a live one.

use crate::store::dispatch;
use crate::store::schema::{
    authorization_codes, browser_sessions, clients, consents, device_codes, mail_outbox,
    refresh_families, refresh_tokens, revoked_access_tokens, sign_in_throttle, user_access_tokens,
};
use crate::store::{DbConn, StoreResult};
use diesel::dsl::{exists, not};
use diesel::prelude::*;

/// How many rows one pass removed, per table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub authorization_codes: usize,
    pub device_codes: usize,
    pub browser_sessions: usize,
    pub refresh_tokens: usize,
    pub refresh_families: usize,
    pub revoked_access_tokens: usize,
    pub user_access_tokens: usize,
    pub throttle_rows: usize,
    pub webauthn_ceremonies: usize,
    pub document_clients: usize,
}

/// A Client ID Metadata Document's `clients` row that nothing refers to
/// is pruned once it has not been used for this long (seconds); a use
/// refreshes it at most once a day (`DOCUMENT_CLIENT_TOUCH`), so a row in
/// use is never near this age.
pub const DOCUMENT_CLIENT_IDLE: i64 = 7 * 86_400;
/// How stale a document client's `updated_at` may get before a use of it
/// writes the time again.
pub const DOCUMENT_CLIENT_TOUCH: i64 = 86_400;

impl Pruned {
    pub fn total(&self) -> usize {
        self.authorization_codes
            + self.device_codes
            + self.browser_sessions
            + self.refresh_tokens
            + self.refresh_families
            + self.revoked_access_tokens
            + self.user_access_tokens
            + self.throttle_rows
            + self.webauthn_ceremonies
            + self.document_clients
    }
}

impl DbConn {
    /// Deletes everything expired at `now`:
    /// - authorization codes past their expiry, kept while the access token
    ///   issued from them can live (so a replayed code can still revoke it,
    ///   RFC 6749 §4.1.2);
    /// - device codes and browser sessions past their expiry;
    /// - refresh tokens past their own (idle) expiry, which is never later
    ///   than their family's end; a spent token is kept until then, so
    ///   presenting it still revokes its family (RFC 9700 §4.14.2);
    /// - families past their absolute end or with no token left;
    /// - deny-listed access token ids past the token's `exp`, and the record
    ///   of users' access tokens past theirs;
    /// - sign-in throttle rows whose failures are forgotten (their last one
    ///   `throttle_forget_after` seconds ago or more) and lock over;
    /// - WebAuthn ceremonies never finished, past their expiry;
    /// - the rows of Client ID Metadata Documents (ids that are URLs) unused
    ///   for `DOCUMENT_CLIENT_IDLE` that no consent, refresh family, code or
    ///   device code refers to: the next use fetches the document and
    ///   writes the row again, so a flood of documents cannot grow the
    ///   table for ever.
    ///
    /// One statement at a time, each in its turn among the writers (so a
    /// large prune never holds the others up for all of it).
    pub fn prune_expired(&mut self, now: i64, throttle_forget_after: i64) -> StoreResult<Pruned> {
        let authorization_codes = self.write(|c| {
            Ok(dispatch!(c, c => diesel::delete(
            authorization_codes::table
                .filter(authorization_codes::expires_at.lt(now))
                .filter(
                    authorization_codes::issued_jti_expires_at
                        .is_null()
                        .or(authorization_codes::issued_jti_expires_at.lt(now)),
                ),
        )
        .execute(c))?)
        })?;
        let device_codes = self.write(|c| {
            Ok(dispatch!(c, c => diesel::delete(
            device_codes::table.filter(device_codes::expires_at.lt(now)),
        )
        .execute(c))?)
        })?;
        let browser_sessions = self.write(|c| {
            Ok(dispatch!(c, c => diesel::delete(
            browser_sessions::table.filter(
                browser_sessions::expires_at
                    .lt(now)
                    .or(browser_sessions::idle_expires_at.lt(now)),
            ),
        )
        .execute(c))?)
        })?;
        let refresh_tokens = self.write(|c| {
            Ok(dispatch!(c, c => diesel::delete(
            refresh_tokens::table.filter(refresh_tokens::expires_at.lt(now)),
        )
        .execute(c))?)
        })?;
        // A family and its first token are written in one transaction, so
        // no live family is ever seen without a token.
        let refresh_families = self.write(|c| {
            Ok(dispatch!(c, c => diesel::delete(
            refresh_families::table.filter(
                refresh_families::expires_at.lt(now).or(not(exists(
                    refresh_tokens::table
                        .filter(refresh_tokens::family_id.eq(refresh_families::id)),
                ))),
            ),
        )
        .execute(c))?)
        })?;
        let revoked_access_tokens = self.write(|c| {
            Ok(dispatch!(c, c => diesel::delete(
            revoked_access_tokens::table.filter(revoked_access_tokens::expires_at.lt(now)),
        )
        .execute(c))?)
        })?;
        let user_access_tokens = self.write(|c| {
            Ok(dispatch!(c, c => diesel::delete(
            user_access_tokens::table.filter(user_access_tokens::expires_at.lt(now)),
        )
        .execute(c))?)
        })?;
        let throttle_rows = self.write(|c| {
            Ok(dispatch!(c, c => diesel::delete(
            sign_in_throttle::table
                .filter(sign_in_throttle::last_failure_at.lt(now - throttle_forget_after))
                .filter(
                    sign_in_throttle::locked_until
                        .is_null()
                        .or(sign_in_throttle::locked_until.lt(now)),
                ),
        )
        .execute(c))?)
        })?;
        let webauthn_ceremonies = self.prune_webauthn_ceremonies(now)?;
        let idle_since = now - DOCUMENT_CLIENT_IDLE;
        let document_clients = self.write(|c| {
            Ok(dispatch!(c, c => diesel::delete(
            clients::table
                .filter(clients::id.like("https://%").or(clients::id.like("http://%")))
                .filter(clients::updated_at.lt(idle_since))
                .filter(not(exists(
                    consents::table.filter(consents::client_id.eq(clients::id)),
                )))
                .filter(not(exists(
                    refresh_families::table.filter(refresh_families::client_id.eq(clients::id)),
                )))
                .filter(not(exists(
                    authorization_codes::table
                        .filter(authorization_codes::client_id.eq(clients::id)),
                )))
                .filter(not(exists(
                    device_codes::table.filter(device_codes::client_id.eq(clients::id)),
                ))),
        )
        .execute(c))?)
        })?;
        Ok(Pruned {
            authorization_codes,
            device_codes,
            browser_sessions,
            refresh_tokens,
            refresh_families,
            revoked_access_tokens,
            user_access_tokens,
            throttle_rows,
            webauthn_ceremonies,
            document_clients,
        })
    }

    /// Deletes outbox rows sent or given up before `before` (their bodies
    /// were emptied then; the row only told an operator what happened).
    /// Apart from `prune_expired`, so its count is its own.
    pub fn prune_finished_mail(&mut self, before: i64) -> StoreResult<usize> {
        self.write(|c| {
            Ok(dispatch!(c, c => diesel::delete(
            mail_outbox::table.filter(
                mail_outbox::sent_at
                    .lt(before)
                    .or(mail_outbox::given_up_at.lt(before)),
            ),
        )
        .execute(c))?)
        })
    }
}
