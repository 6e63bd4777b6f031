//! A fixed set of named threads taking jobs from one queue: the one worker
//! pool behind the database threads (`store::Store::run`) and the argon2
//! threads (`hasher::Hasher`). Blocking work never runs on the async
//! workers, and the number of threads doing it is bounded. Each thread
//! keeps its own state between jobs (a database pool handle, an argon2
//! memory block); a panicking job loses only itself, never the thread.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

pub struct WorkerPool<J> {
    jobs: mpsc::Sender<J>,
    /// Jobs submitted and not yet taken by a thread, for `/metrics`: one
    /// relaxed add on submit and one subtract when a thread takes the job.
    waiting: Arc<AtomicUsize>,
}

impl<J> Clone for WorkerPool<J> {
    fn clone(&self) -> Self {
        WorkerPool {
            jobs: self.jobs.clone(),
            waiting: self.waiting.clone(),
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
        Self::start_resting(name, threads, init, work, |_: &mut S| {})
    }

    /// `start`, and each thread calls `rest` on its state when it finishes a
    /// job and no other job is waiting: the moment to give back what a
    /// burst needed (the argon2 threads free their memory block there).
    pub fn start_resting<S>(
        name: &str,
        threads: usize,
        init: impl Fn() -> S + Send + Sync + 'static,
        work: impl Fn(&mut S, J) + Send + Sync + 'static,
        rest: impl Fn(&mut S) + Send + Sync + 'static,
    ) -> WorkerPool<J>
    where
        S: 'static,
    {
        let (jobs, queue) = mpsc::channel::<J>();
        let queue = Arc::new(Mutex::new(queue));
        let init = Arc::new(init);
        let work = Arc::new(work);
        let rest = Arc::new(rest);
        let waiting = Arc::new(AtomicUsize::new(0));
        for i in 0..threads.max(1) {
            let (queue, init, work, rest) =
                (queue.clone(), init.clone(), work.clone(), rest.clone());
            let taken = waiting.clone();
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
                        taken.fetch_sub(1, Ordering::Relaxed);
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            work(&mut state, job)
                        }));
                        if taken.load(Ordering::Relaxed) == 0 {
                            rest(&mut state);
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, pool = name, "could not start a worker thread");
            }
        }
        WorkerPool { jobs, waiting }
    }

    /// Queues a job; gives it back when no thread is left to take it.
    pub fn submit(&self, job: J) -> Result<(), J> {
        // Counted before it is sent, so a thread taking it at once never
        // brings the count below zero.
        self.waiting.fetch_add(1, Ordering::Relaxed);
        self.jobs.send(job).map_err(|e| {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            e.0
        })
    }

    /// Jobs queued that no thread has taken yet.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}

/// Puts the calling thread in Linux's `SCHED_BATCH` policy: it still gets
/// its fair share of the CPU, but waking up (a socket became readable, a
/// database answer arrived) no longer preempts the thread that is running.
/// The HTTP workers and the database threads call it as they start: they
/// wake thousands of times a second for a few microseconds of work each,
/// and under load every such wake-up interrupted an RSA signature or an
/// argon2 verification mid-way, so the requests behind it waited. Measured
/// in bench/README.md ("What bounds p99"). Elsewhere, or when the kernel
/// refuses, the thread keeps the policy it has; a thread whose nice value
/// was changed is left alone, since setting the policy resets it.
pub fn batch_scheduling() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
            ThreadSchedulePolicy,
        };
        use thread_priority::{ThreadPriority, ThreadPriorityOsValue};
        if rustix::process::getpriority_process(None).ok() != Some(0) {
            return;
        }
        // Normal policies have static priority 0; the OS value here is the
        // nice value the crate sets with it, the 0 just read.
        let _ = set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Os(ThreadPriorityOsValue::default()),
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn batch_scheduling_switches_the_calling_thread_only() {
        use thread_priority::unix::{
            thread_schedule_policy, NormalThreadSchedulePolicy, ThreadSchedulePolicy,
        };
        let before = thread_schedule_policy().unwrap();
        let inside = std::thread::spawn(|| {
            batch_scheduling();
            thread_schedule_policy().unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(
            inside,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch)
        );
        assert_eq!(thread_schedule_policy().unwrap(), before);
    }

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

    #[test]
    fn a_thread_rests_only_when_no_job_is_waiting() {
        let (rested, rests) = mpsc::channel::<()>();
        let rested = Mutex::new(rested);
        let pool = WorkerPool::start_resting(
            "test",
            1,
            || (),
            |_: &mut (), (started, release): (mpsc::Sender<()>, mpsc::Receiver<()>)| {
                let _ = started.send(());
                let _ = release.recv();
            },
            move |_: &mut ()| {
                let _ = rested.lock().unwrap().send(());
            },
        );
        let (started, running) = mpsc::channel();
        let mut releases = Vec::new();
        for _ in 0..3 {
            let (tx, rx) = mpsc::channel();
            releases.push(tx);
            assert!(pool.submit((started.clone(), rx)).is_ok());
        }
        // Job 1 runs while jobs 2 and 3 wait: no rest between them.
        running.recv().unwrap();
        for release in releases {
            release.send(()).unwrap();
        }
        running.recv().unwrap();
        running.recv().unwrap();
        rests.recv().unwrap();
        assert!(rests.try_recv().is_err(), "rested more than once");
        // A lone job is followed by a rest.
        let (tx, rx) = mpsc::channel();
        assert!(pool.submit((started.clone(), rx)).is_ok());
        running.recv().unwrap();
        tx.send(()).unwrap();
        rests.recv().unwrap();
    }

    #[test]
    fn waiting_counts_the_jobs_no_thread_has_taken() {
        // The one thread blocks in its first job until `release` is sent.
        let pool = WorkerPool::start(
            "test",
            1,
            || (),
            |_: &mut (), (started, release): (mpsc::Sender<()>, mpsc::Receiver<()>)| {
                let _ = started.send(());
                let _ = release.recv();
            },
        );
        assert_eq!(pool.waiting(), 0);
        let (started, running) = mpsc::channel();
        let mut releases = Vec::new();
        for _ in 0..3 {
            let (tx, rx) = mpsc::channel();
            releases.push(tx);
            assert!(pool.submit((started.clone(), rx)).is_ok());
        }
        running.recv().unwrap();
        // One job taken (and blocked), two still queued.
        assert_eq!(pool.waiting(), 2);
        releases[0].send(()).unwrap();
        running.recv().unwrap();
        assert_eq!(pool.waiting(), 1);
        releases[1].send(()).unwrap();
        running.recv().unwrap();
        assert_eq!(pool.waiting(), 0);
        releases[2].send(()).unwrap();
    }
}
