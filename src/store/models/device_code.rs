//! RFC 8628 device codes. The device code is stored only as its hash; the
//! user code is stored normalised (no dash, upper case) and is unique. All
//! polling state (last poll, current interval) lives here so polls that land
//! on different instances are judged the same. Each state change is a
//! conditional UPDATE whose affected-row count says whether it won.

use crate::oauth::device::status;
use crate::store::dispatch;
use crate::store::schema::device_codes;
use crate::store::{DbConn, StoreError, StoreResult, Tx};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = device_codes)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct DeviceCode {
    pub device_code_hash: String,
    /// Normalised: eight letters, no dash.
    pub user_code: String,
    pub client_id: String,
    pub scope: String,
    /// One of `oauth::device::status`.
    pub status: String,
    /// Who allowed or denied it.
    pub user_id: Option<String>,
    /// The interval the client must keep now (grows on `slow_down`).
    pub poll_interval: i64,
    pub last_poll_at: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    /// When the person who approved it signed in, and that session's
    /// `sid`: the ID token's `auth_time` and `sid`.
    pub auth_time: Option<i64>,
    pub sid: Option<String>,
    /// How that person signed in (RFC 8176 values, space-separated).
    pub amr: Option<String>,
    /// RFC 8707: the resources the device authorization request named
    /// (space-separated; `None`: the default audience).
    pub resource: Option<String>,
}

impl DbConn {
    /// Inserts a new device code; `StoreError::Conflict` when the user code
    /// is taken (the caller draws another).
    pub fn insert_device_code(&mut self, row: &DeviceCode) -> StoreResult<()> {
        self.write(|c| {
            dispatch!(c, c => diesel::insert_into(device_codes::table).values(row).execute(c))
                .map_err(|e| StoreError::from_insert(e, "user code"))?;
            Ok(())
        })
    }

    /// Forgets device codes that expired before `before`.
    pub fn purge_device_codes(&mut self, before: i64) -> StoreResult<usize> {
        self.write(|c| {
            Ok(dispatch!(c, c => diesel::delete(
                device_codes::table.filter(device_codes::expires_at.lt(before)),
            )
            .execute(c))?)
        })
    }

    pub fn find_device_code(&mut self, hash: &str) -> StoreResult<Option<DeviceCode>> {
        Ok(dispatch!(self, c => device_codes::table
            .find(hash)
            .select(DeviceCode::as_select())
            .get_result(c)
            .optional())?)
    }

    /// Looks a code up by its normalised user code.
    pub fn find_device_code_by_user_code(
        &mut self,
        user_code: &str,
    ) -> StoreResult<Option<DeviceCode>> {
        Ok(dispatch!(self, c => device_codes::table
            .filter(device_codes::user_code.eq(user_code))
            .select(DeviceCode::as_select())
            .get_result(c)
            .optional())?)
    }
}

impl Tx<'_> {
    /// The user's decision: a pending, unexpired code becomes approved or
    /// denied. False when it was no longer pending (decided elsewhere, or
    /// expired). `auth_time`, `sid` and `amr` are of the session the
    /// person decided in.
    pub fn decide_device_code(
        &mut self,
        hash: &str,
        user_id: &str,
        approve: bool,
        now: i64,
        (auth_time, sid, amr): (i64, &str, &str),
    ) -> StoreResult<bool> {
        let new_status = if approve {
            status::APPROVED
        } else {
            status::DENIED
        };
        let n = dispatch!(self, c => diesel::update(
            device_codes::table
                .find(hash)
                .filter(device_codes::status.eq(status::PENDING))
                .filter(device_codes::expires_at.gt(now)),
        )
        .set((
            device_codes::status.eq(new_status),
            device_codes::user_id.eq(user_id),
            device_codes::auth_time.eq(auth_time),
            device_codes::sid.eq(sid),
            device_codes::amr.eq(amr),
        ))
        .execute(c))?;
        Ok(n == 1)
    }

    /// Records a poll of a pending code, compare-and-swap: only when nobody
    /// else polled since `seen` was read. False when someone did.
    pub fn record_device_poll(
        &mut self,
        seen: &DeviceCode,
        now: i64,
        new_interval: i64,
    ) -> StoreResult<bool> {
        let hash = &seen.device_code_hash;
        let n = match seen.last_poll_at {
            Some(last) => dispatch!(self, c => diesel::update(
                device_codes::table
                    .find(hash)
                    .filter(device_codes::status.eq(status::PENDING))
                    .filter(device_codes::poll_interval.eq(seen.poll_interval))
                    .filter(device_codes::last_poll_at.eq(last)),
            )
            .set((
                device_codes::last_poll_at.eq(now),
                device_codes::poll_interval.eq(new_interval),
            ))
            .execute(c))?,
            None => dispatch!(self, c => diesel::update(
                device_codes::table
                    .find(hash)
                    .filter(device_codes::status.eq(status::PENDING))
                    .filter(device_codes::poll_interval.eq(seen.poll_interval))
                    .filter(device_codes::last_poll_at.is_null()),
            )
            .set((
                device_codes::last_poll_at.eq(now),
                device_codes::poll_interval.eq(new_interval),
            ))
            .execute(c))?,
        };
        Ok(n == 1)
    }

    /// Spends an approved, unexpired code. Exactly one caller gets true; the
    /// code can never be spent again.
    pub fn spend_device_code(&mut self, hash: &str, now: i64) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(
            device_codes::table
                .find(hash)
                .filter(device_codes::status.eq(status::APPROVED))
                .filter(device_codes::expires_at.gt(now)),
        )
        .set((
            device_codes::status.eq(status::SPENT),
            device_codes::last_poll_at.eq(now),
        ))
        .execute(c))?;
        Ok(n == 1)
    }
}
