//! The passkey endpoints as HTTP (`/account/passkeys…`, `/login/passkey…`,
//! `/login/factor/passkey…`): CSRF, who may call them, client mistakes
//! answered 4xx JSON and never 5xx, a ceremony used once, removing a
//! passkey (and keeping the last one when the factor policy requires it),
//! the list on `/account`. The ceremonies with a real authenticator are
//! `clients/browser_passkeys.rs` (Chromium's virtual authenticator).
//!
//! WebAuthn RP ids are domains, so these servers' issuer is
//! `http://localhost:PORT`; with an IP-address issuer passkeys are off
//! (`ip_issuer`).

use crate::harness::sessions::{Device, FIREFOX_LINUX};
use crate::harness::webauthn::{b64, SoftPasskey};
use crate::harness::{form_field, signed_in, TestApp, PASSWORD, USERNAME};
use gatehouse::store::models::passkey::PasskeyRow;
use serde_json::{json, Value};

backend_tests!(with crate::harness::webauthn::localhost_issuer;
    passkey_endpoints_refuse_a_post_without_the_csrf_token,
    passkey_endpoints_refuse_without_a_session_or_a_pending_sign_in,
    passkey_endpoints_answer_bad_json_with_400_not_500,
    webauthn_ceremony_is_single_use,
    passkeys_are_listed_and_removed_on_the_account_page,
    passkey_registers_and_signs_in_without_a_password,
    passkey_is_the_second_step_after_the_password,
    passkey_for_another_rp_id_is_refused,
    removed_passkey_is_refused,
    password_less_sign_in_requires_user_verification,
    failed_passkey_assertions_are_throttled,
);

mod with_mail {
    use super::*;
    backend_tests!(with |c: &mut gatehouse::Config| {
            crate::harness::webauthn::localhost_issuer(c);
            crate::harness::smtp::shared_sink_config(c);
        };
        adding_or_removing_a_passkey_mails_the_person_a_notice,
    );
}

mod required {
    use super::last_passkey_is_kept_when_the_policy_requires_a_factor;
    backend_tests!(with |c: &mut gatehouse::Config| {
            crate::harness::webauthn::localhost_issuer(c);
            c.mfa = gatehouse::config::MfaPolicy::Required;
        };
        last_passkey_is_kept_when_the_policy_requires_a_factor,
    );
}

mod ip_issuer {
    use super::passkeys_are_off_when_the_issuer_is_an_ip_address;
    backend_tests!(passkeys_are_off_when_the_issuer_is_an_ip_address,);
}

const JSON_POSTS: [&str; 6] = [
    "/account/passkeys/options",
    "/account/passkeys",
    "/login/passkey/options",
    "/login/passkey",
    "/login/factor/passkey/options",
    "/login/factor/passkey",
];

/// The CSRF token of `path`'s page (it sets the CSRF cookie too).
async fn csrf_of(app: &TestApp, path: &str) -> String {
    let page = app.get(path).await.text().await.unwrap();
    form_field(&page, "csrf_token").expect("a CSRF token on the page")
}

async fn post_json(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    post_with(&app.http, app, path, body).await
}

async fn post_with(
    http: &reqwest::Client,
    app: &TestApp,
    path: &str,
    body: &Value,
) -> (u16, Value) {
    let r = http.post(app.url(path)).json(body).send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(
        status < 300 || ct.starts_with("application/json"),
        "{path}: {status} answered {ct}"
    );
    (status, v)
}

/// The `data-csrf` of a page's passkey part (the second step has no form
/// without an authenticator app).
fn data_csrf(page: &str) -> String {
    let at = page.find("data-csrf=\"").expect("data-csrf") + "data-csrf=\"".len();
    let end = at + page[at..].find('"').unwrap();
    page[at..end].to_string()
}

/// A well-formed assertion that no authenticator made.
fn made_up_assertion() -> Value {
    json!({
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": {
            "authenticatorData": "AAAA",
            "clientDataJSON": "AAAA",
            "signature": "AAAA",
            "userHandle": null
        }
    })
}

fn passkey_row(user_id: &str, name: &str, n: u8) -> PasskeyRow {
    PasskeyRow {
        id: gatehouse::crypto::record_id(),
        user_id: user_id.into(),
        credential_id: format!("cred-{n}"),
        name: name.into(),
        credential: "{}".into(),
        created_at: 1_780_000_000 + i64::from(n),
        last_used_at: None,
    }
}

fn insert_passkey(app: &TestApp, row: &PasskeyRow) {
    let mut c = app.state.store.conn().unwrap();
    c.transaction(|t| t.insert_passkey(row)).unwrap();
}

async fn passkey_endpoints_refuse_a_post_without_the_csrf_token(app: TestApp) {
    signed_in(&app).await;
    for path in JSON_POSTS {
        let (status, v) = post_json(&app, path, &json!({})).await;
        assert_eq!(status, 403, "{path}: {v}");
        assert_eq!(v["error"], "csrf", "{path}");
        let (status, _) = post_json(&app, path, &json!({"csrf_token": "forged"})).await;
        assert_eq!(status, 403, "{path}");
    }
    // The removal form too.
    let r = app
        .post_form("/account/passkeys/some-id/delete", &[("csrf_token", "x")])
        .await;
    assert_eq!(r.status(), 403);
}

async fn passkey_endpoints_refuse_without_a_session_or_a_pending_sign_in(app: TestApp) {
    app.alice();
    let csrf = csrf_of(&app, "/login").await;
    for path in [
        "/account/passkeys/options",
        "/account/passkeys",
        "/login/factor/passkey/options",
        "/login/factor/passkey",
    ] {
        let (status, v) = post_json(
            &app,
            path,
            &json!({"csrf_token": csrf, "ceremony": "x", "credential": made_up_assertion()}),
        )
        .await;
        assert_eq!(status, 401, "{path}: {v}");
        assert_eq!(v["error"], "not_signed_in", "{path}");
    }
    // Removing one needs a session: to the sign-in page.
    let r = app
        .post_form(
            "/account/passkeys/some-id/delete",
            &[("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login?"));
    // A signed-in person without passkeys has none to prove.
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
        303
    );
    let csrf = csrf_of(&app, "/account").await;
    let (status, v) = post_json(
        &app,
        "/login/factor/passkey/options",
        &json!({"csrf_token": csrf}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"], "no_passkeys");
}

async fn passkey_endpoints_answer_bad_json_with_400_not_500(app: TestApp) {
    signed_in(&app).await;
    let csrf = csrf_of(&app, "/account").await;
    for path in JSON_POSTS {
        for body in ["{", "[1]", "\"x\"", "\u{0}", "{\"a\": }"] {
            let r = app
                .http
                .post(app.url(path))
                .header("content-type", "application/json")
                .header("x-csrf-token", &csrf)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            assert!(
                (400..500).contains(&status),
                "{path} with {body:?}: {status}"
            );
        }
    }
    // Well-formed JSON, but no credential, or not a credential.
    for credential in [Value::Null, json!("x"), json!({"id": 5}), json!([])] {
        for path in ["/account/passkeys", "/login/passkey"] {
            let (status, v) = post_json(
                &app,
                path,
                &json!({"csrf_token": csrf, "ceremony": "x", "credential": credential}),
            )
            .await;
            assert_eq!(status, 400, "{path} {credential}: {v}");
        }
    }
    // A ceremony nobody started.
    let (status, v) = post_json(
        &app,
        "/login/passkey",
        &json!({"csrf_token": csrf, "ceremony": "made-up", "credential": made_up_assertion()}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"], "ceremony");
    // A name that cannot be shown.
    let (_, started) = post_json(
        &app,
        "/account/passkeys/options",
        &json!({"csrf_token": csrf}),
    )
    .await;
    let (status, v) = post_json(
        &app,
        "/account/passkeys",
        &json!({"csrf_token": csrf, "ceremony": started["ceremony"], "name": "a\u{202e}b",
            "credential": {"id": "AAAA", "rawId": "AAAA", "type": "public-key",
                "response": {"attestationObject": "AAAA", "clientDataJSON": "AAAA"}}}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"], "name");
}

/// W3C WebAuthn Level 3 §13.4.3: a challenge is used once. The first
/// answer takes the ceremony, whatever it says; the second finds none.
async fn webauthn_ceremony_is_single_use(app: TestApp) {
    app.alice();
    let csrf = csrf_of(&app, "/login").await;
    let (status, started) =
        post_json(&app, "/login/passkey/options", &json!({"csrf_token": csrf})).await;
    assert_eq!(status, 200, "{started}");
    let options = &started["options"]["publicKey"];
    assert_eq!(options["userVerification"], "required", "{started}");
    assert_eq!(options["rpId"], "localhost", "{started}");
    let body = json!({
        "csrf_token": csrf,
        "ceremony": started["ceremony"],
        "credential": made_up_assertion(),
    });
    let (status, first) = post_json(&app, "/login/passkey", &body).await;
    assert_eq!(status, 400, "{first}");
    assert_ne!(first["error"], "ceremony", "{first}");
    let (status, second) = post_json(&app, "/login/passkey", &body).await;
    assert_eq!(status, 400, "{second}");
    assert_eq!(second["error"], "ceremony", "{second}");
    assert!(!app.is_signed_in().await);

    // Registration options: a discoverable credential, verified.
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
        303
    );
    let csrf = csrf_of(&app, "/account").await;
    let (status, started) = post_json(
        &app,
        "/account/passkeys/options",
        &json!({"csrf_token": csrf}),
    )
    .await;
    assert_eq!(status, 200);
    let sel = &started["options"]["publicKey"]["authenticatorSelection"];
    assert_eq!(sel["residentKey"], "required", "{started}");
    assert_eq!(sel["userVerification"], "required", "{started}");
    // A registration ceremony is not a sign-in one.
    let (status, v) = post_json(
        &app,
        "/login/passkey",
        &json!({"csrf_token": csrf, "ceremony": started["ceremony"], "credential": made_up_assertion()}),
    )
    .await;
    assert_eq!((status, v["error"].as_str()), (400, Some("ceremony")));
}

async fn passkeys_are_listed_and_removed_on_the_account_page(app: TestApp) {
    let alice = signed_in(&app).await;
    let page = app.get("/account").await.text().await.unwrap();
    assert!(page.contains("id=\"passkey-register\""), "{page}");
    assert!(page.contains("id=\"no-passkeys\""));
    let laptop = passkey_row(&alice.id, "Office desktop", 1);
    insert_passkey(&app, &laptop);
    let page = app.get("/account").await.text().await.unwrap();
    assert!(page.contains("Office desktop"), "{page}");
    assert!(page.contains("Never"), "never used: {page}");
    let csrf = form_field(&page, "csrf_token").unwrap();
    crate::harness::assert_accessible(&page, "the account page with a passkey");

    // Someone else's passkey id is not theirs to remove.
    let bob = app.user("bob", "bobs password");
    let bobs = passkey_row(&bob.id, "Bob's key", 2);
    insert_passkey(&app, &bobs);
    let r = app
        .post_form(
            &format!("/account/passkeys/{}/delete", bobs.id),
            &[("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), 404);

    // Optional policy: the last one may go.
    let r = app
        .post_form(
            &format!("/account/passkeys/{}/delete", laptop.id),
            &[("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = app.get("/account").await.text().await.unwrap();
    assert!(!page.contains("Office desktop"));
    let mut c = app.state.store.conn().unwrap();
    assert!(c.find_passkey_by_credential_id("cred-1").unwrap().is_none());
    assert!(c.find_passkey_by_credential_id("cred-2").unwrap().is_some());
    // The audit trail: one removal (the refused one left nothing).
    let removed = crate::harness::audit_events_of(&app, "factor_removed");
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(
        removed[0].subject.as_deref(),
        Some(format!("person:{}", alice.id).as_str())
    );
    assert!(removed[0].detail.contains(&laptop.id), "{removed:?}");
}

/// Issue 30 §5: under `GATEHOUSE_MFA=required` a person cannot remove
/// their last factor.
async fn last_passkey_is_kept_when_the_policy_requires_a_factor(app: TestApp) {
    let alice = signed_in(&app).await;
    let (a, b) = (
        passkey_row(&alice.id, "Phone", 1),
        passkey_row(&alice.id, "Key", 2),
    );
    insert_passkey(&app, &a);
    insert_passkey(&app, &b);
    let csrf = csrf_of(&app, "/account").await;
    let remove = |id: String| {
        let csrf = csrf.clone();
        let app = &app;
        async move {
            app.post_form(
                &format!("/account/passkeys/{id}/delete"),
                &[("csrf_token", csrf.as_str())],
            )
            .await
        }
    };
    assert_eq!(remove(a.id.clone()).await.status(), 303);
    let r = remove(b.id.clone()).await;
    assert_eq!(r.status(), 409);
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"last-factor\""), "{page}");
    let mut c = app.state.store.conn().unwrap();
    assert!(c.find_passkey_by_credential_id("cred-2").unwrap().is_some());
}

async fn passkeys_are_off_when_the_issuer_is_an_ip_address(app: TestApp) {
    app.alice();
    let page = app.get("/login").await.text().await.unwrap();
    // The contract's names are there; the passkey part is not offered.
    assert!(
        page.contains("autocomplete=\"username webauthn\""),
        "{page}"
    );
    assert!(page.contains("id=\"passkey-sign-in\""));
    assert!(!page.contains("data-passkey-login"));
    let csrf = form_field(&page, "csrf_token").unwrap();
    let (status, v) = post_json(&app, "/login/passkey/options", &json!({"csrf_token": csrf})).await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["error"], "unavailable");
}

// ---- ceremonies with a software passkey ---------------------------------

/// Registers `pk` for the person signed in on `app.http`, named `name`.
async fn register(app: &TestApp, pk: &mut SoftPasskey, name: &str) -> (u16, Value) {
    register_on(&app.http, app, pk, name).await
}

/// Registers `pk` for the person signed in on `http`.
async fn register_on(
    http: &reqwest::Client,
    app: &TestApp,
    pk: &mut SoftPasskey,
    name: &str,
) -> (u16, Value) {
    let page = http
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = form_field(&page, "csrf_token").unwrap();
    let (status, started) = post_with(
        http,
        app,
        "/account/passkeys/options",
        &json!({"csrf_token": csrf}),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let credential = pk.register(&started["options"]);
    post_with(
        http,
        app,
        "/account/passkeys",
        &json!({"csrf_token": csrf, "ceremony": started["ceremony"], "name": name,
            "credential": credential}),
    )
    .await
}

/// A password-less sign-in with `pk` in the browser `device`.
async fn sign_in_with(app: &TestApp, device: &Device<'_>, pk: &mut SoftPasskey) -> (u16, Value) {
    let page = device.get("/login").await.text().await.unwrap();
    let csrf = form_field(&page, "csrf_token").unwrap();
    let (status, started) = post_with(
        &device.http,
        app,
        "/login/passkey/options",
        &json!({"csrf_token": csrf}),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let credential = pk.assert(&started["options"]);
    post_with(
        &device.http,
        app,
        "/login/passkey",
        &json!({"csrf_token": csrf, "ceremony": started["ceremony"], "credential": credential,
            "next": "/authorize?client_id=x"}),
    )
    .await
}

/// The `amr` of each of a person's sessions.
fn session_amrs(app: &TestApp, user_id: &str) -> Vec<String> {
    use diesel::prelude::*;
    use gatehouse::store::schema::browser_sessions as bs;
    let mut c = app.state.store.conn().unwrap();
    db!(c, c => bs::table
        .filter(bs::user_id.eq(user_id))
        .select(bs::amr)
        .load::<String>(c)
        .unwrap())
}

/// W3C WebAuthn Level 3 §7.1 and §7.2 with a discoverable credential: a
/// passkey registered on `/account` signs in alone (RFC 8176: `hwk user
/// mfa`, or `swk` for a synced one); the same credential cannot be
/// registered twice; the person's password now leads to the second step.
async fn passkey_registers_and_signs_in_without_a_password(app: TestApp) {
    let alice = signed_in(&app).await;
    let mut key = SoftPasskey::new(&app.state.issuer);
    let (status, saved) = register(&app, &mut key, "Work laptop").await;
    assert_eq!(status, 201, "{saved}");
    assert_eq!(saved["name"], "Work laptop");
    // The audit trail: the person added a passkey.
    let added = crate::harness::audit_events_of(&app, "factor_enrolled");
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].actor, format!("person:{}", alice.id));
    assert!(
        added[0].detail.contains(r#""factor":"passkey""#),
        "{added:?}"
    );
    assert_eq!(
        key.user_handle,
        gatehouse::app::passkeys::user_handle(&alice.id)
            .as_bytes()
            .to_vec(),
        "the user handle is the person's id"
    );
    // Her own again: excluded. Someone else's copy of it: a duplicate.
    let (status, again) = register(&app, &mut key, "Again").await;
    assert_eq!(status, 400, "{again}");
    app.user("bob", "bobs password");
    let bob = Device::new(&app, FIREFOX_LINUX);
    assert_eq!(bob.sign_in("bob", "bobs password").await, 303);
    let mut copy = SoftPasskey::new(&app.state.issuer);
    copy.credential_id = key.credential_id.clone();
    let (status, again) = register_on(&bob.http, &app, &mut copy, "Copy").await;
    assert_eq!(
        (status, again["error"].as_str()),
        (409, Some("duplicate")),
        "{again}"
    );
    let mut synced = SoftPasskey::new(&app.state.issuer);
    synced.backup_eligible = true;
    assert_eq!(register(&app, &mut synced, "").await.0, 201);
    let page = app.get("/account").await.text().await.unwrap();
    assert!(
        page.contains("Work laptop") && page.contains(">Passkey<"),
        "{page}"
    );

    let laptop = Device::new(&app, FIREFOX_LINUX);
    let (status, v) = sign_in_with(&app, &laptop, &mut key).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["next"], "/authorize?client_id=x");
    assert!(laptop.signed_in().await);
    assert!(
        session_amrs(&app, &alice.id).contains(&"hwk user mfa".to_string()),
        "{:?}",
        session_amrs(&app, &alice.id)
    );
    let phone = Device::new(&app, FIREFOX_LINUX);
    assert_eq!(sign_in_with(&app, &phone, &mut synced).await.0, 200);
    assert!(session_amrs(&app, &alice.id).contains(&"swk user mfa".to_string()));
    // Used: no longer "Never" for the laptop's.
    let page = laptop.account().await;
    assert_eq!(page.matches(">Never<").count(), 0, "{page}");

    // With a passkey, the password alone no longer signs in.
    let other = Device::new(&app, FIREFOX_LINUX);
    assert_eq!(other.sign_in(USERNAME, PASSWORD).await, 303);
    assert!(!other.signed_in().await, "a second step is due");
}

/// Issue 30 §3: a passkey as the second step after the password
/// (RFC 8176: `pwd hwk user mfa`).
async fn passkey_is_the_second_step_after_the_password(app: TestApp) {
    let alice = signed_in(&app).await;
    let mut key = SoftPasskey::new(&app.state.issuer);
    assert_eq!(register(&app, &mut key, "Key").await.0, 201);

    let device = Device::new(&app, FIREFOX_LINUX);
    let r = device
        .http
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = form_field(&r, "csrf_token").unwrap();
    let r = device
        .http
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("next", "/apps"),
            ("username", USERNAME),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("/login/factor"), "{to}");
    let page = device.get(&to).await.text().await.unwrap();
    assert!(page.contains("data-passkey-factor"), "{page}");
    assert!(page.contains("id=\"passkey-factor\""));
    crate::harness::assert_accessible(&page, "the second step with a passkey");
    let csrf = data_csrf(&page);
    let (status, started) = post_with(
        &device.http,
        &app,
        "/login/factor/passkey/options",
        &json!({"csrf_token": csrf}),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let allowed = &started["options"]["publicKey"]["allowCredentials"];
    assert_eq!(allowed[0]["id"], b64(&key.credential_id), "{started}");
    assert!(!device.signed_in().await);
    let credential = key.assert(&started["options"]);
    let (status, v) = post_with(
        &device.http,
        &app,
        "/login/factor/passkey",
        &json!({"csrf_token": csrf, "ceremony": started["ceremony"], "credential": credential,
            "next": "/apps"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["next"], "/apps");
    assert!(device.signed_in().await);
    assert!(
        session_amrs(&app, &alice.id).contains(&"pwd hwk user mfa".to_string()),
        "{:?}",
        session_amrs(&app, &alice.id)
    );
}

/// W3C WebAuthn Level 3 §7.2 step 15: the `rpIdHash` must be the hash of
/// this server's RP id. The same key, signing as for `example.org`, is
/// refused; as for this host, it signs in.
async fn passkey_for_another_rp_id_is_refused(app: TestApp) {
    signed_in(&app).await;
    let mut key = SoftPasskey::new(&app.state.issuer);
    assert_eq!(register(&app, &mut key, "Key").await.0, 201);
    let device = Device::new(&app, FIREFOX_LINUX);
    key.rp_id = "example.org".into();
    let (status, v) = sign_in_with(&app, &device, &mut key).await;
    assert_eq!((status, v["error"].as_str()), (400, Some("refused")), "{v}");
    assert!(!device.signed_in().await);
    // A passkey registered for another RP id is refused at registration.
    let mut elsewhere = SoftPasskey::new(&app.state.issuer);
    elsewhere.rp_id = "example.org".into();
    let (status, v) = register(&app, &mut elsewhere, "Elsewhere").await;
    assert_eq!((status, v["error"].as_str()), (400, Some("refused")), "{v}");

    key.rp_id = "localhost".into();
    let (status, v) = sign_in_with(&app, &device, &mut key).await;
    assert_eq!(status, 200, "{v}");
}

/// A removed passkey no longer signs in.
async fn removed_passkey_is_refused(app: TestApp) {
    signed_in(&app).await;
    let mut key = SoftPasskey::new(&app.state.issuer);
    let (_, saved) = register(&app, &mut key, "Key").await;
    let device = Device::new(&app, FIREFOX_LINUX);
    assert_eq!(sign_in_with(&app, &device, &mut key).await.0, 200);
    let csrf = csrf_of(&app, "/account").await;
    let r = app
        .post_form(
            &format!("/account/passkeys/{}/delete", saved["id"].as_str().unwrap()),
            &[("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), 303);
    let fresh = Device::new(&app, FIREFOX_LINUX);
    let (status, v) = sign_in_with(&app, &fresh, &mut key).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("unknown_passkey")),
        "{v}"
    );
    assert!(!fresh.signed_in().await);
}

/// Issue 30 §3: user verification is required for a password-less
/// sign-in (W3C WebAuthn Level 3 §7.2 step 17, the UV flag).
async fn password_less_sign_in_requires_user_verification(app: TestApp) {
    signed_in(&app).await;
    let mut key = SoftPasskey::new(&app.state.issuer);
    assert_eq!(register(&app, &mut key, "Key").await.0, 201);
    let device = Device::new(&app, FIREFOX_LINUX);
    key.user_verified = false;
    let (status, v) = sign_in_with(&app, &device, &mut key).await;
    assert_eq!((status, v["error"].as_str()), (400, Some("refused")), "{v}");
    assert!(!device.signed_in().await);
    key.user_verified = true;
    assert_eq!(sign_in_with(&app, &device, &mut key).await.0, 200);
}

/// Failed assertions are counted per client address like passwords
/// (`passkey-ip:`): after the free ones, refused unchecked (429).
async fn failed_passkey_assertions_are_throttled(app: TestApp) {
    app.clock().freeze();
    signed_in(&app).await;
    let mut key = SoftPasskey::new(&app.state.issuer);
    assert_eq!(register(&app, &mut key, "Key").await.0, 201);
    let device = Device::new(&app, FIREFOX_LINUX);
    key.rp_id = "example.org".into();
    for _ in 0..gatehouse::app::throttle::FREE_FAILURES {
        assert_eq!(sign_in_with(&app, &device, &mut key).await.0, 400);
    }
    key.rp_id = "localhost".into();
    let (status, v) = sign_in_with(&app, &device, &mut key).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (429, Some("throttled")),
        "{v}"
    );
    assert!(!device.signed_in().await);
    app.clock().advance(2);
    assert_eq!(sign_in_with(&app, &device, &mut key).await.0, 200);
}

/// A passkey added or removed is mailed to the person (a real SMTP
/// conversation), in the transaction of the change.
async fn adding_or_removing_a_passkey_mails_the_person_a_notice(app: TestApp) {
    use crate::harness::smtp::shared_sink;
    let email = crate::harness::signed_in_with_address(&app, "pat").await;
    let mut key = SoftPasskey::new(&app.state.issuer);
    let (status, saved) = register(&app, &mut key, "Work laptop").await;
    assert_eq!(status, 201, "{saved}");
    let added = shared_sink().wait_for_mail_to(&email);
    assert!(added.text.contains("a passkey was added"), "{}", added.text);
    let page = app.get("/account").await.text().await.unwrap();
    let csrf = form_field(&page, "csrf_token").unwrap();
    let id = saved["id"].as_str().unwrap();
    let r = app
        .post_form(
            &format!("/account/passkeys/{id}/delete"),
            &[("csrf_token", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), 303);
    let removed = shared_sink().wait_for_mail_to(&email);
    assert!(
        removed.text.contains("a passkey was removed"),
        "{}",
        removed.text
    );
}
