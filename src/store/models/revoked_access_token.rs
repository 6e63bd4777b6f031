use crate::dispatch;
use crate::store::schema::revoked_access_tokens;
use crate::store::{DbConn, StoreResult};
use diesel::prelude::*;

impl DbConn {
    /// Puts an access token's `jti` on the deny list until its `exp`.
    pub fn revoke_access_token(&mut self, jti: &str, expires_at: i64) -> StoreResult<()> {
        if self.is_access_token_revoked(jti)? {
            return Ok(());
        }
        let res = dispatch!(self, c => diesel::insert_into(revoked_access_tokens::table)
            .values((
                revoked_access_tokens::jti.eq(jti),
                revoked_access_tokens::expires_at.eq(expires_at),
            ))
            .execute(c));
        match res {
            Ok(_) => Ok(()),
            // A concurrent revocation of the same token is the same outcome.
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub fn is_access_token_revoked(&mut self, jti: &str) -> StoreResult<bool> {
        let n = dispatch!(self, c => revoked_access_tokens::table
            .find(jti)
            .count()
            .get_result::<i64>(c))?;
        Ok(n > 0)
    }
}
