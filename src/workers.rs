//! A fixed set of named threads taking jobs from one queue: the one worker
//! pool behind the database threads (`store::Store::run`) and the argon2
//! threads (`hasher::Hasher`). Blocking work never runs on the async
//! workers, and the number of threads doing it is bounded. Each thread
//! keeps its own state between jobs (a database pool handle, an argon2
//! memory block); a panicking job loses only itself, never the thread.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

pub struct WorkerPool<J> {
    jobs: mpsc::Sender<J>,
}

impl<J> Clone for WorkerPool<J> {
    fn clone(&self) -> Self {
        WorkerPool {
            jobs: self.jobs.clone(),
        }
    }
}

impl<J: Send + 'static> WorkerPool<J> {
    /// Starts `threads` threads named `name-0`, `name-1`, …; each builds its
    /// state with `init` and hands every job to `work`. The threads end
    /// when every handle to the pool is gone.
    pub fn start<S>(
        name: &str,
        threads: usize,
        init: impl Fn() -> S + Send + Sync + 'static,
        work: impl Fn(&mut S, J) + Send + Sync + 'static,
    ) -> WorkerPool<J>
    where
        S: 'static,
    {
        let (jobs, queue) = mpsc::channel::<J>();
        let queue = Arc::new(Mutex::new(queue));
        let init = Arc::new(init);
        let work = Arc::new(work);
        for i in 0..threads.max(1) {
            let (queue, init, work) = (queue.clone(), init.clone(), work.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    let mut state = init();
                    loop {
                        let next = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = next else { return };
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            work(&mut state, job)
                        }));
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, pool = name, "could not start a worker thread");
            }
        }
        WorkerPool { jobs }
    }

    /// Queues a job; gives it back when no thread is left to take it.
    pub fn submit(&self, job: J) -> Result<(), J> {
        self.jobs.send(job).map_err(|e| e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_on_the_pool_and_a_panic_keeps_the_thread() {
        let pool = WorkerPool::start(
            "test",
            1,
            || 0u32,
            |seen: &mut u32, (n, reply): (u32, mpsc::Sender<u32>)| {
                *seen += 1;
                if n == 0 {
                    panic!("boom");
                }
                let _ = reply.send(*seen);
            },
        );
        let (tx, rx) = mpsc::channel();
        assert!(pool.submit((0, tx.clone())).is_ok());
        assert!(pool.submit((1, tx.clone())).is_ok());
        assert!(pool.submit((1, tx)).is_ok());
        // The one thread survived the panic and kept its state.
        assert_eq!(rx.recv().unwrap(), 2);
        assert_eq!(rx.recv().unwrap(), 3);
    }
}
