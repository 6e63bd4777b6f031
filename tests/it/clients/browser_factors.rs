//! An authenticator app in a real browser (Chromium, axe-core): setting it
//! up from `/account` (the QR code and `#totp_secret`), the recovery codes
//! shown once, and the second step of the next sign-in (`/login/factor`),
//! each page at 1280 and 375 px. Same skip rule as the other browser tests
//! (fails under CI=true without a browser).

use crate::harness::factors::code_at;
use crate::harness::webdriver::Browser;
use crate::harness::{TestApp, PASSWORD, USERNAME};
use serde_json::json;

backend_tests!(browser_sets_up_an_authenticator_app_and_signs_in_with_a_code);

async fn text_of(browser: &Browser, script: &str) -> String {
    browser
        .execute(script, json!([]))
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn sign_in_with_password(browser: &Browser) {
    browser.type_into("#username", USERNAME).await;
    browser.type_into("#password", PASSWORD).await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
}

async fn browser_sets_up_an_authenticator_app_and_signs_in_with_a_code(app: TestApp) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    app.alice();
    app.state.clock.freeze();
    let base = app.state.issuer.clone();

    browser.goto(&format!("{base}/account")).await;
    browser.wait_for_url(|u| u.contains("/login")).await;
    sign_in_with_password(&browser).await;
    browser.wait_for_url(|u| u.ends_with("/account")).await;
    browser.click("#totp-start-form button[type=submit]").await;
    browser.wait_for_text("Scan this QR code").await;
    let page = browser.source().await;
    assert!(page.contains("<svg"), "a QR code drawn on the server");
    browser
        .check_page("totp-enrol", "the authenticator app set-up page", None)
        .await;

    let secret = text_of(
        &browser,
        "return document.getElementById('totp_secret').textContent.trim();",
    )
    .await;
    assert!(secret.len() >= 32, "a 160-bit base32 key: {secret}");
    let now = app.state.clock.now();
    browser.type_into("#code", &code_at(&secret, now)).await;
    browser
        .click("form[action='/account/totp'] button[type=submit]")
        .await;
    browser.wait_for_text("recovery-codes-warning").await;
    let shown = browser
        .execute(
            "return document.querySelectorAll('.recovery-code').length;",
            json!([]),
        )
        .await;
    assert_eq!(shown, json!(10), "ten recovery codes shown once");
    browser
        .check_page("totp-recovery-codes", "the recovery codes page", None)
        .await;

    // Signed out, the password leads to the second step; the next step's
    // code (the first one is spent) signs in.
    browser.delete_cookies().await;
    browser.goto(&format!("{base}/account")).await;
    browser.wait_for_url(|u| u.contains("/login")).await;
    sign_in_with_password(&browser).await;
    browser.wait_for_url(|u| u.contains("/login/factor")).await;
    browser
        .check_page("login-factor", "the second step of signing in", None)
        .await;
    app.state.clock.advance(30);
    let now = app.state.clock.now();
    browser.type_into("#code", &code_at(&secret, now)).await;
    browser
        .click("form[action='/login/factor'] button[type=submit]")
        .await;
    browser.wait_for_url(|u| u.ends_with("/account")).await;
    browser.wait_for_text("recovery codes left").await;
    browser
        .check_page(
            "account-totp-on",
            "the account page with an authenticator app",
            Some("factors-heading"),
        )
        .await;
}
