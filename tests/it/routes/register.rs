//! `POST /register` (RFC 7591 dynamic client registration) and
//! `/register/{client_id}` (RFC 7592 management), in each
//! `GATEHOUSE_REGISTRATION` mode; loopback redirect URIs on any port
//! (RFC 8252 §7.3) for a natively registered app; OpenID Connect DCR §2
//! `application_type`; what an MCP client (the TypeScript SDK) sends.

use crate::harness::names::HIDDEN_TRICK_NAMES;
use crate::harness::{
    client_credentials, expect_error, pkce_pair, racer_url, url_params, TestApp, RACERS,
};
use serde_json::{json, Value};

backend_tests!(
    rfc7591_3_1_registers_with_an_initial_access_token_and_the_app_works_at_once,
    rfc7591_3_without_a_valid_initial_access_token_is_401_and_creates_nothing,
    rfc7591_3_a_one_use_token_raced_by_50_registrations_on_two_instances_creates_exactly_one_client,
    rfc7591_3_2_2_invalid_redirect_uri_creates_nothing_and_spends_no_use,
    rfc7591_3_2_2_invalid_client_metadata,
    rfc7591_2_defaults_and_unknown_fields_are_ignored,
    rfc7592_read_update_delete_round_trip,
    rfc7592_2_1_another_clients_or_no_registration_token_is_401,
    rfc7592_2_2_update_is_validated_and_changes_nothing_when_refused,
    rfc7592_2_3_delete_revokes_the_apps_refresh_tokens,
    rfc8252_7_3_a_registered_loopback_redirect_uri_works_on_any_port,
    rfc7591_2_client_name_with_bidi_controls_or_invisible_characters_is_invalid_client_metadata,
    rfc7591_2_oidc_core_5_4_identity_scopes_are_always_registrable,
    oidc_dcr_2_application_type_is_stored_echoed_and_bounds_the_redirect_uris,
    oidc_dcr_2_without_application_type_the_redirect_uris_decide_it,
    oidc_dcr_2_rfc7592_update_sets_application_type_and_a_refused_one_changes_nothing,
);

mod open_registration {
    use super::*;
    backend_tests!(with |c| c.registration = gatehouse::config::Registration::Open;
        registration_open_needs_no_token,
        mcp_sdk_payload_registers_without_a_token_and_completes_code_pkce_and_refresh_rotation,
    );
}

mod no_registration {
    use super::*;
    backend_tests!(with |c| c.registration = gatehouse::config::Registration::Off;
        registration_off_has_no_endpoint_and_no_metadata_entry,
    );
}

mod wider_registration_scopes {
    use super::*;
    backend_tests!(with |c| c.registration_scopes = vec!["read".into(), "write".into()];
        registration_scopes_setting_bounds_what_an_app_may_ask_for,
    );
}

// ---- helpers ----------------------------------------------------------

/// An initial access token good for `uses` registrations.
fn initial_token(app: &TestApp, uses: i64) -> String {
    crate::harness::wait(app.state.registry().create_registration_token(uses, None)).unwrap()
}

async fn post_register(app: &TestApp, token: Option<&str>, body: &Value) -> reqwest::Response {
    let mut req = app.http.post(app.url("/register")).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

/// Registers `body` with a fresh one-use token; asserts 201.
async fn registered(app: &TestApp, body: Value) -> Value {
    let token = initial_token(app, 1);
    let r = post_register(app, Some(&token), &body).await;
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, 201, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn service_app() -> Value {
    json!({
        "client_name": "Report Builder",
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": "read",
    })
}

fn native_app(redirect: &str) -> Value {
    json!({
        "client_name": "Desktop Notes",
        "redirect_uris": [redirect],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "read",
    })
}

fn client_count(app: &TestApp) -> usize {
    app.state
        .store
        .conn()
        .unwrap()
        .list_clients()
        .unwrap()
        .len()
}

fn manage(app: &TestApp, reg: &Value, method: reqwest::Method) -> reqwest::RequestBuilder {
    app.http
        .request(method, reg["registration_client_uri"].as_str().unwrap())
        .bearer_auth(reg["registration_access_token"].as_str().unwrap())
}

/// RFC 7592 §2.2: replaces the registration's metadata with `body`.
async fn put_registration(app: &TestApp, reg: &Value, body: &Value) -> reqwest::Response {
    manage(app, reg, reqwest::Method::PUT)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// RFC 7592 §2.1: the registration as the server has it now.
async fn read_registration(app: &TestApp, reg: &Value) -> Value {
    manage(app, reg, reqwest::Method::GET)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} in {v}"))
}

/// Signs a person in and returns an authorization code for `client_id`
/// through `redirect`, with its PKCE verifier.
async fn code_for(app: &TestApp, client_id: &str, redirect: &str) -> (String, String) {
    let (verifier, challenge) = pkce_pair();
    if app
        .state
        .store
        .conn()
        .unwrap()
        .find_user_by_username("alice")
        .unwrap()
        .is_none()
    {
        app.alice();
        app.sign_in("alice", "correct horse", "/account").await;
    }
    let q = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect),
        ("scope", "read"),
        ("state", "s1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    let loc = app.authorize_and_allow(&q).await;
    assert!(loc.starts_with(redirect), "{loc}");
    let code = url_params(&loc, false)["code"].clone();
    (code, verifier)
}

async fn exchange_public(
    app: &TestApp,
    client_id: &str,
    code: &str,
    verifier: &str,
    redirect: &str,
) -> reqwest::Response {
    app.post_form(
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", redirect),
            ("client_id", client_id),
        ],
    )
    .await
}

// ---- RFC 7591 ---------------------------------------------------------

async fn rfc7591_3_1_registers_with_an_initial_access_token_and_the_app_works_at_once(
    app: TestApp,
) {
    let token = initial_token(&app, 1);
    let r = post_register(&app, Some(&token), &service_app()).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let reg: Value = r.json().await.unwrap();
    assert_eq!(reg["client_name"], "Report Builder");
    assert_eq!(reg["grant_types"], json!(["client_credentials"]));
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(reg["scope"], "read");
    assert_eq!(reg["client_secret_expires_at"], 0);
    assert!(reg["client_id_issued_at"].as_i64().unwrap() > 0);
    let id = s(&reg, "client_id");
    assert_eq!(
        s(&reg, "registration_client_uri"),
        app.url(&format!("/register/{id}"))
    );
    assert!(s(&reg, "registration_access_token").len() >= 32);
    // Only hashes are stored.
    let row = app
        .state
        .store
        .conn()
        .unwrap()
        .find_client(id)
        .unwrap()
        .unwrap();
    assert_ne!(row.secret_hash.as_deref(), Some(s(&reg, "client_secret")));
    assert_ne!(
        row.registration_token_hash.as_deref(),
        Some(s(&reg, "registration_access_token"))
    );
    // The app gets tokens at once.
    let t = client_credentials(&app, id, s(&reg, "client_secret")).await;
    assert_eq!(t.status(), 200);
    let body: Value = t.json().await.unwrap();
    let claims = app.verify_jwt(s(&body, "access_token")).await;
    assert_eq!(claims["client_id"], id);
}

async fn rfc7591_3_without_a_valid_initial_access_token_is_401_and_creates_nothing(app: TestApp) {
    let before = client_count(&app);
    let r = post_register(&app, None, &service_app()).await;
    let www = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(www.starts_with("Bearer"), "{www}");
    expect_error(r, 401, "invalid_token").await;
    expect_error(
        post_register(&app, Some("not-a-token"), &service_app()).await,
        401,
        "invalid_token",
    )
    .await;
    // Used up.
    let once = initial_token(&app, 1);
    assert_eq!(
        post_register(&app, Some(&once), &service_app())
            .await
            .status(),
        201
    );
    expect_error(
        post_register(&app, Some(&once), &service_app()).await,
        401,
        "invalid_token",
    )
    .await;
    // Expired.
    let short = app
        .state
        .registry()
        .create_registration_token(5, Some(60))
        .await
        .unwrap();
    app.clock().advance(61);
    expect_error(
        post_register(&app, Some(&short), &service_app()).await,
        401,
        "invalid_token",
    )
    .await;
    assert_eq!(
        client_count(&app),
        before + 1,
        "only the one good registration"
    );
}

async fn rfc7591_3_a_one_use_token_raced_by_50_registrations_on_two_instances_creates_exactly_one_client(
    app: TestApp,
) {
    let token = initial_token(&app, 1);
    let before = client_count(&app);
    let body = service_app();
    let other = app.sibling();
    let tries = (0..RACERS).map(|i| {
        app.http
            .post(racer_url(&app, &other, i, "/register"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(tries)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        RACERS - 1,
        "{statuses:?}"
    );
    assert_eq!(client_count(&app), before + 1);
}

async fn rfc7591_3_2_2_invalid_redirect_uri_creates_nothing_and_spends_no_use(app: TestApp) {
    let token = initial_token(&app, 1);
    let before = client_count(&app);
    for bad in [
        "javascript:alert(1)//",
        "data:text/html,hi",
        "http://localhost.evil.com/cb",
        "http://app.example/cb",
        "https://app.example/cb#frag",
        "https://user:pw@app.example/cb",
        "/relative/cb",
        "myapp:/cb",
    ] {
        let r = post_register(&app, Some(&token), &native_app(bad)).await;
        let body = expect_error(r, 400, "invalid_redirect_uri").await;
        assert!(
            body["error_description"].as_str().unwrap().len() > 10,
            "{bad}"
        );
    }
    // authorization_code without any redirect URI.
    let mut none = native_app("https://app.example/cb");
    none["redirect_uris"] = json!([]);
    expect_error(
        post_register(&app, Some(&token), &none).await,
        400,
        "invalid_redirect_uri",
    )
    .await;
    assert_eq!(client_count(&app), before);
    // The token's one use is still there.
    let ok = post_register(&app, Some(&token), &native_app("com.example.notes:/cb")).await;
    assert_eq!(ok.status(), 201);
}

async fn rfc7591_3_2_2_invalid_client_metadata(app: TestApp) {
    let token = initial_token(&app, 1);
    let before = client_count(&app);
    let base = service_app();
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (why, body) in [
        (
            "grant_types not an array",
            with("grant_types", json!("client_credentials")),
        ),
        ("unknown grant type", with("grant_types", json!(["magic"]))),
        (
            "legacy password grant",
            with("grant_types", json!(["password"])),
        ),
        (
            "legacy implicit grant",
            with("grant_types", json!(["implicit"])),
        ),
        (
            "unknown auth method",
            with("token_endpoint_auth_method", json!("private_key_jwt")),
        ),
        (
            "scope beyond registration_scopes",
            with("scope", json!("read admin")),
        ),
        (
            "client_uri javascript:",
            with("client_uri", json!("javascript:alert(1)//")),
        ),
        (
            "client_uri plain http",
            with("client_uri", json!("http://app.example")),
        ),
        (
            "logo_uri data:",
            with("logo_uri", json!("data:image/png;base64,AAAA")),
        ),
        ("contacts not strings", with("contacts", json!([1, 2]))),
        (
            "client_name not a string",
            with("client_name", json!(["x"])),
        ),
        (
            "public client with client_credentials",
            with("token_endpoint_auth_method", json!("none")),
        ),
        (
            "response_types token without implicit",
            json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
        ),
        (
            "authorization_code without response type code",
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["authorization_code"], "response_types": []}),
        ),
        ("not an object", json!(["client_name", "x"])),
    ] {
        let r = post_register(&app, Some(&token), &body).await;
        let status = r.status();
        let got: Value = r.json().await.unwrap();
        assert_eq!(status, 400, "{why}: {got}");
        assert_eq!(got["error"], "invalid_client_metadata", "{why}: {got}");
    }
    // A field of the wrong JSON type is named, so the developer knows which.
    for (field, value) in [
        ("grant_types", json!("client_credentials")),
        ("contacts", json!([1, 2])),
        ("client_name", json!(["x"])),
    ] {
        let r = post_register(&app, Some(&token), &with(field, value)).await;
        let got: Value = r.json().await.unwrap();
        let why = got["error_description"].as_str().unwrap_or("");
        assert!(why.starts_with(&format!("{field}: ")), "{field}: {got}");
    }
    // Not JSON at all.
    let r = app
        .http
        .post(app.url("/register"))
        .bearer_auth(&token)
        .form(&[("client_name", "x")])
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request").await;
    assert_eq!(client_count(&app), before, "nothing was written");
}

async fn rfc7591_2_defaults_and_unknown_fields_are_ignored(app: TestApp) {
    let reg = registered(
        &app,
        json!({
            "redirect_uris": ["https://app.example/cb"],
            "software_statement_unknown": {"x": 1},
            "tos_uri": "https://app.example/tos",
            "client_name#fr": "Application",
        }),
    )
    .await;
    // §2: grant_types defaults to authorization_code, response_types to
    // code, token_endpoint_auth_method to client_secret_basic.
    assert_eq!(reg["grant_types"], json!(["authorization_code"]));
    assert_eq!(reg["response_types"], json!(["code"]));
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_basic");
    assert!(reg["client_secret"].is_string());
    // The scope defaults to what self-registered apps may have.
    assert_eq!(reg["scope"], "read");
    assert!(reg.get("tos_uri").is_none());
}

async fn registration_scopes_setting_bounds_what_an_app_may_ask_for(app: TestApp) {
    let mut body = service_app();
    body["scope"] = json!("read write");
    let reg = registered(&app, body.clone()).await;
    assert_eq!(reg["scope"], "read write");
    body["scope"] = json!("write admin");
    let token = initial_token(&app, 1);
    expect_error(
        post_register(&app, Some(&token), &body).await,
        400,
        "invalid_client_metadata",
    )
    .await;
}

async fn registration_open_needs_no_token(app: TestApp) {
    let r = post_register(&app, None, &service_app()).await;
    assert_eq!(r.status(), 201);
    let meta = app.metadata().await;
    assert_eq!(meta["registration_endpoint"], app.url("/register"));
}

async fn registration_off_has_no_endpoint_and_no_metadata_entry(app: TestApp) {
    let token = initial_token(&app, 1);
    let r = post_register(&app, Some(&token), &service_app()).await;
    assert_eq!(r.status(), 404);
    for doc in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let meta: Value = app.get(doc).await.json().await.unwrap();
        assert!(meta.get("registration_endpoint").is_none(), "{doc}: {meta}");
    }
    assert_eq!(client_count(&app), 0);
}

// ---- RFC 7592 ---------------------------------------------------------

async fn rfc7592_read_update_delete_round_trip(app: TestApp) {
    let meta = app.metadata().await;
    assert_eq!(meta["registration_endpoint"], app.url("/register"));

    let reg = registered(&app, service_app()).await;
    let id = s(&reg, "client_id").to_string();
    let secret = s(&reg, "client_secret").to_string();

    // §2.1 read: the registered metadata, never the secret.
    let r = manage(&app, &reg, reqwest::Method::GET)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let read: Value = r.json().await.unwrap();
    assert_eq!(read["client_id"], id.as_str());
    assert_eq!(read["client_name"], "Report Builder");
    assert!(read.get("client_secret").is_none());
    assert_eq!(
        read["registration_client_uri"],
        reg["registration_client_uri"]
    );

    // §2.2 update: replaces the metadata.
    let r = manage(&app, &reg, reqwest::Method::PUT)
        .json(&json!({
            "client_id": id,
            "client_name": "Report Builder 2",
            "client_uri": "https://reports.example",
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_post",
            "contacts": ["ops@reports.example"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["client_name"], "Report Builder 2");
    assert_eq!(updated["client_uri"], "https://reports.example");
    assert_eq!(updated["token_endpoint_auth_method"], "client_secret_post");
    assert_eq!(updated["contacts"], json!(["ops@reports.example"]));
    let read: Value = read_registration(&app, &reg).await;
    assert_eq!(read["client_name"], "Report Builder 2");
    // The secret stayed; the auth method changed to post.
    let post = app
        .post_form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert_eq!(post.status(), 200);

    // §2.3 delete: 204, then the client and its registration are gone.
    let r = manage(&app, &reg, reqwest::Method::DELETE)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = manage(&app, &reg, reqwest::Method::GET)
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "invalid_token").await;
    let gone = app
        .post_form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        )
        .await;
    expect_error(gone, 401, "invalid_client").await;
}

async fn rfc7592_2_1_another_clients_or_no_registration_token_is_401(app: TestApp) {
    let a = registered(&app, service_app()).await;
    let b = registered(&app, service_app()).await;
    let a_uri = s(&a, "registration_client_uri");
    for token in [
        None,
        Some("wrong"),
        Some(s(&b, "registration_access_token")),
    ] {
        for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
            let mut req = app.http.request(method.clone(), a_uri);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let r = req.send().await.unwrap();
            assert!(r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token"));
            expect_error(r, 401, "invalid_token").await;
        }
    }
    // An unknown client answers the same as a wrong token.
    let r = app
        .http
        .get(app.url("/register/no-such-client"))
        .bearer_auth(s(&a, "registration_access_token"))
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "invalid_token").await;
    // A CLI-registered client has no registration access token at all.
    let cli = app.service_client();
    let r = app
        .http
        .get(app.url(&format!("/register/{}", cli.client.id)))
        .bearer_auth("")
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "invalid_token").await;
    assert_eq!(client_count(&app), 3, "nothing was deleted");
}

async fn rfc7592_2_2_update_is_validated_and_changes_nothing_when_refused(app: TestApp) {
    let reg = registered(&app, native_app("https://notes.example/cb")).await;
    let id = s(&reg, "client_id").to_string();
    let mut body = native_app("https://notes.example/cb");
    // Without client_id.
    let r = put_registration(&app, &reg, &body).await;
    expect_error(r, 400, "invalid_request").await;
    body["client_id"] = json!(id);
    for (bad, code) in [
        (
            json!({"redirect_uris": ["javascript:alert(1)//"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"token_endpoint_auth_method": "client_secret_basic"}),
            "invalid_client_metadata",
        ),
        (json!({"scope": "admin"}), "invalid_client_metadata"),
        (json!({"client_secret": "guess"}), "invalid_request"),
    ] {
        let mut b = body.clone();
        for (k, v) in bad.as_object().unwrap() {
            b[k] = v.clone();
        }
        let r = manage(&app, &reg, reqwest::Method::PUT)
            .json(&b)
            .send()
            .await
            .unwrap();
        expect_error(r, 400, code).await;
    }
    let read: Value = read_registration(&app, &reg).await;
    assert_eq!(read["redirect_uris"], json!(["https://notes.example/cb"]));
    assert_eq!(read["token_endpoint_auth_method"], "none");
    assert_eq!(read["scope"], "read");
}

async fn rfc7592_2_3_delete_revokes_the_apps_refresh_tokens(app: TestApp) {
    let redirect = "https://notes.example/cb";
    let reg = registered(&app, native_app(redirect)).await;
    let id = s(&reg, "client_id").to_string();
    let (code, verifier) = code_for(&app, &id, redirect).await;
    let r = exchange_public(&app, &id, &code, &verifier, redirect).await;
    assert_eq!(r.status(), 200);
    let tokens: Value = r.json().await.unwrap();
    let refresh = s(&tokens, "refresh_token").to_string();

    let r = manage(&app, &reg, reqwest::Method::DELETE)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = app
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &id),
            ],
        )
        .await;
    // RFC 6749 §5.2: the client is unknown now.
    expect_error(r, 401, "invalid_client").await;
    let mut conn = app.state.store.conn().unwrap();
    let alice = conn.find_user_by_username("alice").unwrap().unwrap();
    assert!(conn.find_consent(&alice.id, &id).unwrap().is_none());
}

async fn rfc8252_7_3_a_registered_loopback_redirect_uri_works_on_any_port(app: TestApp) {
    let reg = registered(&app, native_app("http://127.0.0.1/callback")).await;
    let id = s(&reg, "client_id").to_string();
    let ephemeral = "http://127.0.0.1:49152/callback";
    let (code, verifier) = code_for(&app, &id, ephemeral).await;
    let r = exchange_public(&app, &id, &code, &verifier, ephemeral).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // Any other path, or another host, is still refused at /authorize.
    for wrong in [
        "http://127.0.0.1:49152/other",
        "http://localhost:49152/callback",
        "http://127.0.0.1.evil.example:49152/callback",
    ] {
        let q = serde_urlencoded::to_string([
            ("response_type", "code"),
            ("client_id", id.as_str()),
            ("redirect_uri", wrong),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ])
        .unwrap();
        let r = app.get(&format!("/authorize?{q}")).await;
        assert_eq!(r.status(), 400, "{wrong}");
    }
}

/// RFC 7591 §2 leaves `client_name` free text; people read it on the
/// consent, sign-in and sign-out pages, so characters that reorder or hide
/// what they read are refused (§3.2.2 `invalid_client_metadata`), at
/// registration and at an RFC 7592 update, and nothing changes.
async fn rfc7591_2_client_name_with_bidi_controls_or_invisible_characters_is_invalid_client_metadata(
    app: TestApp,
) {
    let token = initial_token(&app, 20);
    for name in HIDDEN_TRICK_NAMES {
        let mut body = service_app();
        body["client_name"] = json!(name);
        let r = post_register(&app, Some(&token), &body).await;
        let err = expect_error(r, 400, "invalid_client_metadata").await;
        assert!(
            s(&err, "error_description").contains("U+"),
            "names the character: {err}"
        );
    }
    assert_eq!(client_count(&app), 0, "nothing created");

    let reg = registered(&app, service_app()).await;
    for name in HIDDEN_TRICK_NAMES {
        let mut body = service_app();
        body["client_id"] = reg["client_id"].clone();
        body["client_name"] = json!(name);
        let r = put_registration(&app, &reg, &body).await;
        expect_error(r, 400, "invalid_client_metadata").await;
    }
    let read: Value = read_registration(&app, &reg).await;
    assert_eq!(read["client_name"], "Report Builder", "unchanged");
    // Right-to-left names themselves are welcome.
    let mut body = service_app();
    body["client_name"] = json!("דוחות");
    registered(&app, body).await;
}

/// RFC 7591 §2 `scope`, OIDC Core §5.4 (and §3.1.2.1 for `openid`): a
/// "Sign in with gatehouse" app registers with the identity scopes, which
/// each person grants on the consent page, beside the registration scopes
/// (here only `read`); anything else beyond those is still refused.
async fn rfc7591_2_oidc_core_5_4_identity_scopes_are_always_registrable(app: TestApp) {
    let mut body = native_app("http://127.0.0.1/cb");
    body["scope"] = json!("openid profile email read");
    let reg = registered(&app, body.clone()).await;
    assert_eq!(reg["scope"], "openid profile email read");
    body["scope"] = json!("openid");
    let reg = registered(&app, body.clone()).await;
    assert_eq!(reg["scope"], "openid");
    let before = client_count(&app);
    for scope in ["openid offline_access", "openid write"] {
        body["scope"] = json!(scope);
        let token = initial_token(&app, 1);
        expect_error(
            post_register(&app, Some(&token), &body).await,
            400,
            "invalid_client_metadata",
        )
        .await;
    }
    assert_eq!(client_count(&app), before);
}

// ---- OpenID Connect DCR §2 application_type, MCP clients ----------------

/// OpenID Connect DCR §2: `application_type` is `web` or `native`, stored
/// and answered in the registration and the RFC 7592 read. A native app
/// registers loopback http (RFC 8252 §7.3), private-use schemes (§7.1) or
/// claimed https (§7.2); a web app https only: anything else is RFC 7591
/// §3.2.2 `invalid_redirect_uri`, an unknown type
/// `invalid_client_metadata`, and a refused registration creates nothing.
async fn oidc_dcr_2_application_type_is_stored_echoed_and_bounds_the_redirect_uris(app: TestApp) {
    let with_type = |t: Value, redirect: &str| {
        let mut b = native_app(redirect);
        b["application_type"] = t;
        b
    };
    for (t, redirect) in [
        ("native", "http://127.0.0.1:41234/callback"),
        ("native", "http://[::1]/callback"),
        ("native", "com.example.notes:/callback"),
        ("native", "https://notes.example/callback"),
        ("web", "https://notes.example/callback"),
    ] {
        let reg = registered(&app, with_type(json!(t), redirect)).await;
        assert_eq!(reg["application_type"], t, "{redirect}: {reg}");
        assert_eq!(reg["redirect_uris"], json!([redirect]));
        let read: Value = read_registration(&app, &reg).await;
        assert_eq!(read["application_type"], t, "RFC 7592 read: {read}");
    }
    let before = client_count(&app);
    let token = initial_token(&app, 1);
    for redirect in [
        "http://127.0.0.1:41234/callback",
        "http://localhost/callback",
        "com.example.notes:/callback",
    ] {
        let r = post_register(&app, Some(&token), &with_type(json!("web"), redirect)).await;
        let err = expect_error(r, 400, "invalid_redirect_uri").await;
        assert!(
            s(&err, "error_description").contains(redirect),
            "names the URI: {err}"
        );
    }
    // One https URI does not carry a loopback one for a web app.
    let mut both = with_type(json!("web"), "https://notes.example/callback");
    both["redirect_uris"] = json!(["https://notes.example/callback", "http://127.0.0.1/cb"]);
    expect_error(
        post_register(&app, Some(&token), &both).await,
        400,
        "invalid_redirect_uri",
    )
    .await;
    for bad in [
        json!("browser"),
        json!("Native"),
        json!(""),
        json!(7),
        json!(["native"]),
    ] {
        let r = post_register(
            &app,
            Some(&token),
            &with_type(bad.clone(), "http://127.0.0.1/cb"),
        )
        .await;
        let err = expect_error(r, 400, "invalid_client_metadata").await;
        assert!(
            s(&err, "error_description").contains("application_type"),
            "{bad}: {err}"
        );
    }
    assert_eq!(client_count(&app), before, "nothing was created");
    // The token's one use was not spent by the refusals.
    let ok = post_register(
        &app,
        Some(&token),
        &with_type(json!("native"), "http://127.0.0.1/cb"),
    )
    .await;
    assert_eq!(ok.status(), 201);
}

/// Decided for MCP clients (issue 31): a registration without
/// `application_type` keeps today's acceptance (editors register loopback
/// URIs without it) and is recorded `native` when any redirect URI is
/// loopback or private-use, else `web`; a client with no redirect URIs
/// (client credentials) is `web`.
async fn oidc_dcr_2_without_application_type_the_redirect_uris_decide_it(app: TestApp) {
    for (redirects, t) in [
        (json!(["http://127.0.0.1:33418/callback"]), "native"),
        (
            json!(["http://localhost/cb", "https://notes.example/cb"]),
            "native",
        ),
        (json!(["com.example.notes:/cb"]), "native"),
        (json!(["https://notes.example/cb"]), "web"),
    ] {
        let mut body = native_app("https://unused.example/cb");
        body["redirect_uris"] = redirects.clone();
        let reg = registered(&app, body).await;
        assert_eq!(reg["application_type"], t, "{redirects}: {reg}");
        let row = app
            .state
            .store
            .conn()
            .unwrap()
            .find_client(s(&reg, "client_id"))
            .unwrap()
            .unwrap();
        assert_eq!(row.application_type.as_str(), t, "stored");
    }
    let reg = registered(&app, service_app()).await;
    assert_eq!(reg["application_type"], "web");
}

/// RFC 7592 §2.2 with OpenID Connect DCR §2: an update may name the type;
/// a web type with a loopback URI is `invalid_redirect_uri` and leaves the
/// client as it was; left out, the redirect URIs decide it again.
async fn oidc_dcr_2_rfc7592_update_sets_application_type_and_a_refused_one_changes_nothing(
    app: TestApp,
) {
    let loopback = "http://127.0.0.1/callback";
    let reg = registered(&app, native_app(loopback)).await;
    assert_eq!(reg["application_type"], "native");
    let mut body = native_app(loopback);
    body["client_id"] = reg["client_id"].clone();
    body["application_type"] = json!("web");
    let r = put_registration(&app, &reg, &body).await;
    expect_error(r, 400, "invalid_redirect_uri").await;
    body["application_type"] = json!("desktop");
    let r = put_registration(&app, &reg, &body).await;
    expect_error(r, 400, "invalid_client_metadata").await;
    let read: Value = read_registration(&app, &reg).await;
    assert_eq!(read["application_type"], "native", "unchanged: {read}");
    assert_eq!(read["redirect_uris"], json!([loopback]));

    body["application_type"] = json!("web");
    body["redirect_uris"] = json!(["https://notes.example/callback"]);
    let r = put_registration(&app, &reg, &body).await;
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["application_type"], "web");
    // Left out: the loopback URI makes it native again.
    let mut body = native_app(loopback);
    body["client_id"] = reg["client_id"].clone();
    let r = put_registration(&app, &reg, &body).await;
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["application_type"], "native");
}

/// What the MCP TypeScript SDK's client sends to `POST /register` (RFC 7591
/// §3.1), with and without `application_type` and `scope`, under
/// `GATEHOUSE_REGISTRATION=open` (no initial access token): a public
/// client (`none`) on a loopback redirect URI, which then completes the
/// code flow with PKCE (RFC 7636) and refreshes, the refresh token
/// rotating (RFC 9700 §4.14.2: the used one is refused, and its family
/// with it).
async fn mcp_sdk_payload_registers_without_a_token_and_completes_code_pkce_and_refresh_rotation(
    app: TestApp,
) {
    let redirect = "http://127.0.0.1:33418/callback";
    for (application_type, scope) in [
        (None, None),
        (Some("native"), None),
        (None, Some("read")),
        (Some("native"), Some("read")),
    ] {
        let mut body = json!({
            "client_name": "Claude Code (gatehouse)",
            "redirect_uris": [redirect],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        });
        if let Some(t) = application_type {
            body["application_type"] = json!(t);
        }
        if let Some(sc) = scope {
            body["scope"] = json!(sc);
        }
        let case = format!("{application_type:?} {scope:?}");
        let r = post_register(&app, None, &body).await;
        let status = r.status();
        let reg: Value = r.json().await.unwrap();
        assert_eq!(status, 201, "{case}: {reg}");
        assert!(reg.get("client_secret").is_none(), "{case}: public");
        assert_eq!(reg["token_endpoint_auth_method"], "none", "{case}");
        assert_eq!(reg["application_type"], "native", "{case}");
        assert_eq!(
            reg["grant_types"],
            json!(["authorization_code", "refresh_token"]),
            "{case}"
        );
        assert_eq!(reg["scope"], "read", "{case}");
        let id = s(&reg, "client_id").to_string();

        let (code, verifier) = code_for(&app, &id, redirect).await;
        let r = exchange_public(&app, &id, &code, &verifier, redirect).await;
        let status = r.status();
        let tokens: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{case}: {tokens}");
        let claims = app.verify_jwt(s(&tokens, "access_token")).await;
        assert_eq!(claims["client_id"], id.as_str(), "{case}");
        let first = s(&tokens, "refresh_token").to_string();

        let refresh = |token: String| {
            let id = id.clone();
            let app = &app;
            async move {
                app.post_form(
                    "/token",
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &token),
                        ("client_id", &id),
                    ],
                )
                .await
            }
        };
        let r = refresh(first.clone()).await;
        let status = r.status();
        let next: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{case}: {next}");
        let second = s(&next, "refresh_token").to_string();
        assert_ne!(second, first, "{case}: rotated");
        // The used one is refused, and revokes the family.
        expect_error(refresh(first).await, 400, "invalid_grant").await;
        expect_error(refresh(second).await, 400, "invalid_grant").await;
    }
}
