//! `gatehouse backup`: an online, consistent copy of a SQLite database,
//! taken while the server keeps serving.

use crate::store::{Backend, DbConn, StoreError, StoreResult};
use diesel::prelude::*;
use diesel::sql_types::Text;
use std::path::Path;

#[derive(QueryableByName)]
struct Check {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

impl DbConn {
    /// Copies this SQLite database into the new file `to` with
    /// `VACUUM INTO`: it reads in one transaction, so the copy is the
    /// database as it was at one moment, and in WAL mode the server's
    /// writer is never blocked by it (nor it by the writer). The copy is
    /// compacted and self-contained (no `-wal` beside it). SQLite refuses
    /// a `to` that exists and is not empty; the caller refuses any that
    /// exists. PostgreSQL has `pg_dump` for this: `Invalid`.
    pub fn backup_into(&mut self, to: &Path) -> StoreResult<()> {
        let Backend::Sqlite(c) = &mut self.backend else {
            return Err(StoreError::Invalid(
                "only a SQLite database is copied this way; use pg_dump for PostgreSQL".into(),
            ));
        };
        let to = to
            .to_str()
            .ok_or_else(|| StoreError::Invalid(format!("{} is not a UTF-8 path", to.display())))?;
        diesel::sql_query("VACUUM INTO ?")
            .bind::<Text, _>(to)
            .execute(c)?;
        Ok(())
    }
}

/// Opens the SQLite file at `path` on its own and runs SQLite's full
/// `PRAGMA integrity_check` on it: `Ok` when it answers `ok`.
pub fn check_copy(path: &Path) -> StoreResult<()> {
    let target = path
        .to_str()
        .ok_or_else(|| StoreError::Invalid(format!("{} is not a UTF-8 path", path.display())))?;
    let mut c =
        SqliteConnection::establish(target).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    let rows: Vec<Check> = diesel::sql_query("PRAGMA integrity_check").load(&mut c)?;
    match rows.as_slice() {
        [only] if only.integrity_check == "ok" => Ok(()),
        _ => Err(StoreError::Invalid(format!(
            "the copy at {} fails SQLite's integrity check: {}",
            path.display(),
            rows.iter()
                .map(|r| r.integrity_check.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ))),
    }
}
