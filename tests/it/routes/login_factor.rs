//! `GET/POST /login/factor`: the second step of a sign-in for a person
//! with an authenticator app (contract: input `code`, a TOTP code or a
//! recovery code). RFC 6238 §5.2: one step of drift either way, and a code
//! accepted once; recovery codes once each; attempts throttled per person
//! in the database, so two instances count the same failures; a person
//! without factors signs in exactly as before.

use crate::harness::factors::code_at;
use crate::harness::{assert_accessible, signed_in, TestApp, PASSWORD, USERNAME};

backend_tests!(
    a_person_with_an_app_gives_a_code_after_the_password_and_continues_to_next,
    rfc6238_5_2_a_code_is_accepted_once,
    rfc6238_5_2_one_step_of_drift_is_accepted_two_are_not,
    a_recovery_code_works_once_and_says_how_many_are_left,
    wrong_codes_are_throttled_per_person,
    rfc6819_4_4_3_6_the_second_factor_throttle_is_shared_by_two_instances,
    a_person_without_factors_signs_in_with_the_password_alone,
    the_second_step_without_a_right_password_sends_to_sign_in,
);

/// alice, with an authenticator app set up, signed out; the clock frozen
/// and moved a step past the enrolment's code. Returns her secret and
/// recovery codes.
async fn alice_with_an_app(app: &TestApp) -> crate::harness::factors::Enrolled {
    app.clock().freeze();
    signed_in(app).await;
    let enrolled = app.enrol_totp().await;
    app.sign_out().await;
    app.clock().advance(30);
    enrolled
}

/// The password step: 303 to the second step, continuing to `next`, and
/// no session yet.
async fn password_step(app: &TestApp, next: &str) {
    let r = app.sign_in(USERNAME, PASSWORD, next).await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/login/factor?next="), "{location}");
    assert!(
        !app.is_signed_in().await,
        "no session before the second step"
    );
}

async fn a_person_with_an_app_gives_a_code_after_the_password_and_continues_to_next(app: TestApp) {
    let e = alice_with_an_app(&app).await;
    password_step(&app, "/account?x=1").await;
    let r = app.get("/login/factor?next=%2Faccount%3Fx%3D1").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("name=\"code\""), "{html}");
    assert!(html.contains("autocomplete=\"one-time-code\""));
    assert!(html.contains("recovery code"));
    assert!(html.contains("id=\"other-account\""));
    assert_accessible(&html, "second step");
    let r = app
        .second_step(&code_at(&e.secret, app.clock().now()), "/account?x=1")
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account?x=1");
    assert!(app.is_signed_in().await);
}

async fn rfc6238_5_2_a_code_is_accepted_once(app: TestApp) {
    let e = alice_with_an_app(&app).await;
    let code = code_at(&e.secret, app.clock().now());
    password_step(&app, "/account").await;
    assert_eq!(app.second_step(&code, "/account").await.status(), 303);
    app.sign_out().await;
    // A new sign-in within the same step: the code was used.
    password_step(&app, "/account").await;
    let r = app.second_step(&code, "/account").await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("used already"));
    // Nor an earlier step's code (the one that confirmed the enrolment).
    let earlier = code_at(&e.secret, app.clock().now() - 30);
    assert_eq!(app.second_step(&earlier, "/account").await.status(), 401);
    assert!(!app.is_signed_in().await);
    // The next step's code is fresh.
    app.clock().advance(30);
    let next = code_at(&e.secret, app.clock().now());
    assert_eq!(app.second_step(&next, "/account").await.status(), 303);
}

async fn rfc6238_5_2_one_step_of_drift_is_accepted_two_are_not(app: TestApp) {
    let e = alice_with_an_app(&app).await;
    app.clock().advance(300);
    let now = app.clock().now();
    password_step(&app, "/account").await;
    for off in [-60, 60, 90] {
        let r = app
            .second_step(&code_at(&e.secret, now + off), "/account")
            .await;
        assert_eq!(r.status(), 401, "a code {off} s off");
    }
    assert!(!app.is_signed_in().await);
    let r = app
        .second_step(&code_at(&e.secret, now - 30), "/account")
        .await;
    assert_eq!(r.status(), 303, "a code one step behind");
    app.sign_out().await;
    password_step(&app, "/account").await;
    let r = app
        .second_step(&code_at(&e.secret, now + 30), "/account")
        .await;
    assert_eq!(r.status(), 303, "a code one step ahead");
}

async fn a_recovery_code_works_once_and_says_how_many_are_left(app: TestApp) {
    let e = alice_with_an_app(&app).await;
    password_step(&app, "/account").await;
    // Typed in capitals with spaces for dashes: the same code.
    let typed = e.recovery_codes[0].to_uppercase().replace('-', " ");
    let r = app.second_step(&typed, "/account").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("You have 9 recovery codes left"), "{html}");
    assert!(html.contains("href=\"/account\""));
    assert_accessible(&html, "recovery code used");
    assert!(app.is_signed_in().await);
    app.sign_out().await;
    password_step(&app, "/account").await;
    let r = app.second_step(&e.recovery_codes[0], "/account").await;
    assert_eq!(r.status(), 401, "a recovery code works once");
    assert!(!app.is_signed_in().await);
    let r = app.second_step(&e.recovery_codes[1], "/account").await;
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("You have 8 recovery codes left"));
}

async fn wrong_codes_are_throttled_per_person(app: TestApp) {
    let e = alice_with_an_app(&app).await;
    let alice = app
        .state
        .store
        .conn()
        .unwrap()
        .find_user_by_username(USERNAME)
        .unwrap()
        .unwrap();
    password_step(&app, "/account").await;
    let wrong = |i: i64| code_at(&e.secret, app.clock().now() + 3600 + 30 * i);
    for i in 0..5 {
        assert_eq!(app.second_step(&wrong(i), "/account").await.status(), 401);
    }
    assert_eq!(
        app.throttle_failures(&format!("factor-user:{}", alice.id)),
        5
    );
    // Locked now, even with the right code, or a recovery code.
    let r = app
        .second_step(&code_at(&e.secret, app.clock().now()), "/account")
        .await;
    assert_eq!(r.status(), 429);
    assert!(r.text().await.unwrap().contains("Too many failed attempts"));
    assert_eq!(
        app.second_step(&e.recovery_codes[0], "/account")
            .await
            .status(),
        429
    );
    assert!(!app.is_signed_in().await);
    // The lock is temporary; the password step is to be taken again.
    app.clock().advance(16 * 60);
    password_step(&app, "/account").await;
    let r = app
        .second_step(&code_at(&e.secret, app.clock().now()), "/account")
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.throttle_failures(&format!("factor-user:{}", alice.id)),
        0
    );
}

async fn rfc6819_4_4_3_6_the_second_factor_throttle_is_shared_by_two_instances(app: TestApp) {
    let e = alice_with_an_app(&app).await;
    let sibling = app.sibling();
    password_step(&app, "/account").await;
    let csrf = app.csrf().await;
    let post = |url: String, code: String| {
        let (http, csrf) = (app.http.clone(), csrf.clone());
        async move {
            http.post(url)
                .form(&[
                    ("csrf_token", csrf.as_str()),
                    ("code", code.as_str()),
                    ("next", "/account"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // Five wrong codes, alternating between the instances.
    for i in 0..5i64 {
        let url = if i % 2 == 0 {
            app.url("/login/factor")
        } else {
            sibling.url("/login/factor")
        };
        let code = code_at(&e.secret, app.clock().now() + 3600 + 30 * i);
        assert_eq!(post(url, code).await, 401);
    }
    // Both refuse the right code now, unchecked.
    let right = code_at(&e.secret, app.clock().now());
    assert_eq!(post(sibling.url("/login/factor"), right.clone()).await, 429);
    assert_eq!(post(app.url("/login/factor"), right).await, 429);
    assert!(!app.is_signed_in().await);
}

async fn a_person_without_factors_signs_in_with_the_password_alone(app: TestApp) {
    app.alice();
    let r = app.sign_in(USERNAME, PASSWORD, "/account?x=1").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account?x=1");
    assert!(app.is_signed_in().await);
    // Setting an app up and removing it again leaves her as before.
    app.clock().freeze();
    app.enrol_totp().await;
    let r = app.totp_action("remove").await;
    assert_eq!(r.status(), 303);
    app.sign_out().await;
    let r = app.sign_in(USERNAME, PASSWORD, "/account").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account");
    assert!(app.is_signed_in().await);
}

async fn the_second_step_without_a_right_password_sends_to_sign_in(app: TestApp) {
    let e = alice_with_an_app(&app).await;
    let r = app.get("/login/factor?next=%2Faccount").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?next=%2Faccount");
    let r = app
        .second_step(&code_at(&e.secret, app.clock().now()), "/account")
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?next=%2Faccount");
    // A wrong password leads nowhere near it.
    let r = app.sign_in(USERNAME, "wrong password", "/account").await;
    assert_eq!(r.status(), 401);
    let r = app.get("/login/factor?next=%2Faccount").await;
    assert_eq!(r.status(), 303);
    assert!(!app.is_signed_in().await);
}
