//! Storage: one `Store` over an r2d2 pool of `DbConn`, which is either a
//! PostgreSQL or a SQLite connection. Queries are written once as `DbConn`
//! methods (see `models/`); the `dispatch!` macro compiles each body for both
//! backends. Nothing here knows about HTTP or OAuth rules.

pub mod models;
pub mod schema;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Runs `$body` with `$c` bound to the concrete connection, so one query text
/// serves both backends. Private to the store: everything else goes through
/// `DbConn` methods.
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

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database query failed: {0}")]
    Query(diesel::result::Error),
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    fn from_insert(e: diesel::result::Error, what: &'static str) -> Self {
        match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => StoreError::Conflict(what),
            other => StoreError::Query(other),
        }
    }
}

/// A query whose connection was lost (the database went away mid-way) is
/// `Unavailable`, like one that found no connection; anything else is a
/// query failure.
impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ClosedConnection,
                info,
            ) => StoreError::Unavailable(info.message().to_string()),
            other => StoreError::Query(other),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An unreachable database is `temporarily_unavailable` (503, try again
/// shortly); any other database failure is the server's fault:
/// `server_error`, its cause logged and never sent.
impl From<StoreError> for crate::oauth::OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => {
                crate::oauth::OAuthError::TemporarilyUnavailable(cause)
            }
            other => crate::oauth::OAuthError::Server(other.to_string()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

impl DbKind {
    pub fn name(self) -> &'static str {
        match self {
            DbKind::Sqlite => "sqlite",
            DbKind::Postgres => "postgres",
        }
    }

    /// Picks the backend from the URL scheme; anything else is an error.
    pub fn from_url(url: &str) -> Result<(DbKind, String), String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok((DbKind::Postgres, url.to_string()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, e.g. sqlite://gatehouse.db".into());
            }
            sqlite_target(path)?;
            Ok((DbKind::Sqlite, path.to_string()))
        } else if url == ":memory:" || url == "sqlite::memory:" {
            Err("an in-memory SQLite database cannot be shared by the pool; use a file".into())
        } else {
            Err(format!(
                "'{}' must start with sqlite:// or postgres://",
                redact_url(url)
            ))
        }
    }
}

/// A SQLite target: the file's path and the `synchronous` level to run.
/// A plain path may end in `?synchronous=normal` (the default) or
/// `?synchronous=full`; a `file:` URI is SQLite's own syntax and passes as
/// it is. In WAL mode, `normal` keeps every answered write through a crash
/// of the process; `full` also through a power loss, for one fsync per
/// write transaction (README, "Crashes and power loss").
pub fn sqlite_target(target: &str) -> Result<(&str, &'static str), String> {
    if target.starts_with("file:") {
        return Ok((target, "NORMAL"));
    }
    let Some((path, query)) = target.split_once('?') else {
        return Ok((target, "NORMAL"));
    };
    let mut level = "NORMAL";
    for pair in query.split('&') {
        level = match pair.split_once('=') {
            Some(("synchronous", v)) if v.eq_ignore_ascii_case("normal") => "NORMAL",
            Some(("synchronous", v)) if v.eq_ignore_ascii_case("full") => "FULL",
            Some(("synchronous", v)) => {
                return Err(format!("synchronous must be normal or full, got '{v}'"))
            }
            _ => {
                return Err(format!(
                    "unknown SQLite URL parameter '{pair}' (only synchronous=normal|full)"
                ))
            }
        };
    }
    Ok((path, level))
}

/// The URL with any password replaced, safe to log or print.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((cred, host)) = rest.rsplit_once('@') {
            let user = cred.split(':').next().unwrap_or("");
            return format!("{scheme}://{user}:***@{host}");
        }
    }
    url.to_string()
}

pub enum Backend {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// One pooled connection. Transactions are explicit (`DbConn::transaction`);
/// `tx_open` lets the pool discard a connection left inside one by a panic.
pub struct DbConn {
    pub backend: Backend,
    tx_open: bool,
    /// SQLite only: the queue this process's writers wait in, in order.
    writers: Option<std::sync::Arc<WriteQueue>>,
    /// Inside `write`: this connection holds the turn already.
    in_turn: bool,
}

/// SQLite lets one writer in at a time. Left to itself, a writer that finds
/// the file locked sleeps in SQLite's busy handler (1, 2, 5 … 100 ms) and
/// tries again, so under load a few writers lose the race over and over and
/// wait a second or more while later ones get in (measured: p99 0.9 s on
/// the code exchange at 16 connections). This process's writers instead
/// queue here in arrival order before `BEGIN IMMEDIATE`, so none of them
/// ever meets the lock held by another; SQLite's busy handler is left for
/// other processes (the CLI). Readers never queue: in WAL mode they do not
/// wait for writers.
///
/// The turn is handed straight to the longest waiter, and only that thread
/// is woken (a condition variable woken for all would wake every queued
/// database thread at each hand-over, to find it was not their turn).
///
/// The writes themselves all run on one connection of their own, which the
/// turn lends to its holder. SQLite drops a connection's page cache
/// whenever another connection has written since its last transaction, so
/// writers spread over the pool re-read every page they touch; the one
/// writer connection only ever sees its own writes and keeps its cache.
#[derive(Default)]
pub struct WriteQueue {
    state: std::sync::Mutex<QueueState>,
    /// The writer connection, between turns; `None` until the first write
    /// (or after a writer panicked while holding it).
    writer: std::sync::Mutex<Option<Backend>>,
    /// The SQLite target, to open the writer connection.
    target: String,
}

#[derive(Default)]
struct QueueState {
    /// A writer holds the turn.
    busy: bool,
    /// The writers waiting, longest first, each with the flag its turn
    /// sets.
    waiting: std::collections::VecDeque<(std::thread::Thread, std::sync::Arc<AtomicBool>)>,
    /// Turns given so far (the checkpointer's way to see writes).
    given: u64,
}

impl WriteQueue {
    fn new(target: &str) -> WriteQueue {
        WriteQueue {
            target: target.to_string(),
            ..WriteQueue::default()
        }
    }

    /// Turns given so far.
    fn given(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).given
    }

    /// Waits for this caller's turn; the turn passes on when the guard drops
    /// (also when the writer panics).
    fn enter(self: &std::sync::Arc<Self>) -> WriteTurn {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !state.busy {
            state.busy = true;
            state.given += 1;
            return WriteTurn(self.clone());
        }
        let mine = std::sync::Arc::new(AtomicBool::new(false));
        state
            .waiting
            .push_back((std::thread::current(), mine.clone()));
        drop(state);
        // A wake-up that is not ours (park may return early) parks again.
        while !mine.load(Ordering::Acquire) {
            std::thread::park();
        }
        WriteTurn(self.clone())
    }
}

struct WriteTurn(std::sync::Arc<WriteQueue>);

impl WriteTurn {
    /// Turns given so far, this one included: while it is held, no other.
    fn given(&self) -> u64 {
        self.0.given()
    }

    /// The writer connection, opened on first use.
    fn take_writer(&self) -> StoreResult<Backend> {
        let held = self
            .0
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match held {
            Some(b) => Ok(b),
            None => Ok(DbConn::establish_pooled(DbKind::Sqlite, &self.0.target)?.backend),
        }
    }

    fn give_back(&self, writer: Backend) {
        *self.0.writer.lock().unwrap_or_else(|e| e.into_inner()) = Some(writer);
    }
}

impl Drop for WriteTurn {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.waiting.pop_front() {
            // Still busy: the turn goes to the next writer.
            Some((thread, turn)) => {
                state.given += 1;
                drop(state);
                turn.store(true, Ordering::Release);
                thread.unpark();
            }
            None => state.busy = false,
        }
    }
}

impl DbConn {
    pub fn establish(kind: DbKind, target: &str) -> StoreResult<DbConn> {
        let backend = match kind {
            DbKind::Postgres => Backend::Pg({
                init_openssl();
                PgConnection::establish(target)
                    .map_err(|e| StoreError::Unavailable(first_line(&e.to_string())))?
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
        })
    }

    /// A connection of the store's own (a pooled one or the SQLite writer).
    fn establish_pooled(kind: DbKind, target: &str) -> StoreResult<DbConn> {
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

    fn execute_raw(&mut self, sql: &str) -> StoreResult<()> {
        dispatch!(self, c => c.batch_execute(sql))?;
        Ok(())
    }

    /// Runs `f` in one transaction: all of its writes land, or none do.
    /// SQLite takes the write lock up front (`BEGIN IMMEDIATE`) so two
    /// writers never deadlock upgrading a read lock, after waiting its turn
    /// among this process's writers (`WriteQueue`). Called inside a
    /// transaction, `f` joins it. Writes outside a transaction go through
    /// here too on SQLite (see `write`).
    pub fn transaction<T, E>(&mut self, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        if self.tx_open {
            return f(self);
        }
        match self.writers.clone() {
            Some(q) if !self.in_turn => self.on_writer(&q, |c| c.run_transaction(f)),
            _ => self.run_transaction(f),
        }
    }

    fn run_transaction<T, E>(&mut self, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let begin = match self.kind() {
            DbKind::Sqlite => "BEGIN IMMEDIATE",
            DbKind::Postgres => "BEGIN",
        };
        self.execute_raw(begin)?;
        self.tx_open = true;
        let out = f(self);
        let end = if out.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = self.execute_raw(end);
        self.tx_open = false;
        match (out, ended) {
            (Ok(v), Ok(())) => Ok(v),
            (Ok(_), Err(e)) => Err(e.into()),
            (Err(e), _) => Err(e),
        }
    }

    /// A single write statement outside any transaction: on SQLite it waits
    /// its turn like a transaction does (a statement that found the file
    /// locked would sleep in the busy handler); on PostgreSQL it runs as is.
    pub fn write<T>(&mut self, f: impl FnOnce(&mut DbConn) -> StoreResult<T>) -> StoreResult<T> {
        match self.writers.clone() {
            Some(q) if !self.tx_open && !self.in_turn => self.on_writer(&q, f),
            _ => f(self),
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

    pub fn ping(&mut self) -> StoreResult<()> {
        self.execute_raw("SELECT 1")
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

/// The PostgreSQL advisory lock key migrations run under ("gatehous" in
/// ASCII): any fixed number other programs on the database are unlikely to
/// pick.
const MIGRATION_LOCK: i64 = 0x6761_7465_686f_7573;

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

pub struct DbManager {
    kind: DbKind,
    target: String,
    /// SQLite: the one write queue of this pool's connections.
    writers: Option<std::sync::Arc<WriteQueue>>,
}

impl r2d2::ManageConnection for DbManager {
    type Connection = DbConn;
    type Error = StoreError;

    fn connect(&self) -> Result<DbConn, StoreError> {
        let mut c = DbConn::establish_pooled(self.kind, &self.target)?;
        c.writers = self.writers.clone();
        Ok(c)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), StoreError> {
        conn.ping()
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.tx_open || conn.in_turn
    }
}

/// How often the SQLite checkpointer copies the WAL back.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// The size SQLite cuts the `-wal` file back to when it starts it over
/// (after a load spike made it larger); below it, the file's blocks are
/// reused as they are.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// SQLite in WAL mode appends commits to the `-wal` file; a checkpoint
/// copies them back into the database file (page copies and two fsyncs, a
/// few milliseconds here). By default SQLite runs it inside whichever commit
/// takes the WAL past 1,000 pages, while that writer holds its turn, so
/// every writer queued behind it waits too (measured: the p99 of the code
/// exchange). Here a thread of its own checkpoints every
/// `CHECKPOINT_EVERY`; the pooled connections never do.
///
/// The WAL starts over from its beginning only when a write finds every
/// frame in it copied back. Under steady writes a checkpoint beside them
/// never gets there: it ends with the commits made while it ran still to
/// copy, so the file grew without end (measured: 3.6 GB in 3 minutes of
/// code exchanges, each write going to new blocks of the file that the
/// kernel first zeroes, 12 % of the server's CPU). So a round
/// (`Checkpointer::round`) copies beside the writers until little is left,
/// then copies the rest in this process's write turn (`WriteQueue`), with
/// no writer of ours appending; the next write starts the WAL over. A
/// reader still in an older snapshot at that moment defers it to a later
/// round. The thread ends with the last handle to the store.
struct Checkpointer {
    _stop: std::sync::mpsc::Sender<()>,
}

/// Checkpoints beside the writers in one round, at most this many.
const CHECKPOINT_PASSES: usize = 4;
/// Few enough writes during a pass that copying them in the write turn is
/// quick: 1 to 4 ms measured here, mostly its two fsyncs.
const FEW_WRITES: u64 = 16;

/// What `PRAGMA wal_checkpoint` answers.
#[derive(QueryableByName)]
struct CheckpointResult {
    /// The frames in the WAL.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    log: i32,
}

impl DbConn {
    /// A PASSIVE checkpoint (it waits for nobody): the frames in the WAL.
    fn checkpoint(&mut self) -> StoreResult<i32> {
        let Backend::Sqlite(c) = &mut self.backend else {
            return Ok(0);
        };
        let r = diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)")
            .get_result::<CheckpointResult>(c)?;
        Ok(r.log)
    }
}

impl Checkpointer {
    fn start(target: &str, writers: std::sync::Arc<WriteQueue>) -> StoreResult<Checkpointer> {
        let mut conn = DbConn::establish(DbKind::Sqlite, target)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("gatehouse-checkpoint".into())
            .spawn(move || {
                use std::sync::mpsc::RecvTimeoutError;
                let mut seen = 0;
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY) {
                    if let Err(e) = Checkpointer::round(&mut conn, &writers, &mut seen) {
                        tracing::debug!(error = %e, "WAL checkpoint deferred");
                    }
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the checkpointer: {e}")))?;
        Ok(Checkpointer { _stop: stop })
    }

    /// One round; answers the frames in the WAL as its last checkpoint saw
    /// them. `seen` is the count of write turns given when the last round
    /// held one: if none was given since, nothing of ours was written and
    /// the round takes no turn.
    fn round(
        conn: &mut DbConn,
        writers: &std::sync::Arc<WriteQueue>,
        seen: &mut u64,
    ) -> StoreResult<i32> {
        let mut frames = 0;
        for _ in 0..CHECKPOINT_PASSES {
            let before = writers.given();
            frames = conn.checkpoint()?;
            if writers.given() - before <= FEW_WRITES {
                break;
            }
        }
        if writers.given() == *seen {
            return Ok(frames);
        }
        let turn = writers.enter();
        *seen = turn.given();
        conn.checkpoint()
    }
}

/// A unit of database work for the database threads.
type Job = Box<dyn FnOnce(Result<&mut DbConn, StoreError>) + Send>;

/// How long a job waits for a pooled connection before the database counts
/// as unreachable.
const CONNECTION_WAIT: Duration = Duration::from_secs(2);
/// While unreachable, how often one job tries the database again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The database-outage breaker: after a failure to get a connection, jobs
/// fail at once for `RETRY_AFTER`; then one job (and only one at a time)
/// tries again, and its success closes the breaker. So a lost database
/// costs requests a quick 503 instead of a queue of connection waits, and
/// service comes back by itself within about a second of the database.
#[derive(Default)]
struct Outage {
    /// Whether it is down: the one thing every job reads (an atomic load).
    down: std::sync::atomic::AtomicBool,
    /// Since when it is down; read only while it is.
    since: std::sync::Mutex<Option<std::time::Instant>>,
    probing: std::sync::atomic::AtomicBool,
}

impl Outage {
    /// Whether this job may use the database now.
    fn may_try(&self) -> bool {
        if !self.down.load(Ordering::Acquire) {
            return true;
        }
        let since = self.since.lock().map(|g| *g).unwrap_or(None);
        match since {
            Some(t) if t.elapsed() < RETRY_AFTER => false,
            // Down long enough: one prober at a time.
            _ => self
                .probing
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok(),
        }
    }

    fn began(&self) {
        if let Ok(mut g) = self.since.lock() {
            *g = Some(std::time::Instant::now());
        }
        self.down.store(true, Ordering::Release);
        self.probing.store(false, Ordering::Release);
    }

    fn ended(&self) {
        if self.down.swap(false, Ordering::AcqRel) {
            tracing::info!("the database is reachable again");
            self.probing.store(false, Ordering::Release);
        }
    }
}

/// The handle the rest of gatehouse uses. Cheap to clone.
///
/// Database work from async code goes to a fixed set of database threads,
/// one per pooled connection, through one queue (`run`). Measured on the
/// token endpoint, this costs a fraction of tokio's `spawn_blocking` hand-off
/// from actix's per-worker runtimes (bench/README.md), and it bounds the
/// number of threads touching the pool.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<DbManager>,
    kind: DbKind,
    jobs: crate::workers::WorkerPool<Job>,
    /// The SQLite file and its identity when opened, so readiness notices
    /// the file being removed or replaced under a running server (writes
    /// would go to the deleted file and be lost at restart).
    sqlite_file: Option<FileIdentity>,
    /// SQLite: the WAL checkpointer, which stops with the last clone.
    _checkpointer: Option<std::sync::Arc<Checkpointer>>,
}

/// A file's path and identity (device and inode) at open time.
#[derive(Clone, Debug)]
struct FileIdentity {
    path: std::path::PathBuf,
    id: Option<(u64, u64)>,
}

impl FileIdentity {
    fn of(path: &std::path::Path) -> Option<(u64, u64)> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
        }
        #[cfg(not(unix))]
        {
            std::fs::metadata(path).ok().map(|_| (0, 0))
        }
    }
}

impl Store {
    /// Opens the pool and checks that one connection can be made now.
    pub fn open(url: &str, max_size: u32) -> StoreResult<Store> {
        let (kind, target) = DbKind::from_url(url).map_err(StoreError::Invalid)?;
        let file = match kind {
            DbKind::Sqlite => sqlite_target(&target).map_err(StoreError::Invalid)?.0,
            DbKind::Postgres => "",
        };
        if kind == DbKind::Sqlite {
            // Fail with a clear message instead of SQLite's "unable to open".
            let path = std::path::Path::new(file);
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                if !dir.is_dir() {
                    return Err(StoreError::Unavailable(format!(
                        "folder {} does not exist",
                        dir.display()
                    )));
                }
            }
        }
        let mut sqlite_file = None;
        // A `file:` URI (SQLite's own syntax, e.g. `?mode=ro`) is SQLite's
        // to open; a plain path is created private and watched.
        if kind == DbKind::Sqlite && !target.starts_with("file:") {
            let path = std::path::Path::new(file);
            if path.exists() {
                crate::private_files::warn_if_readable_by_others(path, "database file");
            } else {
                crate::private_files::create_empty(path)
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            }
            sqlite_file = Some(FileIdentity {
                path: path.to_path_buf(),
                id: FileIdentity::of(path),
            });
        }
        // Check reachability once with a clear error before building the pool.
        DbConn::establish(kind, &target)?;
        let writers =
            (kind == DbKind::Sqlite).then(|| std::sync::Arc::new(WriteQueue::new(&target)));
        let checkpointer = match &writers {
            Some(q) => Some(Checkpointer::start(&target, q.clone())?),
            None => None,
        };
        let pool = r2d2::Pool::builder()
            .max_size(max_size)
            // A SQLite file connection cannot drop; checking it on every
            // checkout only costs a query. PostgreSQL connections can.
            .test_on_check_out(kind == DbKind::Postgres)
            .min_idle(Some(1))
            // A request waits at most this long for a connection before it
            // is answered 503 (and the outage breaker trips).
            .connection_timeout(CONNECTION_WAIT)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build(DbManager {
                kind,
                writers,
                target,
            })
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        // One database thread per pooled connection. While the database is
        // unreachable, jobs fail at once (`Outage`) instead of each waiting
        // for a connection; one thread at a time tries again.
        let threads_pool = pool.clone();
        let outage = std::sync::Arc::new(Outage::default());
        let threads_outage = outage.clone();
        let jobs = crate::workers::WorkerPool::start(
            "gatehouse-db",
            max_size as usize,
            move || {
                crate::workers::batch_scheduling();
                (threads_pool.clone(), threads_outage.clone())
            },
            |(pool, outage): &mut (r2d2::Pool<DbManager>, std::sync::Arc<Outage>), job: Job| {
                if !outage.may_try() {
                    return job(Err(StoreError::Unavailable(
                        "the database is unreachable".into(),
                    )));
                }
                match pool.get() {
                    Ok(mut c) => {
                        outage.ended();
                        job(Ok(&mut c))
                    }
                    Err(e) => {
                        outage.began();
                        job(Err(StoreError::Unavailable(e.to_string())))
                    }
                }
            },
        );
        Ok(Store {
            pool,
            kind,
            jobs,
            sqlite_file,
            _checkpointer: checkpointer.map(std::sync::Arc::new),
        })
    }

    pub fn kind(&self) -> DbKind {
        self.kind
    }

    pub fn conn(&self) -> StoreResult<r2d2::PooledConnection<DbManager>> {
        self.pool
            .get()
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// Runs blocking database work on a database thread, never on the
    /// async workers, and awaits its result.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let out = match conn {
                Ok(c) => f(c),
                Err(e) => Err(e.into()),
            };
            let _ = reply.send(out);
        });
        if self.jobs.submit(job).is_err() {
            return Err(StoreError::Unavailable("the database threads have stopped".into()).into());
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable("a database task failed".into()).into())
        })
    }

    pub fn migrate(&self) -> StoreResult<usize> {
        self.conn()?.run_migrations()
    }

    /// Fails when the database takes no writes (a read-only file or a
    /// read-only PostgreSQL transaction mode), naming that. Run after
    /// migrations: it writes nothing, but asks for permission to.
    pub fn check_writable(&self) -> StoreResult<()> {
        let mut c = self.conn()?;
        // SQLite: IMMEDIATE takes the write lock at once, through the busy
        // handler; a deferred transaction that reads first fails at once
        // (SQLITE_BUSY) when another process starting beside it commits.
        c.execute_raw(match self.kind {
            DbKind::Sqlite => "BEGIN IMMEDIATE",
            DbKind::Postgres => "BEGIN",
        })
        .map_err(|e| {
            let m = first_line(&e.to_string());
            match m.contains("readonly") {
                true => StoreError::Unavailable(format!("the database is read-only ({m})")),
                false => e,
            }
        })?;
        c.tx_open = true;
        let probe = c.execute_raw("UPDATE signing_keys SET kid = kid WHERE 1 = 0");
        let ended = c.execute_raw("ROLLBACK");
        c.tx_open = ended.is_err();
        probe.map_err(|e| {
            StoreError::Unavailable(format!(
                "the database is read-only ({})",
                first_line(&e.to_string())
            ))
        })
    }

    /// Readiness: the database answers, and a SQLite file is still the one
    /// opened at start (not removed or replaced underneath).
    pub async fn check_ready(&self) -> StoreResult<()> {
        if let Some(f) = &self.sqlite_file {
            if FileIdentity::of(&f.path) != f.id {
                return Err(StoreError::Unavailable(format!(
                    "the database file {} was removed or replaced since start; restart gatehouse",
                    f.path.display()
                )));
            }
        }
        self.run(|c| c.ping()).await
    }

    /// For `/metrics`: the pool's connections and the jobs waiting for a
    /// database thread (cheap: r2d2 reads its counts under a short lock).
    pub fn load(&self) -> StoreLoad {
        let state = self.pool.state();
        StoreLoad {
            connections: state.connections,
            idle: state.idle_connections,
            max: self.pool.max_size(),
            waiting: self.jobs.waiting(),
        }
    }
}

/// `Store::load`: connections open (in use = `connections - idle`), the
/// pool's maximum, and jobs queued for a database thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLoad {
    pub connections: u32,
    pub idle: u32,
    pub max: u32,
    pub waiting: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_job_fails_alone_and_the_threads_keep_serving() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::open(&url, 2).unwrap();
        for _ in 0..4 {
            let r: Result<(), StoreError> = store.run(|_| panic!("boom")).await;
            assert!(matches!(r, Err(StoreError::Unavailable(_))));
        }
        for _ in 0..8 {
            store.run(|c| c.ping()).await.unwrap();
        }
    }

    #[test]
    fn sqlite_writers_get_their_turn_in_arrival_order() {
        let q = std::sync::Arc::new(WriteQueue::default());
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let first = q.enter();
        let mut waiting = Vec::new();
        for i in 0..5u64 {
            let (q2, order2) = (q.clone(), order.clone());
            waiting.push(std::thread::spawn(move || {
                let _turn = q2.enter();
                order2.lock().unwrap().push(i);
            }));
            // Writer i waits in the queue before writer i + 1 starts.
            while q.state.lock().unwrap().waiting.len() != i as usize + 1 {
                std::thread::yield_now();
            }
        }
        drop(first);
        for t in waiting {
            t.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
        assert!(
            !q.state.lock().unwrap().busy,
            "the last writer gave the turn back"
        );
    }

    /// Eight writers taking 300 turns each: never two inside at once, and
    /// every one gets through (a lost wake-up would hang the test).
    #[test]
    fn sqlite_writers_hold_the_turn_one_at_a_time() {
        let q = std::sync::Arc::new(WriteQueue::default());
        let inside = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let turns = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let writers: Vec<_> = (0..8)
            .map(|_| {
                let (q, inside, turns) = (q.clone(), inside.clone(), turns.clone());
                std::thread::spawn(move || {
                    for _ in 0..300 {
                        let _turn = q.enter();
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                        turns.fetch_add(1, Ordering::Relaxed);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(turns.load(Ordering::Relaxed), 2400);
        assert!(!q.state.lock().unwrap().busy);
    }

    /// README "Crashes and power loss": `?synchronous=full` is what every
    /// connection of the store runs (SQLite reports FULL as 2, NORMAL as 1).
    #[test]
    fn the_sqlite_url_sets_the_synchronous_level_of_every_connection() {
        let dir = tempfile::tempdir().unwrap();
        let level = |url: String| {
            let store = Store::open(&url, 2).unwrap();
            let mut c = store.conn().unwrap();
            let Backend::Sqlite(s) = &mut c.backend else {
                panic!("not SQLite")
            };
            #[derive(QueryableByName)]
            struct Level {
                #[diesel(sql_type = diesel::sql_types::Integer)]
                synchronous: i32,
            }
            diesel::sql_query("PRAGMA synchronous")
                .get_result::<Level>(s)
                .unwrap()
                .synchronous
        };
        let db = dir.path().join("t.db").display().to_string();
        assert_eq!(level(format!("sqlite://{db}")), 1);
        assert_eq!(level(format!("sqlite://{db}?synchronous=full")), 2);
        assert_eq!(level(format!("sqlite://{db}?synchronous=normal")), 1);
        // The file is the path without the parameter.
        assert!(std::path::Path::new(&db).exists());
    }

    /// Rows in table `t`, read on a pooled connection (not the writer).
    fn rows_in_t(store: &Store) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut c = store.conn().unwrap();
        let Backend::Sqlite(s) = &mut c.backend else {
            panic!("not SQLite")
        };
        diesel::sql_query("SELECT COUNT(*) AS n FROM t")
            .get_result::<N>(s)
            .unwrap()
            .n
    }

    #[tokio::test]
    async fn a_writer_that_panics_inside_a_transaction_writes_nothing_and_the_next_one_writes() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::open(&url, 2).unwrap();
        store
            .run(|c| c.write(|c| c.execute_raw("CREATE TABLE t (x INTEGER)")))
            .await
            .unwrap();
        let r: Result<(), StoreError> = store
            .run(|c| {
                c.transaction(|c| {
                    c.execute_raw("INSERT INTO t VALUES (1)")?;
                    panic!("boom")
                })
            })
            .await;
        assert!(matches!(r, Err(StoreError::Unavailable(_))));
        // The writer connection went with the panic; the next writer opens
        // another and gets in, and readers see its row, not the first.
        for x in 2..5 {
            store
                .run(move |c| {
                    c.transaction(|c| c.execute_raw(&format!("INSERT INTO t VALUES ({x})")))
                })
                .await
                .unwrap();
        }
        assert_eq!(rows_in_t(&store), 3);
    }

    /// The WAL starts over after every checkpoint round even while a
    /// writer never pauses: copying only beside the writers, each round
    /// ended with fresh commits still to copy and the file grew without
    /// end (3.6 GB in 3 minutes of code exchanges).
    #[test]
    fn the_wal_starts_over_after_each_checkpoint_round_under_writes_that_never_pause() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t.db").display().to_string();
        // No `Store`: its own checkpointer would run rounds beside the test's.
        let writers = std::sync::Arc::new(WriteQueue::new(&target));
        let mut c = DbConn::establish_pooled(DbKind::Sqlite, &target).unwrap();
        c.writers = Some(writers.clone());
        c.write(|c| c.execute_raw("CREATE TABLE t (x BLOB)"))
            .unwrap();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let writes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let writer = {
            let (stop, writes) = (stop.clone(), writes.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    c.transaction(|c| c.execute_raw("INSERT INTO t VALUES (randomblob(3000))"))
                        .unwrap();
                    writes.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let wait_for_writes = |n: u64| {
            let from = writes.load(Ordering::Relaxed);
            while writes.load(Ordering::Relaxed) < from + n {
                assert!(!writer.is_finished(), "the writer stopped");
                std::thread::yield_now();
            }
        };
        let mut checkpointer = DbConn::establish(DbKind::Sqlite, &target).unwrap();
        let mut seen = 0;
        for round in 0..3 {
            wait_for_writes(200);
            let left = Checkpointer::round(&mut checkpointer, &writers, &mut seen).unwrap();
            // Each insert is a page of its own: 200 writes, 200 frames.
            assert!(left >= 200, "round {round}: {left} frames");
            wait_for_writes(5);
            let now = checkpointer.checkpoint().unwrap();
            assert!(
                now < left,
                "round {round}: the WAL went on from {left} to {now} frames"
            );
        }
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
    }

    #[tokio::test]
    async fn writes_and_transactions_nest_without_waiting_for_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::open(&url, 2).unwrap();
        store.migrate().unwrap();
        store
            .run(|c| c.write(|c| c.transaction(|c| c.write(|c| c.ping()))))
            .await
            .unwrap();
        store
            .run(|c| c.transaction(|c| c.write(|c| c.transaction(|c| c.ping()))))
            .await
            .unwrap();
        // The turn was given back: the next writer gets in.
        store.run(|c| c.write(|c| c.ping())).await.unwrap();
    }

    #[test]
    fn urls_pick_the_backend_and_passwords_are_redacted() {
        assert_eq!(
            DbKind::from_url("sqlite://a.db").unwrap(),
            (DbKind::Sqlite, "a.db".into())
        );
        assert_eq!(
            DbKind::from_url("postgres://u@h/d").unwrap().0,
            DbKind::Postgres
        );
        assert!(DbKind::from_url("mysql://x").is_err());
        assert!(DbKind::from_url("sqlite://a.db?synchronous=full").is_ok());
        assert!(DbKind::from_url("sqlite://a.db?synchronous=off").is_err());
        assert!(DbKind::from_url("sqlite://a.db?cache=shared").is_err());
        assert_eq!(
            redact_url("postgres://u:secret@h/d"),
            "postgres://u:***@h/d"
        );
    }
}
