//! `gatehouse serve`: the first start on a fresh folder (database, keys,
//! their modes), graceful shutdown on SIGTERM, and what start-up says
//! about files others may read and a database that takes no writes.

use crate::harness::cli::*;
use std::process::Command;

#[test]
fn serve_starts_on_a_fresh_folder_and_stops_gracefully_on_sigterm() {
    let w = Workdir::new();
    let (mut child, port) = start_server(&w);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
    // First start created the SQLite database (0600), a keys folder (0700)
    // with one private key and the server secret (0600 each).
    let db = w.dir.path().join("gatehouse.db");
    assert_eq!(file_mode(&db), 0o600);
    let keys_dir = w.dir.path().join("keys");
    assert_eq!(file_mode(&keys_dir), 0o700);
    let keys: Vec<_> = std::fs::read_dir(&keys_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let pems = keys
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pem"))
        .count();
    assert_eq!(pems, 1);
    assert!(keys_dir.join("server-secret").exists());
    for k in &keys {
        assert_eq!(file_mode(k), 0o600, "{}", k.display());
    }
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "graceful shutdown exits 0, got {status:?}"
    );
}

/// Files made by someone else with wider modes are left alone, but start-up
/// warns about each.
#[test]
fn serve_warns_when_the_database_or_keys_folder_is_readable_by_others() {
    use std::os::unix::fs::PermissionsExt;
    let w = Workdir::new();
    assert!(w.run(&["migrate"]).status.success());
    let db = w.dir.path().join("gatehouse.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let keys = w.dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (mut child, _, early) = start_server_logging(&w);
    child.kill().unwrap();
    child.wait().unwrap();
    let warned = |what: &str| {
        early.iter().any(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
            v["level"] == "WARN" && v["message"].as_str().unwrap_or("").contains(what)
        })
    };
    assert!(warned("database file"), "{early:#?}");
    assert!(warned("signing keys folder"), "{early:#?}");
}

/// A database that takes no writes is named as the problem, not the keys
/// folder (which is fine). SQLite's read-only mode stands in for a
/// read-only file, since the tests may run as root.
#[test]
fn a_read_only_database_is_reported_as_the_database() {
    let w = Workdir::new();
    assert!(w.run(&["migrate"]).status.success());
    let o = w
        .cmd(&["serve"])
        .env(
            "GATEHOUSE_DATABASE_URL",
            "sqlite://file:gatehouse.db?mode=ro",
        )
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("GATEHOUSE_DATABASE_URL"), "{err}");
    assert!(err.contains("read-only"), "{err}");
    assert!(!err.contains("GATEHOUSE_KEYS_DIR"), "{err}");
}
