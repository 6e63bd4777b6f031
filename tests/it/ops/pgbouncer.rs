//! Behind PgBouncer in transaction mode, the pooler operators put between
//! many gatehouse instances and one PostgreSQL: each transaction may run
//! on another server connection, so statements kept prepared on one are
//! unknown on the next. With `?prepared_statements=off` on the database
//! URL gatehouse migrates a fresh database and serves every grant through
//! it (issue 33: "does gatehouse work behind it? test it").
//!
//! Debian's `pgbouncer`, started by this file on a random port in front
//! of the machine's PostgreSQL (`GATEHOUSE_TEST_POSTGRES_URL`); as root it
//! runs as the `postgres` user (PgBouncer refuses root). Without it the
//! test prints SKIPPED, unless CI=true, where it fails (`.ci/run`
//! installs it).

use crate::harness::{
    code_query, free_port, pkce_pair, signed_in, url_params, Backend, TestApp, REDIRECT,
};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A PgBouncer of this test's own; stopped when dropped.
struct Bouncer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pgbouncer() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("pgbouncer"))
            .find(|f| f.is_file())
    });
    on_path.or_else(|| {
        let sbin = PathBuf::from("/usr/sbin/pgbouncer");
        sbin.is_file().then_some(sbin)
    })
}

impl Bouncer {
    /// PgBouncer in transaction mode in front of `upstream`'s server, or
    /// `None` (SKIPPED) where it cannot run outside CI.
    fn start(upstream: &url::Url) -> Option<Bouncer> {
        let Some(bin) = pgbouncer() else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true but pgbouncer is not installed (.ci/run installs it)");
            }
            eprintln!("SKIPPED (PgBouncer): pgbouncer is not installed");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let host = upstream.host_str().unwrap_or("127.0.0.1");
        let upstream_port = upstream.port().unwrap_or(5432);
        let user = if upstream.username().is_empty() {
            "postgres"
        } else {
            upstream.username()
        };
        let users = dir.path().join("users.txt");
        std::fs::write(&users, format!("\"{user}\" \"\"\n")).unwrap();
        // Four server connections from the start, taken in turn: one
        // transaction after another lands on another connection, as under
        // load.
        let ini = dir.path().join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host={host} port={upstream_port}\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
                 auth_type = trust\nauth_file = {}\npool_mode = transaction\n\
                 unix_socket_dir =\nmax_client_conn = 200\ndefault_pool_size = 4\n\
                 min_pool_size = 4\nserver_round_robin = 1\n",
                users.display()
            ),
        )
        .unwrap();
        // PgBouncer refuses to run as root; as root it becomes `postgres`,
        // which must read the folder.
        use std::os::unix::fs::PermissionsExt;
        for (path, mode) in [(dir.path(), 0o755), (&users, 0o644), (&ini, 0o644)] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let mut cmd = Command::new(bin);
        if rustix::process::getuid().is_root() {
            cmd.args(["-u", "postgres"]);
        }
        let child = cmd
            .arg(&ini)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "pgbouncer did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Bouncer {
            child,
            port,
            _dir: dir,
        })
    }
}

/// `url` (a database on the shared server) through the bouncer, with
/// statements not kept prepared.
fn through(url: &str, port: u16) -> String {
    let mut u = url::Url::parse(url).unwrap();
    u.set_host(Some("127.0.0.1")).unwrap();
    u.set_port(Some(port)).unwrap();
    u.query_pairs_mut()
        .append_pair("prepared_statements", "off");
    u.to_string()
}

#[actix_rt::test]
#[cfg_attr(
    not(gatehouse_test_postgres),
    ignore = "GATEHOUSE_TEST_POSTGRES_URL is not set"
)]
async fn every_grant_works_behind_pgbouncer_in_transaction_mode() {
    let Ok(shared) = std::env::var("GATEHOUSE_TEST_POSTGRES_URL") else {
        return;
    };
    let Some(bouncer) = Bouncer::start(&url::Url::parse(&shared).unwrap()) else {
        return;
    };
    let port = bouncer.port;
    // The harness makes a fresh database on the shared server; gatehouse
    // migrates it and serves through the bouncer.
    let Some(app) = TestApp::spawn_with(Backend::Postgres, move |c| {
        c.database_url = through(&c.database_url, port);
    })
    .await
    else {
        return;
    };
    assert!(app.state.config.database_url.contains(&format!(":{port}/")));

    // Several rounds, so that transactions land on different server
    // connections of the bouncer's pool.
    let svc = app.service_client();
    for _ in 0..5 {
        app.client_credentials_token(&svc, Some("read")).await;
    }
    // The code exchange and refresh rotation (one statement each on
    // PostgreSQL), and a refresh token's reuse detected.
    signed_in(&app).await;
    let web = app.web_client(false);
    let mut refresh_tokens = Vec::new();
    for _ in 0..3 {
        let (verifier, challenge) = pkce_pair();
        let loc = app
            .authorize_and_allow(&code_query(&web, &challenge, &[]))
            .await;
        let code = url_params(&loc, false)["code"].clone();
        let r = app
            .exchange(&web, &code, Some(&verifier), Some(REDIRECT))
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let body: serde_json::Value = r.json().await.unwrap();
        refresh_tokens.push(body["refresh_token"].as_str().unwrap().to_string());
    }
    for token in &refresh_tokens {
        let first = app
            .post_form_basic(
                "/token",
                &web,
                &[("grant_type", "refresh_token"), ("refresh_token", token)],
            )
            .await;
        assert_eq!(first.status(), 200, "{}", first.text().await.unwrap());
    }
    let reused = app
        .post_form_basic(
            "/token",
            &web,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_tokens[0]),
            ],
        )
        .await;
    assert_eq!(reused.status(), 400, "a spent refresh token is refused");
    assert_eq!(
        crate::harness::audit_events_of(&app, "refresh_token_reused").len(),
        1
    );
    drop(app);
    drop(bouncer);
}
