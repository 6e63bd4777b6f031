//! Starts gatehouse in-process on 127.0.0.1:0 with a fresh database: a
//! temporary SQLite file, or a PostgreSQL database created for the test and
//! dropped after it.
//!
//! Every helper that more than one test file uses lives here, nowhere
//! else: the flows most tests start from and reading pages (`flows.rs`,
//! `html.rs`, `siblings.rs`, re-exported here), and by subject the
//! application pages' people (`apps`), the binary (`cli`), hand-held
//! cookies (`cookies`), the device flow (`device`), test data (`names`),
//! OpenID Connect (`oidc`) and headless Chromium (`webdriver`).

use actix_web::dev::ServerHandle;
use actix_web::web;
use diesel::{Connection, RunQueryDsl};
use gatehouse::app::AppState;
use gatehouse::registry::{CreatedClient, NewClient};
use gatehouse::{Application, Clock, Config};
use std::sync::OnceLock;

/// Runs a future of the registry to its end on this thread, so set-up
/// reads as plain calls. Its work runs on the store's and the hasher's own
/// threads, which need nothing of this one; only tests' set-up waits here.
pub fn wait<F: std::future::Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

pub const PG_ENV: &str = "GATEHOUSE_TEST_POSTGRES_URL";

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each listed `async fn name(app: TestApp)` once per backend, as
/// `sqlite::name` and `postgres::name`; with `with TWEAK;` first, every
/// server starts with `TWEAK(&mut Config)` applied:
/// `backend_tests!(with |c| c.refresh_reuse_grace = 30; a, b)`.
/// The PostgreSQL cases show as ignored when the tests were built without
/// GATEHOUSE_TEST_POSTGRES_URL (see build.rs); when it is set and the
/// server is unreachable they fail.
macro_rules! backend_tests {
    (with $tweak:expr; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_rt::test]
                async fn $name() {
                    let app = crate::harness::TestApp::spawn_with(
                        crate::harness::Backend::Sqlite,
                        $tweak,
                    )
                    .await
                    .unwrap();
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[actix_rt::test]
                #[cfg_attr(
                    not(gatehouse_test_postgres),
                    ignore = "GATEHOUSE_TEST_POSTGRES_URL is not set"
                )]
                async fn $name() {
                    let spawned = crate::harness::TestApp::spawn_with(
                        crate::harness::Backend::Postgres,
                        $tweak,
                    )
                    .await;
                    if let Some(app) = spawned {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        backend_tests!(with |_| {}; $($name),*);
    };
}

/// Runs typed Diesel on the test's own store connection, on either
/// backend: `db!(conn, c => users::table.count().get_result(c))`. Tests use
/// it only to set up or inspect rows that no endpoint exposes.
macro_rules! db {
    ($conn:expr, $c:ident => $body:expr) => {
        match &mut $conn.backend {
            gatehouse::store::Backend::Pg($c) => $body,
            gatehouse::store::Backend::Sqlite($c) => $body,
        }
    };
}

// After the macros, which the parts use.
pub mod apps;
pub mod cli;
pub mod cookies;
pub mod device;
pub mod factors;
mod flows;
mod html;
pub mod names;
pub mod oidc;
pub mod sessions;
mod siblings;
pub mod smtp;
pub mod tls;
pub mod webauthn;
pub mod webdriver;

pub use flows::*;
pub use html::*;
pub use siblings::*;

pub(crate) struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        gatehouse::store::init_openssl();
        if let Ok(mut c) = diesel::PgConnection::establish(&self.admin_url) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut c);
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub state: web::Data<AppState>,
    handle: ServerHandle,
    // Dropped after the server stops: the database, then the folder.
    _pg: Option<PgDatabase>,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting and close the pool before the database goes.
        // The stop command is sent on call; nothing to await in a sync drop.
        drop(self.handle.stop(false));
    }
}

/// A TCP port free on 127.0.0.1 a moment ago, for a process that must be
/// told its port (chromedriver, a PostgreSQL cluster).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One RSA key per test process, copied into each test's keys folder:
/// generating a key per test would cost more than the test.
fn shared_key_dir() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        gatehouse::tokens::keystore::generate_key(d.path()).unwrap();
        d
    })
    .path()
}

fn copy_keys(to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(shared_key_dir()).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

/// A PostgreSQL URL for a new, empty database; `None` (with a visible note)
/// when GATEHOUSE_TEST_POSTGRES_URL is not set. When it is set and the
/// server is unreachable, this panics: the test fails, it does not skip.
pub(crate) fn fresh_pg_database() -> Option<PgDatabase> {
    let Ok(admin_url) = std::env::var(PG_ENV) else {
        eprintln!("SKIPPED (PostgreSQL): {PG_ENV} is not set");
        return None;
    };
    let name = format!("gh_test_{}", uuid::Uuid::new_v4().simple());
    // Before libpq's TLS starts OpenSSL with an exit handler, which could
    // crash this process at exit while servers' threads still use it (a
    // clean-clone CI run did: SIGSEGV after every test had passed).
    gatehouse::store::init_openssl();
    let mut c = diesel::PgConnection::establish(&admin_url)
        .unwrap_or_else(|e| panic!("{PG_ENV} is set but PostgreSQL is unreachable: {e}"));
    diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
        .execute(&mut c)
        .unwrap();
    Some(PgDatabase { admin_url, name })
}

impl PgDatabase {
    pub(crate) fn url(&self) -> String {
        let mut u = url::Url::parse(&self.admin_url).unwrap();
        u.set_path(&format!("/{}", self.name));
        u.to_string()
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {})
            .await
            .expect("postgres configured")
    }

    /// Starts a server after letting `tweak` change its settings.
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let dir = tempfile::tempdir().unwrap();
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_pg_database()?),
        };
        let url = match &pg {
            Some(db) => db.url(),
            None => format!("sqlite://{}", dir.path().join("gatehouse.db").display()),
        };
        let keys = dir.path().join("keys");
        copy_keys(&keys);
        let mut config = Config::for_tests(&url, &keys);
        tweak(&mut config);
        let app = Application::build(config, Clock::default()).expect("server starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let state = app.state();
        let handle = app.handle();
        actix_rt::spawn(app.run_until_stopped());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        Some(TestApp {
            base,
            http,
            state,
            handle,
            _pg: pg,
            _dir: dir,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn clock(&self) -> &Clock {
        &self.state.clock
    }

    /// Registers a client through the registry (as `gatehouse client
    /// create` does).
    pub fn client(&self, spec: NewClient) -> CreatedClient {
        wait(
            self.state
                .registry()
                .register_client(spec, Default::default()),
        )
        .unwrap()
    }

    /// A confidential client_credentials client with scopes "read write".
    pub fn service_client(&self) -> CreatedClient {
        self.client(NewClient {
            name: "svc".into(),
            grant_types: vec!["client_credentials".into()],
            scope: "read write".into(),
            ..Default::default()
        })
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    /// POSTs a form with no client authentication header.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// POSTs a form with `client_secret_basic`.
    pub async fn post_form_basic(
        &self,
        path: &str,
        client: &CreatedClient,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .basic_auth(&client.client.id, client.secret.as_deref())
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Verifies an access token against the published JWKS, as a resource
    /// server would, and returns its claims.
    pub async fn verify_jwt(&self, token: &str) -> serde_json::Value {
        let audience = self.state.audience.clone();
        self.verify_jwt_for(token, &audience).await
    }

    /// `verify_jwt` for a token whose `aud` is `audience` (an RFC 8707
    /// resource).
    pub async fn verify_jwt_for(&self, token: &str, audience: &str) -> serde_json::Value {
        let jwks: jsonwebtoken::jwk::JwkSet = self.get("/jwks.json").await.json().await.unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        let kid = header.kid.expect("kid in header");
        let jwk = jwks.find(&kid).expect("kid published in JWKS");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.set_audience(&[audience]);
        v.set_issuer(&[&self.state.issuer]);
        jsonwebtoken::decode::<serde_json::Value>(token, &key, &v)
            .unwrap()
            .claims
    }
}

/// The audit trail's events of `kind` (`sign_in`, `factor_enrolled`, …),
/// oldest first, read from the store.
pub fn audit_events_of(
    app: &TestApp,
    kind: &str,
) -> Vec<gatehouse::store::models::audit_event::AuditEvent> {
    use gatehouse::store::models::audit_event::{AuditFilter, AuditType};
    let filter = AuditFilter {
        kind: Some(AuditType::parse(kind).expect("an event type")),
        limit: 1000,
        ..Default::default()
    };
    app.state
        .store
        .conn()
        .unwrap()
        .audit_events(&filter)
        .unwrap()
}

/// How many refresh families, refresh tokens and recorded user access
/// tokens the store holds: what a grant that issues writes, so a test can
/// tell that a refused one left nothing behind.
pub fn issued_rows(app: &TestApp) -> [i64; 3] {
    use diesel::QueryDsl;
    use gatehouse::store::schema::{refresh_families, refresh_tokens, user_access_tokens};
    let mut c = app.state.store.conn().unwrap();
    db!(c, c => [
        refresh_families::table.count().get_result(c).unwrap(),
        refresh_tokens::table.count().get_result(c).unwrap(),
        user_access_tokens::table.count().get_result(c).unwrap(),
    ])
}

/// Asserts an RFC 6749 §5.2 error response and returns its body.
pub async fn expect_error(resp: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    let got = resp.status().as_u16();
    let cache = resp
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_string());
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(got, status, "status for {body}");
    assert_eq!(body["error"], code, "error code in {body}");
    assert!(
        body["error_description"].is_string(),
        "error_description in {body}"
    );
    assert_eq!(cache.as_deref(), Some("no-store"));
    body
}
