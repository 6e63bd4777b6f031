//! Storage: one `Store` over an r2d2 pool of `DbConn`, which is either a
//! PostgreSQL or a SQLite connection. Queries are written once as `DbConn`
//! methods (reads) and `Tx` methods (writes, only in a transaction or a
//! write turn; see `models/`); the `dispatch!` macro compiles each body for
//! both backends. Nothing here knows about HTTP or OAuth rules.

mod connection;
mod error;
mod migrate;
pub mod models;
mod pg_statement;
mod pool;
pub mod schema;
mod sqlite;
mod url;

pub use connection::{init_openssl, Backend, DbConn, DbManager, Tx};
pub use error::{StoreError, StoreResult};
pub use migrate::{PG_MIGRATIONS, SQLITE_MIGRATIONS};
pub use pool::{Store, StoreLoad};
pub use sqlite::backup::check_copy as check_sqlite_copy;
pub use url::{redact_url, sqlite_file, sqlite_target, DbKind};

/// Runs `$body` with `$c` bound to the concrete connection, so one query text
/// serves both backends; `$conn` is a `DbConn` or a `Tx` (through its deref).
/// Private to the store: everything else goes through `DbConn` and `Tx`
/// methods.
///
/// Kept over Diesel's `MultiConnection` derive: that derive would make every
/// query compile against one merged backend, which refuses the
/// backend-specific parts we rely on (`FOR UPDATE` on PostgreSQL only,
/// `ON CONFLICT` forms, `BEGIN IMMEDIATE` on SQLite), for no gain in speed;
/// the macro is six lines.
macro_rules! dispatch {
    ($conn:expr, $c:ident => $body:expr) => {
        match &mut $conn.backend {
            $crate::store::Backend::Pg($c) => $body,
            $crate::store::Backend::Sqlite($c) => $body,
        }
    };
}
pub(crate) use dispatch;
