//! A real browser through the whole authorization-code flow: headless
//! Chromium signs in, consents, and lands on a callback server inside the
//! test, which then exchanges the code (RFC 6749 §4.1, RFC 7636).

use crate::harness::{pkce_pair, TestApp};
use crate::webdriver::{Browser, Callback};
use gatehouse::admin::NewClient;

backend_tests!(browser_signs_in_consents_and_the_app_exchanges_the_code);

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
    browser.type_into("#username", "alice").await;
    browser.type_into("#password", "wrong password").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Wrong username or password.").await;
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
    browser.resize(1280, 900).await;
    browser.screenshot("account-desktop").await;
    browser.goto(&app.url("/logout")).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("You are signed out").await;
    browser.resize(390, 844).await;
    browser.goto(&app.url("/login")).await;
    browser.screenshot("login-phone").await;
}
