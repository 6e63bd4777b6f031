//! A person looking after their own account in a real browser (Chromium,
//! axe-core): the sessions list on `/account` names this browser and the
//! other one (an iPhone), "Sign out everywhere else" ends the other, and
//! the change-password form refuses a wrong current password beside the
//! field and, given the right one, changes it and says the other sessions
//! were signed out (NIST SP 800-63B §5.1.1.2). At 1280 and 375 px. Same
//! skip rule as the other browser tests (fails under CI=true without a
//! browser).

use crate::harness::sessions::{Device, SAFARI_IPHONE};
use crate::harness::webdriver::Browser;
use crate::harness::{TestApp, PASSWORD, USERNAME};

backend_tests!(browser_lists_sessions_signs_out_the_others_and_changes_the_password,);

async fn browser_lists_sessions_signs_out_the_others_and_changes_the_password(app: TestApp) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    app.alice();
    let phone = Device::new(&app, SAFARI_IPHONE);
    assert_eq!(phone.sign_in(USERNAME, PASSWORD).await, 303);

    browser.goto(&app.url("/account")).await;
    browser.wait_for_url(|u| u.contains("/login")).await;
    browser.type_into("#username", USERNAME).await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(|u| u.ends_with("/account")).await;
    browser.wait_for_text("(this browser)").await;
    let html = browser.source().await;
    assert!(
        html.contains("Safari on iPhone"),
        "the other browser: {html}"
    );
    assert!(
        html.contains("Chrome on Linux"),
        "this one, headless Chromium: {html}"
    );

    // The sessions list at 1280 and 375 px.
    browser.resize(1280, 900).await;
    scroll_to(&browser, "sessions-heading").await;
    browser.screenshot("account-sessions-desktop").await;
    browser
        .assert_accessible("the account page with two sessions")
        .await;
    browser.resize(375, 812).await;
    scroll_to(&browser, "sessions-heading").await;
    browser.screenshot("account-sessions-phone").await;
    assert!(browser.fits_the_window().await, "the page fits 375 px");
    browser
        .assert_accessible("the account page on a phone")
        .await;

    // Sign out everywhere else: the iPhone is signed out, this one stays.
    browser
        .click("button[name=action][value=sign_out_others]")
        .await;
    browser
        .wait_for_text("1 other session was signed out.")
        .await;
    assert!(!browser.source().await.contains("Safari on iPhone"));
    assert!(!phone.signed_in().await, "the other browser is signed out");
    browser
        .assert_accessible("the account page after signing out the others")
        .await;

    // A wrong current password: the error beside the field, nothing changed.
    assert_eq!(phone.sign_in(USERNAME, PASSWORD).await, 303);
    browser
        .type_into("#current_password", "not my password")
        .await;
    browser
        .type_into("#new_password", "a brand new passphrase")
        .await;
    browser
        .type_into("#new_password_confirm", "a brand new passphrase")
        .await;
    browser.click("#password-form button[type=submit]").await;
    browser.wait_for_text("id=\"current_password-error\"").await;
    scroll_to(&browser, "password-heading").await;
    browser.screenshot("account-password-error-phone").await;
    browser
        .assert_accessible("the change-password form with an error")
        .await;
    assert!(phone.signed_in().await);

    // The right one: changed, and the other browser is signed out.
    browser.resize(1280, 900).await;
    browser.type_into("#current_password", PASSWORD).await;
    browser
        .type_into("#new_password", "a brand new passphrase")
        .await;
    browser
        .type_into("#new_password_confirm", "a brand new passphrase")
        .await;
    browser.click("#password-form button[type=submit]").await;
    browser.wait_for_text("Your password was changed.").await;
    scroll_to(&browser, "password-heading").await;
    browser.screenshot("account-password-changed-desktop").await;
    browser
        .assert_accessible("the account page after a password change")
        .await;
    assert!(!phone.signed_in().await, "the other browser is signed out");
    assert_eq!(
        phone.sign_in(USERNAME, PASSWORD).await,
        401,
        "the old password"
    );
    assert_eq!(phone.sign_in(USERNAME, "a brand new passphrase").await, 303);
}

/// Scrolls the element with `id` to the top, for the screenshot.
async fn scroll_to(browser: &Browser, id: &str) {
    browser
        .execute(
            "document.getElementById(arguments[0]).scrollIntoView();",
            serde_json::json!([id]),
        )
        .await;
}
