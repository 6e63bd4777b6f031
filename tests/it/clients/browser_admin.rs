//! The admin console in a real browser (Chromium, axe-core), with no
//! script on its pages: an admin signs in at `/admin`, finds a person,
//! disables them with the button, makes a reset link, makes a
//! registration token, rotates the signing key and reads the audit trail;
//! every console page at 1280 and 375 px is screenshotted, fits the
//! window and has no axe-core violations. Same skip rule as the other
//! browser tests (fails under CI=true without a browser).

use crate::harness::webdriver::Browser;
use crate::harness::{TestApp, PASSWORD, USERNAME};
use gatehouse::registry::{NewUser, UserChange};

backend_tests!(an_admin_runs_the_console_in_a_browser,);

async fn an_admin_runs_the_console_in_a_browser(app: TestApp) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    app.alice();
    crate::harness::wait(app.state.registry().update_user(
        USERNAME,
        UserChange {
            admin: Some(true),
            ..Default::default()
        },
    ))
    .unwrap();
    for (name, email) in [
        ("bob", "bob@example.org"),
        ("carol", "carol@example.org"),
        (
            "dmitri.ivanov-long-name",
            "dmitri.ivanov@a-rather-long-domain.example",
        ),
    ] {
        crate::harness::wait(app.state.registry().create_user(NewUser {
            username: name.into(),
            email: Some(email.into()),
            password: "a fine long password".into(),
            ..Default::default()
        }))
        .unwrap();
    }

    // Not signed in: the sign-in page, then the console.
    browser.goto(&app.url("/admin")).await;
    browser.wait_for_url(|u| u.contains("/login")).await;
    browser.type_into("#username", USERNAME).await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(|u| u.ends_with("/admin")).await;
    browser.wait_for_text("Find a person").await;
    browser
        .check_page("admin-home", "the console's overview", None)
        .await;

    // People: search, open one, disable them with the button.
    browser.goto(&app.url("/admin/people")).await;
    browser.wait_for_text("1–4 of 4").await;
    browser
        .check_page("admin-people", "the people list", None)
        .await;
    browser.type_into("#q", "bob").await;
    browser.click("form[role=search] button").await;
    browser.wait_for_text("1–1 of 1").await;
    browser.click("table.people a").await;
    browser.wait_for_text("Reset second factors").await;
    browser.click("#disable").await;
    browser.wait_for_url(|u| u.contains("done=disabled")).await;
    browser
        .wait_for_text("Disabled: their sessions ended")
        .await;
    browser
        .check_page("admin-person", "a person's page", None)
        .await;
    browser.click("#reset-link-button").await;
    browser.wait_for_text("hand this single-use link").await;
    browser
        .check_page(
            "admin-person-link",
            "a person's page with a reset link",
            None,
        )
        .await;

    // A registration token, shown once.
    browser.goto(&app.url("/admin/registration-tokens")).await;
    browser
        .execute(
            "document.getElementById('uses').value = '';",
            serde_json::json!([]),
        )
        .await;
    browser.type_into("#uses", "3").await;
    browser.click("#create-token-button").await;
    browser.wait_for_text("shown only now").await;
    let html = browser.source().await;
    assert!(
        html.contains("<td data-label=\"Uses left\">3</td>"),
        "{html}"
    );
    browser
        .check_page("admin-tokens", "the registration tokens page", None)
        .await;

    // Signing keys: a staged rotation.
    browser.goto(&app.url("/admin/keys")).await;
    browser.click("#rotate").await;
    browser.wait_for_url(|u| u.contains("done=rotated")).await;
    browser.wait_for_text("staged: published now").await;
    browser
        .check_page("admin-keys", "the signing keys page", None)
        .await;

    // The audit trail names what was just done.
    browser.goto(&app.url("/admin/audit")).await;
    browser.wait_for_text("user_disabled").await;
    let html = browser.source().await;
    for kind in [
        "user_disabled",
        "reset_link_issued",
        "registration_token_created",
        "key_rotated",
    ] {
        assert!(html.contains(kind), "{kind} in the trail: {html}");
    }
    browser
        .check_page("admin-audit", "the audit trail", None)
        .await;
    browser.goto(&app.url("/admin/audit?person=bob")).await;
    browser.wait_for_text("event").await;
    browser
        .check_page("admin-audit-person", "the audit trail of one person", None)
        .await;
}
