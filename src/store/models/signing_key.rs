use crate::store::dispatch;
use crate::store::schema::signing_keys;
use crate::store::{DbConn, StoreResult, Tx};
use diesel::prelude::*;

/// Which signing keys exist and when each stops being published. The key
/// material itself lives in the keys folder, named `<kid>.pem`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct SigningKeyRow {
    pub kid: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    pub not_after: Option<i64>,
}

impl DbConn {
    pub fn list_signing_keys(&mut self) -> StoreResult<Vec<SigningKeyRow>> {
        Ok(dispatch!(self, c => signing_keys::table
            .order(signing_keys::created_at.asc())
            .select(SigningKeyRow::as_select())
            .load(c))?)
    }
}

impl Tx<'_> {
    /// Records a key unless it is already known (instances starting at the
    /// same time may both try).
    pub fn insert_signing_key_if_missing(&mut self, row: &SigningKeyRow) -> StoreResult<()> {
        dispatch!(self, c => diesel::insert_into(signing_keys::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c))?;
        Ok(())
    }

    /// Retires every key not retired by `at`: it stops signing at `at`
    /// and stays published until `not_after`, when the last token it
    /// signed has expired. A key a staged rotation retires later (and the
    /// key it staged) is retired at `at` too, so a rotation at once after
    /// a staged one leaves only the new key signing.
    pub fn retire_signing_keys(&mut self, at: i64, not_after: i64) -> StoreResult<usize> {
        Ok(dispatch!(self, c => diesel::update(
            signing_keys::table.filter(
                signing_keys::retired_at
                    .is_null()
                    .or(signing_keys::retired_at.gt(at)),
            ),
        )
        .set((
            signing_keys::retired_at.eq(at),
            signing_keys::not_after.eq(not_after),
        ))
        .execute(c))?)
    }

    /// Stops signing with and publishing the keys `kids` from `at`: their
    /// material is lost, and `serve --new-keys` replaces them on purpose.
    pub fn unpublish_signing_keys(&mut self, kids: &[String], at: i64) -> StoreResult<usize> {
        Ok(dispatch!(self, c => diesel::update(
            signing_keys::table.filter(signing_keys::kid.eq_any(kids)),
        )
        .set((
            signing_keys::retired_at.eq(at),
            signing_keys::not_after.eq(at),
        ))
        .execute(c))?)
    }
}
