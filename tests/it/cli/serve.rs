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

fn kids_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pem"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().to_string())
        .collect()
}

/// Started on an existing database with an empty keys folder,
/// serve once made a new key and server secret without a word, so every
/// token it had signed stopped validating. It refuses now, naming the
/// folder, the kids and the flag; `--new-keys` makes new ones on purpose,
/// and the next start needs no flag.
#[test]
fn serve_refuses_a_keys_folder_without_the_databases_keys_until_told_new_keys() {
    let w = Workdir::new();
    let (mut child, _) = start_server(&w);
    child.kill().unwrap();
    child.wait().unwrap();
    let keys = w.dir.path().join("keys");
    let kids = kids_in(&keys);
    assert_eq!(kids.len(), 1);
    std::fs::remove_dir_all(&keys).unwrap();

    let o = w
        .cmd(&["serve"])
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    one_line_failure(&o, 2, "GATEHOUSE_KEYS_DIR");
    let err = stderr(&o);
    assert!(err.contains(&kids[0]), "{err}");
    assert!(err.contains("./keys"), "{err}");
    assert!(err.contains("server secret"), "{err}");
    assert!(err.contains("--new-keys"), "{err}");
    assert!(!keys.exists(), "refused, yet made the folder");

    // On purpose: a new key, and the old one is forgotten.
    let (mut child, log) = serve_with(&w, &["--new-keys"], &[]);
    child.kill().unwrap();
    child.wait().unwrap();
    let new = kids_in(&keys);
    assert_eq!(new.len(), 1);
    assert_ne!(new[0], kids[0]);
    assert!(log.iter().any(|l| l.contains("--new-keys")), "{log:#?}");
    let (mut child, _) = serve_with(&w, &[], &[]);
    child.kill().unwrap();
    child.wait().unwrap();

    // The server secret alone is treated the same.
    std::fs::remove_file(keys.join("server-secret")).unwrap();
    let o = w
        .cmd(&["serve"])
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    one_line_failure(&o, 2, "lacks the server secret");
    let (mut child, _) = serve_with(&w, &[], &[("GATEHOUSE_NEW_KEYS", "true")]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(keys.join("server-secret").exists());
}

/// `keys rotate` on a folder without the keys in force would leave the
/// server's own folder without the new key: refused too.
#[test]
fn keys_rotate_refuses_a_folder_without_the_databases_keys() {
    let w = Workdir::new();
    let (mut child, _) = start_server(&w);
    child.kill().unwrap();
    child.wait().unwrap();
    let o = w
        .cmd(&["keys", "rotate"])
        .env("GATEHOUSE_KEYS_DIR", "other-keys")
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("other-keys"), "{err}");
    assert!(!w.dir.path().join("other-keys").exists(), "{err}");
}

/// A first start says what to do next (create an admin: the
/// exact command; the page to open); later starts do not. The start-up
/// line names the modes, lifetimes and database kind.
#[test]
fn the_first_start_says_how_to_create_an_admin_and_where_to_go() {
    let w = Workdir::new();
    let (mut child, log) = serve_with(&w, &[], &[("GATEHOUSE_SIGNUP", "open")]);
    child.kill().unwrap();
    child.wait().unwrap();
    let next = log
        .iter()
        .find(|l| l.contains("first start"))
        .unwrap_or_else(|| panic!("{log:#?}"));
    assert!(
        next.contains("gatehouse user create --username admin --admin --password-stdin"),
        "{next}"
    );
    let listening: serde_json::Value = serde_json::from_str(log.last().unwrap()).unwrap();
    let issuer = listening["issuer"].as_str().unwrap();
    assert!(next.contains(&format!("{issuer}/apps")), "{next}");
    assert_eq!(listening["signup"], "open");
    assert_eq!(listening["registration"], "token");
    assert_eq!(listening["access_token_ttl"], 600);
    assert_eq!(listening["refresh_max_ttl"], 7_776_000);
    assert_eq!(listening["database"], "sqlite");

    let (mut child, log) = serve_with(&w, &[], &[]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!log.iter().any(|l| l.contains("first start")), "{log:#?}");
}

/// Cookies are `Secure` only over https: a plain-http issuer on a network
/// address is warned about at start; loopback (trying it out) is not.
#[test]
fn a_plain_http_issuer_off_loopback_is_warned_about_at_start() {
    let w = Workdir::new();
    let warned = |issuer: &str| {
        let (mut child, log) = serve_with(&w, &[], &[("GATEHOUSE_ISSUER", issuer)]);
        child.kill().unwrap();
        child.wait().unwrap();
        log.iter()
            .any(|l| l.contains("plain http on a network address"))
    };
    assert!(warned("http://auth.example.com"));
    assert!(warned("http://10.0.0.5:8080"));
    assert!(!warned("http://127.0.0.1:8080"));
    assert!(!warned("http://localhost:8080"));
    assert!(!warned("https://auth.example.com"));
}

/// No colour codes in logs that are not read at a terminal
/// (docker logs, journald) or with NO_COLOR; the framework's own lines
/// are off at the default level.
#[test]
fn logs_have_no_colour_codes_when_piped_or_with_no_color() {
    let w = Workdir::new();
    let mut child = w
        .cmd(&["serve"])
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .env("GATEHOUSE_LOG_FORMAT", "text")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut piped = String::new();
    {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            piped.push_str(&line);
            piped.push('\n');
            if line.contains("gatehouse listening") {
                break;
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(piped.contains("gatehouse listening"), "{piped}");
    assert!(!piped.contains('\u{1b}'), "{piped}");
    assert!(!piped.contains("actix"), "framework lines at info: {piped}");

    // At a terminal: colour, unless NO_COLOR is set.
    let coloured = serve_on_a_terminal(&w, &[]);
    assert!(coloured.contains("\u{1b}["), "{coloured:?}");
    let plain = serve_on_a_terminal(&w, &[("NO_COLOR", "1")]);
    assert!(plain.contains("gatehouse listening"), "{plain:?}");
    assert!(!plain.contains('\u{1b}'), "{plain:?}");
}

/// Every sign-in attempt is logged at info: the outcome, the user's id
/// (for an unknown username only a keyed hash, never the name, which may
/// be a password typed in the wrong field) and the client address; never
/// the password.
#[test]
fn sign_in_attempts_are_logged_with_the_user_id_and_address_never_the_password() {
    let w = Workdir::with_database();
    let made = w.run_with_stdin(
        &[
            "user",
            "create",
            "--username",
            "alice",
            "--password-stdin",
            "--json",
        ],
        "correct horse battery\n",
    );
    let alice = stdout_json(&made)["id"].as_str().unwrap().to_string();
    let (mut child, port, log) = start_server_keeping_log(&w);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let statuses: Vec<u16> = rt.block_on(async {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let login = format!("http://127.0.0.1:{port}/login");
        let mut out = Vec::new();
        for (username, password) in [
            ("alice", "wrong password one"),
            ("nobody-by-this-name", "hunter2hunter2"),
            ("alice", "correct horse battery"),
        ] {
            let page = http.get(&login).send().await.unwrap().text().await.unwrap();
            let csrf = crate::harness::form_field(&page, "csrf_token").unwrap();
            let next = crate::harness::form_field(&page, "next").unwrap();
            let r = http
                .post(&login)
                .form(&[
                    ("csrf_token", csrf.as_str()),
                    ("next", next.as_str()),
                    ("username", username),
                    ("password", password),
                ])
                .send()
                .await
                .unwrap();
            out.push(r.status().as_u16());
        }
        out
    });
    assert_eq!(statuses, vec![401, 401, 303]);
    // The lines were written before the answers; wait for the reader.
    let lines = |message: &str| -> Vec<serde_json::Value> {
        log.lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["message"] == message)
            .collect()
    };
    let attempts = || lines("sign-in");
    for _ in 0..100 {
        if attempts().len() >= 3 && lines("audit event").len() >= 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The audit trail's events, as log lines for a log pipeline.
    let audited = lines("audit event");
    let said: Vec<(&str, &str)> = audited
        .iter()
        .map(|v| (v["type"].as_str().unwrap(), v["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        said,
        [
            ("sign_in", "failure"),
            ("sign_in", "failure"),
            ("sign_in", "success")
        ],
        "{audited:#?}"
    );
    assert_eq!(audited[0]["subject"], format!("person:{alice}"));
    assert_eq!(audited[2]["actor"], format!("person:{alice}"));
    assert!(
        audited.iter().all(|v| v["ip"] == "127.0.0.1"),
        "{audited:#?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let seen = attempts();
    let outcomes: Vec<&str> = seen
        .iter()
        .map(|v| v["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["failure", "failure", "success"], "{seen:#?}");
    assert_eq!(seen[0]["user"], alice.as_str());
    assert!(seen[1]["user"].as_str().unwrap().starts_with("unknown:"));
    assert_eq!(seen[2]["user"], alice.as_str());
    assert!(seen.iter().all(|v| v["addr"] == "127.0.0.1"), "{seen:#?}");
    let all = log.lock().unwrap().join("\n");
    for secret in [
        "wrong password one",
        "hunter2hunter2",
        "correct horse battery",
        "nobody-by-this-name",
    ] {
        assert!(!all.contains(secret), "{secret} in the log");
    }
}
