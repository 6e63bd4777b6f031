//! The handle the rest of gatehouse uses: an r2d2 pool, the database
//! threads that run work on it (`Store::run`), the outage breaker, and
//! readiness.

use super::connection::{take_connection_lost, Health};
use super::error::first_line;
use super::sqlite::checkpoint::Checkpointer;
use super::sqlite::write_queue::WriteQueue;
use super::url::sqlite_target;
use super::{DbConn, DbKind, DbManager, StoreError, StoreResult};
use crate::clock::Clock;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A unit of database work for the database threads.
type Job = Box<dyn FnOnce(Result<&mut DbConn, StoreError>) + Send>;

/// How long a job waits for a pooled connection before the database counts
/// as unreachable.
const CONNECTION_WAIT: Duration = Duration::from_secs(2);
/// A PostgreSQL pool has this many times the connections (and database
/// threads) asked for: the server's 8 on 2 cores become 16.
pub const POSTGRES_POOL_FACTOR: u32 = 2;
/// While unreachable, how often one job tries the database again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The database-outage breaker: after a failure to get a connection, jobs
/// fail at once for `RETRY_AFTER`; then one job (and only one at a time)
/// tries again, and its success closes the breaker. So a lost database
/// costs requests a quick 503 instead of a queue of connection waits, and
/// service comes back by itself within about a second of the database.
struct Outage {
    /// Whether it is down: the one thing every job reads (an atomic load).
    down: std::sync::atomic::AtomicBool,
    /// Since when it is down (Unix milliseconds of `clock`); read only
    /// while it is.
    since_ms: std::sync::atomic::AtomicI64,
    probing: std::sync::atomic::AtomicBool,
    clock: Clock,
}

impl Outage {
    fn new(clock: Clock) -> Outage {
        Outage {
            down: false.into(),
            since_ms: 0.into(),
            probing: false.into(),
            clock,
        }
    }

    /// Whether this job may use the database now.
    fn may_try(&self) -> bool {
        if !self.down.load(Ordering::Acquire) {
            return true;
        }
        let since = self.since_ms.load(Ordering::Acquire);
        if self.clock.now_millis() - since < RETRY_AFTER.as_millis() as i64 {
            return false;
        }
        // Down long enough: one prober at a time.
        self.probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn began(&self) {
        self.since_ms
            .store(self.clock.now_millis(), Ordering::Release);
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

/// What each database thread holds.
type DbThread = (
    r2d2::Pool<DbManager>,
    std::sync::Arc<Outage>,
    std::sync::Arc<Health>,
);

/// A pooled connection for a job, checked first when `Health` says so
/// (PostgreSQL only); one that fails its check is closed and the next is
/// tried, up to a new one (whose opening waits `CONNECTION_WAIT` at most).
fn checkout(
    pool: &r2d2::Pool<DbManager>,
    health: &Health,
) -> Result<r2d2::PooledConnection<DbManager>, r2d2::Error> {
    for _ in 0..pool.max_size() {
        let mut c = pool.get()?;
        if !health.needs_check(&c) {
            return Ok(c);
        }
        if c.ping().is_ok() {
            health.good(&mut c);
            return Ok(c);
        }
        take_connection_lost();
        c.lost = true;
        health.lost_one();
    }
    pool.get()
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
    /// Audit events committed through this store, by type.
    audit: std::sync::Arc<super::models::audit_event::AuditCounts>,
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
    /// Opens the pool (`max_size` connections, twice that on PostgreSQL)
    /// and checks that one connection can be made now.
    /// `clock` times the outage breaker (tests move it).
    pub fn open(url: &str, max_size: u32, clock: Clock) -> StoreResult<Store> {
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
        // PostgreSQL: a database thread spends most of a transaction
        // waiting, on round trips and on the commit's WAL flush, not
        // computing, so more of them keep the cores busy (bench/README.md,
        // "Where the PostgreSQL time goes": 8 threads capped the code
        // exchange near 8 ÷ its 7 ms of jobs). Sizing against the
        // server's `max_connections`: README.md, "PostgreSQL".
        let max_size = match kind {
            DbKind::Postgres => max_size * POSTGRES_POOL_FACTOR,
            DbKind::Sqlite => max_size,
        };
        let health = std::sync::Arc::new(Health::default());
        let audit = std::sync::Arc::new(super::models::audit_event::AuditCounts::default());
        let pool = r2d2::Pool::builder()
            .max_size(max_size)
            // Not on every checkout: a query there was a second round trip
            // for every request on PostgreSQL (bench/README.md). A SQLite
            // file connection cannot drop; PostgreSQL connections are
            // checked when `Health` says so (`checkout`), and a transaction
            // that finds its connection lost begins again on a fresh one.
            .test_on_check_out(false)
            .min_idle(Some(1))
            // A request waits at most this long for a connection before it
            // is answered 503 (and the outage breaker trips).
            .connection_timeout(CONNECTION_WAIT)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build(DbManager {
                kind,
                writers,
                target,
                health: health.clone(),
                audit: audit.clone(),
            })
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        // One database thread per pooled connection. While the database is
        // unreachable, jobs fail at once (`Outage`) instead of each waiting
        // for a connection; one thread at a time tries again.
        let threads_pool = pool.clone();
        let outage = std::sync::Arc::new(Outage::new(clock));
        let threads_outage = outage.clone();
        let threads_health = health.clone();
        let jobs = crate::workers::WorkerPool::start(
            "gatehouse-db",
            max_size as usize,
            move || {
                crate::workers::batch_scheduling();
                (
                    threads_pool.clone(),
                    threads_outage.clone(),
                    threads_health.clone(),
                )
            },
            |(pool, outage, health): &mut DbThread, job: Job| {
                if !outage.may_try() {
                    return job(Err(StoreError::Unavailable(
                        "the database is unreachable".into(),
                    )));
                }
                match checkout(pool, health) {
                    Ok(mut c) => {
                        outage.ended();
                        let generation = health.generation();
                        take_connection_lost();
                        job(Ok(&mut c));
                        if take_connection_lost() {
                            // Closed when given back (`has_broken`); the
                            // others are checked before their next jobs.
                            c.lost = true;
                            health.lost_one();
                        } else {
                            c.known_good_at = std::time::Instant::now();
                            c.known_good_gen = c.known_good_gen.max(generation);
                        }
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
            audit,
        })
    }

    /// How many audit events of each type this store has committed.
    pub fn audit_counts(&self) -> Vec<(&'static str, u64)> {
        self.audit.snapshot()
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

    /// Applies pending migrations, then gives people stored before the
    /// usernames' comparison keys (or by an older instance) their keys, in
    /// one transaction, and warns about those whose names collide with an
    /// older one's (they keep signing in by their exact name).
    pub fn migrate(&self) -> StoreResult<usize> {
        let mut c = self.conn()?;
        let applied = c.run_migrations()?;
        c.transaction(|c| c.fill_username_keys())?;
        let colliding = c.count_unkeyed_users()?;
        if colliding > 0 {
            tracing::warn!(
                people = colliding,
                "some usernames are the same as, or look like, an older person's; \
                 list them with `gatehouse user list --collisions`"
            );
        }
        Ok(applied)
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
    use crate::store::Backend;
    use diesel::prelude::*;

    #[tokio::test]
    async fn a_panicking_job_fails_alone_and_the_threads_keep_serving() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::open(&url, 2, Clock::default()).unwrap();
        for _ in 0..4 {
            let r: Result<(), StoreError> = store.run(|_| panic!("boom")).await;
            assert!(matches!(r, Err(StoreError::Unavailable(_))));
        }
        for _ in 0..8 {
            store.run(|c| c.ping()).await.unwrap();
        }
    }

    /// README "Crashes and power loss": `?synchronous=full` is what every
    /// connection of the store runs (SQLite reports FULL as 2, NORMAL as 1).
    #[test]
    fn the_sqlite_url_sets_the_synchronous_level_of_every_connection() {
        let dir = tempfile::tempdir().unwrap();
        let level = |url: String| {
            let store = Store::open(&url, 2, Clock::default()).unwrap();
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
        let store = Store::open(&url, 2, Clock::default()).unwrap();
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

    #[tokio::test]
    async fn writes_and_transactions_nest_without_waiting_for_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::open(&url, 2, Clock::default()).unwrap();
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
}
