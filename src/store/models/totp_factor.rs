//! `totp_factors`: a person's authenticator app (RFC 6238 TOTP), at most
//! one. The secret is stored sealed (`app::factors` seals and opens it);
//! the row counts once `confirmed_at` is set. `last_step` is the time
//! step of the last code accepted: a code is accepted by one conditional
//! `UPDATE` raising it, whose row count decides, so a code (or an older
//! one) is never accepted twice, even by two instances at once
//! (RFC 6238 §5.2).

use crate::store::dispatch;
use crate::store::schema::totp_factors as tf;
use crate::store::{DbConn, StoreResult, Tx};
use diesel::prelude::*;

/// An authenticator app as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tf)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct TotpFactor {
    pub user_id: String,
    pub secret_sealed: String,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    pub last_step: Option<i64>,
}

impl DbConn {
    /// A person's authenticator app, confirmed or not.
    pub fn find_totp_factor(&mut self, user_id: &str) -> StoreResult<Option<TotpFactor>> {
        Ok(dispatch!(self, c => tf::table
            .find(user_id)
            .select(TotpFactor::as_select())
            .get_result(c)
            .optional())?)
    }
}

impl Tx<'_> {
    /// Starts an enrolment: an unconfirmed app with this sealed secret,
    /// replacing an unconfirmed one. A confirmed app is left alone
    /// (returns `false`): it must be removed first.
    pub fn begin_totp_factor(
        &mut self,
        user_id: &str,
        secret_sealed: &str,
        now: i64,
    ) -> StoreResult<bool> {
        if let Some(row) = self.find_totp_factor(user_id)? {
            if row.confirmed_at.is_some() {
                return Ok(false);
            }
            dispatch!(self, c => diesel::delete(tf::table.find(user_id)).execute(c))?;
        }
        dispatch!(self, c => diesel::insert_into(tf::table)
            .values((
                tf::user_id.eq(user_id),
                tf::secret_sealed.eq(secret_sealed),
                tf::created_at.eq(now),
                tf::confirmed_at.eq(None::<i64>),
                tf::last_step.eq(None::<i64>),
            ))
            .execute(c))?;
        Ok(true)
    }

    /// Confirms the unconfirmed app by a code of time step `step`: one
    /// conditional `UPDATE` (the row is still the one with this sealed
    /// secret, and unconfirmed) whose row count decides.
    pub fn confirm_totp_factor(
        &mut self,
        user_id: &str,
        secret_sealed: &str,
        step: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(
            tf::table
                .filter(tf::user_id.eq(user_id))
                .filter(tf::secret_sealed.eq(secret_sealed))
                .filter(tf::confirmed_at.is_null())
        )
        .set((tf::confirmed_at.eq(Some(now)), tf::last_step.eq(Some(step))))
        .execute(c))?;
        Ok(n == 1)
    }

    /// Accepts a code of time step `step`: raises `last_step` to it when
    /// the app is confirmed and no code of this step or a later one was
    /// accepted before. The row count decides (RFC 6238 §5.2: a code is
    /// accepted once).
    pub fn spend_totp_step(&mut self, user_id: &str, step: i64) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(
            tf::table
                .filter(tf::user_id.eq(user_id))
                .filter(tf::confirmed_at.is_not_null())
                .filter(tf::last_step.is_null().or(tf::last_step.lt(step)))
        )
        .set(tf::last_step.eq(Some(step)))
        .execute(c))?;
        Ok(n == 1)
    }

    /// Removes a person's authenticator app (confirmed or not) and their
    /// recovery codes, which come with it. Returns whether there was one.
    pub fn delete_totp_factor(&mut self, user_id: &str) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::delete(tf::table.find(user_id)).execute(c))?;
        self.delete_recovery_codes(user_id)?;
        Ok(n == 1)
    }
}
