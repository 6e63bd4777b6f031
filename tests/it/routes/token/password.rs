//! `grant_type=password` (RFC 6749 §4.3): legacy, opt-in per client.

use crate::harness::{expect_error, TestApp, PASSWORD, USERNAME};
use gatehouse::app::throttle::FREE_FAILURES;
use gatehouse::registry::NewClient;

backend_tests!(
    rfc6749_4_3_3_password_grant_issues_access_and_refresh_tokens,
    rfc6749_4_3_2_scope_is_checked_against_the_client,
    rfc6749_4_3_2_wrong_password_and_unknown_user_are_the_same_invalid_grant,
    rfc6749_4_3_2_missing_username_or_password_is_invalid_request,
    rfc6749_4_3_client_without_password_grant_is_unauthorized_client,
    rfc6749_4_3_2_brute_force_is_throttled_without_leaking,
    rfc6749_4_3_2_public_client_authenticates_with_its_id,
    rfc6819_4_4_3_6_parallel_password_grants_never_exceed_the_allowance,
);

async fn password(
    app: &TestApp,
    c: &gatehouse::registry::CreatedClient,
    user: &str,
    pw: &str,
) -> reqwest::Response {
    app.post_form_basic(
        "/token",
        c,
        &[
            ("grant_type", "password"),
            ("username", user),
            ("password", pw),
        ],
    )
    .await
}

async fn rfc6749_4_3_3_password_grant_issues_access_and_refresh_tokens(app: TestApp) {
    let user = app.alice();
    let c = app.password_client();
    let r = password(&app, &c, USERNAME, PASSWORD).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read write");
    assert!(body["refresh_token"].as_str().unwrap().len() >= 22);
    let claims = app.verify_jwt(body["access_token"].as_str().unwrap()).await;
    // RFC 9068 §2.2: `sub` is the user's stable id, not the username.
    assert_eq!(claims["sub"], user.id.as_str());
    assert_eq!(claims["client_id"], c.client.id.as_str());
    assert_eq!(claims["scope"], "read write");
    assert_eq!(claims["auth_time"], claims["iat"]);
}

async fn rfc6749_4_3_2_scope_is_checked_against_the_client(app: TestApp) {
    app.alice();
    let c = app.password_client();
    let r = app
        .post_form_basic(
            "/token",
            &c,
            &[
                ("grant_type", "password"),
                ("username", USERNAME),
                ("password", PASSWORD),
                ("scope", "read"),
            ],
        )
        .await;
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "read");
    let r = app
        .post_form_basic(
            "/token",
            &c,
            &[
                ("grant_type", "password"),
                ("username", USERNAME),
                ("password", PASSWORD),
                ("scope", "read admin"),
            ],
        )
        .await;
    expect_error(r, 400, "invalid_scope").await;
}

async fn rfc6749_4_3_2_wrong_password_and_unknown_user_are_the_same_invalid_grant(app: TestApp) {
    app.alice();
    let c = app.password_client();
    let wrong = expect_error(
        password(&app, &c, USERNAME, "wrong password").await,
        400,
        "invalid_grant",
    )
    .await;
    let unknown = expect_error(
        password(&app, &c, "mallory", "wrong password").await,
        400,
        "invalid_grant",
    )
    .await;
    assert_eq!(wrong, unknown, "no way to tell which usernames exist");
}

async fn rfc6749_4_3_2_missing_username_or_password_is_invalid_request(app: TestApp) {
    let c = app.password_client();
    for form in [
        [("grant_type", "password"), ("username", USERNAME)],
        [("grant_type", "password"), ("password", PASSWORD)],
    ] {
        let r = app.post_form_basic("/token", &c, &form).await;
        expect_error(r, 400, "invalid_request").await;
    }
}

async fn rfc6749_4_3_client_without_password_grant_is_unauthorized_client(app: TestApp) {
    app.alice();
    let c = app.client(NewClient {
        name: "refresh-only".into(),
        grant_types: vec!["refresh_token".into(), "client_credentials".into()],
        scope: "read".into(),
        ..Default::default()
    });
    let r = password(&app, &c, USERNAME, PASSWORD).await;
    expect_error(r, 400, "unauthorized_client").await;
}

/// §4.3.2: "the authorization server MUST protect the endpoint against
/// brute force attacks". Failures lock the username (and the address) for
/// longer and longer; while locked even the right password gets
/// `invalid_grant` saying to wait, and an unknown username gets the same.
async fn rfc6749_4_3_2_brute_force_is_throttled_without_leaking(app: TestApp) {
    app.alice();
    let c = app.password_client();
    for i in 0..8 {
        if i > 0 {
            // Let the previous (short) lock pass so this failure counts.
            app.clock().advance(60);
        }
        let r = password(&app, &c, USERNAME, "guess guess").await;
        expect_error(r, 400, "invalid_grant").await;
    }
    // Locked now (8 s after the 8th failure).
    let locked = expect_error(
        password(&app, &c, USERNAME, PASSWORD).await,
        400,
        "invalid_grant",
    )
    .await;
    let d = locked["error_description"].as_str().unwrap();
    assert!(d.contains("wait"), "{d}");
    assert!(
        !d.contains("password"),
        "says nothing about the password: {d}"
    );
    let unknown = expect_error(
        password(&app, &c, "mallory", "x y z w").await,
        400,
        "invalid_grant",
    )
    .await;
    assert!(unknown["error_description"]
        .as_str()
        .unwrap()
        .contains("wait"));
    // The lock ends.
    app.clock().advance(15 * 60 + 1);
    assert_eq!(password(&app, &c, USERNAME, PASSWORD).await.status(), 200);
}

async fn rfc6749_4_3_2_public_client_authenticates_with_its_id(app: TestApp) {
    app.alice();
    let c = app.client(NewClient {
        name: "cli".into(),
        grant_types: vec!["password".into()],
        scope: "read".into(),
        public: true,
        ..Default::default()
    });
    let r = app
        .post_form(
            "/token",
            &[
                ("grant_type", "password"),
                ("client_id", &c.client.id),
                ("username", USERNAME),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
}

/// RFC 6819 §4.4.3.6 (RFC 6749 §4.3.2, §10.10): guesses sent all at once
/// get no more passwords checked than guesses sent one at a time. A checked
/// guess says the password is wrong; a refused one says to wait (both are
/// `invalid_grant`, as for a throttled grant one at a time).
async fn rfc6819_4_4_3_6_parallel_password_grants_never_exceed_the_allowance(app: TestApp) {
    // A 1-second lock must not run out between requests on a slow machine.
    app.clock().freeze();
    app.alice();
    let c = app.password_client();
    let started = app.clock().now();
    let guesses = (0..30).map(|_| async {
        let r = password(&app, &c, USERNAME, "guess guess").await;
        expect_error(r, 400, "invalid_grant").await["error_description"]
            .as_str()
            .unwrap()
            .to_string()
    });
    let answers = futures_util::future::join_all(guesses).await;
    let elapsed = app.clock().now() - started;
    let checked = answers
        .iter()
        .filter(|d| d.contains("wrong username or password"))
        .count();
    let refused = answers.iter().filter(|d| d.contains("wait")).count();
    assert_eq!(checked + refused, answers.len(), "{answers:?}");
    assert!(checked >= 1, "{answers:?}");
    // At most one more per second the burst took: each lock lasts at least
    // a second, so at most one runs out per second.
    assert!(
        checked as i64 <= FREE_FAILURES + elapsed,
        "{checked} guesses checked in {elapsed} s"
    );
    assert_eq!(app.throttle_failures("user:alice"), checked as i64);
    app.clock().advance(16 * 60);
    assert_eq!(password(&app, &c, USERNAME, PASSWORD).await.status(), 200);
}
