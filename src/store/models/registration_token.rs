//! Initial access tokens for `POST /register` (RFC 7591 §3): made by the
//! operator (`gatehouse registration-token create`), stored only as a
//! hash, each with a number of uses and an optional expiry.

use crate::store::dispatch;
use crate::store::schema::registration_tokens as rt;
use crate::store::{StoreError, StoreResult, Tx};
use diesel::prelude::*;

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
}
