//! What second factors a person has, read at once from `totp_factors`,
//! `recovery_codes` and `passkeys` (each table's own file keeps its row
//! type and its writes): what the sign-in asks for after the password,
//! what `/account` lists, what the factor policy judges.

use crate::store::dispatch;
use crate::store::schema::{passkeys, recovery_codes, totp_factors, webauthn_ceremonies};
use crate::store::{DbConn, StoreResult, Tx};
use diesel::prelude::*;

/// A passkey as lists show it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = passkeys)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct PasskeySummary {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A person's second factors.
#[derive(Debug, Clone, Default)]
pub struct Factors {
    /// An authenticator app, confirmed by a code.
    pub totp: bool,
    /// Recovery codes not yet used.
    pub recovery_codes_left: i64,
    /// Their passkeys, oldest first.
    pub passkeys: Vec<PasskeySummary>,
}

impl Factors {
    /// Whether the sign-in must ask for a second factor after the
    /// password: an authenticator app or a passkey. Recovery codes alone
    /// are not a factor: they come with the app.
    pub fn any(&self) -> bool {
        self.totp || !self.passkeys.is_empty()
    }

    /// How many factors there are (the app counts once, each passkey once).
    pub fn count(&self) -> usize {
        usize::from(self.totp) + self.passkeys.len()
    }

    /// Whether one factor may be removed when the policy requires the
    /// person to keep one (`MfaPolicy::requires`): only while another
    /// stays.
    pub fn may_remove_one(&self, required: bool) -> bool {
        !required || self.count() > 1
    }
}

impl DbConn {
    /// The second factors of a person.
    pub fn user_factors(&mut self, user_id: &str) -> StoreResult<Factors> {
        let totp: i64 = dispatch!(self, c => totp_factors::table
            .filter(totp_factors::user_id.eq(user_id))
            .filter(totp_factors::confirmed_at.is_not_null())
            .count()
            .get_result(c))?;
        let recovery_codes_left: i64 = dispatch!(self, c => recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::used_at.is_null())
            .count()
            .get_result(c))?;
        let passkeys = dispatch!(self, c => passkeys::table
            .filter(passkeys::user_id.eq(user_id))
            .order((passkeys::created_at.asc(), passkeys::id.asc()))
            .select(PasskeySummary::as_select())
            .load(c))?;
        Ok(Factors {
            totp: totp > 0,
            recovery_codes_left,
            passkeys,
        })
    }
}

/// What `Tx::delete_user_factors` removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FactorsRemoved {
    /// An authenticator app (confirmed or being set up).
    pub totp: bool,
    /// Recovery codes, used or not.
    pub recovery_codes: usize,
    pub passkeys: usize,
}

impl Tx<'_> {
    /// Removes every second factor of a person (`user reset-factors`):
    /// their authenticator app, recovery codes, passkeys and WebAuthn
    /// ceremonies in progress.
    pub fn delete_user_factors(&mut self, user_id: &str) -> StoreResult<FactorsRemoved> {
        let recovery_codes = dispatch!(self, c => diesel::delete(
            recovery_codes::table.filter(recovery_codes::user_id.eq(user_id))
        )
        .execute(c))?;
        let totp = dispatch!(self, c => diesel::delete(
            totp_factors::table.filter(totp_factors::user_id.eq(user_id))
        )
        .execute(c))?;
        let passkeys = dispatch!(self, c => diesel::delete(
            passkeys::table.filter(passkeys::user_id.eq(user_id))
        )
        .execute(c))?;
        dispatch!(self, c => diesel::delete(
            webauthn_ceremonies::table.filter(webauthn_ceremonies::user_id.eq(user_id))
        )
        .execute(c))?;
        Ok(FactorsRemoved {
            totp: totp > 0,
            recovery_codes,
            passkeys,
        })
    }
}
