//! Crash safety (issue 14 item 4): the real binary is killed with SIGKILL in
//! the middle of a load of client registrations (RFC 7591), authorization
//! code exchanges (RFC 6749 §4.1.3) and refresh rotations (RFC 6749 §6),
//! restarted on the same database, and everything it acknowledged must
//! still be there and work, with nothing half-written.
//!
//! "Acknowledged" means a 2xx response whose body was read in full. A
//! refresh whose response had not arrived at the kill may or may not have
//! committed, so for that chain both outcomes are legitimate: the last
//! acknowledged token then either refreshes or is refused as spent
//! (`invalid_grant`), never a server error. Every other chain's newest
//! token must refresh.

use crate::harness::cli::BIN;
use crate::harness::{form_field, pkce_pair, url_params, REDIRECT};
use diesel::RunQueryDsl;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// The kill comes once this many of each kind of write were acknowledged,
/// while the other tasks' requests are in flight.
const KILL_AFTER: [usize; 3] = [5, 10, 40];
const REGISTRATION_TASKS: usize = 3;
const EXCHANGE_TASKS: usize = 3;
/// Each refresh task rotates its chains in turn, one refresh each, so at
/// the kill at most one chain per task has a refresh in flight.
const REFRESH_TASKS: usize = 4;
const CHAINS: usize = 24;

fn gatehouse(dir: &Path, db_url: &str, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(dir)
        .env("GATEHOUSE_DATABASE_URL", db_url)
        .env("GATEHOUSE_KEYS_DIR", dir.join("keys"))
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .env("GATEHOUSE_REGISTRATION", "open")
        .env("GATEHOUSE_LOG_FORMAT", "json")
        .env_remove("GATEHOUSE_ISSUER")
        .env_remove("GATEHOUSE_LOG");
    c
}

/// Starts `gatehouse serve` and waits for its "listening" line.
fn serve(dir: &Path, db_url: &str) -> (Child, String) {
    let mut child = gatehouse(dir, db_url, &["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port = loop {
        let line = lines.next().expect("server printed its address").unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_default();
        if v["message"] == "gatehouse listening" {
            let listen = v["listen"].as_str().unwrap();
            break listen.rsplit(':').next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, format!("http://127.0.0.1:{port}"))
}

fn create_alice(dir: &Path, db_url: &str) {
    let mut child = gatehouse(
        dir,
        db_url,
        &["user", "create", "--username", "alice", "--password-stdin"],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

#[derive(Clone)]
struct Registered {
    id: String,
    secret: String,
    access_token: String,
}

#[derive(Clone)]
struct Chain {
    /// The newest refresh token whose response was received in full.
    token: String,
    /// A refresh of `token` was sent and its answer never fully arrived.
    in_flight: bool,
}

#[derive(Default)]
struct Acked {
    registrations: Vec<Registered>,
    /// Refresh tokens from acknowledged code exchanges, never refreshed.
    exchanged: Vec<String>,
    chains: Vec<Chain>,
    refreshes: usize,
    /// Complete answers that were not 2xx: a bug, not a crash effect.
    unexpected: Vec<String>,
}

struct Load {
    base: String,
    client_id: String,
    client_secret: String,
    acked: Mutex<Acked>,
    /// Told once every kind of write reached its KILL_AFTER.
    reached: tokio::sync::Notify,
}

impl Load {
    fn acknowledged(&self, a: &Acked) {
        let done = [a.registrations.len(), a.exchanged.len(), a.refreshes];
        if done.iter().zip(KILL_AFTER).all(|(d, k)| *d >= k) {
            self.reached.notify_one();
        }
    }
}

async fn register_one(http: &reqwest::Client, base: &str, body: &Value) -> Result<Value, String> {
    let r = http
        .post(format!("{base}/register"))
        .json(body)
        .send()
        .await
        .map_err(|_| String::new())?;
    let status = r.status().as_u16();
    let text = r.text().await.map_err(|_| String::new())?;
    if status != 201 {
        return Err(format!("register answered {status}: {text}"));
    }
    Ok(serde_json::from_str(&text).unwrap())
}

/// GET /authorize as the signed-in browser with a remembered consent:
/// the code comes straight back (OIDC-style prompt-less redirect).
async fn code(
    http: &reqwest::Client,
    base: &str,
    client_id: &str,
) -> Result<(String, String), String> {
    let (verifier, challenge) = pkce_pair();
    let r = http
        .get(format!("{base}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "read"),
            ("state", "s"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .map_err(|_| String::new())?;
    let status = r.status().as_u16();
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    if status != 303 || !loc.starts_with(REDIRECT) {
        return Err(format!("authorize answered {status} {loc}"));
    }
    let code = url_params(&loc, false)["code"].clone();
    Ok((code, verifier))
}

async fn token(
    http: &reqwest::Client,
    load: &Load,
    form: &[(&str, &str)],
) -> Result<Value, String> {
    let r = http
        .post(format!("{}/token", load.base))
        .basic_auth(&load.client_id, Some(&load.client_secret))
        .form(form)
        .send()
        .await
        .map_err(|_| String::new())?;
    let status = r.status().as_u16();
    let text = r.text().await.map_err(|_| String::new())?;
    if status != 200 {
        return Err(format!("token answered {status}: {text}"));
    }
    Ok(serde_json::from_str(&text).unwrap())
}

async fn exchange(http: &reqwest::Client, load: &Load) -> Result<String, String> {
    let (code, verifier) = code(http, &load.base, &load.client_id).await?;
    let body = token(
        http,
        load,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await?;
    Ok(body["refresh_token"].as_str().unwrap().to_string())
}

/// An empty error is a transport failure (the server is gone): the task
/// stops. A complete non-2xx answer is recorded as unexpected.
fn stop(load: &Load, e: String) {
    if !e.is_empty() {
        load.acked.lock().unwrap().unexpected.push(e);
    }
}

async fn registration_task(load: Arc<Load>, n: usize) {
    let http = reqwest::Client::new();
    for i in 0.. {
        let body = json!({
            "client_name": format!("crash-{n}-{i}"),
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": "read",
        });
        match register_one(&http, &load.base, &body).await {
            Ok(reg) => {
                let mut a = load.acked.lock().unwrap();
                a.registrations.push(Registered {
                    id: reg["client_id"].as_str().unwrap().into(),
                    secret: reg["client_secret"].as_str().unwrap().into(),
                    access_token: reg["registration_access_token"].as_str().unwrap().into(),
                });
                load.acknowledged(&a);
            }
            Err(e) => return stop(&load, e),
        }
    }
}

async fn exchange_task(load: Arc<Load>, http: reqwest::Client) {
    loop {
        match exchange(&http, &load).await {
            Ok(rt) => {
                let mut a = load.acked.lock().unwrap();
                a.exchanged.push(rt);
                load.acknowledged(&a);
            }
            Err(e) => return stop(&load, e),
        }
    }
}

async fn refresh_task(load: Arc<Load>, first: usize) {
    let http = reqwest::Client::new();
    for chain in (first..CHAINS).step_by(REFRESH_TASKS).cycle() {
        let current = {
            let mut a = load.acked.lock().unwrap();
            a.chains[chain].in_flight = true;
            a.chains[chain].token.clone()
        };
        let form = [("grant_type", "refresh_token"), ("refresh_token", &current)];
        match token(&http, &load, &form).await {
            Ok(body) => {
                let mut a = load.acked.lock().unwrap();
                a.chains[chain] = Chain {
                    token: body["refresh_token"].as_str().unwrap().into(),
                    in_flight: false,
                };
                a.refreshes += 1;
                load.acknowledged(&a);
            }
            Err(e) => return stop(&load, e),
        }
    }
}

/// One count query, the same SQL on both backends.
fn count(conn: &mut gatehouse::store::DbConn, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let rows: Vec<N> = db!(conn, c => diesel::sql_query(sql).load(c)).unwrap();
    rows[0].n
}

/// Nothing half-written: every row the load writes has the rows that the
/// same transaction writes with it.
fn assert_nothing_half_written(kind: gatehouse::store::DbKind, target: &str) {
    let mut conn = gatehouse::store::DbConn::establish(kind, target).unwrap();
    if kind == gatehouse::store::DbKind::Sqlite {
        #[derive(diesel::QueryableByName)]
        struct Check {
            #[diesel(sql_type = diesel::sql_types::Text)]
            integrity_check: String,
        }
        let rows: Vec<Check> =
            db!(conn, c => diesel::sql_query("PRAGMA integrity_check").load(c)).unwrap();
        let lines: Vec<&str> = rows.iter().map(|r| r.integrity_check.as_str()).collect();
        assert_eq!(lines, vec!["ok"], "SQLite integrity_check after SIGKILL");
        let fk = count(
            &mut conn,
            "SELECT count(*) AS n FROM pragma_foreign_key_check",
        );
        assert_eq!(fk, 0, "rows pointing at missing parents");
    }
    for (what, sql) in [
        (
            "a confidential client without its secret hash",
            "SELECT count(*) AS n FROM clients WHERE NOT is_public AND secret_hash IS NULL",
        ),
        (
            "a registered client without its registration access token",
            "SELECT count(*) AS n FROM clients \
             WHERE name LIKE 'crash-%' AND registration_token_hash IS NULL",
        ),
        (
            "a refresh family without a token",
            "SELECT count(*) AS n FROM refresh_families f WHERE NOT EXISTS \
             (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.id)",
        ),
        (
            "a refresh token without its family",
            "SELECT count(*) AS n FROM refresh_tokens t WHERE NOT EXISTS \
             (SELECT 1 FROM refresh_families f WHERE f.id = t.family_id)",
        ),
        (
            "a refresh family whose client or user is gone",
            "SELECT count(*) AS n FROM refresh_families f WHERE \
             NOT EXISTS (SELECT 1 FROM clients c WHERE c.id = f.client_id) OR \
             (f.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = f.user_id))",
        ),
        (
            "a spent code that issued no access token or refresh family",
            "SELECT count(*) AS n FROM authorization_codes a WHERE a.consumed_at IS NOT NULL AND \
             (a.issued_jti IS NULL OR NOT EXISTS \
             (SELECT 1 FROM refresh_families f WHERE f.auth_code_hash = a.code_hash))",
        ),
        (
            "a rotated refresh token whose successor is missing",
            "SELECT count(*) AS n FROM refresh_tokens t WHERE t.used_at IS NOT NULL AND \
             t.revoked_at IS NULL AND NOT EXISTS \
             (SELECT 1 FROM refresh_tokens s WHERE s.parent_hash = t.token_hash)",
        ),
    ] {
        assert_eq!(count(&mut conn, sql), 0, "{what}");
    }
}

async fn crash_and_restart(db_url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (kind, target) = gatehouse::store::DbKind::from_url(db_url).unwrap();
    // Only `serve` and `migrate` create a database.
    let o = gatehouse(dir.path(), db_url, &["migrate"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    create_alice(dir.path(), db_url);
    let (mut child, base) = serve(dir.path(), db_url);

    // Set-up: a web client, alice signed in with her consent remembered,
    // and one refresh token per chain.
    let setup = reqwest::Client::new();
    let web = register_one(
        &setup,
        &base,
        &json!({
            "client_name": "web",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": "read",
        }),
    )
    .await
    .unwrap();
    let load = Arc::new(Load {
        base: base.clone(),
        client_id: web["client_id"].as_str().unwrap().into(),
        client_secret: web["client_secret"].as_str().unwrap().into(),
        acked: Mutex::default(),
        reached: tokio::sync::Notify::new(),
    });
    let alice = browser();
    let page = alice
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let signed_in = alice
        .post(format!("{base}/login"))
        .form(&[
            (
                "csrf_token",
                form_field(&page, "csrf_token").unwrap().as_str(),
            ),
            ("next", "/account"),
            ("username", "alice"),
            ("password", "correct horse"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let (_, challenge) = pkce_pair();
    let first = alice
        .get(format!("{base}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", load.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "read"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let consent = first.headers()["location"].to_str().unwrap().to_string();
    assert!(consent.starts_with("/consent?"), "{consent}");
    let html = alice
        .get(format!("{base}{consent}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let allowed = alice
        .post(format!("{base}/consent"))
        .form(&[
            (
                "csrf_token",
                form_field(&html, "csrf_token").unwrap().as_str(),
            ),
            ("request", form_field(&html, "request").unwrap().as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 303);
    for _ in 0..CHAINS {
        let token = exchange(&alice, &load).await.unwrap();
        load.acked.lock().unwrap().chains.push(Chain {
            token,
            in_flight: false,
        });
    }

    // The load, and SIGKILL once KILL_AFTER writes were acknowledged
    // (counted, never timed).
    let mut tasks = Vec::new();
    for n in 0..REGISTRATION_TASKS {
        tasks.push(tokio::spawn(registration_task(load.clone(), n)));
    }
    for _ in 0..EXCHANGE_TASKS {
        tasks.push(tokio::spawn(exchange_task(load.clone(), alice.clone())));
    }
    for first in 0..REFRESH_TASKS {
        tasks.push(tokio::spawn(refresh_task(load.clone(), first)));
    }
    load.reached.notified().await;
    child.kill().unwrap();
    child.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = std::mem::take(&mut *load.acked.lock().unwrap());
    assert!(acked.unexpected.is_empty(), "{:?}", acked.unexpected);
    let in_flight = acked.chains.iter().filter(|c| c.in_flight).count();
    eprintln!(
        "killed after {} acknowledged registrations, {} exchanges, {} refreshes; \
         {in_flight} of {CHAINS} chains had a refresh in flight",
        acked.registrations.len(),
        acked.exchanged.len(),
        acked.refreshes,
    );

    assert_nothing_half_written(kind, &target);

    // Restart on the same database: everything acknowledged works.
    let (mut child, base) = serve(dir.path(), db_url);
    let http = reqwest::Client::new();
    for reg in &acked.registrations {
        // RFC 6749 §2.3.1: the client authenticates with its secret.
        let r = http
            .post(format!("{base}/token"))
            .basic_auth(&reg.id, Some(&reg.secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged client {} lost", reg.id);
        // RFC 7592 §2.1: its registration access token reads it back.
        let r = http
            .get(format!("{base}/register/{}", reg.id))
            .bearer_auth(&reg.access_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "registration of {} lost", reg.id);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["client_id"], reg.id.as_str());
    }
    let after = Load {
        base: base.clone(),
        client_id: load.client_id.clone(),
        client_secret: load.client_secret.clone(),
        acked: Mutex::default(),
        reached: tokio::sync::Notify::new(),
    };
    for rt in &acked.exchanged {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
        ];
        let r = token(&http, &after, &form).await;
        assert!(
            r.is_ok(),
            "refresh token from an acknowledged exchange: {r:?}"
        );
    }
    let mut committed_unanswered = 0;
    for chain in &acked.chains {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", chain.token.as_str()),
        ];
        match token(&http, &after, &form).await {
            Ok(_) => {}
            // The refresh in flight at the kill committed: its token is
            // spent (RFC 6749 §6, rotation), refused as a client error.
            Err(e) if chain.in_flight && e.starts_with("token answered 400") => {
                assert!(e.contains("invalid_grant"), "{e}");
                committed_unanswered += 1;
            }
            Err(e) => panic!("newest acknowledged refresh token refused: {e}"),
        }
    }
    eprintln!(
        "of the {in_flight} refreshes in flight, {committed_unanswered} had committed \
         without an answer"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// SQLite in WAL mode with `synchronous = NORMAL`: a commit is in the WAL
/// (the operating system's cache) before the answer is sent, so a killed
/// process loses nothing it acknowledged.
#[test]
fn sqlite_keeps_every_acknowledged_write_across_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gatehouse.db").display());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(crash_and_restart(&url));
}

#[cfg_attr(
    not(gatehouse_test_postgres),
    ignore = "GATEHOUSE_TEST_POSTGRES_URL is not set"
)]
#[test]
fn postgres_keeps_every_acknowledged_write_across_sigkill() {
    let Some(db) = crate::harness::fresh_pg_database() else {
        return;
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(crash_and_restart(&db.url()));
}
