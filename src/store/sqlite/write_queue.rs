use crate::store::{Backend, DbConn, DbKind, StoreResult};
use std::sync::atomic::{AtomicBool, Ordering};

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
    pub(super) state: std::sync::Mutex<QueueState>,
    /// The writer connection, between turns; `None` until the first write
    /// (or after a writer panicked while holding it).
    writer: std::sync::Mutex<Option<Backend>>,
    /// The SQLite target, to open the writer connection.
    target: String,
}

#[derive(Default)]
pub(super) struct QueueState {
    /// A writer holds the turn.
    pub(super) busy: bool,
    /// The writers waiting, longest first, each with the flag its turn
    /// sets.
    pub(super) waiting:
        std::collections::VecDeque<(std::thread::Thread, std::sync::Arc<AtomicBool>)>,
    /// Turns given so far (the checkpointer's way to see writes).
    given: u64,
}

impl WriteQueue {
    pub(in crate::store) fn new(target: &str) -> WriteQueue {
        WriteQueue {
            target: target.to_string(),
            ..WriteQueue::default()
        }
    }

    /// Turns given so far.
    pub(in crate::store) fn given(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).given
    }

    /// Waits for this caller's turn; the turn passes on when the guard drops
    /// (also when the writer panics).
    pub(in crate::store) fn enter(self: &std::sync::Arc<Self>) -> WriteTurn {
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

pub(in crate::store) struct WriteTurn(std::sync::Arc<WriteQueue>);

impl WriteTurn {
    /// Turns given so far, this one included: while it is held, no other.
    pub(in crate::store) fn given(&self) -> u64 {
        self.0.given()
    }

    /// The writer connection, opened on first use.
    pub(in crate::store) fn take_writer(&self) -> StoreResult<Backend> {
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

    pub(in crate::store) fn give_back(&self, writer: Backend) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
