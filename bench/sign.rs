//! Raw RS256 signing rate: how many RFC 9068 access tokens the machine can
//! sign per second with one key parsed once, on 1 thread and on all cores,
//! next to `jsonwebtoken::encode` (which re-parses the PEM key per call).
//! Run through `bench/run.sh`.

// A benchmark: failing loudly is right, and it measures by sleeping.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use gatehouse::tokens::AccessTokenClaims;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn claims(i: u64) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: "http://127.0.0.1:8080".into(),
        sub: "3f2a8c1e-1c7e-4a70-9a8e-0d3c2b7d1e55".into(),
        aud: "http://127.0.0.1:8080".into(),
        exp: 1_800_000_000 + i as i64,
        iat: 1_700_000_000,
        jti: format!("{i:032}"),
        client_id: "3f2a8c1e-1c7e-4a70-9a8e-0d3c2b7d1e55".into(),
        scope: "read write".into(),
        auth_time: None,
        acr: None,
        amr: None,
    }
}

fn rate(threads: usize, secs: f64, work: impl Fn(u64) + Send + Sync + 'static) -> f64 {
    let work = Arc::new(work);
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (work, stop, count) = (work.clone(), stop.clone(), count.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    work(i);
                    i += 1;
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = Arc::new(gatehouse::tokens::keystore::generate_key(dir.path()).expect("key"));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let secs = 3.0;

    let k = key.clone();
    let one = rate(1, secs, move |i| {
        k.sign(&claims(i)).expect("sign");
    });
    let k = key.clone();
    let all = rate(cores, secs, move |i| {
        k.sign(&claims(i)).expect("sign");
    });

    let pem_path = std::fs::read_dir(dir.path())
        .expect("dir")
        .next()
        .expect("pem")
        .expect("entry")
        .path();
    let pem = std::fs::read(pem_path).expect("read pem");
    let enc = Arc::new(jsonwebtoken::EncodingKey::from_rsa_pem(&pem).expect("pem"));
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    let jwt_one = rate(1, secs, move |i| {
        jsonwebtoken::encode(&header, &claims(i), &enc).expect("encode");
    });

    println!("sign_1_thread_per_s {one:.0}");
    println!("sign_{cores}_threads_per_s {all:.0}");
    println!("sign_us_per_token {:.0}", 1e6 / one);
    println!("jsonwebtoken_encode_1_thread_per_s {jwt_one:.0}");
    println!(
        "cached_key_speedup_vs_jsonwebtoken_encode {:.2}",
        one / jwt_one
    );
}
