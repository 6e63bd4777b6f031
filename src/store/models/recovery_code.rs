//! `recovery_codes`: a person's single-use recovery codes, stored only as
//! a keyed hash (HMAC under the server secret, `app::factors`), spent by
//! setting `used_at` in one conditional `UPDATE` whose row count decides.

use crate::store::dispatch;
use crate::store::schema::recovery_codes as rc;
use crate::store::{DbConn, StoreError, StoreResult, Tx};
use diesel::prelude::*;

impl DbConn {
    /// How many of a person's recovery codes are still unused.
    pub fn recovery_codes_left(&mut self, user_id: &str) -> StoreResult<i64> {
        Ok(dispatch!(self, c => rc::table
            .filter(rc::user_id.eq(user_id))
            .filter(rc::used_at.is_null())
            .count()
            .get_result(c))?)
    }
}

impl Tx<'_> {
    /// Replaces a person's recovery codes by these (keyed hashes): the
    /// old ones, used or not, are void.
    pub fn replace_recovery_codes(
        &mut self,
        user_id: &str,
        code_hashes: &[String],
        now: i64,
    ) -> StoreResult<()> {
        self.delete_recovery_codes(user_id)?;
        for h in code_hashes {
            dispatch!(self, c => diesel::insert_into(rc::table)
                .values((
                    rc::user_id.eq(user_id),
                    rc::code_hash.eq(h),
                    rc::created_at.eq(now),
                    rc::used_at.eq(None::<i64>),
                ))
                .execute(c))
            .map_err(|e| StoreError::from_insert(e, "recovery code"))?;
        }
        Ok(())
    }

    /// Spends one recovery code: marks it used if it is the person's and
    /// unused. The row count decides (two requests with one code: one
    /// wins).
    pub fn spend_recovery_code(
        &mut self,
        user_id: &str,
        code_hash: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(
            rc::table
                .filter(rc::user_id.eq(user_id))
                .filter(rc::code_hash.eq(code_hash))
                .filter(rc::used_at.is_null())
        )
        .set(rc::used_at.eq(Some(now)))
        .execute(c))?;
        Ok(n == 1)
    }

    /// Deletes all of a person's recovery codes.
    pub fn delete_recovery_codes(&mut self, user_id: &str) -> StoreResult<usize> {
        Ok(
            dispatch!(self, c => diesel::delete(rc::table.filter(rc::user_id.eq(user_id)))
            .execute(c))?,
        )
    }
}
