//! Authorization codes (RFC 6749 §4.1.2): stored only as hashes, short-lived,
//! consumed atomically exactly once.

use crate::store::dispatch;
use crate::store::schema::authorization_codes;
use crate::store::{Backend, DbConn, StoreResult, Tx};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = authorization_codes)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct AuthorizationCode {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    /// The `redirect_uri` the authorization request named, if it named one.
    pub redirect_uri: Option<String>,
    pub scope: String,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub nonce: Option<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    /// The access token issued for it, revoked if the code is replayed.
    pub issued_jti: Option<String>,
    pub issued_jti_expires_at: Option<i64>,
    /// The browser session it was issued in, as the ID token's `sid`.
    pub sid: Option<String>,
    /// How the person signed in to that session (RFC 8176 values,
    /// space-separated; `None` for codes issued before it was kept: a
    /// password).
    pub amr: Option<String>,
    /// RFC 8707: the resources the authorization request named
    /// (space-separated; `None`: the default audience).
    pub resource: Option<String>,
}

impl DbConn {
    pub fn find_authorization_code(
        &mut self,
        code_hash: &str,
    ) -> StoreResult<Option<AuthorizationCode>> {
        Ok(dispatch!(self, c => authorization_codes::table
            .find(code_hash)
            .select(AuthorizationCode::as_select())
            .get_result(c)
            .optional())?)
    }
}

impl Tx<'_> {
    pub fn insert_authorization_code(&mut self, code: &AuthorizationCode) -> StoreResult<()> {
        dispatch!(self, c => diesel::insert_into(authorization_codes::table).values(code).execute(c))?;
        Ok(())
    }

    /// Marks the code used and records the access token it issues (so a
    /// replay can revoke it, RFC 6749 §4.1.2), in one statement. True only
    /// for the one caller that wins: the conditional update is atomic on
    /// both backends.
    pub fn consume_authorization_code(
        &mut self,
        code_hash: &str,
        now: i64,
        jti: &str,
        jti_expires_at: i64,
    ) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(
            authorization_codes::table
                .find(code_hash)
                .filter(authorization_codes::consumed_at.is_null()),
        )
        .set((
            authorization_codes::consumed_at.eq(now),
            authorization_codes::issued_jti.eq(jti),
            authorization_codes::issued_jti_expires_at.eq(jti_expires_at),
        ))
        .execute(c))?;
        Ok(n == 1)
    }

    /// `consume_authorization_code` and the read before it in one
    /// statement (`UPDATE … RETURNING`): spends the code if it is unspent
    /// and returns it as it was (`consumed_at` none), for the caller to
    /// judge; `None` when no unspent code has this hash (unknown, or
    /// spent: read it to tell). The row count decides, as for the
    /// conditional update: of two racing callers exactly one gets the
    /// code. A caller whose judgement refuses the code rolls the
    /// transaction back, which leaves it unspent.
    pub fn spend_authorization_code(
        &mut self,
        code_hash: &str,
        now: i64,
        jti: &str,
        jti_expires_at: i64,
    ) -> StoreResult<Option<AuthorizationCode>> {
        let spent = match &mut self.backend {
            Backend::Pg(c) => diesel::update(
                authorization_codes::table
                    .find(code_hash)
                    .filter(authorization_codes::consumed_at.is_null()),
            )
            .set((
                authorization_codes::consumed_at.eq(now),
                authorization_codes::issued_jti.eq(jti),
                authorization_codes::issued_jti_expires_at.eq(jti_expires_at),
            ))
            .returning(AuthorizationCode::as_returning())
            .get_result(c)
            .optional()?,
            // SQLite: the read and the update, under the write lock the
            // transaction took at BEGIN (nobody writes in between).
            Backend::Sqlite(_) => match self.find_authorization_code(code_hash)? {
                Some(code) if code.consumed_at.is_none() => self
                    .consume_authorization_code(code_hash, now, jti, jti_expires_at)?
                    .then_some(code),
                _ => None,
            },
        };
        Ok(spent.map(|code| AuthorizationCode {
            consumed_at: None,
            issued_jti: None,
            issued_jti_expires_at: None,
            ..code
        }))
    }
}
