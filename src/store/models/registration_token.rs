//! Initial access tokens for `POST /register` (RFC 7591 §3): made by the
//! operator (`gatehouse registration-token create`), stored only as a
//! hash, each with a number of uses and an optional expiry.

use crate::store::dispatch;
use crate::store::schema::registration_tokens as rt;
use crate::store::{DbConn, StoreError, StoreResult, Tx};
use diesel::prelude::*;

/// One initial access token as stored: its hash, never the token.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = rt)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct RegistrationTokenRow {
    pub token_hash: String,
    pub uses_left: i64,
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

impl Tx<'_> {
    pub fn insert_registration_token(
        &mut self,
        token_hash: &str,
        uses: i64,
        expires_at: Option<i64>,
        now: i64,
    ) -> StoreResult<()> {
        dispatch!(self, c => diesel::insert_into(rt::table)
            .values((
                rt::token_hash.eq(token_hash),
                rt::uses_left.eq(uses),
                rt::expires_at.eq(expires_at),
                rt::created_at.eq(now),
            ))
            .execute(c))
        .map_err(|e| StoreError::from_insert(e, "registration token"))?;
        Ok(())
    }

    /// Spends one use of the token, in one statement, so that N parallel
    /// registrations with a token of N uses create at most N clients.
    /// `false` when it is unknown, used up or expired.
    pub fn spend_registration_token(&mut self, token_hash: &str, now: i64) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(rt::table
            .filter(rt::token_hash.eq(token_hash))
            .filter(rt::uses_left.gt(0))
            .filter(rt::expires_at.is_null().or(rt::expires_at.gt(now))))
            .set(rt::uses_left.eq(rt::uses_left - 1))
            .execute(c))?;
        Ok(n == 1)
    }

    /// Deletes the token with this hash, so `POST /register` refuses it
    /// like an unknown one. `false` when there is none.
    pub fn delete_registration_token(&mut self, token_hash: &str) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::delete(
            rt::table.filter(rt::token_hash.eq(token_hash))
        )
        .execute(c))?;
        Ok(n == 1)
    }
}

impl DbConn {
    /// Every initial access token, used up and expired ones too, oldest
    /// first.
    pub fn list_registration_tokens(&mut self) -> StoreResult<Vec<RegistrationTokenRow>> {
        Ok(dispatch!(self, c => rt::table
            .order((rt::created_at.asc(), rt::token_hash.asc()))
            .select(RegistrationTokenRow::as_select())
            .load(c))?)
    }
}
