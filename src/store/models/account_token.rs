//! `account_tokens`: the single-use links mailed or handed to a person
//! (verifying an address, resetting a password, an invitation). Only the
//! token's hash is stored.

use crate::store::dispatch;
use crate::store::schema::account_tokens as at;
use crate::store::{StoreResult, Tx};
use diesel::prelude::*;

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

impl Tx<'_> {
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
