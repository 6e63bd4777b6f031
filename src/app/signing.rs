//! The signing threads: every access token and ID token is signed (RS256,
//! about a quarter of a millisecond of CPU each) on one of a fixed set of
//! threads, one per core, fed from one first-come queue.
//!
//! Signing is nearly all the CPU a token request costs. On the HTTP
//! workers, each worker signed for its own connections, so under load the
//! order requests were answered in was the order the kernel happened to
//! run eight workers in, and a few requests waited two or three times as
//! long as the median (client_credentials at 64 connections: p99 ≈ 2.2 ×
//! p50). Fed from one queue, requests are signed in the order they got
//! there, and the HTTP workers do no RSA work of their own
//! (bench/README.md has the figures).

use crate::oauth::OAuthError;
use crate::workers::WorkerPool;
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

pub struct Signing {
    pool: WorkerPool<Job>,
}

impl Signing {
    /// Starts `threads` signing threads (at least one).
    pub fn start(threads: usize) -> Signing {
        Signing {
            pool: WorkerPool::start(
                "gatehouse-sign",
                threads,
                || (),
                |_: &mut (), job: Job| job(),
            ),
        }
    }

    /// Runs `sign` on a signing thread and awaits its result.
    pub async fn run<T, F>(&self, sign: F) -> Result<T, OAuthError>
    where
        F: FnOnce() -> Result<T, OAuthError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = reply.send(sign());
        });
        if self.pool.submit(job).is_err() {
            return Err(OAuthError::Server(
                "the signing threads have stopped".into(),
            ));
        }
        // A job that panicked dropped its reply: answered as a server error.
        answer
            .await
            .unwrap_or_else(|_| Err(OAuthError::Server("signing failed".into())))
    }

    /// Signing jobs queued and not yet started, for `/metrics`.
    pub fn waiting(&self) -> usize {
        self.pool.waiting()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_a_signing_thread_and_a_panic_is_a_server_error() {
        let signing = Signing::start(1);
        let name = signing
            .run(|| Ok(std::thread::current().name().map(str::to_string)))
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("gatehouse-sign-0"));
        let failed = signing
            .run(|| -> Result<(), OAuthError> { panic!("boom") })
            .await;
        assert!(matches!(failed, Err(OAuthError::Server(_))), "{failed:?}");
        // The thread survived the panic.
        assert_eq!(signing.run(|| Ok(7)).await.unwrap(), 7);
    }
}
