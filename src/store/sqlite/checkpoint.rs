use super::write_queue::WriteQueue;
use crate::store::{Backend, DbConn, DbKind, StoreError, StoreResult};
use diesel::prelude::*;
use std::time::Duration;

/// How often the SQLite checkpointer copies the WAL back.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// The size SQLite cuts the `-wal` file back to when it starts it over
/// (after a load spike made it larger); below it, the file's blocks are
/// reused as they are.
pub(in crate::store) const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

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
pub(in crate::store) struct Checkpointer {
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
    pub(in crate::store) fn start(
        target: &str,
        writers: std::sync::Arc<WriteQueue>,
    ) -> StoreResult<Checkpointer> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

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
}
