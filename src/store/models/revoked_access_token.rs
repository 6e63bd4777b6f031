use crate::dispatch;
use crate::store::schema::revoked_access_tokens;
use crate::store::{DbConn, StoreResult};
use diesel::prelude::*;

impl DbConn {
    /// Puts an access token's `jti` on the deny list until its `exp`.
    /// Revoking it twice, even concurrently, is the same as once: the insert
    /// ignores a conflict instead of failing (a failed statement would abort
    /// the caller's PostgreSQL transaction).
    pub fn revoke_access_token(&mut self, jti: &str, expires_at: i64) -> StoreResult<()> {
        dispatch!(self, c => diesel::insert_into(revoked_access_tokens::table)
            .values((
                revoked_access_tokens::jti.eq(jti),
                revoked_access_tokens::expires_at.eq(expires_at),
            ))
            .on_conflict_do_nothing()
            .execute(c))?;
        Ok(())
    }

    pub fn is_access_token_revoked(&mut self, jti: &str) -> StoreResult<bool> {
        let n = dispatch!(self, c => revoked_access_tokens::table
            .find(jti)
            .count()
            .get_result::<i64>(c))?;
        Ok(n > 0)
    }
}
