//! `webauthn_ceremonies`: a WebAuthn ceremony in progress (registering a
//! passkey, or signing in with one), the verifier's state (its challenge)
//! that the browser's answer is checked against. The browser holds a
//! random ceremony id; the table keeps only its hash. A ceremony is taken
//! once (`take_webauthn_ceremony`: a read and a conditional `DELETE` whose
//! row count decides) whatever the answer turns out to be, and lives a few
//! minutes; housekeeping prunes the ones never finished.

use crate::store::dispatch;
use crate::store::schema::webauthn_ceremonies as wc;
use crate::store::{DbConn, StoreResult, Tx};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = wc)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct WebauthnCeremony {
    pub id_hash: String,
    /// Whose it is: the person registering or proving a second factor;
    /// `None` for a password-less sign-in (nobody known yet).
    pub user_id: Option<String>,
    /// What it is for (`app::passkeys::Kind`, stored as its name).
    pub kind: String,
    /// The verifier's state, JSON.
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl DbConn {
    /// Deletes ceremonies that expired before `now`. Its own write turn.
    pub fn prune_webauthn_ceremonies(&mut self, now: i64) -> StoreResult<usize> {
        self.write(|c| {
            Ok(
                dispatch!(c, c => diesel::delete(wc::table.filter(wc::expires_at.lt(now)))
                .execute(c))?,
            )
        })
    }
}

impl Tx<'_> {
    pub fn insert_webauthn_ceremony(&mut self, row: &WebauthnCeremony) -> StoreResult<()> {
        dispatch!(self, c => diesel::insert_into(wc::table).values(row).execute(c))?;
        Ok(())
    }

    /// Takes a ceremony: the row, deleted in the same transaction, when
    /// one with this id hash and `kind` exists and is not expired at
    /// `now`; `None` otherwise. Of two requests racing with one id, the
    /// `DELETE`'s row count lets exactly one have it.
    pub fn take_webauthn_ceremony(
        &mut self,
        id_hash: &str,
        kind: &str,
        now: i64,
    ) -> StoreResult<Option<WebauthnCeremony>> {
        let found: Option<WebauthnCeremony> = dispatch!(self, c => wc::table
            .find(id_hash)
            .select(WebauthnCeremony::as_select())
            .get_result(c)
            .optional())?;
        let Some(row) = found else {
            return Ok(None);
        };
        let n = dispatch!(self, c => diesel::delete(wc::table.find(id_hash)).execute(c))?;
        if n != 1 || row.kind != kind || row.expires_at <= now {
            return Ok(None);
        }
        Ok(Some(row))
    }
}
