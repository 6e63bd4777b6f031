//! Issue 13: resource servers validating gatehouse tokens, against a live
//! gatehouse. The same table of tokens goes to an actix-web API protected by
//! the `gatehouse-guard` extractor and to the Node (`jose`) and Python
//! (`PyJWT`) recipes in `examples/`, run as subprocesses.
//!
//! The recipes need their packages: `.ci/run` installs `jose` and `PyJWT`
//! into a temporary folder and sets GATEHOUSE_TEST_RECIPES_DIR to it
//! (`node/node_modules/jose`, `python/jwt`). When it is unset the recipe
//! tests print SKIPPED, unless CI=true, where they fail. They run on SQLite
//! only: the recipes see nothing but HTTP and the JWKS.

use crate::harness::{code_query, pkce_pair, url_params, Backend, TestApp, PASSWORD, USERNAME};
use actix_web::{web, App, HttpResponse, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_guard::actix::{Authenticated, Introspected};
use gatehouse_guard::{Guard, GuardBuilder, Principal};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::OnceLock;

backend_tests!(
    rfc9068_4_guard_accepts_exactly_the_tokens_it_should,
    rfc6750_3_1_insufficient_scope_is_403,
    guard_follows_a_key_rotation_without_restart,
    guard_unknown_kid_flood_costs_the_issuer_one_jwks_fetch,
    rfc9111_guard_refreshes_keys_in_the_background_before_max_age,
    guard_answers_503_for_unknown_kids_when_the_issuer_is_down,
    rfc7662_introspected_route_refuses_a_revoked_token_at_once,
    rfc8414_3_3_guard_refuses_metadata_of_another_issuer,
    jwks_requests_are_counted_in_metrics,
);

gatehouse_guard::scopes!(Read = "read");
gatehouse_guard::scopes!(Write = "write");

/// The guard reads the server's test clock, so moving one moves both.
struct ServerClock(gatehouse::Clock);

impl gatehouse_guard::Clock for ServerClock {
    fn now(&self) -> i64 {
        self.0.now()
    }
}

fn guard_for(app: &TestApp) -> GuardBuilder {
    Guard::builder(&app.state.issuer, &app.state.audience)
        .clock(ServerClock(app.state.clock.clone()))
}

// ---- the APIs under test ------------------------------------------------

fn who(p: &Principal) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "sub": p.sub, "client_id": p.client_id, "scope": p.scopes.join(" "),
    }))
}

async fn read(auth: Authenticated<Read>) -> HttpResponse {
    who(&auth)
}

async fn write(auth: Authenticated<Write>) -> HttpResponse {
    who(&auth)
}

async fn fresh(auth: Introspected<Read>) -> HttpResponse {
    who(&auth)
}

/// An actix-web API on a random port: `/read` needs `read`, `/write`
/// needs `write`, `/fresh` needs `read` and asks the issuer (RFC 7662).
struct RustApi {
    base: String,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for RustApi {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

fn rust_api(guard: Guard) -> RustApi {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let guard = web::Data::new(guard);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(guard.clone())
            .route("/read", web::get().to(read))
            .route("/write", web::get().to(write))
            .route("/fresh", web::get().to(fresh))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_rt::spawn(server);
    RustApi { base, handle }
}

// ---- tokens -------------------------------------------------------------

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The server's signing key, to sign what the server itself never would.
fn server_key(app: &TestApp) -> (String, EncodingKey) {
    let kid = app.state.keys.current().signer.kid.clone();
    let pem = std::fs::read(app.state.config.keys_dir.join(format!("{kid}.pem"))).unwrap();
    (kid, EncodingKey::from_rsa_pem(&pem).unwrap())
}

/// Another issuer's RSA key (its kid and private key), made once.
fn other_key() -> &'static (String, EncodingKey) {
    static KEY: OnceLock<(String, EncodingKey)> = OnceLock::new();
    KEY.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let key = gatehouse::tokens::keystore::generate_key(dir.path()).unwrap();
        let pem = std::fs::read(dir.path().join(format!("{}.pem", key.kid))).unwrap();
        (key.kid.clone(), EncodingKey::from_rsa_pem(&pem).unwrap())
    })
}

/// RFC 9068 §2.2 claims as gatehouse would issue them.
fn claims(app: &TestApp, scope: &str) -> Value {
    let now = app.clock().now();
    json!({
        "iss": app.state.issuer, "aud": app.state.audience,
        "sub": "svc", "client_id": "svc", "scope": scope,
        "exp": now + 600, "iat": now, "jti": uuid::Uuid::new_v4().to_string(),
    })
}

fn with(mut claims: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        claims[k] = v.clone();
    }
    claims
}

fn sign(alg: Algorithm, typ: &str, kid: &str, claims: &Value, key: &EncodingKey) -> String {
    let mut h = Header::new(alg);
    h.typ = Some(typ.into());
    h.kid = Some(kid.into());
    jsonwebtoken::encode(&h, claims, key).unwrap()
}

fn sign_rs256(kid: &str, claims: &Value, key: &EncodingKey) -> String {
    sign(Algorithm::RS256, "at+jwt", kid, claims, key)
}

async fn refresh_token(app: &TestApp) -> String {
    app.alice();
    let c = app.password_client();
    app.password_tokens(&c).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn authorization_code(app: &TestApp) -> String {
    let c = app.web_client(false);
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
        303
    );
    let (_, challenge) = pkce_pair();
    let loc = app
        .authorize_and_allow(&code_query(&c, &challenge, &[]))
        .await;
    url_params(&loc, false)["code"].clone()
}

async fn jwks_fetches(app: &TestApp) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("gatehouse_jwks_requests_total "))
        .expect("gatehouse_jwks_requests_total in /metrics")
        .parse()
        .unwrap()
}

// ---- the table ----------------------------------------------------------

/// One request and the RFC 6750 answer it must get.
struct Case {
    name: &'static str,
    path: &'static str,
    authorization: Option<String>,
    status: u16,
    /// The `error` attribute of `WWW-Authenticate`; `None` for 200 and for
    /// "no credentials" (RFC 6750 §3.1: no error information).
    error: Option<&'static str>,
}

fn case(name: &'static str, path: &'static str, token: &str, status: u16) -> Case {
    Case {
        name,
        path,
        authorization: Some(format!("Bearer {token}")),
        status,
        error: match status {
            401 => Some("invalid_token"),
            403 => Some("insufficient_scope"),
            _ => None,
        },
    }
}

async fn cases(app: &TestApp) -> Vec<Case> {
    let svc = app.service_client();
    let read_token = app.client_credentials_token(&svc, Some("read")).await;
    let read_write = app.client_credentials_token(&svc, Some("read write")).await;
    let (kid, key) = server_key(app);
    let good = claims(app, "read");
    let now = app.clock().now();

    let expired = with(good.clone(), json!({"exp": now - 3600, "iat": now - 4200}));
    let not_yet = with(
        good.clone(),
        json!({"nbf": now + 3600, "iat": now + 3600, "exp": now + 7200}),
    );
    let alg_none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "at+jwt", "kid": kid})
            .to_string()
            .as_bytes()),
        b64(good.to_string().as_bytes())
    );
    // The attacker's HMAC secret: the public key exactly as published.
    let jwks_text = app.get("/jwks.json").await.text().await.unwrap();
    let hs256 = sign(
        Algorithm::HS256,
        "at+jwt",
        &kid,
        &good,
        &EncodingKey::from_secret(jwks_text.as_bytes()),
    );
    let tampered = {
        let parts: Vec<&str> = read_token.split('.').collect();
        let mut payload: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        payload["scope"] = json!("read write");
        let payload = b64(payload.to_string().as_bytes());
        format!("{}.{}.{}", parts[0], payload, parts[2])
    };
    let (other_kid, other) = other_key();

    vec![
        case("valid token", "/read", &read_token, 200),
        case("valid token with both scopes", "/write", &read_write, 200),
        case(
            "signed by gatehouse's key with gatehouse's claims",
            "/read",
            &sign_rs256(&kid, &good, &key),
            200,
        ),
        case("too few scopes", "/write", &read_token, 403),
        case("expired", "/read", &sign_rs256(&kid, &expired, &key), 401),
        case(
            "not yet valid",
            "/read",
            &sign_rs256(&kid, &not_yet, &key),
            401,
        ),
        case(
            "wrong audience",
            "/read",
            &sign_rs256(
                &kid,
                &with(good.clone(), json!({"aud": "https://other.example"})),
                &key,
            ),
            401,
        ),
        case(
            "wrong issuer",
            "/read",
            &sign_rs256(
                &kid,
                &with(good.clone(), json!({"iss": "https://evil.example"})),
                &key,
            ),
            401,
        ),
        case("alg none", "/read", &alg_none, 401),
        case("HS256 with the public key as secret", "/read", &hs256, 401),
        case("tampered payload", "/read", &tampered, 401),
        case(
            "typ JWT",
            "/read",
            &sign(Algorithm::RS256, "JWT", &kid, &good, &key),
            401,
        ),
        case(
            "unknown kid",
            "/read",
            &sign_rs256("no-such-kid", &good, &key),
            401,
        ),
        case(
            "another issuer's key under its own kid",
            "/read",
            &sign_rs256(other_kid, &good, other),
            401,
        ),
        case(
            "another issuer's key under gatehouse's kid",
            "/read",
            &sign_rs256(&kid, &good, other),
            401,
        ),
        case("refresh token", "/read", &refresh_token(app).await, 401),
        case(
            "authorization code",
            "/read",
            &authorization_code(app).await,
            401,
        ),
        Case {
            name: "token without the Bearer prefix",
            path: "/read",
            authorization: Some(read_token.clone()),
            status: 401,
            error: None,
        },
        Case {
            name: "Basic credentials",
            path: "/read",
            authorization: Some("Basic c3ZjOnNlY3JldA==".into()),
            status: 401,
            error: None,
        },
        Case {
            name: "no Authorization header",
            path: "/read",
            authorization: None,
            status: 401,
            error: None,
        },
    ]
}

/// Sends every case to the API at `base`; returns what went wrong.
async fn run_cases(base: &str, cases: &[Case]) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut wrong = Vec::new();
    for c in cases {
        let mut req = http.get(format!("{base}{}", c.path));
        if let Some(a) = &c.authorization {
            req = req.header("Authorization", a);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let www = resp
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_string());
        let mut problems = Vec::new();
        if status != c.status {
            problems.push(format!("status {status}, want {}", c.status));
        }
        if c.status != 200 {
            match &www {
                None => problems.push("no WWW-Authenticate".into()),
                Some(w) if !w.starts_with("Bearer realm=\"") => {
                    problems.push(format!("challenge {w:?} lacks the realm"))
                }
                Some(w) => match c.error {
                    Some(e) if !w.contains(&format!("error=\"{e}\"")) => {
                        problems.push(format!("challenge {w:?} lacks error=\"{e}\""))
                    }
                    None if w.contains("error=") => {
                        problems.push(format!("challenge {w:?} has an error code"))
                    }
                    _ => {}
                },
            }
            if c.status == 403 && !www.as_deref().unwrap_or("").contains("scope=\"write\"") {
                problems.push(format!("challenge {www:?} lacks scope=\"write\""));
            }
        }
        if !problems.is_empty() {
            wrong.push(format!("{}: {}", c.name, problems.join("; ")));
        }
    }
    wrong
}

// ---- the crate ----------------------------------------------------------

async fn rfc9068_4_guard_accepts_exactly_the_tokens_it_should(app: TestApp) {
    let api = rust_api(guard_for(&app).build().await.unwrap());
    let cases = cases(&app).await;
    let wrong = run_cases(&api.base, &cases).await;
    assert!(wrong.is_empty(), "gatehouse-guard:\n{}", wrong.join("\n"));
}

async fn rfc6750_3_1_insufficient_scope_is_403(app: TestApp) {
    let api = rust_api(guard_for(&app).build().await.unwrap());
    let token = app
        .client_credentials_token(&app.service_client(), Some("read"))
        .await;
    let r = reqwest::Client::new()
        .get(format!("{}/write", api.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let www = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        www.starts_with(r#"Bearer realm=""#)
            && www.contains(r#"error="insufficient_scope""#)
            && www.ends_with(r#"scope="write""#),
        "{www}"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope");
}

fn rotate(app: &TestApp) -> String {
    let s = &app.state;
    // At once (`keys rotate --now`), so the guard meets an unknown kid.
    let (kid, _) = gatehouse::tokens::keystore::rotate(
        &s.store,
        &s.config.keys_dir,
        s.clock.now(),
        s.config.access_token_ttl,
        0,
        None,
    )
    .unwrap();
    s.keys.reload(&s.store, s.clock.now()).unwrap();
    kid
}

async fn status_of(base: &str, path: &str, token: &str) -> u16 {
    status_with(&reqwest::Client::new(), base, path, token).await
}

async fn status_with(http: &reqwest::Client, base: &str, path: &str, token: &str) -> u16 {
    http.get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn guard_follows_a_key_rotation_without_restart(app: TestApp) {
    let svc = app.service_client();
    let api = rust_api(guard_for(&app).build().await.unwrap());
    let old = app.client_credentials_token(&svc, Some("read")).await;
    assert_eq!(status_of(&api.base, "/read", &old).await, 200);
    let fetched = jwks_fetches(&app).await;

    let new_kid = rotate(&app);
    let new = app.client_credentials_token(&svc, Some("read")).await;
    assert_eq!(
        jsonwebtoken::decode_header(&new).unwrap().kid.unwrap(),
        new_kid
    );
    assert_eq!(status_of(&api.base, "/read", &new).await, 200, "new key");
    assert_eq!(
        status_of(&api.base, "/read", &old).await,
        200,
        "old key still"
    );
    assert_eq!(
        jwks_fetches(&app).await,
        fetched + 1,
        "one fetch for the new kid"
    );

    // Once the old tokens have expired (beyond the guard's 10 s leeway) they
    // are refused; the new key goes on.
    app.clock().advance(app.state.config.access_token_ttl + 11);
    app.state
        .keys
        .reload(&app.state.store, app.clock().now())
        .unwrap();
    assert_eq!(status_of(&api.base, "/read", &old).await, 401);
    let newer = app.client_credentials_token(&svc, Some("read")).await;
    assert_eq!(status_of(&api.base, "/read", &newer).await, 200);
}

/// A token with a made-up kid and a signature that does not matter.
fn bogus_kid_token(app: &TestApp) -> String {
    let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": uuid::Uuid::new_v4().to_string()});
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims(app, "read").to_string().as_bytes()),
        b64(&[7u8; 256])
    )
}

/// 1,000 requests with random unknown kids, ten at a time; all must be
/// refused 401. Returns how many JWKS fetches gatehouse saw meanwhile.
async fn flood(app: &TestApp, base: &str) -> u64 {
    let before = jwks_fetches(app).await;
    let tokens: Vec<String> = (0..1000).map(|_| bogus_kid_token(app)).collect();
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for chunk in tokens.chunks(100) {
        let chunk = chunk.to_vec();
        let base = base.to_string();
        let http = http.clone();
        tasks.push(actix_rt::spawn(async move {
            let mut statuses = Vec::new();
            for t in chunk {
                statuses.push(status_with(&http, &base, "/read", &t).await);
            }
            statuses
        }));
    }
    for t in tasks {
        let statuses = t.await.unwrap();
        assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    }
    jwks_fetches(app).await - before
}

async fn guard_unknown_kid_flood_costs_the_issuer_one_jwks_fetch(app: TestApp) {
    let api = rust_api(guard_for(&app).build().await.unwrap());
    let fetches = flood(&app, &api.base).await;
    assert_eq!(fetches, 1, "JWKS fetches for 1,000 unknown kids");
    // After the interval (10 s by default) one more is allowed.
    app.clock().advance(10);
    assert_eq!(flood(&app, &api.base).await, 1);
}

/// Waits (polling, up to 10 s on a loaded machine) until gatehouse has
/// served `n` JWKS documents.
async fn wait_for_fetches(app: &TestApp, n: u64) -> u64 {
    for _ in 0..500 {
        let got = jwks_fetches(app).await;
        if got >= n {
            return got;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    jwks_fetches(app).await
}

async fn rfc9111_guard_refreshes_keys_in_the_background_before_max_age(app: TestApp) {
    // gatehouse serves the JWKS with max-age=60: refresh from 48 s on.
    // The second must not tick on its own between the fetch and "47 s" (a
    // slow machine under a parallel suite): only `advance` moves it.
    app.clock().freeze();
    let api = rust_api(guard_for(&app).build().await.unwrap());
    let svc = app.service_client();
    assert_eq!(jwks_fetches(&app).await, 1);
    app.clock().advance(47);
    let token = app.client_credentials_token(&svc, Some("read")).await;
    assert_eq!(status_of(&api.base, "/read", &token).await, 200);
    assert_eq!(jwks_fetches(&app).await, 1, "still fresh at 47 s");
    app.clock().advance(1);
    assert_eq!(status_of(&api.base, "/read", &token).await, 200);
    assert_eq!(wait_for_fetches(&app, 2).await, 2, "refreshed at 48 s");
    assert_eq!(status_of(&api.base, "/read", &token).await, 200);
    assert_eq!(
        jwks_fetches(&app).await,
        2,
        "one refresh, not one per request"
    );
}

async fn guard_answers_503_for_unknown_kids_when_the_issuer_is_down(app: TestApp) {
    let api = rust_api(guard_for(&app).build().await.unwrap());
    let known = app
        .client_credentials_token(&app.service_client(), Some("read"))
        .await;
    let unknown = bogus_kid_token(&app);
    let base = app.base.clone();
    drop(app);
    for _ in 0..250 {
        if reqwest::get(format!("{base}/healthz")).await.is_err() {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        reqwest::get(format!("{base}/healthz")).await.is_err(),
        "issuer is down"
    );

    let r = reqwest::Client::new()
        .get(format!("{}/read", api.base))
        .bearer_auth(&unknown)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        503,
        "an unknown kid that could not be looked up"
    );
    assert!(r.headers().contains_key("retry-after"));
    // Within the interval the answer stays 503 (no fetch, still unchecked).
    assert_eq!(
        status_of(&api.base, "/read", &bogus_kid_token_like(&unknown)).await,
        503
    );
    // Cached keys still verify what they signed.
    assert_eq!(status_of(&api.base, "/read", &known).await, 200);
}

/// Another made-up kid, with the rest of `token`.
fn bogus_kid_token_like(token: &str) -> String {
    let (_, rest) = token.split_once('.').unwrap();
    let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": uuid::Uuid::new_v4().to_string()});
    format!("{}.{rest}", b64(header.to_string().as_bytes()))
}

async fn rfc7662_introspected_route_refuses_a_revoked_token_at_once(app: TestApp) {
    let rs = app.introspector();
    let guard = guard_for(&app)
        .introspection(&rs.client.id, rs.secret.clone().unwrap())
        .build()
        .await
        .unwrap();
    let api = rust_api(guard);
    let svc = app.service_client();
    let token = app.client_credentials_token(&svc, Some("read")).await;
    assert_eq!(status_of(&api.base, "/fresh", &token).await, 200);
    let r = app
        .post_form_basic("/revoke", &svc, &[("token", &token)])
        .await;
    assert_eq!(r.status(), 200);
    let r = reqwest::Client::new()
        .get(format!("{}/fresh", api.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains(r#"error="invalid_token""#));
    // Offline validation cannot know: it accepts until `exp` (README).
    assert_eq!(status_of(&api.base, "/read", &token).await, 200);
}

async fn rfc8414_3_3_guard_refuses_metadata_of_another_issuer(app: TestApp) {
    let with_slash = format!("{}/", app.state.issuer);
    let e = Guard::builder(&with_slash, &app.state.audience)
        .build()
        .await
        .err()
        .expect("an issuer differing by a slash is refused");
    assert!(
        matches!(e, gatehouse_guard::SetupError::IssuerMismatch { .. }),
        "{e}"
    );
}

async fn jwks_requests_are_counted_in_metrics(app: TestApp) {
    let before = jwks_fetches(&app).await;
    app.get("/jwks.json").await;
    app.get("/jwks.json").await;
    assert_eq!(jwks_fetches(&app).await, before + 2);
}

// ---- the Node and Python recipes ----------------------------------------

const RECIPES_ENV: &str = "GATEHOUSE_TEST_RECIPES_DIR";

#[derive(Clone, Copy, Debug)]
enum Lang {
    Node,
    Python,
}

fn recipes_dir() -> Option<PathBuf> {
    match std::env::var_os(RECIPES_ENV) {
        Some(d) => Some(PathBuf::from(d)),
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but {RECIPES_ENV} is not set (.ci/run installs the recipes' packages)")
        }
        None => {
            eprintln!("SKIPPED (recipes): {RECIPES_ENV} is not set; .ci/run sets it");
            None
        }
    }
}

/// A recipe's API, started as a subprocess against `app`.
struct Recipe {
    base: String,
    child: std::process::Child,
    script_copy: Option<PathBuf>,
}

impl Drop for Recipe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(p) = &self.script_copy {
            let _ = std::fs::remove_file(p);
        }
    }
}

async fn start_recipe(lang: Lang, app: &TestApp, cooldown_seconds: u32) -> Option<Recipe> {
    let dir = recipes_dir()?;
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let (mut cmd, script_copy) = match lang {
        Lang::Node => {
            // ES modules find `jose` only in a node_modules beside or above
            // the script, so the script runs from a copy in the folder.
            let node = dir.join("node");
            assert!(
                node.join("node_modules/jose").is_dir(),
                "{RECIPES_ENV}/node/node_modules/jose is missing"
            );
            let copy = node.join(format!("resource_server-{}.mjs", uuid::Uuid::new_v4()));
            std::fs::copy(examples.join("node/resource_server.mjs"), &copy).unwrap();
            let mut cmd = std::process::Command::new("node");
            cmd.arg(&copy);
            (cmd, Some(copy))
        }
        Lang::Python => {
            let python = dir.join("python");
            assert!(
                python.join("jwt").is_dir(),
                "{RECIPES_ENV}/python/jwt is missing"
            );
            let mut cmd = std::process::Command::new("python3");
            cmd.arg(examples.join("python/resource_server.py"))
                .env("PYTHONPATH", python);
            (cmd, None)
        }
    };
    cmd.env("GATEHOUSE_ISSUER", &app.state.issuer)
        .env("GATEHOUSE_AUDIENCE", &app.state.audience)
        .env("PORT", "0")
        .env("JWKS_COOLDOWN_SECONDS", cooldown_seconds.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the {lang:?} recipe: {e}"));
    let stdout = child.stdout.take().unwrap();
    let mut recipe = Recipe {
        base: String::new(),
        child,
        script_copy,
    };
    // The recipe reads gatehouse's metadata before it listens: read its
    // first line off this thread so the server keeps answering.
    let line = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .map(|_| line)
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("the {lang:?} recipe did not start within 60 s"))
    .unwrap()
    .unwrap();
    let listening: Value = serde_json::from_str(&line)
        .unwrap_or_else(|_| panic!("the {lang:?} recipe printed {line:?}, not its address"));
    recipe.base = listening["listening"].as_str().unwrap().to_string();
    Some(recipe)
}

async fn recipe_accepts_exactly_the_tokens_it_should(lang: Lang) {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let Some(recipe) = start_recipe(lang, &app, 30).await else {
        return;
    };
    let cases = cases(&app).await;
    let wrong = run_cases(&recipe.base, &cases).await;
    assert!(wrong.is_empty(), "{lang:?} recipe:\n{}", wrong.join("\n"));
}

async fn recipe_follows_a_key_rotation_without_restart(lang: Lang) {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // No cooldown: jose and PyJWT count it from the first fetch, which would
    // hide a new kid for 30 s (see the README).
    let Some(recipe) = start_recipe(lang, &app, 0).await else {
        return;
    };
    let svc = app.service_client();
    let old = app.client_credentials_token(&svc, Some("read")).await;
    assert_eq!(status_of(&recipe.base, "/read", &old).await, 200);
    rotate(&app);
    let new = app.client_credentials_token(&svc, Some("read")).await;
    assert_eq!(status_of(&recipe.base, "/read", &new).await, 200, "new key");
    assert_eq!(
        status_of(&recipe.base, "/read", &old).await,
        200,
        "old key still"
    );
}

async fn recipe_unknown_kid_flood_costs_at_most_one_jwks_fetch(lang: Lang) {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let Some(recipe) = start_recipe(lang, &app, 30).await else {
        return;
    };
    // The first request loads the set; then the flood.
    let token = app
        .client_credentials_token(&app.service_client(), Some("read"))
        .await;
    assert_eq!(status_of(&recipe.base, "/read", &token).await, 200);
    let fetches = flood(&app, &recipe.base).await;
    assert!(
        fetches <= 1,
        "{lang:?}: {fetches} JWKS fetches for 1,000 unknown kids"
    );
}

macro_rules! recipe_tests {
    ($($lang:ident => $module:ident),* $(,)?) => {$(
        mod $module {
            use super::Lang;

            #[actix_rt::test]
            async fn rfc9068_4_recipe_accepts_exactly_the_tokens_it_should() {
                super::recipe_accepts_exactly_the_tokens_it_should(Lang::$lang).await;
            }

            #[actix_rt::test]
            async fn recipe_follows_a_key_rotation_without_restart() {
                super::recipe_follows_a_key_rotation_without_restart(Lang::$lang).await;
            }

            #[actix_rt::test]
            async fn recipe_unknown_kid_flood_costs_at_most_one_jwks_fetch() {
                super::recipe_unknown_kid_flood_costs_at_most_one_jwks_fetch(Lang::$lang).await;
            }
        }
    )*};
}

recipe_tests!(Node => node, Python => python);

// ---- an https issuer (issue 31) -----------------------------------------

/// The guard's default `rustls-tls` feature against an https issuer: a TLS
/// front (harness `tls.rs`) with a certificate from the test's own CA
/// before a test gatehouse whose issuer is `https://localhost:PORT`.
/// Without that CA trusted the guard cannot start (the certificate is
/// really checked); with it (`root_certificate_pem`) it reads the metadata
/// and JWKS over https and accepts the issuer's token.
#[actix_rt::test]
async fn guard_validates_tokens_of_an_https_issuer() {
    let front = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("https://localhost:{}", front.local_addr().unwrap().port());
    let set = issuer.clone();
    let app = TestApp::spawn_with(Backend::Sqlite, move |c| c.issuer = Some(set))
        .await
        .unwrap();
    assert_eq!(app.state.issuer, issuer);
    let port: u16 = app.base.rsplit(':').next().unwrap().parse().unwrap();
    crate::harness::tls::tls_front(front, port);
    let svc = app.service_client();
    let token = app.client_credentials_token(&svc, Some("read")).await;

    let untrusted = Guard::builder(&issuer, &app.state.audience).build().await;
    assert!(
        matches!(untrusted, Err(gatehouse_guard::SetupError::Fetch { .. })),
        "a certificate from an unknown CA must be refused"
    );
    let guard = Guard::builder(&issuer, &app.state.audience)
        .root_certificate_pem(crate::harness::tls::test_ca().ca_pem.clone())
        .build()
        .await
        .unwrap();
    let p = guard.validate(&token).await.unwrap();
    assert_eq!(p.client_id, svc.client.id);
    assert_eq!(p.scopes, ["read"]);
}
