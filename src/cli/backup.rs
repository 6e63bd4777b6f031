//! `gatehouse backup FILE`: an online, consistent copy of the SQLite
//! database, taken while the server runs, and checked; the keys folder is
//! named, since it is not in the database and a restore needs both.

use super::{missing_database, Failure};
use crate::config::Config;
use crate::store::{check_sqlite_copy, DbKind, Store};
use std::path::Path;

pub fn run(file: &Path, config: &Config) -> Result<(), Failure> {
    if crate::store::sqlite_file(&config.database_url).is_none() {
        return Err(Failure::usage(
            "gatehouse backup copies a SQLite database; back up PostgreSQL with pg_dump (see the README's \"Backups and restore\"), and the keys folder with it",
        ));
    }
    if let Some(why) = missing_database(&config.database_url) {
        return Err(Failure::usage(why));
    }
    if file.exists() {
        return Err(Failure::usage(format!(
            "{} exists; a backup never overwrites a file: name a new one",
            file.display()
        )));
    }
    // Not migrated: a backup copies the database as the running server
    // has it, whatever its version.
    let store = Store::open(&config.database_url, 1, crate::Clock::default())
        .map_err(|e| Failure::usage(format!("GATEHOUSE_DATABASE_URL (database_url): {e}")))?;
    debug_assert_eq!(store.kind(), DbKind::Sqlite);
    let copied = store
        .conn()
        .and_then(|mut c| c.backup_into(file))
        .map_err(|e| Failure::other(format!("backing up to {}: {e}", file.display())));
    if let Err(f) = copied {
        // SQLite may leave an empty or partial file behind.
        let _ = std::fs::remove_file(file);
        return Err(f);
    }
    check_sqlite_copy(file).map_err(|e| Failure::other(e.to_string()))?;
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    println!(
        "backed up the database to {} ({size} bytes, integrity checked)",
        file.display()
    );
    println!(
        "the keys folder {} (signing keys and the server secret) is not in the database: back it up too; a restore needs both",
        config.keys_dir.display()
    );
    Ok(())
}
