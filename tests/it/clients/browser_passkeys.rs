//! Passkeys in a real browser (Chromium with a WebDriver virtual
//! authenticator: CTAP2, resident keys, user verification; axe-core):
//! adding one on `/account` with `#passkey-register`, signing in with it
//! alone by `#passkey-sign-in`, as the second step after the password,
//! its key refused when it signs for another RP id, and refused once
//! removed. The pages at 1280 and 375 px. The server's issuer is
//! `http://localhost:PORT`: WebAuthn RP ids are domains, never IP
//! addresses. Same skip rule as the other browser tests (fails under
//! CI=true without a browser).

use crate::harness::sessions::{Device, FIREFOX_LINUX};
use crate::harness::webauthn::{unb64, SoftPasskey};
use crate::harness::webdriver::Browser;
use crate::harness::{form_field, TestApp, PASSWORD, USERNAME};
use serde_json::json;

backend_tests!(with crate::harness::webauthn::localhost_issuer;
    browser_registers_a_passkey_and_signs_in_with_it_alone_and_as_second_step,
);

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

async fn browser_registers_a_passkey_and_signs_in_with_it_alone_and_as_second_step(app: TestApp) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let alice = app.alice();
    let base = app.state.issuer.clone();
    let authenticator = browser.add_virtual_authenticator().await;

    // Sign in with the password and add a passkey on /account.
    browser.goto(&format!("{base}/account")).await;
    browser.wait_for_url(|u| u.contains("/login")).await;
    browser.type_into("#username", USERNAME).await;
    browser.type_into("#password", PASSWORD).await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
    browser.wait_for_url(|u| u.ends_with("/account")).await;
    browser
        .wait_for_script("return !document.getElementById('passkey-register-form').hidden;")
        .await;
    browser
        .check_page(
            "account-passkeys-none",
            "the account page without passkeys",
            Some("factors-heading"),
        )
        .await;
    browser.type_into("#passkey-name", "Test laptop").await;
    browser.click("#passkey-register").await;
    browser.wait_for_url(|u| u.contains("passkey=added")).await;
    browser.wait_for_text("Test laptop").await;
    browser
        .check_page(
            "account-passkeys-one",
            "the account page with a passkey",
            Some("passkeys-heading"),
        )
        .await;
    let creds = browser.authenticator_credentials(&authenticator).await;
    assert_eq!(creds.len(), 1, "{creds:?}");
    assert_eq!(creds[0]["rpId"], "localhost");
    assert_eq!(
        creds[0]["isResidentCredential"], true,
        "a discoverable credential"
    );

    // Signed out, the sign-in page offers the passkey: the browser's
    // autofill (conditional UI) may sign in as the page loads; otherwise
    // the button does.
    let html = app.get("/login").await.text().await.unwrap();
    assert!(
        html.contains("autocomplete=\"username webauthn\""),
        "{html}"
    );
    assert!(html.contains("id=\"passkey-sign-in\""), "{html}");
    browser.delete_cookies().await;
    browser.goto(&format!("{base}/login")).await;
    browser
        .wait_for_script(
            "var b = document.querySelector('[data-passkey-login]'); return !b || !b.hidden;",
        )
        .await;
    if browser.url().await.contains("/login") {
        browser
            .check_page(
                "login-passkey",
                "the sign-in page with a passkey button",
                None,
            )
            .await;
    }
    click_passkey_sign_in(&browser).await;
    browser.wait_for_url(|u| u.ends_with("/account")).await;
    browser.wait_for_text("Test laptop").await;
    assert!(
        session_amrs(&app, &alice.id).contains(&"hwk user mfa".to_string()),
        "password-less: {:?}",
        session_amrs(&app, &alice.id)
    );

    // Password, then the passkey as the second step. The password is
    // posted from a page without the passkey script (the sign-in page's
    // autofill would sign in with the passkey alone first).
    browser.delete_cookies().await;
    browser.goto(&format!("{base}/password/forgot")).await;
    browser
        .execute(
            "fetch('/login').then(r => r.text()).then(t => {
               const csrf = t.match(/name=\"csrf_token\" value=\"([^\"]+)\"/)[1];
               const f = document.createElement('form');
               f.method = 'post'; f.action = '/login';
               for (const [k, v] of [['csrf_token', csrf], ['next', '/apps'],
                                     ['username', arguments[0]], ['password', arguments[1]]]) {
                 const i = document.createElement('input');
                 i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
               }
               document.body.appendChild(f); f.submit();
             });",
            json!([USERNAME, PASSWORD]),
        )
        .await;
    browser.wait_for_url(|u| u.contains("/login/factor")).await;
    browser
        .wait_for_script("return !document.querySelector('[data-passkey-factor]').hidden;")
        .await;
    browser
        .check_page(
            "login-factor-passkey",
            "the second step with a passkey",
            None,
        )
        .await;
    browser.click("#passkey-factor").await;
    browser.wait_for_url(|u| u.ends_with("/apps")).await;
    assert!(
        session_amrs(&app, &alice.id).contains(&"pwd hwk user mfa".to_string()),
        "second step: {:?}",
        session_amrs(&app, &alice.id)
    );

    // The browser's key, signing for another RP id, is refused; for this
    // one it is accepted (so the refusal is the RP id's).
    let cred = &creds[0];
    let mut key = SoftPasskey::from_pkcs8(
        &unb64(cred["privateKey"].as_str().unwrap()),
        unb64(cred["credentialId"].as_str().unwrap()),
        unb64(cred["userHandle"].as_str().unwrap()),
        &base,
    );
    key.rp_id = "example.org".into();
    // Past the virtual authenticator's counter, as the server saw it.
    key.counter = cred["signCount"].as_u64().unwrap_or(0) as u32 + 5;
    let device = Device::new(&app, FIREFOX_LINUX);
    assert_eq!(sign_in_with(&app, &device, &mut key).await, 400);
    assert!(!device.signed_in().await);
    key.rp_id = "localhost".into();
    assert_eq!(sign_in_with(&app, &device, &mut key).await, 200);

    // Removed on /account, the passkey no longer signs in.
    browser.goto(&format!("{base}/account")).await;
    browser.click("tr.passkey form button[type=submit]").await;
    browser.wait_for_text("id=\"no-passkeys\"").await;
    browser.delete_cookies().await;
    browser.goto(&format!("{base}/login")).await;
    browser
        .wait_for_script("return !document.querySelector('[data-passkey-login]').hidden;")
        .await;
    click_passkey_sign_in(&browser).await;
    browser.wait_for_text("is not registered here").await;
    assert!(browser.url().await.contains("/login"));
    browser
        .check_page(
            "login-passkey-removed",
            "the sign-in page with a passkey error",
            None,
        )
        .await;
}

/// Clicks `#passkey-sign-in` when the page still has it (the autofill may
/// have answered first).
async fn click_passkey_sign_in(browser: &Browser) {
    browser
        .execute(
            "const b = document.getElementById('passkey-sign-in'); if (b && !b.disabled) { b.click(); }",
            json!([]),
        )
        .await;
}

/// A password-less sign-in over HTTP with `key`: the status.
async fn sign_in_with(app: &TestApp, device: &Device<'_>, key: &mut SoftPasskey) -> u16 {
    let page = device.get("/login").await.text().await.unwrap();
    let csrf = form_field(&page, "csrf_token").unwrap();
    let started: serde_json::Value = device
        .http
        .post(app.url("/login/passkey/options"))
        .json(&json!({"csrf_token": csrf}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let credential = key.assert(&started["options"]);
    device
        .http
        .post(app.url("/login/passkey"))
        .json(
            &json!({"csrf_token": csrf, "ceremony": started["ceremony"], "credential": credential}),
        )
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}
