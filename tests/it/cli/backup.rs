//! `gatehouse backup FILE`: an online copy of the SQLite database taken
//! while a server is busy writing, restored into a fresh folder with the
//! keys folder, serving the refresh tokens of the moment it was taken;
//! and what it refuses.

use crate::harness::cli::*;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The password grant's tokens for alice at the server on `port`.
async fn password_tokens(port: u16, id: &str, secret: &str) -> serde_json::Value {
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "correct horse battery"),
            ("scope", "read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn refresh(port: u16, id: &str, secret: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .unwrap()
}

async fn kids(port: u16) -> Vec<String> {
    let jwks: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{port}/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    kids.sort();
    kids
}

fn copy_dir(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir(to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// The copy is taken while refresh rotations write at full speed; the
/// restored folder (the copy as `gatehouse.db` and the keys folder) starts,
/// publishes the same keys, takes a refresh token issued before the copy
/// and knows nothing of one issued after it.
#[test]
fn backup_under_load_restores_and_serves_the_refresh_tokens_of_its_moment() {
    let w = Workdir::with_database();
    let made = w.run_with_stdin(
        &["user", "create", "--username", "alice", "--password-stdin"],
        "correct horse battery\n",
    );
    assert!(made.status.success(), "{}", stderr(&made));
    let client = stdout_json(&w.run(&[
        "client",
        "create",
        "--name",
        "Legacy app",
        "--grant-type",
        "password",
        "--grant-type",
        "refresh_token",
        "--scope",
        "read",
        "--json",
    ]));
    let id = client["client_id"].as_str().unwrap().to_string();
    let secret = client["client_secret"].as_str().unwrap().to_string();
    let (mut server, port) = start_server(&w);
    let rt = runtime();

    let before = rt.block_on(password_tokens(port, &id, &secret));
    let kept = before["refresh_token"].as_str().unwrap().to_string();

    // Load: rotations of another family, back to back, on two tasks.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for _ in 0..2 {
        let (stop, done, id, secret) = (stop.clone(), done.clone(), id.clone(), secret.clone());
        load.push(rt.spawn(async move {
            let first = password_tokens(port, &id, &secret).await;
            let mut token = first["refresh_token"].as_str().unwrap().to_string();
            while !stop.load(Ordering::Relaxed) {
                let r = refresh(port, &id, &secret, &token).await;
                assert_eq!(r.status(), 200);
                let body: serde_json::Value = r.json().await.unwrap();
                token = body["refresh_token"].as_str().unwrap().to_string();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    while done.load(Ordering::Relaxed) < 20 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let at_start = done.load(Ordering::Relaxed);
    let o = w.run(&["backup", "copy.db"]);
    let during = done.load(Ordering::Relaxed) - at_start;
    stop.store(true, Ordering::Relaxed);
    for t in load {
        rt.block_on(t).unwrap();
    }
    assert!(o.status.success(), "{}", stderr(&o));
    let said = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(said.contains("integrity checked"), "{said}");
    assert!(said.contains("keys folder"), "{said}");
    eprintln!("{during} refresh rotations were served while the copy was taken");
    let copy = w.dir.path().join("copy.db");
    assert_eq!(file_mode(&copy), 0o600, "the copy holds password hashes");

    let after = rt.block_on(password_tokens(port, &id, &secret));
    let original_kids = rt.block_on(kids(port));
    server.kill().unwrap();
    server.wait().unwrap();

    // Restore: the copy and the keys folder, in a fresh folder.
    let restored = Workdir::new();
    std::fs::copy(&copy, restored.dir.path().join("gatehouse.db")).unwrap();
    copy_dir(
        &w.dir.path().join("keys"),
        &restored.dir.path().join("keys"),
    );
    let (mut server, port) = start_server(&restored);
    rt.block_on(async {
        assert_eq!(kids(port).await, original_kids);
        let r = refresh(port, &id, &secret, &kept).await;
        assert_eq!(r.status(), 200, "a refresh token of the copy's moment");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["access_token"].as_str().is_some());
        let r = refresh(port, &id, &secret, after["refresh_token"].as_str().unwrap()).await;
        assert_eq!(r.status(), 400, "issued after the copy was taken");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant");
    });
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn backup_refuses_an_existing_file_a_missing_database_and_postgresql() {
    let w = Workdir::with_database();
    std::fs::write(w.dir.path().join("taken.db"), b"keep me").unwrap();
    let o = w.run(&["backup", "taken.db"]);
    one_line_failure(&o, 2, "never overwrites");
    assert_eq!(
        std::fs::read(w.dir.path().join("taken.db")).unwrap(),
        b"keep me"
    );

    let empty = Workdir::new();
    let o = empty.run(&["backup", "copy.db"]);
    one_line_failure(&o, 2, "no database at");
    assert!(!empty.dir.path().join("copy.db").exists());
    assert!(!empty.dir.path().join("gatehouse.db").exists());

    let o = w.run_with_url(
        &["backup", "pg.db"],
        Some("postgres://postgres@127.0.0.1:5432/test"),
    );
    one_line_failure(&o, 2, "pg_dump");
    assert!(!w.dir.path().join("pg.db").exists());
}
