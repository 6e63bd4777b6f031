//! The files gatehouse keeps on disk, and what readiness says when the
//! SQLite file goes away under a running server.

use crate::harness::cli::file_mode;
use crate::harness::{Backend, TestApp};

/// The SQLite file the server runs on.
fn sqlite_path(app: &TestApp) -> String {
    app.state
        .config
        .database_url
        .strip_prefix("sqlite://")
        .unwrap()
        .to_string()
}

/// The SQLite database (password hashes, e-mail addresses) and its -wal and
/// -shm files are 0600; a keys folder gatehouse creates is 0700, and the
/// keys and the server secret in it 0600. Checked in-process, where no
/// umask helps: the modes are asked for explicitly.
#[actix_rt::test]
async fn database_and_keys_are_readable_by_their_owner_only() {
    let keys = tempfile::tempdir().unwrap();
    let fresh_keys = keys.path().join("fresh");
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.keys_dir = fresh_keys.clone())
        .await
        .unwrap();
    // Write something so the -wal and -shm files exist.
    let c = app.service_client();
    let r = app
        .post_form_basic("/token", &c, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status(), 200);
    let db = sqlite_path(&app);
    for suffix in ["", "-wal", "-shm"] {
        let p = std::path::PathBuf::from(format!("{db}{suffix}"));
        assert_eq!(file_mode(&p), 0o600, "{}", p.display());
    }
    assert_eq!(file_mode(&fresh_keys), 0o700);
    let mut files = 0;
    for e in std::fs::read_dir(&fresh_keys).unwrap() {
        let p = e.unwrap().path();
        assert_eq!(file_mode(&p), 0o600, "{}", p.display());
        files += 1;
    }
    assert_eq!(files, 2, "one signing key and the server secret");
}

/// Removing the SQLite file under a running server would send every write
/// to the deleted file, lost at restart: readiness must fail.
#[actix_rt::test]
async fn readiness_fails_when_the_sqlite_file_is_removed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    let db = sqlite_path(&app);
    std::fs::remove_file(&db).unwrap();
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    // A new file in its place is not the database the server has open.
    std::fs::write(&db, b"").unwrap();
    assert_eq!(app.get("/readyz").await.status(), 503);
}
