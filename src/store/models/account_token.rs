//! `account_tokens`: the single-use links mailed or handed to a person
//! (verifying an address, resetting a password, an invitation). Only the
//! token's hash is stored.

use crate::store::dispatch;
use crate::store::models::User;
use crate::store::schema::account_tokens as at;
use crate::store::schema::users;
use crate::store::{DbConn, StoreError, StoreResult, Tx};
use diesel::prelude::*;

diesel::define_sql_function! {
    /// SQL `lower()`, the same on SQLite and PostgreSQL for ASCII.
    fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// At most this many people are found by one e-mail address (addresses
/// are not unique: an operator may give two accounts the same one).
pub const MAX_PEOPLE_PER_ADDRESS: i64 = 5;

/// What a link is for, stored as its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Proves the person reads `email` (after sign-up, or a new address).
    VerifyEmail,
    /// Sets a new password (forgotten password, `user reset-link`).
    ResetPassword,
    /// Sets the first password of an invited person (`user invite`).
    Invite,
}

impl Purpose {
    pub fn as_stored(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
            Purpose::Invite => "invite",
        }
    }

    pub fn from_stored(s: &str) -> Option<Purpose> {
        match s {
            "verify_email" => Some(Purpose::VerifyEmail),
            "reset_password" => Some(Purpose::ResetPassword),
            "invite" => Some(Purpose::Invite),
            _ => None,
        }
    }
}

/// One link as stored: its hash, never the token.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = at)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct AccountToken {
    pub token_hash: String,
    pub user_id: String,
    pub purpose: String,
    pub email: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl AccountToken {
    /// What the link is for (`None`: a purpose this version does not know).
    pub fn purpose(&self) -> Option<Purpose> {
        Purpose::from_stored(&self.purpose)
    }
}

impl DbConn {
    /// Deletes links that expired before `before` (used or not): the
    /// housekeeping keeps them a day past their expiry so that opening one
    /// still says "expired" rather than "unknown". Its own write turn.
    pub fn prune_dead_account_tokens(&mut self, before: i64) -> StoreResult<usize> {
        self.write(|c| {
            Ok(
                dispatch!(c, c => diesel::delete(at::table.filter(at::expires_at.lt(before)))
                .execute(c))?,
            )
        })
    }

    /// The link whose token hashes to `token_hash`, used or not.
    pub fn find_account_token(&mut self, token_hash: &str) -> StoreResult<Option<AccountToken>> {
        Ok(dispatch!(self, c => at::table
            .find(token_hash)
            .select(AccountToken::as_select())
            .get_result(c)
            .optional())?)
    }

    /// The newest unused, unexpired link of one purpose for a person (an
    /// address change waiting for its verification).
    pub fn pending_account_token(
        &mut self,
        user_id: &str,
        purpose: Purpose,
        now: i64,
    ) -> StoreResult<Option<AccountToken>> {
        let rows: Vec<AccountToken> = dispatch!(self, c => at::table
            .filter(at::user_id.eq(user_id))
            .filter(at::purpose.eq(purpose.as_stored()))
            .filter(at::used_at.is_null())
            .filter(at::expires_at.gt(now))
            .order(at::created_at.desc())
            .select(AccountToken::as_select())
            .load(c))?;
        Ok(rows.into_iter().next())
    }

    /// The people whose e-mail address is `email`, compared without case
    /// (at most `MAX_PEOPLE_PER_ADDRESS`, oldest first).
    pub fn find_users_by_email(&mut self, email: &str) -> StoreResult<Vec<User>> {
        let folded = email.to_lowercase();
        Ok(dispatch!(self, c => users::table
            .filter(lower(users::email).eq(&folded))
            .order(users::created_at.asc())
            .limit(MAX_PEOPLE_PER_ADDRESS)
            .select(User::as_select())
            .load(c))?)
    }
}

impl Tx<'_> {
    /// Stores a new link (its hash).
    pub fn insert_account_token(&mut self, row: &AccountToken) -> StoreResult<()> {
        dispatch!(self, c => diesel::insert_into(at::table)
            .values((
                at::token_hash.eq(&row.token_hash),
                at::user_id.eq(&row.user_id),
                at::purpose.eq(&row.purpose),
                at::email.eq(&row.email),
                at::created_at.eq(row.created_at),
                at::expires_at.eq(row.expires_at),
                at::used_at.eq(row.used_at),
            ))
            .execute(c))
        .map_err(|e| StoreError::from_insert(e, "account token"))?;
        Ok(())
    }

    /// Spends a link: marks it used if it is of one of `purposes`, unused
    /// and not expired at `now`, by one conditional `UPDATE` whose row
    /// count decides (two requests racing with one link: one wins).
    /// Returns the spent row, or `None` when it was not spendable.
    pub fn spend_account_token(
        &mut self,
        token_hash: &str,
        purposes: &[Purpose],
        now: i64,
    ) -> StoreResult<Option<AccountToken>> {
        let names: Vec<&str> = purposes.iter().map(|p| p.as_stored()).collect();
        let n = dispatch!(self, c => diesel::update(
            at::table
                .filter(at::token_hash.eq(token_hash))
                .filter(at::purpose.eq_any(names.clone()))
                .filter(at::used_at.is_null())
                .filter(at::expires_at.gt(now))
        )
        .set(at::used_at.eq(Some(now)))
        .execute(c))?;
        if n != 1 {
            return Ok(None);
        }
        self.find_account_token(token_hash)
    }

    /// Makes `email` the person's address, verified (a spent verification
    /// link, or a reset or invitation link mailed to that address).
    pub fn set_verified_email(
        &mut self,
        user_id: &str,
        email: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(users::table.find(user_id))
            .set((
                users::email.eq(Some(email)),
                users::email_verified.eq(true),
                users::updated_at.eq(now),
            ))
            .execute(c))?;
        Ok(n == 1)
    }

    /// Voids every unused link of one purpose for a person (a newer link
    /// was sent, or the password changed).
    pub fn void_account_tokens(&mut self, user_id: &str, purpose: Purpose) -> StoreResult<usize> {
        Ok(dispatch!(self, c => diesel::delete(
            at::table
                .filter(at::user_id.eq(user_id))
                .filter(at::purpose.eq(purpose.as_stored()))
                .filter(at::used_at.is_null())
        )
        .execute(c))?)
    }
}
