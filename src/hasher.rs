//! Argon2id hashing and verification on a small fixed pool of threads.
//!
//! Every argon2 call in gatehouse goes through here, never on an actix
//! worker. The pool has as many threads as cores, each with one memory
//! buffer reused while jobs queue up (and freed when none waits), so a flood
//! of wrong passwords or secrets waits its turn in a queue instead of
//! growing memory or starving other requests.
//! `verify_client_secret` adds a bounded cache of verified secrets, keyed by
//! client id, the stored hash and the presented secret together, so a
//! rotated secret (or any change of the stored hash) can never match an old
//! entry. Requests presenting the same triple while it is being verified
//! wait for that one verification instead of each running their own, so a
//! busy client's first burst after a start costs one argon2 run, not one
//! per connection (measured: 16 at once held the code exchange's p99 near
//! 100 ms for the whole 10 s run).

use crate::crypto::{constant_time_eq, sha256};
use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use rand::RngCore;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::oneshot;

/// Stored hashes asking for more memory than this (in KiB) are refused
/// rather than allowed to exhaust the machine.
const MAX_MEMORY_KIB: u32 = 256 * 1024;
const CACHE_CAPACITY: usize = 10_000;

enum Job {
    Verify {
        password: String,
        phc: String,
        reply: oneshot::Sender<bool>,
    },
    Hash {
        password: String,
        reply: oneshot::Sender<Result<String, String>>,
    },
}

#[derive(Clone)]
pub struct Hasher {
    tx: crate::workers::WorkerPool<Job>,
    cache: Arc<Mutex<HashSet<[u8; 32]>>>,
    /// Verifications of a cache key under way; later callers with the
    /// same key wait for the first one's answer.
    in_flight: Arc<Mutex<InFlightMap>>,
    dummy: Arc<OnceLock<String>>,
    /// argon2 verifications run so far (real and dummy), for `/metrics`.
    verifications: Arc<std::sync::atomic::AtomicU64>,
}

impl Hasher {
    /// Starts `threads` hashing threads (at least one).
    pub fn start(threads: usize) -> Hasher {
        let tx = crate::workers::WorkerPool::start_resting(
            "argon2",
            threads,
            Vec::<Block>::new,
            |memory: &mut Vec<Block>, job: Job| match job {
                Job::Verify {
                    password,
                    phc,
                    reply,
                } => {
                    let _ = reply.send(verify_with(&password, &phc, memory));
                }
                Job::Hash { password, reply } => {
                    let _ = reply.send(hash_with(&password, memory));
                }
            },
            // The block (19 MiB with the default parameters) is kept only
            // while verifications queue up; once none waits it is freed,
            // so an idle server does not hold one per thread.
            |memory: &mut Vec<Block>| *memory = Vec::new(),
        );
        Hasher {
            tx,
            cache: Arc::new(Mutex::new(HashSet::new())),
            in_flight: Arc::default(),
            dummy: Arc::new(OnceLock::new()),
            verifications: Arc::default(),
        }
    }

    /// How many argon2 verifications ran (real and dummy) since start.
    pub fn verifications(&self) -> u64 {
        self.verifications
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Hashing and verification jobs queued for an argon2 thread, not yet
    /// started, for `/metrics`.
    pub fn waiting(&self) -> usize {
        self.tx.waiting()
    }

    /// Verifies `password` against a PHC string on the pool.
    pub async fn verify(&self, password: String, phc: String) -> bool {
        self.verifications
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (reply, rx) = oneshot::channel();
        if self
            .tx
            .submit(Job::Verify {
                password,
                phc,
                reply,
            })
            .is_err()
        {
            return false;
        }
        rx.await.unwrap_or(false)
    }

    /// Hashes `password` as an argon2id PHC string on the pool.
    pub async fn hash(&self, password: String) -> Result<String, String> {
        let (reply, rx) = oneshot::channel();
        if self
            .tx
            .submit(Job::Hash {
                password: password.clone(),
                reply,
            })
            .is_err()
        {
            return hash_password_blocking(&password);
        }
        match rx.await {
            Ok(h) => h,
            Err(_) => hash_password_blocking(&password),
        }
    }

    /// Spends the same work as a real verification and always fails: used
    /// for unknown users and clients so their absence can't be timed.
    pub async fn verify_dummy(&self, password: String) -> bool {
        let phc = self
            .dummy
            // Hashing with fixed, valid parameters does not fail; if it
            // ever did, an empty hash still answers "no".
            .get_or_init(|| {
                hash_password_blocking(&crate::crypto::random_token(16)).unwrap_or_default()
            })
            .clone();
        let _ = self.verify(password, phc).await;
        false
    }

    /// Checks a client secret, skipping argon2 when this exact (client,
    /// stored hash, secret) triple was verified before.
    pub async fn verify_client_secret(&self, client_id: &str, phc: &str, secret: &str) -> bool {
        let key = cache_key(client_id, phc, secret);
        if self.cache.lock().map(|c| c.contains(&key)).unwrap_or(false) {
            return true;
        }
        // One verification per key at a time: the first caller runs it,
        // the others await its answer. If the first is cancelled (its
        // client went away), the next waiter runs it instead.
        let cell = (self.in_flight.lock().ok()).map(|mut m| m.entry(key).or_default().clone());
        let Some(cell) = cell else {
            return self.verify(secret.to_string(), phc.to_string()).await;
        };
        let waiting = InFlight {
            map: &self.in_flight,
            key,
            cell,
        };
        let ok = *waiting
            .cell
            .get_or_init(|| self.verify(secret.to_string(), phc.to_string()))
            .await;
        if ok {
            if let Ok(mut c) = self.cache.lock() {
                if c.len() >= CACHE_CAPACITY {
                    c.clear();
                }
                c.insert(key);
            }
        }
        // Cached before the entry leaves `in_flight`: a caller arriving
        // in between finds one or the other.
        drop(waiting);
        ok
    }
}

/// Cache key to the answer of its verification under way.
type InFlightMap = HashMap<[u8; 32], Arc<tokio::sync::OnceCell<bool>>>;

/// One caller's share of a verification under way. When the last caller
/// holding it is done, or gives up (its request was cancelled), the entry
/// leaves the map, so wrong secrets from clients that disconnect early
/// leave nothing behind.
struct InFlight<'a> {
    map: &'a Mutex<InFlightMap>,
    key: [u8; 32],
    cell: Arc<tokio::sync::OnceCell<bool>>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let Ok(mut map) = self.map.lock() else {
            return;
        };
        // Held by the map and by this caller only, or answered: nobody
        // else needs it.
        let done = self.cell.initialized() || Arc::strong_count(&self.cell) == 2;
        if done
            && map
                .get(&self.key)
                .is_some_and(|c| Arc::ptr_eq(c, &self.cell))
        {
            map.remove(&self.key);
        }
    }
}

fn cache_key(client_id: &str, phc: &str, secret: &str) -> [u8; 32] {
    let mut buf = Vec::with_capacity(client_id.len() + phc.len() + secret.len() + 2);
    buf.extend_from_slice(client_id.as_bytes());
    buf.push(0);
    buf.extend_from_slice(phc.as_bytes());
    buf.push(0);
    buf.extend_from_slice(secret.as_bytes());
    sha256(&buf)
}

/// Hashes on the calling thread: for the CLI, which has no pool to share.
pub fn hash_password_blocking(password: &str) -> Result<String, String> {
    hash_with(password, &mut Vec::new())
}

/// Verifies on the calling thread: for the CLI and unit tests.
pub fn verify_password_blocking(password: &str, phc: &str) -> bool {
    verify_with(password, phc, &mut Vec::new())
}

/// The least a block buffer reserves: more than glibc's largest mmap
/// threshold (32 MiB), so the buffer is always its own mapping and freeing it
/// (`Hasher`'s rest) gives the memory back to the system. A smaller one can
/// come from a malloc arena that keeps it resident after it is freed
/// (measured: 51 MB after two verifications instead of 15 MB). Only the
/// blocks argon2 uses are touched, so the rest of the reservation costs
/// address space, not memory.
const RESERVE_BLOCKS: usize = 33 * 1024;

fn ensure_blocks(memory: &mut Vec<Block>, n: usize) -> &mut [Block] {
    if memory.len() < n {
        if memory.capacity() < n {
            memory.reserve_exact(n.max(RESERVE_BLOCKS) - memory.len());
        }
        memory.resize(n, Block::default());
    }
    &mut memory[..n]
}

fn hash_with(password: &str, memory: &mut Vec<Block>) -> Result<String, String> {
    let params = Params::default();
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let mut out = [0u8; 32];
    let blocks = params.block_count();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    argon
        .hash_password_into_with_memory(
            password.as_bytes(),
            &salt,
            &mut out,
            ensure_blocks(memory, blocks),
        )
        .map_err(|e| format!("argon2: {e}"))?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out)
    ))
}

fn verify_with(password: &str, phc: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    if params.m_cost() > MAX_MEMORY_KIB {
        return false;
    }
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    if argon
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut out,
            ensure_blocks(memory, blocks),
        )
        .is_err()
    {
        return false;
    }
    constant_time_eq(&out, expected.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify_round_trips_and_uses_argon2id() {
        let phc = hash_password_blocking("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password_blocking("correct horse", &phc));
        assert!(!verify_password_blocking("wrong horse", &phc));
        assert!(!verify_password_blocking("correct horse", "not a hash"));
    }

    #[test]
    fn hashes_are_readable_by_the_argon2_crate() {
        use argon2::PasswordVerifier;
        let phc = hash_password_blocking("pw").unwrap();
        let parsed = PasswordHash::new(&phc).unwrap();
        assert!(Argon2::default().verify_password(b"pw", &parsed).is_ok());
    }

    #[tokio::test]
    async fn pool_verifies_and_cache_is_keyed_by_the_stored_hash() {
        let h = Hasher::start(1);
        let phc = h.hash("s3cret".into()).await.unwrap();
        assert!(h.verify_client_secret("c1", &phc, "s3cret").await);
        assert!(h.verify_client_secret("c1", &phc, "s3cret").await);
        assert!(!h.verify_client_secret("c1", &phc, "other").await);
        let rotated = h.hash("new".into()).await.unwrap();
        assert!(!h.verify_client_secret("c1", &rotated, "s3cret").await);
        assert!(!h.verify_dummy("s3cret".into()).await);
    }

    /// Eight requests of client c1 presenting `secret` at once.
    async fn burst(h: &Hasher, phc: &str, secret: &str) -> Vec<bool> {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (h, phc, secret) = (h.clone(), phc.to_string(), secret.to_string());
                tokio::spawn(async move { h.verify_client_secret("c1", &phc, &secret).await })
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        answers
    }

    #[tokio::test]
    async fn a_burst_presenting_one_secret_costs_one_verification() {
        let h = Hasher::start(2);
        let phc = h.hash("s3cret".into()).await.unwrap();
        assert_eq!(burst(&h, &phc, "s3cret").await, vec![true; 8]);
        assert_eq!(h.verifications(), 1);
        // A wrong secret is not cached, but a burst of the same one is
        // still verified once; a different secret is verified on its own.
        assert_eq!(burst(&h, &phc, "guess").await, vec![false; 8]);
        assert_eq!(h.verifications(), 2);
        assert!(!h.verify_client_secret("c1", &phc, "guess2").await);
        assert_eq!(h.verifications(), 3);
        assert!(h.in_flight.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_caller_that_gives_up_leaves_nothing_behind() {
        let h = Hasher::start(1);
        let phc = h.hash("s3cret".into()).await.unwrap();
        // Cancelled while its verification runs (argon2 takes far longer
        // than a millisecond), as when a client disconnects.
        let gave_up = tokio::time::timeout(
            std::time::Duration::from_millis(1),
            h.verify_client_secret("c1", &phc, "wrong"),
        )
        .await;
        assert!(gave_up.is_err());
        assert!(h.in_flight.lock().unwrap().is_empty());
        assert!(h.verify_client_secret("c1", &phc, "s3cret").await);
        assert!(!h.verify_client_secret("c1", &phc, "wrong").await);
    }
}
