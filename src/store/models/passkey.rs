//! `passkeys`: a person's WebAuthn credentials. `credential_id` is the
//! credential's id in base64url (unique: one credential belongs to one
//! person, once); `credential` is the verifier's record of it
//! (`webauthn_rs::prelude::Passkey` as JSON: public key, counter, backup
//! flags). Lists read `factors::PasskeySummary`; the sign-in reads the
//! whole row.

use crate::store::dispatch;
use crate::store::schema::passkeys;
use crate::store::{DbConn, StoreError, StoreResult, Tx};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = passkeys)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct PasskeyRow {
    pub id: String,
    pub user_id: String,
    /// base64url, no padding.
    pub credential_id: String,
    pub name: String,
    /// The verifier's record, JSON.
    pub credential: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl DbConn {
    /// The passkey whose credential id (base64url) this is.
    pub fn find_passkey_by_credential_id(
        &mut self,
        credential_id: &str,
    ) -> StoreResult<Option<PasskeyRow>> {
        Ok(dispatch!(self, c => passkeys::table
            .filter(passkeys::credential_id.eq(credential_id))
            .select(PasskeyRow::as_select())
            .get_result(c)
            .optional())?)
    }

    /// A person's passkeys, oldest first.
    pub fn user_passkeys(&mut self, user_id: &str) -> StoreResult<Vec<PasskeyRow>> {
        Ok(dispatch!(self, c => passkeys::table
            .filter(passkeys::user_id.eq(user_id))
            .order((passkeys::created_at.asc(), passkeys::id.asc()))
            .select(PasskeyRow::as_select())
            .load(c))?)
    }
}

impl Tx<'_> {
    /// Saves a new passkey; `StoreError::Conflict("passkey")` when its
    /// credential id is registered already (to anyone).
    pub fn insert_passkey(&mut self, row: &PasskeyRow) -> StoreResult<()> {
        dispatch!(self, c => diesel::insert_into(passkeys::table).values(row).execute(c))
            .map_err(|e| StoreError::from_insert(e, "passkey"))?;
        Ok(())
    }

    /// Records a use: the verifier's updated record and `last_used_at`,
    /// only while the row still holds the record the assertion was checked
    /// against (`checked`). False when it does not: the passkey was
    /// removed meanwhile, or another sign-in with it won the race (its
    /// counter moved); the caller refuses the sign-in.
    pub fn record_passkey_use(
        &mut self,
        id: &str,
        checked: &str,
        updated: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::update(
            passkeys::table
                .filter(passkeys::id.eq(id))
                .filter(passkeys::credential.eq(checked)),
        )
        .set((
            passkeys::credential.eq(updated),
            passkeys::last_used_at.eq(Some(now)),
        ))
        .execute(c))?;
        Ok(n == 1)
    }

    /// Removes one of a person's passkeys; false when they have none by
    /// that id.
    pub fn delete_passkey(&mut self, user_id: &str, id: &str) -> StoreResult<bool> {
        let n = dispatch!(self, c => diesel::delete(
            passkeys::table
                .filter(passkeys::id.eq(id))
                .filter(passkeys::user_id.eq(user_id)),
        )
        .execute(c))?;
        Ok(n == 1)
    }
}
