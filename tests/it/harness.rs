//! Starts gatehouse in-process on 127.0.0.1:0 with a fresh database: a
//! temporary SQLite file, or a PostgreSQL database created for the test and
//! dropped after it.

use actix_web::dev::ServerHandle;
use actix_web::web;
use diesel::{Connection, RunQueryDsl};
use gatehouse::admin::{create_client, CreatedClient, NewClient};
use gatehouse::app::AppState;
use gatehouse::{Application, Clock, Config};
use std::sync::OnceLock;

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

struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
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

/// One RSA key per test process, copied into each test's keys folder:
/// generating a key per test would cost more than the test.
fn shared_key_dir() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        gatehouse::tokens::keys::generate_key(d.path()).unwrap();
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
fn fresh_pg_database() -> Option<PgDatabase> {
    let Ok(admin_url) = std::env::var(PG_ENV) else {
        eprintln!("SKIPPED (PostgreSQL): {PG_ENV} is not set");
        return None;
    };
    let name = format!("gh_test_{}", uuid::Uuid::new_v4().simple());
    let mut c = diesel::PgConnection::establish(&admin_url)
        .unwrap_or_else(|e| panic!("{PG_ENV} is set but PostgreSQL is unreachable: {e}"));
    diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
        .execute(&mut c)
        .unwrap();
    Some(PgDatabase { admin_url, name })
}

impl PgDatabase {
    fn url(&self) -> String {
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

    /// Registers a client directly in the store (as `gatehouse client create` does).
    pub fn client(&self, spec: NewClient) -> CreatedClient {
        create_client(&self.state.store, spec, self.state.clock.now()).unwrap()
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
        let jwks: jsonwebtoken::jwk::JwkSet = self.get("/jwks.json").await.json().await.unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        let kid = header.kid.expect("kid in header");
        let jwk = jwks.find(&kid).expect("kid published in JWKS");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.set_audience(&[&self.state.audience]);
        v.set_issuer(&[&self.state.issuer]);
        jsonwebtoken::decode::<serde_json::Value>(token, &key, &v)
            .unwrap()
            .claims
    }
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

// ---- browser-flow helpers ---------------------------------------------

/// Decodes the HTML entities a template escaper produces (named and
/// numeric), as a browser would.
pub fn html_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `value` of the first input named `name` in an HTML page.
pub fn form_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let at = html.find(&marker)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.find("value=\"")? + "value=\"".len();
    let end = tag[v..].find('"')?;
    Some(html_unescape(&tag[v..v + end]))
}

impl TestApp {
    /// Creates a user with the given password.
    pub fn user(&self, username: &str, password: &str) -> gatehouse::store::models::User {
        gatehouse::admin::create_user(
            &self.state.store,
            username,
            None,
            password,
            self.state.clock.now(),
        )
        .unwrap()
    }

    /// Loads the sign-in page and posts the form, as a browser would.
    pub async fn sign_in(&self, username: &str, password: &str, next: &str) -> reqwest::Response {
        let page = self
            .http
            .get(self.url("/login"))
            .query(&[("next", next)])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = form_field(&page, "csrf_token").expect("csrf token on the sign-in page");
        let next = form_field(&page, "next").unwrap();
        self.http
            .post(self.url("/login"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("next", next.as_str()),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .unwrap()
    }
}

// ---- authorization-code helpers ---------------------------------------

pub const REDIRECT: &str = "https://app.example/cb";

/// A PKCE verifier and its S256 challenge (RFC 7636 §4.1–4.2).
pub fn pkce_pair() -> (String, String) {
    let verifier = gatehouse::crypto::random_token(32);
    let challenge = gatehouse::crypto::b64url(&gatehouse::crypto::sha256(verifier.as_bytes()));
    (verifier, challenge)
}

/// The query parameters of a URL (or of its fragment when `fragment`).
pub fn url_params(location: &str, fragment: bool) -> std::collections::HashMap<String, String> {
    let u = url::Url::parse(location).unwrap();
    let part = if fragment {
        u.fragment().unwrap_or("").to_string()
    } else {
        u.query().unwrap_or("").to_string()
    };
    url::form_urlencoded::parse(part.as_bytes())
        .into_owned()
        .collect()
}

impl TestApp {
    /// A web app client: authorization_code + refresh_token, scopes "read write".
    pub fn web_client(&self, public: bool) -> CreatedClient {
        self.client(NewClient {
            name: "Photo Printer".into(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            redirect_uris: vec![REDIRECT.into()],
            scope: "read write".into(),
            public,
            website: Some("https://app.example".into()),
            ..Default::default()
        })
    }

    /// GET `path` and return the `Location` of the redirect it answers with.
    pub async fn location(&self, path_and_query: &str) -> (u16, String) {
        let r = self
            .http
            .get(self.url(path_and_query))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let loc = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, loc)
    }

    /// Posts the consent form shown at `consent_path` with `decision`;
    /// returns the response.
    pub async fn decide(&self, consent_path: &str, decision: &str) -> reqwest::Response {
        let page = self.http.get(self.url(consent_path)).send().await.unwrap();
        assert_eq!(page.status(), 200, "consent page at {consent_path}");
        let html = page.text().await.unwrap();
        let csrf = form_field(&html, "csrf_token").unwrap();
        let request = form_field(&html, "request").unwrap();
        self.http
            .post(self.url("/consent"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("request", request.as_str()),
                ("decision", decision),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Signed in already: authorize with `query`, allow on the consent page
    /// if shown, and return the final redirect to the client.
    pub async fn authorize_and_allow(&self, query: &str) -> String {
        let (status, loc) = self.location(&format!("/authorize?{query}")).await;
        assert_eq!(status, 303, "authorize answered {status} {loc}");
        if loc.starts_with("/consent?") {
            let r = self.decide(&loc, "allow").await;
            let st = r.status();
            if st != 303 {
                panic!("consent post answered {st}: {}", r.text().await.unwrap());
            }
            return r.headers()["location"].to_str().unwrap().to_string();
        }
        loc
    }

    /// Exchanges a code at the token endpoint.
    pub async fn exchange(
        &self,
        client: &CreatedClient,
        code: &str,
        verifier: Option<&str>,
        redirect_uri: Option<&str>,
    ) -> reqwest::Response {
        let mut form = vec![("grant_type", "authorization_code"), ("code", code)];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        if let Some(r) = redirect_uri {
            form.push(("redirect_uri", r));
        }
        if client.secret.is_some() {
            self.post_form_basic("/token", client, &form).await
        } else {
            form.push(("client_id", &client.client.id));
            self.post_form("/token", &form).await
        }
    }
}

/// An authorization query string for `client` with PKCE `challenge`.
pub fn code_query(client: &CreatedClient, challenge: &str, extra: &[(&str, &str)]) -> String {
    let mut p: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &client.client.id),
        ("redirect_uri", REDIRECT),
        ("scope", "read"),
        ("state", "st-123"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        p.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            p.push((k, v));
        }
    }
    serde_urlencoded::to_string(&p).unwrap()
}

// ---------------------------------------------------------------------------
// Issue 5 helpers: refresh tokens, the password grant, revocation and
// introspection.
// ---------------------------------------------------------------------------

pub const USERNAME: &str = "alice";
pub const PASSWORD: &str = "correct horse";

impl TestApp {
    /// The user `alice` with password `correct horse`.
    pub fn alice(&self) -> gatehouse::store::models::User {
        gatehouse::admin::create_user(
            &self.state.store,
            USERNAME,
            None,
            PASSWORD,
            self.state.clock.now(),
        )
        .unwrap()
    }

    /// A confidential client with grants `password refresh_token` and
    /// scopes "read write".
    pub fn password_client(&self) -> CreatedClient {
        self.client(NewClient {
            name: "legacy-app".into(),
            grant_types: vec!["password".into(), "refresh_token".into()],
            scope: "read write".into(),
            ..Default::default()
        })
    }

    /// A resource server allowed to introspect (`--introspect`).
    pub fn introspector(&self) -> CreatedClient {
        self.client(NewClient {
            name: "resource-server".into(),
            grant_types: vec!["client_credentials".into()],
            scope: "".into(),
            can_introspect: true,
            ..Default::default()
        })
    }

    /// Signs `alice` in with the password grant; asserts success and
    /// returns the token response.
    pub async fn password_tokens(&self, client: &CreatedClient) -> serde_json::Value {
        let r = self
            .post_form_basic(
                "/token",
                client,
                &[
                    ("grant_type", "password"),
                    ("username", USERNAME),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// The refresh token from signing `alice` in with the password grant.
    pub async fn password_refresh_token(&self, client: &CreatedClient) -> String {
        self.password_tokens(client).await["refresh_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// `grant_type=refresh_token` with `client_secret_basic`.
    pub async fn refresh(&self, client: &CreatedClient, token: &str) -> reqwest::Response {
        self.post_form_basic(
            "/token",
            client,
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
        )
        .await
    }

    /// RFC 7662 introspection by `by`; asserts 200 and `no-store`.
    pub async fn introspect(&self, by: &CreatedClient, token: &str) -> serde_json::Value {
        let r = self
            .post_form_basic("/introspect", by, &[("token", token)])
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        r.json().await.unwrap()
    }
}

/// The `refresh_token` of a successful token response.
pub async fn refresh_token_of(resp: reqwest::Response) -> String {
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    body["refresh_token"].as_str().unwrap().to_string()
}

// ---- scale-out helpers ------------------------------------------------

/// A second gatehouse instance on the same database and keys folder, as in
/// a deployment with several processes behind one issuer URL.
pub struct Sibling {
    pub base: String,
    handle: ServerHandle,
}

impl Drop for Sibling {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl Sibling {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

impl TestApp {
    /// Starts another instance sharing this one's database, keys folder,
    /// issuer and (for the tests) clock.
    pub fn sibling(&self) -> Sibling {
        let mut config = self.state.config.clone();
        config.issuer = Some(self.state.issuer.clone());
        let app = Application::build(config, self.state.clock.clone()).expect("sibling starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        actix_rt::spawn(app.run_until_stopped());
        Sibling { base, handle }
    }
}

// ---- throttle helpers -------------------------------------------------

impl TestApp {
    /// The failures counted now for a throttle key (`user:alice`,
    /// `ip:127.0.0.1`, `device-ip:127.0.0.1`, …); 0 when it has no row.
    pub fn throttle_failures(&self, key: &str) -> i64 {
        use diesel::prelude::*;
        use gatehouse::store::schema::sign_in_throttle;
        let mut c = self.state.store.conn().unwrap();
        let failures: Option<i64> = db!(c, conn => sign_in_throttle::table
            .find(key)
            .select(sign_in_throttle::failures)
            .first(conn)
            .optional())
        .unwrap();
        failures.unwrap_or(0)
    }
}

/// How many of `statuses` are `status`.
pub fn count_status(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}
