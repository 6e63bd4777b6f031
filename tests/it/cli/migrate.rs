//! `gatehouse migrate` (and `--check`), and the migrations run once when
//! several processes start at once on a new database.

use crate::harness::cli::*;
use std::process::Stdio;

#[test]
fn migrate_check_lists_pending_migrations_and_applies_nothing() {
    let w = Workdir::new();
    let sets = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    for _ in 0..2 {
        let o = w.run(&["migrate", "--check"]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        assert_eq!(
            out.lines().filter(|l| l.starts_with("pending: ")).count(),
            sets,
            "{out}"
        );
        assert_eq!(stderr(&o).trim().lines().count(), 1);
        assert!(w.files().is_empty(), "--check created {:?}", w.files());
    }
    assert!(w.run(&["migrate"]).status.success());
    let o = w.run(&["migrate", "--check"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("up to date"));
}

/// Several processes starting at once on one new database (instances of a
/// scale-out set-up, or deploy scripts) all start: the
/// migrations run once, under a lock, and no process fails on the other's
/// SQLite write lock or creates a table the other created. Before the
/// lock, most rounds had a process exit 2 ("database is locked" on SQLite,
/// a duplicate `pg_type` on PostgreSQL).
#[test]
fn processes_starting_at_once_on_a_new_database_all_start() {
    for round in 0..3 {
        let pg = crate::harness::fresh_pg_database();
        let mut databases: Vec<(&str, Option<String>)> = vec![("sqlite", None)];
        if let Some(db) = &pg {
            databases.push(("postgres", Some(db.url())));
        }
        for (backend, url) in databases {
            let w = Workdir::new();
            let started: Vec<std::process::Child> = (0..6)
                .map(|_| {
                    let mut c = w.cmd(&["migrate"]);
                    if let Some(url) = &url {
                        c.env("GATEHOUSE_DATABASE_URL", url);
                    }
                    c.stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap()
                })
                .collect();
            for child in started {
                let o = child.wait_with_output().unwrap();
                assert!(
                    o.status.success(),
                    "{backend}, round {round}: {}",
                    stderr(&o)
                );
            }
            let o = w.run_with_url(&["migrate", "--check"], url.as_deref());
            assert!(o.status.success(), "{backend}: {}", stderr(&o));
        }
    }
}
