//! A real browser through the whole authorization-code flow: headless
//! Chromium signs in, consents, and lands on a callback server inside the
//! test, which then exchanges the code (RFC 6749 §4.1, RFC 7636).

use crate::harness::device::{poll, start, GRANT};
use crate::harness::webdriver::{Browser, Callback};
use crate::harness::{pkce_pair, TestApp};
use gatehouse::registry::NewClient;

backend_tests!(
    browser_signs_in_consents_and_the_app_exchanges_the_code,
    rfc8628_browser_enters_the_code_signs_in_allows_then_denies,
);

/// The device page in a real browser: the person opens the verification
/// URI, confirms the code, signs in and allows; the device's poll then gets
/// tokens. A second request is denied and the device hears access_denied.
async fn rfc8628_browser_enters_the_code_signs_in_allows_then_denies(app: TestApp) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let tv = app.client(NewClient {
        name: "Living-room TV".into(),
        grant_types: vec![GRANT.into()],
        scope: "read write".into(),
        public: true,
        ..Default::default()
    });
    app.user("alice", "correct horse");

    let flow = start(&app, &tv, Some("read")).await;
    let device_code = flow["device_code"].as_str().unwrap();
    let pending = poll(&app, &tv, device_code).await;
    crate::harness::expect_error(pending, 400, "authorization_pending").await;

    // The person types the code by hand, in lower case, without the dash.
    browser
        .goto(flow["verification_uri"].as_str().unwrap())
        .await;
    let typed = flow["user_code"]
        .as_str()
        .unwrap()
        .replace('-', "")
        .to_lowercase();
    browser.type_into("#user_code", &typed).await;
    browser.screenshot("device-entry-desktop").await;
    browser
        .assert_accessible("the device code entry page")
        .await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(|u| u.contains("/login")).await;
    browser.type_into("#username", "alice").await;
    browser.type_into("#password", "correct horse").await;
    browser.click("button[type=submit]").await;
    browser
        .wait_for_text("Only continue if you started this yourself")
        .await;
    browser.assert_accessible("the device consent page").await;
    let html = browser.source().await;
    assert!(html.contains("Living-room TV"));
    assert!(
        html.contains(flow["user_code"].as_str().unwrap()),
        "the page shows the code to compare"
    );
    browser.resize(390, 844).await;
    browser.screenshot("device-consent-phone").await;
    browser.click("button[name=decision][value=allow]").await;
    browser.wait_for_text("You may return to your device").await;
    browser.assert_accessible("the device done page").await;
    browser.screenshot("device-done-phone").await;

    let r = poll(&app, &tv, device_code).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let claims = app.verify_jwt(body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["client_id"], tv.client.id.as_str());

    // A second request, opened from the complete URI (pre-filled), denied.
    let flow = start(&app, &tv, Some("read")).await;
    browser
        .goto(flow["verification_uri_complete"].as_str().unwrap())
        .await;
    browser.click("button[type=submit]").await;
    browser
        .wait_for_text("Only continue if you started this yourself")
        .await;
    browser.click("button[name=decision][value=deny]").await;
    browser.wait_for_text("Request denied").await;
    browser.assert_accessible("the device denied page").await;
    let r = poll(&app, &tv, flow["device_code"].as_str().unwrap()).await;
    crate::harness::expect_error(r, 400, "access_denied").await;
}

async fn browser_signs_in_consents_and_the_app_exchanges_the_code(app: TestApp) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let callback = Callback::start();
    let c = app.client(NewClient {
        name: "Photo Printer".into(),
        website: Some("https://app.example".into()),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        redirect_uris: vec![callback.url.clone()],
        scope: "read write".into(),
        ..Default::default()
    });
    app.user("alice", "correct horse");
    let (verifier, challenge) = pkce_pair();
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", c.client.id.as_str()),
        ("redirect_uri", callback.url.as_str()),
        ("scope", "read write"),
        ("state", "browser-state"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();

    browser.goto(&app.url(&format!("/authorize?{query}"))).await;
    browser.wait_for_url(|u| u.contains("/login")).await;
    browser.screenshot("login-desktop").await;
    browser.assert_accessible("the sign-in page").await;
    browser.type_into("#username", "alice").await;
    browser.type_into("#password", "wrong password").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Wrong username or password.").await;
    browser
        .assert_accessible("the sign-in page with an error")
        .await;
    browser.type_into("#username", "").await;
    browser.type_into("#password", "correct horse").await;
    browser.click("button[type=submit]").await;

    browser.wait_for_url(|u| u.contains("/consent")).await;
    let html = browser.source().await;
    assert!(
        html.contains("Photo Printer") && html.contains("Read your data"),
        "{html}"
    );
    browser.screenshot("consent-desktop").await;
    browser.assert_accessible("the consent page").await;
    browser.resize(390, 844).await;
    browser.screenshot("consent-phone").await;
    browser.click("button[name=decision][value=allow]").await;

    let params = callback.next_params();
    assert_eq!(params["state"], "browser-state");
    assert_eq!(params["iss"], app.base);
    let r = app
        .http
        .post(app.url("/token"))
        .basic_auth(&c.client.id, c.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", params["code"].as_str()),
            ("redirect_uri", callback.url.as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let claims = app.verify_jwt(body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["scope"], "read write");

    // The account page lists the app; the login page at phone width.
    browser.goto(&app.url("/account")).await;
    assert!(browser.source().await.contains("Photo Printer"));
    browser.screenshot("account-phone").await;
    browser.assert_accessible("the account page").await;
    browser.resize(1280, 900).await;
    browser.screenshot("account-desktop").await;
    browser.goto(&app.url("/logout")).await;
    browser.assert_accessible("the sign-out confirmation").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("You are signed out").await;
    browser.assert_accessible("the signed-out page").await;
    browser.resize(390, 844).await;
    browser.goto(&app.url("/login")).await;
    browser.screenshot("login-phone").await;

    // The accessibility check itself sees a violation: an image with no
    // text alternative (WCAG 2 A, 1.1.1) put on the page.
    browser
        .execute(
            "const i = document.createElement('img'); i.src = '/nowhere.png'; \
             document.body.appendChild(i); return true;",
            serde_json::json!([]),
        )
        .await;
    if let Some(found) = browser.axe_violations().await {
        assert!(
            found.iter().any(|v| v["id"] == "image-alt"),
            "axe-core reports the image without alt: {found:?}"
        );
    }
}
