//! The embedded migrations and running them under a lock, so several
//! processes starting at once on one database take turns.

use super::{Backend, DbConn, StoreError, StoreResult};
use diesel::prelude::*;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// The PostgreSQL advisory lock key migrations run under ("gatehous" in
/// ASCII): any fixed number other programs on the database are unlikely to
/// pick.
const MIGRATION_LOCK: i64 = 0x6761_7465_686f_7573;

impl DbConn {
    /// Applies the pending migrations. Several processes starting at once
    /// on one database (scale-out, or the CLI beside a starting server)
    /// take turns: the whole run holds a lock, so the second finds nothing
    /// left to do instead of creating the same tables again. PostgreSQL:
    /// a transaction-scoped advisory lock (its DDL is transactional);
    /// SQLite: one `BEGIN IMMEDIATE` transaction, the write lock from the
    /// start, each migration a savepoint inside it.
    pub fn run_migrations(&mut self) -> StoreResult<usize> {
        type Failure = Box<dyn std::error::Error + Send + Sync>;
        let applied = match &mut self.backend {
            Backend::Pg(c) => c.transaction(|c| -> Result<usize, Failure> {
                diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                    .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK)
                    .execute(c)?;
                Ok(c.run_pending_migrations(PG_MIGRATIONS)?.len())
            }),
            Backend::Sqlite(c) => c.immediate_transaction(|c| -> Result<usize, Failure> {
                Ok(c.run_pending_migrations(SQLITE_MIGRATIONS)?.len())
            }),
        };
        applied.map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// The names of the migrations not yet applied, oldest first.
    pub fn pending_migrations(&mut self) -> StoreResult<Vec<String>> {
        let names = match &mut self.backend {
            Backend::Pg(c) => c
                .pending_migrations(PG_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.name().to_string()).collect()),
            Backend::Sqlite(c) => c
                .pending_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.name().to_string()).collect()),
        };
        names.map_err(|e| StoreError::Migration(e.to_string()))
    }
}
