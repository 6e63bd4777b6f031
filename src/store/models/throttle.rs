//! Sign-in throttling, in the database so every instance agrees. A key is
//! `user:<name>` or `ip:<address>` (or any other namespace a flow needs).

use crate::dispatch;
use crate::store::schema::sign_in_throttle;
use crate::store::{DbConn, StoreResult};
use diesel::prelude::*;

/// Failures allowed before a key is locked.
pub const FREE_FAILURES: i64 = 5;
/// Failures are forgotten this long after the last one.
pub const FORGET_AFTER: i64 = 15 * 60;
/// The longest lock.
pub const MAX_LOCK: i64 = 15 * 60;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sign_in_throttle)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct ThrottleRow {
    pub throttle_key: String,
    pub failures: i64,
    pub last_failure_at: i64,
    pub locked_until: Option<i64>,
}

impl DbConn {
    /// Seconds until `key` may try again; 0 when it may try now.
    pub fn throttle_wait(&mut self, key: &str, now: i64) -> StoreResult<i64> {
        let row = dispatch!(self, c => sign_in_throttle::table
            .find(key)
            .select(ThrottleRow::as_select())
            .first(c)
            .optional())?;
        Ok(row
            .and_then(|r| r.locked_until)
            .map_or(0, |until| (until - now).max(0)))
    }

    /// Counts a failure. After `FREE_FAILURES`, each failure locks the key
    /// for twice as long as the one before (1 s, 2 s, 4 s, … up to 15 min).
    pub fn throttle_failure(&mut self, key: &str, now: i64) -> StoreResult<()> {
        let row = dispatch!(self, c => sign_in_throttle::table
            .find(key)
            .select(ThrottleRow::as_select())
            .first(c)
            .optional())?;
        let failures = match &row {
            Some(r) if now - r.last_failure_at < FORGET_AFTER => r.failures + 1,
            _ => 1,
        };
        let locked_until = (failures >= FREE_FAILURES).then(|| {
            let exp = (failures - FREE_FAILURES).min(20) as u32;
            now + (1i64 << exp).min(MAX_LOCK)
        });
        let new = ThrottleRow {
            throttle_key: key.to_string(),
            failures,
            last_failure_at: now,
            locked_until,
        };
        if row.is_some() {
            dispatch!(self, c => diesel::update(sign_in_throttle::table.find(key))
                .set((
                    sign_in_throttle::failures.eq(new.failures),
                    sign_in_throttle::last_failure_at.eq(new.last_failure_at),
                    sign_in_throttle::locked_until.eq(new.locked_until),
                ))
                .execute(c))?;
        } else {
            let res = dispatch!(self, c => diesel::insert_into(sign_in_throttle::table).values(&new).execute(c));
            match res {
                Ok(_) => {}
                // Another instance inserted first: count on its row instead.
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => return self.throttle_failure(key, now),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    pub fn throttle_clear(&mut self, key: &str) -> StoreResult<()> {
        dispatch!(self, c => diesel::delete(sign_in_throttle::table.find(key)).execute(c))?;
        Ok(())
    }
}
