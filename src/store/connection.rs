//! One connection, of either backend: opening it (SQLite in WAL mode with
//! its pragmas), transactions and lone writes (on SQLite, in this process's
//! write turn: `sqlite::write_queue`), handed out as a `Tx`, and the r2d2
//! manager that pools them.

use super::error::first_line;
use super::sqlite::checkpoint::WAL_SIZE_LIMIT;
use super::sqlite::write_queue::WriteQueue;
use super::url::{pg_target, sqlite_target, DbKind};
use super::{dispatch, StoreError, StoreResult};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

pub enum Backend {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// One pooled connection. Transactions are explicit (`DbConn::transaction`);
/// `tx_open` lets the pool discard a connection left inside one by a panic.
///
/// A `DbConn` only reads: the model methods that write are `Tx`'s, and only
/// `transaction` and `write` hand a `Tx` out, so every write waits its turn
/// on SQLite. This does not compile:
///
/// ```compile_fail,E0599
/// # fn f(conn: &mut gatehouse::store::DbConn, client: &gatehouse::store::models::Client) {
/// conn.insert_client(client);
/// # }
/// ```
///
/// and this does:
///
/// ```
/// # fn f(conn: &mut gatehouse::store::DbConn, client: &gatehouse::store::models::Client) {
/// conn.transaction(|c| c.insert_client(client));
/// # }
/// ```
pub struct DbConn {
    pub backend: Backend,
    pub(in crate::store) tx_open: bool,
    /// SQLite only: the queue this process's writers wait in, in order.
    pub(in crate::store) writers: Option<std::sync::Arc<WriteQueue>>,
    /// Inside `write`: this connection holds the turn already.
    pub(in crate::store) in_turn: bool,
    /// PostgreSQL, pooled: the URL to open a fresh connection with when
    /// this one turns out to be lost as a transaction begins.
    pub(in crate::store) target: Option<std::sync::Arc<str>>,
    /// A query on it found the connection lost: the pool discards it.
    pub(in crate::store) lost: bool,
    /// When it was last known good: opened, checked, or given back after a
    /// job that lost nothing (`Health`).
    pub(in crate::store) known_good_at: Instant,
    /// The `Health` generation it was last known good in.
    pub(in crate::store) known_good_gen: u64,
    /// Audit events written in the open transaction: logged when it
    /// commits, dropped when it rolls back.
    pub(in crate::store) audit_pending: Vec<super::models::audit_event::AuditEvent>,
    /// Pooled: the store's counts of committed audit events.
    pub(in crate::store) audit_counts:
        Option<std::sync::Arc<super::models::audit_event::AuditCounts>>,
}

impl DbConn {
    pub fn establish(kind: DbKind, target: &str) -> StoreResult<DbConn> {
        let backend = match kind {
            DbKind::Postgres => Backend::Pg({
                init_openssl();
                let (target, prepared) = pg_target(target).map_err(StoreError::Invalid)?;
                let mut c = PgConnection::establish(&target)
                    .map_err(|e| StoreError::Unavailable(first_line(&e.to_string())))?;
                if !prepared {
                    c.set_prepared_statement_cache_size(diesel::connection::CacheSize::Disabled);
                }
                c
            }),
            DbKind::Sqlite => {
                let (path, synchronous) = sqlite_target(target).map_err(StoreError::Invalid)?;
                let mut c = SqliteConnection::establish(path)
                    .map_err(|e| StoreError::Unavailable(first_line(&e.to_string())))?;
                c.batch_execute("PRAGMA busy_timeout = 10000")
                    .and_then(|()| switch_to_wal(&mut c))
                    .and_then(|()| {
                        c.batch_execute(&format!(
                            "PRAGMA foreign_keys = ON; PRAGMA synchronous = {synchronous};"
                        ))
                    })
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                Backend::Sqlite(c)
            }
        };
        Ok(DbConn {
            backend,
            tx_open: false,
            writers: None,
            in_turn: false,
            target: None,
            lost: false,
            known_good_at: Instant::now(),
            known_good_gen: 0,
            audit_pending: Vec::new(),
            audit_counts: None,
        })
    }

    /// A connection of the store's own (a pooled one or the SQLite writer).
    pub(in crate::store) fn establish_pooled(kind: DbKind, target: &str) -> StoreResult<DbConn> {
        let mut c = DbConn::establish(kind, target)?;
        if kind == DbKind::Sqlite {
            // The checkpointer thread copies the WAL back (`Checkpointer`);
            // no commit of the store's connections does it.
            c.execute_raw(&format!(
                "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"
            ))?;
        }
        Ok(c)
    }

    pub fn kind(&self) -> DbKind {
        match self.backend {
            Backend::Pg(_) => DbKind::Postgres,
            Backend::Sqlite(_) => DbKind::Sqlite,
        }
    }

    pub(in crate::store) fn execute_raw(&mut self, sql: &str) -> StoreResult<()> {
        dispatch!(self, c => c.batch_execute(sql))?;
        Ok(())
    }

    /// Runs `f` in one transaction: all of its writes land, or none do.
    /// SQLite takes the write lock up front (`BEGIN IMMEDIATE`) so two
    /// writers never deadlock upgrading a read lock, after waiting its turn
    /// among this process's writers (`WriteQueue`). Called inside a
    /// transaction, `f` joins it. Writes outside a transaction go through
    /// here too on SQLite (see `write`).
    pub fn transaction<T, E>(&mut self, f: impl FnOnce(&mut Tx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        if self.tx_open {
            return f(&mut Tx { conn: self });
        }
        match self.writers.clone() {
            Some(q) if !self.in_turn => self.on_writer(&q, |c| c.run_transaction(f)),
            _ => self.run_transaction(f),
        }
    }

    fn run_transaction<T, E>(&mut self, f: impl FnOnce(&mut Tx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let begin = match self.kind() {
            DbKind::Sqlite => "BEGIN IMMEDIATE",
            DbKind::Postgres => "BEGIN",
        };
        self.begin(begin)?;
        self.tx_open = true;
        let out = f(&mut Tx { conn: self });
        let end = if out.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = self.execute_raw(end);
        self.tx_open = false;
        let audited = std::mem::take(&mut self.audit_pending);
        match (out, ended) {
            (Ok(v), Ok(())) => {
                for event in &audited {
                    self.committed(event);
                }
                Ok(v)
            }
            (Ok(_), Err(e)) => Err(e.into()),
            (Err(e), _) => Err(e),
        }
    }

    /// Sends `BEGIN`. Pooled PostgreSQL connections are not checked with
    /// a query when handed out (a round trip on every request), so one
    /// lost since its last use (the server restarted, a proxy or
    /// firewall dropped it) fails here first: nothing of the transaction
    /// has run, so it begins again, once, on a fresh connection. The lost
    /// one is closed; the pool checks its other connections before their
    /// next jobs (`Health`).
    fn begin(&mut self, begin: &str) -> StoreResult<()> {
        let first = match &mut self.backend {
            Backend::Pg(c) => c.batch_execute(begin),
            Backend::Sqlite(_) => return self.execute_raw(begin),
        };
        let lost = matches!(
            first,
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ClosedConnection
                    | diesel::result::DatabaseErrorKind::UnableToSendCommand,
                _
            ))
        );
        match (first, self.target.clone()) {
            (Ok(()), _) => Ok(()),
            (Err(_), Some(target)) if lost => {
                note_connection_lost();
                tracing::info!(
                    "a pooled PostgreSQL connection was lost; beginning again on a new one"
                );
                self.backend =
                    DbConn::establish(DbKind::Postgres, &with_connect_timeout(&target))?.backend;
                self.execute_raw(begin)
            }
            (Err(e), _) => Err(e.into()),
        }
    }

    /// A single write statement outside any transaction: on SQLite it waits
    /// its turn like a transaction does (a statement that found the file
    /// locked would sleep in the busy handler); on PostgreSQL it runs as is.
    pub fn write<T>(&mut self, f: impl FnOnce(&mut Tx<'_>) -> StoreResult<T>) -> StoreResult<T> {
        match self.writers.clone() {
            Some(q) if !self.tx_open && !self.in_turn => {
                self.on_writer(&q, |c| f(&mut Tx { conn: c }))
            }
            _ => f(&mut Tx { conn: self }),
        }
    }

    /// Runs `f` in this process's write turn, on the writer connection
    /// (`WriteQueue`), then gives both back. If `f` panics, this DbConn
    /// still holds the writer connection and is marked in turn, so the
    /// pool discards it; the next writer opens a new one.
    fn on_writer<T, E>(
        &mut self,
        q: &std::sync::Arc<WriteQueue>,
        f: impl FnOnce(&mut DbConn) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let turn = q.enter();
        let pooled = std::mem::replace(&mut self.backend, turn.take_writer()?);
        self.in_turn = true;
        let out = f(self);
        self.in_turn = false;
        turn.give_back(std::mem::replace(&mut self.backend, pooled));
        out
    }

    pub fn ping(&mut self) -> StoreResult<()> {
        self.execute_raw("SELECT 1")
    }
}

thread_local! {
    /// Set on a database thread when a query finds its connection lost
    /// (`StoreError`'s conversion of Diesel's `ClosedConnection`); read
    /// and cleared by the thread after each job (`take_connection_lost`).
    static CONNECTION_LOST: Cell<bool> = const { Cell::new(false) };
}

/// Notes, for the database thread running this job, that its connection
/// was found lost.
pub(in crate::store) fn note_connection_lost() {
    CONNECTION_LOST.with(|l| l.set(true));
}

/// Whether a query of the job just run found its connection lost; clears it.
pub(in crate::store) fn take_connection_lost() -> bool {
    CONNECTION_LOST.with(|l| l.replace(false))
}

/// A PostgreSQL URL (or key-value string) with libpq's `connect_timeout`
/// when it names none, so a fresh connection opened in a job gives up
/// like the pool's would instead of hanging on an unreachable host.
fn with_connect_timeout(target: &str) -> String {
    if target.contains("connect_timeout") {
        target.to_string()
    } else if target.contains("://") {
        let sep = if target.contains('?') { '&' } else { '?' };
        format!("{target}{sep}connect_timeout={}", CONNECT_TIMEOUT_SECS)
    } else {
        format!("{target} connect_timeout={}", CONNECT_TIMEOUT_SECS)
    }
}

/// How long a fresh connection opened inside a job may take (seconds).
const CONNECT_TIMEOUT_SECS: u64 = 2;

/// A connection in its write turn: inside `DbConn::transaction`, or a lone
/// statement of `DbConn::write` (on SQLite, the writer connection the
/// write queue lends). The model methods that write are `Tx`'s, so none
/// runs outside the queue; reads work on it too (it derefs to the
/// `DbConn`), and a `transaction` or `write` called on it joins the turn
/// (and the transaction) it already holds.
pub struct Tx<'c> {
    conn: &'c mut DbConn,
}

impl Tx<'_> {
    /// An audit event this transaction wrote: logged once it commits; a
    /// lone write (no transaction open) has committed already.
    pub(in crate::store) fn note_committed_later(
        &mut self,
        event: super::models::audit_event::AuditEvent,
    ) {
        if self.conn.tx_open {
            self.conn.audit_pending.push(event);
        } else {
            self.conn.committed(&event);
        }
    }
}

impl DbConn {
    /// An audit event has committed: its log line, and its count.
    fn committed(&self, event: &super::models::audit_event::AuditEvent) {
        event.log();
        if let Some(counts) = &self.audit_counts {
            counts.note(&event.kind);
        }
    }
}

impl Deref for Tx<'_> {
    type Target = DbConn;

    fn deref(&self) -> &DbConn {
        self.conn
    }
}

impl DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut DbConn {
        self.conn
    }
}

/// Initialises OpenSSL (libpq's TLS) before libpq does, without the exit
/// handler libpq's own initialisation registers: that handler frees
/// OpenSSL's state while other threads may still be using a connection,
/// and the process crashed on exit. Every PostgreSQL connection of
/// gatehouse's, and of its tests, calls this first; after the first call
/// it costs an atomic load.
pub fn init_openssl() {
    openssl_sys::init();
}

/// Puts a SQLite file in WAL mode (a no-op once it is). When two processes
/// open a new file at the same moment, both switch it, and SQLite answers
/// the one that loses `database is locked` at once, without calling its
/// busy handler (measured: 1 round in 25 of six processes starting
/// together, under load). That one tries again, every 10 ms for up to 2 s.
fn switch_to_wal(c: &mut SqliteConnection) -> diesel::QueryResult<()> {
    let mut tries = 0;
    loop {
        match c.batch_execute("PRAGMA journal_mode = WAL") {
            Err(e) if tries < 200 && e.to_string().contains("locked") => {
                tries += 1;
                // Opening a connection, on a database thread or at start,
                // never on an async worker: the wait blocks no request.
                #[allow(clippy::disallowed_methods)]
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

pub struct DbManager {
    pub(in crate::store) kind: DbKind,
    pub(in crate::store) target: String,
    /// SQLite: the one write queue of this pool's connections.
    pub(in crate::store) writers: Option<std::sync::Arc<WriteQueue>>,
    /// Which pooled connections to check before their next job.
    pub(in crate::store) health: std::sync::Arc<Health>,
    /// The store's counts of committed audit events.
    pub(in crate::store) audit: std::sync::Arc<super::models::audit_event::AuditCounts>,
}

/// Which pooled PostgreSQL connections to check with a query before a job
/// gets them, instead of checking every one on every request (r2d2's
/// `test_on_check_out`, a round trip per request). A connection is checked
/// when it sat unused for `IDLE_CHECK` or more (a firewall or the server's
/// idle timeout may have closed it), or when another connection has been
/// found lost since it was last known good: the server restarted, so every
/// connection opened before is suspect, and each is checked once.
#[derive(Default)]
pub struct Health {
    generation: std::sync::atomic::AtomicU64,
}

/// A connection unused this long is checked before its next job.
pub(in crate::store) const IDLE_CHECK: Duration = Duration::from_secs(1);

impl Health {
    pub(in crate::store) fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// A connection was found lost: every older one is suspect.
    pub(in crate::store) fn lost_one(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Whether `c` needs a check before its next job.
    pub(in crate::store) fn needs_check(&self, c: &DbConn) -> bool {
        c.kind() == DbKind::Postgres
            && (c.known_good_gen < self.generation() || c.known_good_at.elapsed() >= IDLE_CHECK)
    }

    /// `c` was just checked, or used by a job that lost nothing.
    pub(in crate::store) fn good(&self, c: &mut DbConn) {
        c.known_good_at = Instant::now();
        c.known_good_gen = self.generation();
    }
}

impl r2d2::ManageConnection for DbManager {
    type Connection = DbConn;
    type Error = StoreError;

    fn connect(&self) -> Result<DbConn, StoreError> {
        let mut c = DbConn::establish_pooled(self.kind, &self.target)?;
        c.writers = self.writers.clone();
        c.audit_counts = Some(self.audit.clone());
        if self.kind == DbKind::Postgres {
            c.target = Some(self.target.as_str().into());
        }
        c.known_good_gen = self.health.generation();
        Ok(c)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), StoreError> {
        conn.ping()
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.tx_open || conn.in_turn || conn.lost
    }
}
