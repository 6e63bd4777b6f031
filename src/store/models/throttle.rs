//! Sign-in throttling, in the database so every instance agrees. A key is
//! any string (`app::throttle::ThrottleKey` decides which, and the
//! back-off, `Backoff`, they follow); this file only counts and locks.
//!
//! An attempt is counted *before* it is checked: `throttle_reserve` counts
//! it as a failure on every key at once, or refuses it unchecked when any
//! key is locked, in one transaction that holds the keys' rows (SQLite:
//! the database's write lock, taken by `BEGIN IMMEDIATE`; PostgreSQL: the
//! rows, `SELECT … FOR UPDATE`). Parallel attempts, at one instance or
//! many, so serialise on the count, and no more of them are checked than
//! one at a time would be. A successful attempt gives its reservation back
//! (`throttle_release`).

use crate::store::dispatch;
use crate::store::schema::sign_in_throttle;
use crate::store::{Backend, DbConn, StoreError, StoreResult, Tx};
use diesel::prelude::*;

/// How a key's failures lock it. The rule is the application's
/// (`app::throttle::BACKOFF`); the store counts and locks by it.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Seconds after a key's last failure that its failures are forgotten.
    pub forget_after: i64,
    /// How long (milliseconds) a key is locked after its `n`-th failure in
    /// a row; `None`: not locked.
    pub lock_ms: fn(i64) -> Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sign_in_throttle)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct ThrottleRow {
    pub throttle_key: String,
    pub failures: i64,
    /// Unix seconds.
    pub last_failure_at: i64,
    /// The lock's end in whole Unix seconds, rounded up: what instances
    /// that predate `locked_until_ms` read.
    pub locked_until: Option<i64>,
    /// The lock's end in Unix milliseconds.
    pub locked_until_ms: Option<i64>,
}

impl ThrottleRow {
    /// This key after one more failure at `now_ms` (`before` is its row, if
    /// any), under `backoff`. A lock is counted from the millisecond of the
    /// failure, so it lasts its whole nominal time however late in a second
    /// it starts.
    fn after_failure(
        key: &str,
        before: Option<&ThrottleRow>,
        backoff: &Backoff,
        now_ms: i64,
    ) -> ThrottleRow {
        let now = now_ms.div_euclid(1000);
        let failures = match before {
            Some(r) if now - r.last_failure_at < backoff.forget_after => r.failures + 1,
            _ => 1,
        };
        let until_ms = (backoff.lock_ms)(failures).map(|ms| now_ms + ms);
        ThrottleRow {
            throttle_key: key.to_string(),
            failures,
            last_failure_at: now,
            locked_until: until_ms.map(ceil_seconds),
            locked_until_ms: until_ms,
        }
    }

    /// Milliseconds until this key may try again; 0 when it may try now. A
    /// row written by an instance that predates `locked_until_ms` ends its
    /// lock at the whole second it wrote.
    fn wait_ms(&self, now_ms: i64) -> i64 {
        let until = self
            .locked_until_ms
            .or_else(|| self.locked_until.map(|s| s.saturating_mul(1000)));
        until.map_or(0, |until| (until - now_ms).max(0))
    }
}

/// Milliseconds as whole seconds, rounded up: a wait of 0.2 s is "1 second".
fn ceil_seconds(ms: i64) -> i64 {
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0)
}

/// One attempt counted on some keys, to give back if it succeeds.
#[derive(Debug, Clone, Default)]
#[must_use = "a successful attempt gives its reservation back"]
pub struct Reservation {
    /// Per key (in locking order): its row before and after the attempt.
    keys: Vec<(Option<ThrottleRow>, ThrottleRow)>,
}

/// Why a reservation ended its transaction early: a locked key (nothing
/// is written), or the database.
enum Refusal {
    Locked(i64),
    Store(StoreError),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Store(e)
    }
}

/// How often to retry taking a row that is deleted under us.
const LOCK_TRIES: usize = 5;

impl DbConn {
    /// Whole seconds (rounded up) until `key` may try again at `now_ms`
    /// (Unix milliseconds); 0 when it may try now. Only a look: to try,
    /// reserve the attempt with `throttle_reserve`.
    pub fn throttle_wait(&mut self, key: &str, now_ms: i64) -> StoreResult<i64> {
        let row = dispatch!(self, c => sign_in_throttle::table
            .find(key)
            .select(ThrottleRow::as_select())
            .get_result(c)
            .optional())?;
        Ok(row.map_or(0, |r| ceil_seconds(r.wait_ms(now_ms))))
    }

    /// Reserves one attempt at `now_ms` (Unix milliseconds) on every key
    /// in `keys`, atomically: when none is locked, counts it as a failure on
    /// each (under `backoff`) and returns the reservation; when any is
    /// locked, counts nothing and returns the longest wait in whole seconds,
    /// rounded up. Runs its own transaction (so not inside another).
    pub fn throttle_reserve(
        &mut self,
        keys: &[&str],
        backoff: &Backoff,
        now_ms: i64,
    ) -> StoreResult<Result<Reservation, i64>> {
        // One order for every caller, so two attempts taking the same rows
        // on PostgreSQL never wait for each other in a cycle.
        let mut keys = keys.to_vec();
        keys.sort_unstable();
        keys.dedup();
        let reserved = self.transaction(|c| -> Result<Reservation, Refusal> {
            let mut rows = Vec::with_capacity(keys.len());
            for key in &keys {
                rows.push((*key, c.lock_throttle_row(key, now_ms, true)?));
            }
            let wait_ms = rows
                .iter()
                .filter_map(|(_, row)| row.as_ref().map(|r| r.wait_ms(now_ms)))
                .max()
                .unwrap_or(0);
            if wait_ms > 0 {
                // Rolls back the placeholder rows: a refused attempt counts
                // nowhere.
                return Err(Refusal::Locked(ceil_seconds(wait_ms)));
            }
            let mut reservation = Reservation::default();
            for (key, before) in rows {
                let after = ThrottleRow::after_failure(key, before.as_ref(), backoff, now_ms);
                c.write_throttle_row(&after)?;
                reservation.keys.push((before, after));
            }
            Ok(reservation)
        });
        match reserved {
            Ok(r) => Ok(Ok(r)),
            Err(Refusal::Locked(wait)) => Ok(Err(wait)),
            Err(Refusal::Store(e)) => Err(e),
        }
    }

    /// Gives back a successful attempt's reservation, in one transaction:
    /// the key `clear` (if reserved) forgets all its failures; every other
    /// key gets its one failure back. A key nobody counted on since is put
    /// back exactly as it was; one that others counted on since loses one
    /// failure and keeps their lock.
    pub fn throttle_release(
        &mut self,
        reservation: &Reservation,
        clear: Option<&str>,
    ) -> StoreResult<()> {
        self.transaction(|c| -> StoreResult<()> {
            for (before, after) in &reservation.keys {
                let key = after.throttle_key.as_str();
                if clear == Some(key) {
                    c.throttle_clear(key)?;
                    continue;
                }
                let now_row = c.lock_throttle_row(key, after.last_failure_at * 1000, false)?;
                match (now_row, before) {
                    // Cleared or pruned since: nothing left to give back.
                    (None, _) => {}
                    (Some(current), Some(before)) if current == *after => {
                        c.write_throttle_row(before)?;
                    }
                    (Some(current), None) if current == *after => c.throttle_clear(key)?,
                    (Some(current), _) => {
                        c.write_throttle_row(&ThrottleRow {
                            failures: (current.failures - 1).max(0),
                            ..current
                        })?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Counts a failure on `key` at `now_ms` under `backoff`, locked or not
    /// (see `throttle_reserve` for attempts). Runs its own transaction.
    pub fn throttle_failure(
        &mut self,
        key: &str,
        backoff: &Backoff,
        now_ms: i64,
    ) -> StoreResult<()> {
        self.transaction(|c| -> StoreResult<()> {
            let before = c.lock_throttle_row(key, now_ms, true)?;
            c.write_throttle_row(&ThrottleRow::after_failure(
                key,
                before.as_ref(),
                backoff,
                now_ms,
            ))
        })
    }
}

impl Tx<'_> {
    pub fn throttle_clear(&mut self, key: &str) -> StoreResult<()> {
        dispatch!(self, c => diesel::delete(sign_in_throttle::table.find(key)).execute(c))?;
        Ok(())
    }

    /// Inside a transaction: takes `key`'s row until the transaction ends,
    /// and returns it as it was (`None`: there was none). With `create`,
    /// a missing row is inserted first (failures 0), so that there is a row
    /// to hold on PostgreSQL; the caller then writes it or rolls back.
    /// SQLite needs no row lock: `BEGIN IMMEDIATE` holds the database's.
    fn lock_throttle_row(
        &mut self,
        key: &str,
        now_ms: i64,
        create: bool,
    ) -> StoreResult<Option<ThrottleRow>> {
        for _ in 0..LOCK_TRIES {
            if create {
                let placeholder = ThrottleRow {
                    throttle_key: key.to_string(),
                    failures: 0,
                    last_failure_at: now_ms.div_euclid(1000),
                    locked_until: None,
                    locked_until_ms: None,
                };
                // On PostgreSQL this waits for another transaction that
                // inserted the key and has not ended yet.
                let inserted = dispatch!(self, c => diesel::insert_into(sign_in_throttle::table)
                    .values(&placeholder)
                    .on_conflict_do_nothing()
                    .execute(c))?;
                if inserted == 1 {
                    return Ok(None);
                }
            }
            let row = match &mut self.backend {
                Backend::Pg(c) => sign_in_throttle::table
                    .find(key)
                    .select(ThrottleRow::as_select())
                    .for_update()
                    .get_result(c)
                    .optional()?,
                Backend::Sqlite(c) => sign_in_throttle::table
                    .find(key)
                    .select(ThrottleRow::as_select())
                    .get_result(c)
                    .optional()?,
            };
            match row {
                Some(row) => return Ok(Some(row)),
                None if !create => return Ok(None),
                // Deleted between the insert and the select (a success
                // cleared it): insert it again.
                None => {}
            }
        }
        Err(StoreError::Invalid(format!(
            "throttle row {key} kept disappearing"
        )))
    }

    /// Writes a row taken with `lock_throttle_row` (which made sure it
    /// exists).
    fn write_throttle_row(&mut self, row: &ThrottleRow) -> StoreResult<()> {
        dispatch!(self, c => diesel::update(sign_in_throttle::table.find(&row.throttle_key))
            .set((
                sign_in_throttle::failures.eq(row.failures),
                sign_in_throttle::last_failure_at.eq(row.last_failure_at),
                sign_in_throttle::locked_until.eq(row.locked_until),
                sign_in_throttle::locked_until_ms.eq(row.locked_until_ms),
            ))
            .execute(c))?;
        Ok(())
    }
}
