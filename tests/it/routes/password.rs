//! The forgotten password (contract: "Forgot your password?" on the sign-in
//! page links to `/password/forgot`, input `email`; the mailed link opens
//! `/password/reset?token=…`, inputs `password` and `password_confirm`),
//! through a real SMTP conversation with the harness's sink: the mail, the
//! reset, every old sign-in ended; the same answer for an unknown address;
//! used, expired and superseded links refused; the page without mail.

use crate::harness::smtp::{shared_sink, ReceivedMail};
use crate::harness::{assert_accessible, expect_error, form_field, TestApp, PASSWORD, USERNAME};
use gatehouse::registry::NewUser;

const NEW_PASSWORD: &str = "a brand new passphrase";

backend_tests!(
    with crate::harness::smtp::shared_sink_config;
    nist_800_63b_forgot_password_mails_a_link_that_sets_a_new_password_and_ends_every_old_sign_in,
    an_unknown_address_gets_the_same_page_and_no_mail,
    a_used_an_expired_or_a_superseded_reset_link_is_refused_with_a_way_to_a_new_one,
    two_passwords_that_differ_are_refused_beside_the_field_and_the_link_still_works,
);

/// An address no other test uses (the sink is shared by the process).
fn address(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// `alice` (password `correct horse`) with the e-mail address `email`.
fn alice_with(app: &TestApp, email: &str) -> gatehouse::store::models::User {
    crate::harness::wait(app.state.registry().create_user(NewUser {
        username: USERNAME.into(),
        email: Some(email.into()),
        password: PASSWORD.into(),
        ..Default::default()
    }))
    .unwrap()
}

/// Posts the forgotten-password form with `typed`; returns the page.
async fn ask_for_link(app: &TestApp, typed: &str) -> (u16, String) {
    let page = app.get("/password/forgot").await.text().await.unwrap();
    let csrf = form_field(&page, "csrf_token").expect("a form on /password/forgot");
    let r = app
        .post_form(
            "/password/forgot",
            &[("csrf_token", &csrf), ("email", typed)],
        )
        .await;
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The path and query of the reset link in `mail` (which starts with the
/// issuer, as the contract says).
fn reset_path(app: &TestApp, mail: &ReceivedMail) -> String {
    let link = mail.link_starting_with(&app.state.issuer);
    let path = link.strip_prefix(&app.state.issuer).unwrap().to_string();
    assert!(path.starts_with("/password/reset?token="), "{link}");
    path
}

/// Opens the reset link and posts `password` twice.
async fn reset(app: &TestApp, path: &str, password: &str, confirm: &str) -> (u16, String) {
    let page = app.get(path).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let csrf = form_field(&page, "csrf_token").unwrap();
    let token = form_field(&page, "token").unwrap();
    let r = app
        .post_form(
            "/password/reset",
            &[
                ("csrf_token", csrf.as_str()),
                ("token", token.as_str()),
                ("password", password),
                ("password_confirm", confirm),
            ],
        )
        .await;
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn nist_800_63b_forgot_password_mails_a_link_that_sets_a_new_password_and_ends_every_old_sign_in(
    app: TestApp,
) {
    let email = address("alice");
    alice_with(&app, &email);
    let client = app.password_client();
    let old_refresh = app.password_refresh_token(&client).await;
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
        303
    );
    assert!(app.is_signed_in().await);

    // The sign-in page links to the form.
    let login = app.get("/login").await.text().await.unwrap();
    assert!(login.contains("href=\"/password/forgot\""), "{login}");
    assert!(login.contains("Forgot your password?"));

    let (status, page) = ask_for_link(&app, &email.to_uppercase()).await;
    assert_eq!(status, 200);
    assert!(page.contains("we sent a link"), "{page}");
    let mail = shared_sink().wait_for_mail_to(&email);
    assert!(
        mail.subject.contains("Reset your password"),
        "{}",
        mail.subject
    );
    assert!(mail.text.contains("If this was not you"), "{}", mail.text);
    assert!(mail.html.contains("href=\""), "an HTML part with the link");
    let path = reset_path(&app, &mail);

    let (status, done) = reset(&app, &path, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("We signed you out everywhere"), "{done}");

    // The browser that was signed in is signed out; the old password is
    // refused, the new one works.
    assert!(!app.is_signed_in().await);
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
        401
    );
    assert_eq!(
        app.sign_in(USERNAME, NEW_PASSWORD, "/account")
            .await
            .status(),
        303
    );
    // RFC 6749 §10.4: the refresh token that rode on the old password is dead.
    expect_error(
        app.refresh(&client, &old_refresh).await,
        400,
        "invalid_grant",
    )
    .await;
    // The person is told at their address.
    let notice = shared_sink().wait_for_mail_to(&email);
    assert!(notice.subject.contains("was changed"), "{}", notice.subject);
    // Once only.
    let again = app.get(&path).await;
    assert_eq!(again.status(), 410);
    assert!(again.text().await.unwrap().contains("already used"));
}

async fn an_unknown_address_gets_the_same_page_and_no_mail(app: TestApp) {
    let known = address("known");
    alice_with(&app, &known);
    let unknown = address("unknown");
    let (s1, nobody) = ask_for_link(&app, &unknown).await;
    let (s2, alice) = ask_for_link(&app, &known).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(
        nobody.replace(&unknown, "ADDRESS"),
        alice.replace(&known, "ADDRESS"),
        "the same page whether or not an account has the address"
    );
    // Unknown usernames too.
    let (s3, no_name) = ask_for_link(&app, "nobody-by-this-name").await;
    assert_eq!(s3, 200);
    assert_eq!(
        no_name.replace("nobody-by-this-name", "ADDRESS"),
        alice.replace(&known, "ADDRESS")
    );
    // Alice's mail arrives; nothing was queued for the unknown address.
    shared_sink().wait_for_mail_to(&known);
    let mut c = app.state.store.conn().unwrap();
    let queued: i64 = db!(c, c => {
        use diesel::prelude::*;
        use gatehouse::store::schema::mail_outbox::dsl::*;
        mail_outbox.filter(recipient.eq(&unknown)).count().get_result(c).unwrap()
    });
    assert_eq!(queued, 0);
    assert!(shared_sink().mails_to(&unknown).is_empty());
}

async fn a_used_an_expired_or_a_superseded_reset_link_is_refused_with_a_way_to_a_new_one(
    app: TestApp,
) {
    let email = address("links");
    alice_with(&app, &email);
    // Superseded: a newer link voids the older one.
    ask_for_link(&app, &email).await;
    let first = reset_path(&app, &shared_sink().wait_for_mail_to(&email));
    ask_for_link(&app, USERNAME).await;
    let second = reset_path(&app, &shared_sink().wait_for_mail_to(&email));
    assert_ne!(first, second);
    let r = app.get(&first).await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(page.contains("a newer link was sent"), "{page}");
    assert!(
        page.contains("href=\"/password/forgot\""),
        "a way to a new link"
    );
    assert_accessible(&page, "a refused link");

    // Expired: past GATEHOUSE_PASSWORD_RESET_TTL.
    app.clock().advance(app.state.config.password_reset_ttl + 1);
    let r = app.get(&second).await;
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("expired"));

    // Used: once.
    ask_for_link(&app, &email).await;
    let third = reset_path(&app, &shared_sink().wait_for_mail_to(&email));
    let page = app.get(&third).await.text().await.unwrap();
    assert_accessible(&page, "/password/reset");
    let (status, _) = reset(&app, &third, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(status, 200);
    let csrf = form_field(&page, "csrf_token").unwrap();
    let token = form_field(&page, "token").unwrap();
    let r = app
        .post_form(
            "/password/reset",
            &[
                ("csrf_token", csrf.as_str()),
                ("token", token.as_str()),
                ("password", "yet another passphrase"),
                ("password_confirm", "yet another passphrase"),
            ],
        )
        .await;
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("already used"));
    assert_eq!(
        app.sign_in(USERNAME, NEW_PASSWORD, "/account")
            .await
            .status(),
        303,
        "the refused link changed nothing"
    );
    // A made-up token: a clear page, never a 500.
    for path in ["/password/reset?token=made-up", "/password/reset"] {
        assert_eq!(app.get(path).await.status(), 400, "{path}");
    }
}

async fn two_passwords_that_differ_are_refused_beside_the_field_and_the_link_still_works(
    app: TestApp,
) {
    let email = address("differ");
    alice_with(&app, &email);
    ask_for_link(&app, &email).await;
    let path = reset_path(&app, &shared_sink().wait_for_mail_to(&email));
    let (status, page) = reset(&app, &path, NEW_PASSWORD, "something else entirely").await;
    assert_eq!(status, 400);
    assert!(
        crate::harness::error_beside(&page, "password_confirm")
            .unwrap()
            .contains("differ"),
        "{page}"
    );
    let (status, page) = reset(&app, &path, "short", "short").await;
    assert_eq!(status, 400);
    assert!(
        crate::harness::error_beside(&page, "password").is_some(),
        "{page}"
    );
    let (status, _) = reset(&app, &path, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(status, 200);
}

mod mail_off {
    use super::*;

    backend_tests!(without_smtp_the_forgot_page_says_reset_by_mail_is_off);

    async fn without_smtp_the_forgot_page_says_reset_by_mail_is_off(app: TestApp) {
        assert!(app.state.config.smtp_url.is_none());
        let r = app.get("/password/forgot").await;
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        assert!(
            page.contains("Resetting a password by e-mail is off"),
            "{page}"
        );
        assert!(page.contains("Ask an operator"), "{page}");
        assert!(!page.contains("name=\"email\""), "no form that cannot work");
        assert_accessible(&page, "/password/forgot without mail");
    }
}
