//! The `gatehouse` binary as an operator uses it: settings errors, client
//! and user commands, key rotation, and `serve` with graceful shutdown.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");

pub(crate) struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    pub(crate) fn new() -> Workdir {
        Workdir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .current_dir(self.dir.path())
            .env_remove("GATEHOUSE_DATABASE_URL")
            .env_remove("GATEHOUSE_BIND")
            .env_remove("GATEHOUSE_ISSUER")
            .env_remove("GATEHOUSE_KEYS_DIR")
            .env_remove("GATEHOUSE_LOG");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).stdin(Stdio::null()).output().unwrap()
    }

    fn run_with_url(&self, args: &[&str], url: Option<&str>) -> Output {
        let mut c = self.cmd(args);
        if let Some(url) = url {
            c.env("GATEHOUSE_DATABASE_URL", url);
        }
        c.stdin(Stdio::null()).output().unwrap()
    }

    pub(crate) fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

pub(crate) fn stdout_json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "failed: {}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Runs `gatehouse ARGS` on the database at `url` (a test server's, on
/// either backend), `stdin` on its standard input.
pub(crate) fn gatehouse_on(url: &str, args: &[&str], stdin: &str) -> Output {
    let w = Workdir::new();
    let mut child = w
        .cmd(args)
        .env("GATEHOUSE_DATABASE_URL", url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A refusal: exit 1 and one line on stderr that says why.
fn assert_refused(o: &Output, why: &str, what: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{what}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{what}: {err}");
    assert!(err.contains(why), "{what}: {err}");
}

backend_tests!(
    rfc8265_user_create_and_update_refuse_look_alike_usernames,
    user_and_client_commands_refuse_names_with_bidi_controls_or_invisible_characters,
);

async fn rfc8265_user_create_and_update_refuse_look_alike_usernames(app: crate::harness::TestApp) {
    let url = app.state.config.database_url.clone();
    app.alice();
    let bob = app.user("bob", "correct horse");
    for name in crate::people::ALICE_LOOK_ALIKES {
        let o = gatehouse_on(
            &url,
            &["user", "create", "--username", name, "--password-stdin"],
            "correct horse battery\n",
        );
        assert_refused(&o, "username", name);
        let o = gatehouse_on(&url, &["user", "update", "bob", "--username", name], "");
        assert_refused(&o, "username", name);
    }
    let mut c = app.state.store.conn().unwrap();
    assert_eq!(c.list_users().unwrap().len(), 2, "nobody new");
    assert_eq!(c.find_user(&bob.id).unwrap().unwrap().username, "bob");
    drop(c);
    // Other names are accepted, by both commands.
    let made = stdout_json(&gatehouse_on(
        &url,
        &[
            "user",
            "create",
            "--username",
            "Alicia",
            "--password-stdin",
            "--json",
        ],
        "correct horse battery\n",
    ));
    assert_eq!(made["username"], "Alicia");
    let renamed = stdout_json(&gatehouse_on(
        &url,
        &["user", "update", "bob", "--username", "Robert", "--json"],
        "",
    ));
    assert_eq!(renamed["username"], "Robert");
    assert_eq!(renamed["id"], bob.id.as_str());
    // Bob signs in by his new name (any case); his old one is free again.
    assert_eq!(
        app.sign_in("robert", "correct horse", "/account")
            .await
            .status(),
        303
    );
    let o = gatehouse_on(
        &url,
        &["user", "create", "--username", "bob", "--password-stdin"],
        "correct horse battery\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

async fn user_and_client_commands_refuse_names_with_bidi_controls_or_invisible_characters(
    app: crate::harness::TestApp,
) {
    let url = app.state.config.database_url.clone();
    app.alice();
    for name in [
        "\u{202E}gnp.exe Bank",
        "Bank\u{2066}",
        "Ali\u{200F}ce",
        "Al\u{200B}ice",
        "\u{FEFF}Alice",
    ] {
        let o = gatehouse_on(
            &url,
            &[
                "user",
                "create",
                "--username",
                "carol",
                "--name",
                name,
                "--password-stdin",
            ],
            "correct horse battery\n",
        );
        assert_refused(&o, "U+", name);
        let o = gatehouse_on(&url, &["user", "update", "alice", "--name", name], "");
        assert_refused(&o, "U+", name);
        let o = gatehouse_on(
            &url,
            &[
                "client",
                "create",
                "--name",
                name,
                "--grant-type",
                "client_credentials",
                "--scope",
                "read",
            ],
            "",
        );
        assert_refused(&o, "U+", name);
    }
    let mut c = app.state.store.conn().unwrap();
    assert_eq!(c.list_users().unwrap().len(), 1, "no carol");
    assert_eq!(
        c.find_user_by_username("alice").unwrap().unwrap().name,
        None
    );
    assert!(c.list_clients().unwrap().is_empty(), "no client");
    drop(c);
    // Right-to-left text itself is welcome.
    let o = gatehouse_on(&url, &["user", "update", "alice", "--name", "אליס"], "");
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn bad_bind_address_stops_start_up_with_one_line_and_exit_2() {
    let w = Workdir::new();
    let o = w
        .cmd(&["serve"])
        .env("GATEHOUSE_BIND", "nonsense")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("GATEHOUSE_BIND"), "{err}");
}

#[test]
fn bad_lifetime_names_the_setting() {
    let w = Workdir::new();
    let o = w
        .cmd(&["serve"])
        .env("GATEHOUSE_ACCESS_TOKEN_TTL", "soon")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("GATEHOUSE_ACCESS_TOKEN_TTL"));
}

#[test]
fn unreachable_database_stops_start_up_with_one_line_and_exit_2() {
    let w = Workdir::new();
    let o = w
        .cmd(&["serve"])
        .env(
            "GATEHOUSE_DATABASE_URL",
            "postgres://postgres@127.0.0.1:1/nowhere",
        )
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("GATEHOUSE_DATABASE_URL"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn flag_overrides_environment_and_config_file() {
    let w = Workdir::new();
    std::fs::write(
        w.dir.path().join("gatehouse.toml"),
        "bind = \"also nonsense\"\n",
    )
    .unwrap();
    // The file's bad value is used when nothing overrides it...
    let o = w.run(&["migrate"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("GATEHOUSE_BIND"));
    // ...the environment beats the file, and a flag beats both.
    let o = w
        .cmd(&["migrate"])
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = w
        .cmd(&["--bind", "127.0.0.1:0", "migrate"])
        .env("GATEHOUSE_BIND", "bad")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // Unknown keys in the file are an error, not silently ignored.
    std::fs::write(w.dir.path().join("gatehouse.toml"), "bindd = \"x\"\n").unwrap();
    let o = w.run(&["migrate"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bindd"));
}

#[test]
fn client_commands_create_show_list_rotate_delete() {
    let w = Workdir::new();
    let created = stdout_json(&w.run(&[
        "client",
        "create",
        "--name",
        "svc",
        "--grant-type",
        "client_credentials",
        "--scope",
        "read write",
        "--json",
    ]));
    let id = created["client_id"].as_str().unwrap().to_string();
    let secret = created["client_secret"].as_str().unwrap();
    assert!(secret.len() >= 43, "256 bits of randomness");
    assert_eq!(
        created["grant_types"],
        serde_json::json!(["client_credentials"])
    );
    assert_eq!(created["scope"], "read write");
    assert_eq!(created["redirect_uris"], serde_json::json!([]));

    let shown = stdout_json(&w.run(&["client", "show", &id, "--json"]));
    assert_eq!(shown["client_id"], id.as_str());
    assert!(
        shown.get("client_secret").is_none(),
        "secret is shown only once"
    );

    let listed = stdout_json(&w.run(&["client", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let rotated = stdout_json(&w.run(&["client", "rotate-secret", &id, "--json"]));
    assert_ne!(rotated["client_secret"].as_str().unwrap(), secret);

    assert!(w.run(&["client", "delete", &id]).status.success());
    let o = w.run(&["client", "show", &id]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).trim().lines().count(), 1);
}

#[test]
fn public_client_has_no_secret() {
    let w = Workdir::new();
    let created = stdout_json(&w.run(&[
        "client",
        "create",
        "--name",
        "spa",
        "--public",
        "--redirect-uri",
        "http://localhost:3000/cb",
        "--grant-type",
        "authorization_code",
        "--scope",
        "read",
        "--json",
    ]));
    assert!(created.get("client_secret").is_none());
    assert_eq!(created["token_endpoint_auth_method"], "none");
}

#[test]
fn invalid_client_registration_is_refused_with_one_line() {
    let w = Workdir::new();
    for args in [
        vec!["client", "create", "--name", "x", "--grant-type", "magic"],
        vec![
            "client",
            "create",
            "--name",
            "x",
            "--grant-type",
            "authorization_code",
        ],
        vec![
            "client",
            "create",
            "--name",
            "x",
            "--grant-type",
            "authorization_code",
            "--redirect-uri",
            "/relative",
        ],
        vec![
            "client",
            "create",
            "--name",
            "x",
            "--grant-type",
            "authorization_code",
            "--redirect-uri",
            "https://a/cb#frag",
        ],
    ] {
        let o = w.run(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert_eq!(
            stderr(&o).trim().lines().count(),
            1,
            "{args:?}: {}",
            stderr(&o)
        );
    }
    let listed = stdout_json(&w.run(&["client", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 0, "nothing was written");
}

#[test]
fn user_create_reads_stdin_and_refuses_short_and_duplicate() {
    let w = Workdir::new();
    let o = w.run_with_stdin(
        &["user", "create", "--username", "alice", "--password-stdin"],
        "short\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("too short"), "{}", stderr(&o));
    let o = w.run_with_stdin(
        &[
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "a@example.com",
            "--password-stdin",
            "--json",
        ],
        "correct horse battery\n",
    );
    let user = stdout_json(&o);
    assert_eq!(user["username"], "alice");
    let o = w.run_with_stdin(
        &["user", "create", "--username", "alice", "--password-stdin"],
        "another long one\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is taken"), "{}", stderr(&o));
}

/// Starts `gatehouse serve` on a random port and returns the child and port.
fn start_server(w: &Workdir) -> (std::process::Child, u16) {
    let (child, port, _) = start_server_logging(w);
    (child, port)
}

/// Starts `serve`; also returns the log lines printed before it listened.
fn start_server_logging(w: &Workdir) -> (std::process::Child, u16, Vec<String>) {
    let mut child = w
        .cmd(&["serve"])
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .env("GATEHOUSE_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut early = Vec::new();
    let port = loop {
        let line = lines.next().expect("server printed its address").unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if v["message"] == "gatehouse listening" {
            assert_eq!(v["database"], "sqlite");
            assert!(v["kid"].as_str().is_some());
            let listen = v["listen"].as_str().unwrap();
            break listen.rsplit(':').next().unwrap().parse::<u16>().unwrap();
        }
        early.push(line);
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, port, early)
}

fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

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
    assert_eq!(mode(&db), 0o600);
    let keys_dir = w.dir.path().join("keys");
    assert_eq!(mode(&keys_dir), 0o700);
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
        assert_eq!(mode(k), 0o600, "{}", k.display());
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

#[test]
fn keys_rotate_publishes_both_keys_after_restart() {
    let w = Workdir::new();
    assert!(w.run(&["migrate"]).status.success());
    let (mut child, _) = start_server(&w);
    child.kill().unwrap();
    child.wait().unwrap();
    let o = w.run(&["keys", "rotate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (mut child, port) = start_server(&w);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let jwks: serde_json::Value = rt.block_on(async {
        reqwest::get(format!("http://127.0.0.1:{port}/jwks.json"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
}

#[test]
fn client_create_refuses_dangerous_redirect_uris_and_websites() {
    let w = Workdir::new();
    let create = |redirect: &str, website: Option<&str>| {
        let mut args = vec![
            "client",
            "create",
            "--name",
            "x",
            "--grant-type",
            "authorization_code",
            "--redirect-uri",
            redirect,
            "--json",
        ];
        if let Some(site) = website {
            args.extend(["--website", site]);
        }
        w.run(&args)
    };
    for bad in [
        "javascript:alert(1)//",
        "data:text/html,hi",
        "http://localhost.evil.com/cb",
        "http://app.example/cb",
        "https://user@app.example/cb",
    ] {
        let o = create(bad, None);
        assert_eq!(o.status.code(), Some(1), "{bad} was accepted");
        assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    }
    for site in ["javascript:alert(1)//", "http://app.example"] {
        let o = create("https://app.example/cb", Some(site));
        assert_eq!(o.status.code(), Some(1), "website {site} was accepted");
    }
    // RFC 8252 §7.3 / §7.1: loopback http and a native app's scheme.
    for ok in ["http://127.0.0.1:8765/cb", "com.example.app:/cb"] {
        let o = create(ok, Some("https://app.example"));
        assert_eq!(stdout_json(&o)["redirect_uris"][0], ok);
    }
    let listed = stdout_json(&w.run(&["client", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 2, "only the good ones");
}

#[test]
fn user_commands_list_show_disable_enable_set_password_and_delete() {
    let w = Workdir::new();
    let made = stdout_json(&w.run_with_stdin(
        &[
            "user",
            "create",
            "--username",
            "carol",
            "--admin",
            "--password-stdin",
            "--json",
        ],
        "correct horse battery\n",
    ));
    assert_eq!(made["admin"], true);
    let id = made["id"].as_str().unwrap().to_string();
    let list = stdout_json(&w.run(&["user", "list", "--json"]));
    assert_eq!(list[0]["username"], "carol");
    assert_eq!(
        stdout_json(&w.run(&["user", "show", &id, "--json"]))["username"],
        "carol"
    );
    let off = stdout_json(&w.run(&["user", "disable", "carol", "--json"]));
    assert_eq!(off["disabled"], true);
    let on = stdout_json(&w.run(&["user", "enable", "carol", "--json"]));
    assert_eq!(on["disabled"], false);
    let o = w.run_with_stdin(
        &["user", "set-password", "carol", "--password-stdin"],
        "short\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("too short"), "{}", stderr(&o));
    let o = w.run_with_stdin(
        &["user", "set-password", "carol", "--password-stdin"],
        "another long one\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(w.run(&["user", "delete", &id]).status.success());
    let o = w.run(&["user", "show", "carol"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).trim().lines().count(), 1);
    assert_eq!(
        stdout_json(&w.run(&["user", "list", "--json"])),
        serde_json::json!([])
    );
}

/// RFC 7591 §3: the operator's initial access token, made by the CLI,
/// registers exactly as many clients as it has uses at a served gatehouse.
#[test]
fn registration_token_create_registers_one_client_through_a_served_gatehouse() {
    let w = Workdir::new();
    for bad in [["--uses", "0"], ["--ttl", "0"]] {
        let o = w.run(&["registration-token", "create", bad[0], bad[1]]);
        assert_eq!(o.status.code(), Some(1), "{bad:?}");
    }
    let made = stdout_json(&w.run(&["registration-token", "create", "--uses", "1", "--json"]));
    let token = made["token"].as_str().unwrap().to_string();
    let (mut child, port) = start_server(&w);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let statuses: Vec<u16> = rt.block_on(async {
        let http = reqwest::Client::new();
        let mut out = Vec::new();
        for _ in 0..2 {
            let r = http
                .post(format!("http://127.0.0.1:{port}/register"))
                .bearer_auth(&token)
                .json(&serde_json::json!({
                    "client_name": "Printer",
                    "grant_types": ["client_credentials"],
                    "scope": "read",
                }))
                .send()
                .await
                .unwrap();
            out.push(r.status().as_u16());
        }
        out
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(statuses, vec![201, 401]);
    let listed = stdout_json(&w.run(&["client", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["client_name"], "Printer");
}

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
    }
    assert!(w.run(&["migrate"]).status.success());
    let o = w.run(&["migrate", "--check"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("up to date"));
}

/// Several processes starting at once on one new database (instances of a
/// scale-out set-up, or the CLI beside a starting server) all start: the
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
                    let mut c = w.cmd(&["client", "list"]);
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

#[test]
fn healthcheck_exits_0_while_the_server_answers_and_1_after() {
    let w = Workdir::new();
    let (mut child, port) = start_server(&w);
    let bind = format!("127.0.0.1:{port}");
    let check = |path: &str| {
        w.cmd(&["healthcheck", "--path", path])
            .env("GATEHOUSE_BIND", &bind)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    assert!(check("/healthz").status.success());
    assert!(check("/readyz").status.success());
    assert_eq!(check("/no-such-page").status.code(), Some(1));
    child.kill().unwrap();
    child.wait().unwrap();
    let o = check("/healthz");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
}
