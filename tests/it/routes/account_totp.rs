//! `/account/totp`: setting up an authenticator app (contract: the secret
//! as base32 in `#totp_secret`, confirmed with input `code`; recovery codes
//! shown once, each in a `.recovery-code`), new recovery codes, removing
//! the app (the current password; refused under `GATEHOUSE_MFA=required`
//! when it is the last factor), and what is stored: the secret sealed, the
//! recovery codes keyed-hashed.

use crate::harness::factors::{code_at, element_text, recovery_codes};
use crate::harness::{assert_accessible, signed_in, TestApp, PASSWORD, USERNAME};

backend_tests!(
    enrolment_shows_the_secret_and_a_qr_code_and_counts_only_once_confirmed,
    recovery_codes_are_shown_once,
    removing_the_app_needs_the_current_password,
    new_recovery_codes_void_the_old_ones,
    the_totp_secret_is_sealed_and_recovery_codes_keyed_hashed_at_rest,
    confirming_the_app_makes_this_session_a_two_factor_one,
);

mod with_mail {
    use super::*;
    backend_tests!(with crate::harness::smtp::shared_sink_config;
        each_change_to_the_app_or_recovery_codes_mails_the_person_a_notice);
}

mod required {
    use super::*;
    backend_tests!(
        with |c: &mut gatehouse::config::Config| c.mfa = gatehouse::config::MfaPolicy::Required;
        the_last_factor_cannot_be_removed_when_the_site_requires_one,
    );
}

fn factors_of(app: &TestApp) -> gatehouse::store::models::factors::Factors {
    let mut c = app.state.store.conn().unwrap();
    let alice = c.find_user_by_username(USERNAME).unwrap().unwrap();
    c.user_factors(&alice.id).unwrap()
}

async fn enrolment_shows_the_secret_and_a_qr_code_and_counts_only_once_confirmed(app: TestApp) {
    app.clock().freeze();
    signed_in(&app).await;
    let account = app.get("/account").await.text().await.unwrap();
    assert!(account.contains("action=\"/account/totp\""), "{account}");
    assert_accessible(&account, "account with the app section");
    let page = app.start_totp().await;
    assert_accessible(&page, "enrolment");
    let secret = element_text(&page, "totp_secret").expect("#totp_secret");
    assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
    assert!(totp_rs::Secret::try_from_base32(&secret).is_ok());
    assert!(page.contains("<svg"), "a QR code drawn on the server");
    assert!(page.contains("name=\"code\""));
    assert!(!page.contains("<?xml"));

    // A wrong code: the same secret again, with the error; nothing counts.
    let wrong = code_at(&secret, app.clock().now() + 3600);
    let r = app.confirm_totp(&wrong).await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert_eq!(
        element_text(&html, "totp_secret").as_deref(),
        Some(secret.as_str())
    );
    assert!(html.contains("id=\"code-error\""));
    assert!(recovery_codes(&html).is_empty());
    assert!(!factors_of(&app).any());
    // Still signing in with the password alone.
    app.sign_out().await;
    let r = app.sign_in(USERNAME, PASSWORD, "/account").await;
    assert_eq!(r.headers()["location"], "/account");
    assert_eq!(
        app.get("/account/totp").await.status(),
        200,
        "the secret stays"
    );

    // The right code confirms it and shows ten distinct recovery codes.
    let r = app.confirm_totp(&code_at(&secret, app.clock().now())).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert_accessible(&html, "recovery codes");
    let mut codes = recovery_codes(&html);
    assert_eq!(codes.len(), 10);
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 10);
    let f = factors_of(&app);
    assert!(f.totp && f.any());
    assert_eq!(f.recovery_codes_left, 10);
}

async fn recovery_codes_are_shown_once(app: TestApp) {
    app.clock().freeze();
    signed_in(&app).await;
    let e = app.enrol_totp().await;
    let account = app.get("/account").await.text().await.unwrap();
    assert!(recovery_codes(&account).is_empty());
    assert!(!account.contains(&e.recovery_codes[0]));
    assert!(account.contains("10 recovery codes left"), "{account}");
    // Nothing to show at the enrolment page, nor by posting the code again.
    let r = app.get("/account/totp").await;
    assert_eq!(r.status(), 303);
    let r = app
        .confirm_totp(&code_at(&e.secret, app.clock().now()))
        .await;
    assert_eq!(r.status(), 303);
    // Starting again while an app is set up changes nothing.
    let r = app
        .post_with_csrf("/account/totp", &[("action", "start")])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.get("/account/totp").await.status(), 303);
    assert!(factors_of(&app).totp);
}

async fn removing_the_app_needs_the_current_password(app: TestApp) {
    app.clock().freeze();
    signed_in(&app).await;
    app.enrol_totp().await;
    let r = app
        .post_with_csrf(
            "/account/totp",
            &[
                ("action", "remove"),
                ("current_password", "not my password"),
            ],
        )
        .await;
    assert_eq!(r.status(), 401);
    let html = r.text().await.unwrap();
    assert!(html.contains("not your current password"));
    assert_accessible(&html, "remove again");
    assert!(factors_of(&app).totp);
    let r = app.totp_action("remove").await;
    assert_eq!(r.status(), 303);
    let f = factors_of(&app);
    assert!(!f.any());
    assert_eq!(f.recovery_codes_left, 0);
}

async fn new_recovery_codes_void_the_old_ones(app: TestApp) {
    app.clock().freeze();
    signed_in(&app).await;
    let e = app.enrol_totp().await;
    let r = app
        .post_with_csrf(
            "/account/totp",
            &[("action", "regenerate"), ("current_password", "wrong")],
        )
        .await;
    assert_eq!(r.status(), 401);
    let r = app.totp_action("regenerate").await;
    assert_eq!(r.status(), 200);
    let fresh = recovery_codes(&r.text().await.unwrap());
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !e.recovery_codes.contains(c)));
    app.sign_out().await;
    app.sign_in(USERNAME, PASSWORD, "/account").await;
    let r = app.second_step(&e.recovery_codes[0], "/account").await;
    assert_eq!(r.status(), 401, "an old code is void");
    let r = app.second_step(&fresh[0], "/account").await;
    assert_eq!(r.status(), 200);
    assert!(app.is_signed_in().await);
}

async fn the_totp_secret_is_sealed_and_recovery_codes_keyed_hashed_at_rest(app: TestApp) {
    use diesel::prelude::*;
    use gatehouse::store::schema::{recovery_codes as rc, totp_factors as tf};
    app.clock().freeze();
    signed_in(&app).await;
    let e = app.enrol_totp().await;
    let mut c = app.state.store.conn().unwrap();
    let sealed: Vec<String> =
        db!(c, conn => tf::table.select(tf::secret_sealed).load(conn)).unwrap();
    assert_eq!(sealed.len(), 1);
    let raw = totp_rs::Secret::try_from_base32(&e.secret)
        .unwrap()
        .as_bytes()
        .to_vec();
    for form in [
        e.secret.clone(),
        e.secret.to_lowercase(),
        gatehouse::crypto::b64url(&raw),
        String::from_utf8_lossy(&raw).to_string(),
    ] {
        assert!(!sealed[0].contains(&form), "{} holds the secret", sealed[0]);
    }
    let hashes: Vec<String> = db!(c, conn => rc::table.select(rc::code_hash).load(conn)).unwrap();
    assert_eq!(hashes.len(), 10);
    for code in &e.recovery_codes {
        let plain = code.replace('-', "");
        assert!(hashes
            .iter()
            .all(|h| !h.contains(&plain) && !h.contains(code)));
        // Not an unkeyed hash either.
        assert!(!hashes.contains(&gatehouse::crypto::token_hash(code)));
        assert!(!hashes.contains(&gatehouse::crypto::token_hash(&plain)));
    }
}

async fn confirming_the_app_makes_this_session_a_two_factor_one(app: TestApp) {
    app.clock().freeze();
    let alice = signed_in(&app).await;
    app.enrol_totp().await;
    assert!(app.is_signed_in().await);
    let now = app.clock().now();
    let sessions = app
        .state
        .store
        .conn()
        .unwrap()
        .list_user_sessions(&alice.id, now)
        .unwrap();
    assert_eq!(sessions.len(), 1, "the password-only session was replaced");
    let amr = sessions[0].amr().values();
    assert!(
        amr.contains(&"pwd") && amr.contains(&"otp") && amr.contains(&"mfa"),
        "{amr:?}"
    );
}

async fn the_last_factor_cannot_be_removed_when_the_site_requires_one(app: TestApp) {
    app.clock().freeze();
    signed_in(&app).await;
    app.enrol_totp().await;
    let account = app.get("/account").await.text().await.unwrap();
    assert!(account.contains("add a passkey before you remove the app"));
    let r = app.totp_action("remove").await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("your only one"));
    assert!(factors_of(&app).totp);
}

/// Issue 30's follow-up: a change to a person's second factors is mailed
/// to them (over a real SMTP conversation), so one they did not make is
/// noticed; a refused change mails nothing.
async fn each_change_to_the_app_or_recovery_codes_mails_the_person_a_notice(app: TestApp) {
    use crate::harness::smtp::shared_sink;
    app.clock().freeze();
    let email = crate::harness::signed_in_with_address(&app, "ann").await;
    let forgot = format!("{}/password/forgot", app.state.issuer);
    app.enrol_totp().await;
    let added = shared_sink().wait_for_mail_to(&email);
    assert!(
        added.subject.contains("two-step sign-in"),
        "{}",
        added.subject
    );
    assert!(
        added.text.contains("an authenticator app was set up"),
        "{}",
        added.text
    );
    assert_eq!(added.link_starting_with(&app.state.issuer), forgot);
    assert_eq!(app.totp_action("regenerate").await.status(), 200);
    let renewed = shared_sink().wait_for_mail_to(&email);
    assert!(
        renewed.text.contains("new recovery codes were made"),
        "{}",
        renewed.text
    );
    // A wrong password changes nothing and mails nothing.
    let r = app
        .post_with_csrf(
            "/account/totp",
            &[
                ("action", "remove"),
                ("current_password", "not my password"),
            ],
        )
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(app.totp_action("remove").await.status(), 303);
    let removed = shared_sink().wait_for_mail_to(&email);
    assert!(
        removed.text.contains("the authenticator app was removed"),
        "{}",
        removed.text
    );
    assert_eq!(
        shared_sink().mails_to(&email).len(),
        3,
        "one notice a change, none for the refused one"
    );
}
