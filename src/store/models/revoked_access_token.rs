//! The access-token deny list (revoked `jti`s until their `exp`), the
//! record of access tokens issued to users (so withdrawn consent can
//! deny-list them), and whether a token's grant still stands.

use crate::store::dispatch;
use crate::store::schema::{clients, revoked_access_tokens, user_access_tokens};
use crate::store::{DbConn, StoreResult, Tx};
use diesel::prelude::*;

impl DbConn {
    /// Puts an access token's `jti` on the deny list until its `exp`.
    /// Revoking it twice, even concurrently, is the same as once: the insert
    /// ignores a conflict instead of failing (a failed statement would abort
    /// the caller's PostgreSQL transaction).
    pub fn revoke_access_token(&mut self, jti: &str, expires_at: i64) -> StoreResult<()> {
        self.write(|c| {
            dispatch!(c, c => diesel::insert_into(revoked_access_tokens::table)
                .values((
                    revoked_access_tokens::jti.eq(jti),
                    revoked_access_tokens::expires_at.eq(expires_at),
                ))
                .on_conflict_do_nothing()
                .execute(c))?;
            Ok(())
        })
    }

    pub fn is_access_token_revoked(&mut self, jti: &str) -> StoreResult<bool> {
        let n = dispatch!(self, c => revoked_access_tokens::table
            .find(jti)
            .count()
            .get_result::<i64>(c))?;
        Ok(n > 0)
    }
}

/// What an access token says about whom it was issued to, for the checks
/// of `access_token_standing`.
#[derive(Debug, Clone, Copy)]
pub struct AccessGrant<'a> {
    pub jti: &'a str,
    pub client_id: &'a str,
    /// The user's id; `None` for a client's own token (client_credentials).
    pub user_id: Option<&'a str>,
}

impl DbConn {
    /// Whether the grant behind a validly signed, unexpired access token
    /// still stands: its id is not deny-listed, its client still exists,
    /// and its user (if any) still exists and is not disabled. Deleting a
    /// client or disabling a user ends all of their tokens at once, however
    /// they were issued.
    pub fn access_token_standing(&mut self, g: AccessGrant<'_>) -> StoreResult<bool> {
        if self.is_access_token_revoked(g.jti)? {
            return Ok(false);
        }
        let client = dispatch!(self, c => clients::table
            .find(g.client_id)
            .count()
            .get_result::<i64>(c))?;
        if client == 0 {
            return Ok(false);
        }
        match g.user_id {
            None => Ok(true),
            Some(user_id) => Ok(self.user_is_active(user_id)?),
        }
    }
}

impl Tx<'_> {
    /// Records an access token issued to a user through a consent-based
    /// flow, so that withdrawing consent can deny-list it
    /// (`deny_user_access_tokens`). Call in the transaction that issues it.
    pub fn record_user_access_token(
        &mut self,
        jti: &str,
        user_id: &str,
        client_id: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        dispatch!(self, c => diesel::insert_into(user_access_tokens::table)
            .values((
                user_access_tokens::jti.eq(jti),
                user_access_tokens::user_id.eq(user_id),
                user_access_tokens::client_id.eq(client_id),
                user_access_tokens::expires_at.eq(expires_at),
            ))
            .on_conflict_do_nothing()
            .execute(c))?;
        Ok(())
    }

    /// Every still-live access token recorded for this user, at this
    /// client (consent withdrawn, RFC 7009 §2.1) or at every client
    /// (`None`: the person was disabled or deleted), goes on the deny list.
    pub fn deny_user_access_tokens(
        &mut self,
        user_id: &str,
        client_id: Option<&str>,
        now: i64,
    ) -> StoreResult<usize> {
        // A person's live tokens are few: load them, then pick the client's.
        let all: Vec<(String, i64, String)> = dispatch!(self, c => user_access_tokens::table
            .filter(user_access_tokens::user_id.eq(user_id))
            .filter(user_access_tokens::expires_at.gt(now))
            .order(user_access_tokens::jti.asc())
            .select((
                user_access_tokens::jti,
                user_access_tokens::expires_at,
                user_access_tokens::client_id,
            ))
            .load(c))?;
        let live: Vec<&(String, i64, String)> = all
            .iter()
            .filter(|(_, _, cid)| client_id.is_none_or(|want| want == cid))
            .collect();
        for (jti, exp, _) in &live {
            self.revoke_access_token(jti, *exp)?;
        }
        Ok(live.len())
    }
}
