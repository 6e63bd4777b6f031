//! Verified addresses (`/email/verify`, `/account/email`), through a real
//! SMTP conversation with the harness's sink: sign-up mails a link, and
//! only opening it and confirming makes `email_verified` true (OIDC Core
//! §5.1, read by userinfo); a new address takes effect only through the
//! link mailed to it, and the old one is told; sending the link again is
//! throttled.

use crate::harness::oidc::{code_flow, oidc_client};
use crate::harness::smtp::{shared_sink, ReceivedMail};
use crate::harness::{assert_accessible, form_field, TestApp, PASSWORD, USERNAME};
use serde_json::Value;

backend_tests!(
    with |c| {
        crate::harness::smtp::shared_sink_config(c);
        c.signup_open = true;
    };
    oidc_core_5_1_sign_up_mails_a_link_and_only_confirming_it_makes_email_verified_true,
    a_new_address_takes_effect_only_through_its_link_and_the_old_address_is_told,
    sending_the_link_again_is_throttled,
);

fn address(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

async fn sign_up(app: &TestApp, email: &str) {
    let page = app.get("/signup").await.text().await.unwrap();
    let csrf = form_field(&page, "csrf_token").unwrap();
    let r = app
        .post_form(
            "/signup",
            &[
                ("csrf_token", csrf.as_str()),
                ("next", "/account"),
                ("username", USERNAME),
                ("email", email),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "signed up and signed in");
}

/// The path and query of the verification link in `mail`.
fn verify_path(app: &TestApp, mail: &ReceivedMail) -> String {
    let link = mail.link_starting_with(&app.state.issuer);
    let path = link.strip_prefix(&app.state.issuer).unwrap().to_string();
    assert!(path.starts_with("/email/verify?token="), "{link}");
    path
}

/// Opens the link (which changes nothing) and presses its button.
async fn confirm(app: &TestApp, path: &str) -> (u16, String) {
    let page = app.get(path).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert_accessible(&page, "/email/verify");
    let csrf = form_field(&page, "csrf_token").unwrap();
    let token = form_field(&page, "token").unwrap();
    let r = app
        .post_form(
            "/email/verify",
            &[("csrf_token", csrf.as_str()), ("token", token.as_str())],
        )
        .await;
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn userinfo(app: &TestApp, access: &str) -> Value {
    app.http
        .get(app.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Posts the address page's form with `fields`.
async fn on_email_page(app: &TestApp, fields: &[(&str, &str)]) -> (u16, String) {
    let page = app.get("/account/email").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let csrf = form_field(&page, "csrf_token").unwrap();
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    let r = app.post_form("/account/email", &form).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn oidc_core_5_1_sign_up_mails_a_link_and_only_confirming_it_makes_email_verified_true(
    app: TestApp,
) {
    let email = address("new");
    sign_up(&app, &email).await;
    let client = oidc_client(&app);
    let tokens = code_flow(&app, &client, &[("scope", "openid email")]).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, access).await["email_verified"], false);

    let mail = shared_sink().wait_for_mail_to(&email);
    assert!(
        mail.subject.contains("Confirm your e-mail address"),
        "{}",
        mail.subject
    );
    let path = verify_path(&app, &mail);
    // Opening the link (as a mail scanner would) changes nothing.
    assert_eq!(app.get(&path).await.status(), 200);
    assert_eq!(userinfo(&app, access).await["email_verified"], false);

    let (status, page) = confirm(&app, &path).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("is now the confirmed address"), "{page}");
    let info = userinfo(&app, access).await;
    assert_eq!(info["email"], email.as_str());
    assert_eq!(info["email_verified"], true);
    // The audit trail: the person confirmed the address.
    let verified = crate::harness::audit_events_of(&app, "email_verified");
    assert_eq!(verified.len(), 1);
    assert_eq!(
        verified[0].actor,
        format!("person:{}", info["sub"].as_str().unwrap())
    );
    assert!(verified[0].detail.contains(&email), "{verified:?}");
    // The link worked once.
    let again = app.get(&path).await;
    assert_eq!(again.status(), 410);
    assert!(again
        .text()
        .await
        .unwrap()
        .contains("href=\"/account/email\""));
}

async fn a_new_address_takes_effect_only_through_its_link_and_the_old_address_is_told(
    app: TestApp,
) {
    let old = address("old");
    sign_up(&app, &old).await;
    let first = shared_sink().wait_for_mail_to(&old);
    confirm(&app, &verify_path(&app, &first)).await;
    let client = oidc_client(&app);
    let tokens = code_flow(&app, &client, &[("scope", "openid email")]).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();

    let new = address("new");
    // The current password is asked for.
    let (status, page) = on_email_page(
        &app,
        &[
            ("action", "change"),
            ("email", &new),
            ("current_password", "wrong one"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        crate::harness::error_beside(&page, "current_password").is_some(),
        "{page}"
    );
    let (status, page) = on_email_page(
        &app,
        &[
            ("action", "change"),
            ("email", &new),
            ("current_password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_accessible(&page, "/account/email");
    assert!(page.contains(&format!("We sent a link to {new}")), "{page}");

    // The old address is told, with no link that changes anything.
    let notice = shared_sink().wait_for_mail_to(&old);
    assert!(
        notice.subject.contains("being changed"),
        "{}",
        notice.subject
    );
    assert!(notice.text.contains(&new), "{}", notice.text);
    assert!(!notice.text.contains("/email/verify"), "{}", notice.text);
    // Until the new address is confirmed, the old one stays.
    let info = userinfo(&app, &access).await;
    assert_eq!(
        (info["email"].as_str(), &info["email_verified"]),
        (Some(old.as_str()), &Value::Bool(true))
    );

    let mail = shared_sink().wait_for_mail_to(&new);
    let (status, _) = confirm(&app, &verify_path(&app, &mail)).await;
    assert_eq!(status, 200);
    let info = userinfo(&app, &access).await;
    assert_eq!(info["email"], new.as_str());
    assert_eq!(info["email_verified"], true);
}

async fn sending_the_link_again_is_throttled(app: TestApp) {
    app.clock().freeze();
    let email = address("again");
    sign_up(&app, &email).await;
    shared_sink().wait_for_mail_to(&email);
    let page = app.get("/account/email").await.text().await.unwrap();
    assert!(page.contains("(not confirmed)"), "{page}");
    assert!(page.contains("value=\"resend\""), "{page}");
    let mut sent = 0;
    let refused = loop {
        let (status, page) = on_email_page(&app, &[("action", "resend")]).await;
        match status {
            200 => sent += 1,
            429 => break page,
            other => panic!("{other}: {page}"),
        }
        assert!(
            sent <= gatehouse::app::throttle::FREE_FAILURES,
            "never throttled"
        );
    };
    assert!(sent >= 1, "the first is sent");
    assert!(refused.contains("Too many mails asked for"), "{refused}");
    // Each sent link replaced the one before: one of them works.
    let mut live = 0;
    for _ in 0..sent {
        let path = verify_path(&app, &shared_sink().wait_for_mail_to(&email));
        if app.get(&path).await.status() == 200 {
            live += 1;
        }
    }
    assert_eq!(live, 1);
}
