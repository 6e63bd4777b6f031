//! A forgotten password in a real browser (headless Chromium, axe-core):
//! the sign-in page's link, the form, the mail through the SMTP sink, the
//! reset page and the signed-in result, at 1280 and 375 px wide.

use crate::harness::smtp::shared_sink;
use crate::harness::webdriver::Browser;
use crate::harness::{TestApp, PASSWORD, USERNAME};
use gatehouse::registry::NewUser;

backend_tests!(with crate::harness::smtp::shared_sink_config; browser_forgot_password_then_reset_at_desktop_and_phone_widths);

async fn browser_forgot_password_then_reset_at_desktop_and_phone_widths(app: TestApp) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    for (width, height) in [(1280, 900), (375, 812)] {
        let username = format!("{USERNAME}{width}");
        let email = format!("{username}-{}@example.com", uuid::Uuid::new_v4().simple());
        app.state
            .registry()
            .create_user(NewUser {
                username: username.clone(),
                email: Some(email.clone()),
                password: PASSWORD.into(),
                ..Default::default()
            })
            .await
            .unwrap();
        browser.resize(width, height).await;

        browser.goto(&app.url("/login")).await;
        browser.click("#forgot-password").await;
        browser
            .wait_for_url(|u| u.ends_with("/password/forgot"))
            .await;
        browser
            .assert_accessible(&format!("the forgotten-password page at {width} px"))
            .await;
        assert!(browser.fits_the_window().await, "fits {width} px");
        browser.type_into("#email", &email).await;
        browser.click("button[type=submit]").await;
        browser.wait_for_text("we sent a link").await;
        browser
            .assert_accessible(&format!("the link-sent page at {width} px"))
            .await;

        let mail = shared_sink().wait_for_mail_to(&email);
        browser
            .goto(&mail.link_starting_with(&app.state.issuer))
            .await;
        browser.wait_for_text("Choose a new password").await;
        browser
            .assert_accessible(&format!("the reset page at {width} px"))
            .await;
        assert!(browser.fits_the_window().await, "fits {width} px");
        browser.screenshot(&format!("password-reset-{width}")).await;
        browser
            .type_into("#password", "a brand new passphrase")
            .await;
        browser
            .type_into("#password_confirm", "a brand new passphrase")
            .await;
        browser.click("button[type=submit]").await;
        browser.wait_for_text("We signed you out everywhere").await;
        browser
            .assert_accessible(&format!("the password-set page at {width} px"))
            .await;

        // The new password signs in.
        browser.goto(&app.url("/login")).await;
        browser.type_into("#username", &username).await;
        browser
            .type_into("#password", "a brand new passphrase")
            .await;
        browser.click("button[type=submit]").await;
        browser.wait_for_url(|u| u.ends_with("/account")).await;
    }
}
