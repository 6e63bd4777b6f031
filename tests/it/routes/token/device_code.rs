//! `POST /token` with `grant_type=urn:ietf:params:oauth:grant-type:device_code`:
//! polling with a device code (RFC 8628 §3.4–3.5).

use crate::harness::device::*;
use crate::harness::{expect_error, signed_in, str_of, TestApp};
use gatehouse::crypto::token_hash;

backend_tests!(
    rfc8628_3_5_authorization_pending_until_the_user_decides,
    rfc8628_3_5_slow_down_grows_the_interval_by_5_seconds,
    rfc8628_3_5_expired_token,
    rfc8628_3_5_access_denied_after_the_user_denies,
    rfc8628_3_5_tokens_once_then_invalid_grant,
    rfc8628_3_5_concurrent_polls_get_tokens_exactly_once,
    rfc8628_3_4_device_code_of_another_client_is_invalid_grant,
    rfc8628_3_4_unknown_or_missing_device_code,
    user_disabled_after_approving_gets_no_tokens,
);

async fn rfc8628_3_5_authorization_pending_until_the_user_decides(app: TestApp) {
    let c = device_client(&app, true, &[]);
    let body = start(&app, &c, None).await;
    let dc = str_of(&body, "device_code");
    for _ in 0..3 {
        expect_error(poll(&app, &c, dc).await, 400, "authorization_pending").await;
        app.clock().advance(5);
    }
    assert_eq!(row(&app, dc).poll_interval, 5, "polite polls keep 5 s");
}

async fn rfc8628_3_5_slow_down_grows_the_interval_by_5_seconds(app: TestApp) {
    let c = device_client(&app, true, &[]);
    let body = start(&app, &c, None).await;
    let dc = str_of(&body, "device_code");
    expect_error(poll(&app, &c, dc).await, 400, "authorization_pending").await;
    // Too soon: slow_down, and the interval is now 10 s…
    expect_error(poll(&app, &c, dc).await, 400, "slow_down").await;
    assert_eq!(row(&app, dc).poll_interval, 10);
    // …so 6 s later is still too soon: 15 s.
    app.clock().advance(6);
    expect_error(poll(&app, &c, dc).await, 400, "slow_down").await;
    assert_eq!(row(&app, dc).poll_interval, 15);
    // Keeping the new interval is fine, and it stays (persisted).
    app.clock().advance(15);
    expect_error(poll(&app, &c, dc).await, 400, "authorization_pending").await;
    app.clock().advance(10);
    expect_error(poll(&app, &c, dc).await, 400, "slow_down").await;
    assert_eq!(row(&app, dc).poll_interval, 20);
    app.clock().advance(20);
    expect_error(poll(&app, &c, dc).await, 400, "authorization_pending").await;
    // An approved code is not "pending": its tokens come however soon.
    signed_in(&app).await;
    let (status, _) = person_decides(&app, str_of(&body, "user_code"), "allow").await;
    assert_eq!(status, 200);
    assert_eq!(poll(&app, &c, dc).await.status(), 200);
}

async fn rfc8628_3_5_expired_token(app: TestApp) {
    let c = device_client(&app, true, &[]);
    let pending = start(&app, &c, None).await;
    let approved = start(&app, &c, None).await;
    signed_in(&app).await;
    let (status, _) = person_decides(&app, str_of(&approved, "user_code"), "allow").await;
    assert_eq!(status, 200);
    app.clock().advance(600);
    for body in [&pending, &approved] {
        let r = poll(&app, &c, str_of(body, "device_code")).await;
        expect_error(r, 400, "expired_token").await;
    }
}

async fn rfc8628_3_5_access_denied_after_the_user_denies(app: TestApp) {
    let c = device_client(&app, true, &[]);
    let body = start(&app, &c, Some("read")).await;
    let user = signed_in(&app).await;
    let (status, html) = person_decides(&app, str_of(&body, "user_code"), "deny").await;
    assert_eq!(status, 200);
    assert!(html.contains("Request denied"), "{html}");
    let dc = str_of(&body, "device_code");
    expect_error(poll(&app, &c, dc).await, 400, "access_denied").await;
    app.clock().advance(5);
    expect_error(poll(&app, &c, dc).await, 400, "access_denied").await;
    // No consent was recorded.
    let mut conn = app.state.store.conn().unwrap();
    assert!(conn.find_consent(&user.id, &c.client.id).unwrap().is_none());
}

async fn rfc8628_3_5_tokens_once_then_invalid_grant(app: TestApp) {
    let c = device_client(&app, false, &["refresh_token"]);
    let body = start(&app, &c, Some("read")).await;
    let user = signed_in(&app).await;
    person_decides(&app, str_of(&body, "user_code"), "allow").await;
    let dc = str_of(&body, "device_code");
    let r = poll(&app, &c, dc).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let tokens: serde_json::Value = r.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "read");
    assert!(str_of(&tokens, "refresh_token").len() >= 43);
    let claims = app.verify_jwt(str_of(&tokens, "access_token")).await;
    assert_eq!(claims["sub"], user.id, "sub is the user's id");
    assert_eq!(claims["client_id"], c.client.id);
    assert_eq!(claims["scope"], "read");
    // Spent.
    assert_eq!(row(&app, dc).status, "spent");
    app.clock().advance(5);
    expect_error(poll(&app, &c, dc).await, 400, "invalid_grant").await;
    // The refresh token is stored hashed in a family for this user.
    {
        use diesel::prelude::*;
        use gatehouse::store::schema::{refresh_families, refresh_tokens};
        let mut conn = app.state.store.conn().unwrap();
        let hash = token_hash(str_of(&tokens, "refresh_token"));
        let owner: Option<String> = db!(conn, cx => refresh_tokens::table
            .inner_join(refresh_families::table)
            .filter(refresh_tokens::token_hash.eq(&hash))
            .select(refresh_families::user_id)
            .first(cx))
        .unwrap();
        assert_eq!(owner.as_deref(), Some(user.id.as_str()));
    }
    // Without the refresh_token grant, no refresh token.
    let plain = device_client(&app, true, &[]);
    let body = start(&app, &plain, None).await;
    person_decides(&app, str_of(&body, "user_code"), "allow").await;
    let tokens: serde_json::Value = poll(&app, &plain, str_of(&body, "device_code"))
        .await
        .json()
        .await
        .unwrap();
    assert!(tokens["access_token"].is_string());
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
}

async fn rfc8628_3_5_concurrent_polls_get_tokens_exactly_once(app: TestApp) {
    let c = device_client(&app, true, &["refresh_token"]);
    let body = start(&app, &c, None).await;
    signed_in(&app).await;
    person_decides(&app, str_of(&body, "user_code"), "allow").await;
    let dc = str_of(&body, "device_code");
    // 50 polls, split across two instances on the one database.
    let other = app.sibling();
    let polls = (0..crate::harness::RACERS).map(|i| {
        app.http
            .post(crate::harness::racer_url(&app, &other, i, "/token"))
            .form(&[
                ("grant_type", GRANT),
                ("device_code", dc),
                ("client_id", c.client.id.as_str()),
            ])
            .send()
    });
    let answers: Vec<reqwest::Response> = futures_util::future::join_all(polls)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let mut ok = 0;
    for r in answers {
        if r.status() == 200 {
            ok += 1;
        } else {
            expect_error(r, 400, "invalid_grant").await;
        }
    }
    assert_eq!(ok, 1, "exactly one poll gets tokens");
    let mut conn = app.state.store.conn().unwrap();
    use diesel::prelude::*;
    use gatehouse::store::schema::refresh_families;
    let families: i64 = db!(conn, cx => refresh_families::table
        .filter(refresh_families::client_id.eq(&c.client.id))
        .count()
        .get_result(cx))
    .unwrap();
    assert_eq!(families, 1, "one refresh token family");
}

async fn rfc8628_3_4_device_code_of_another_client_is_invalid_grant(app: TestApp) {
    let owner = device_client(&app, true, &[]);
    let thief = device_client(&app, true, &[]);
    let body = start(&app, &owner, None).await;
    signed_in(&app).await;
    person_decides(&app, str_of(&body, "user_code"), "allow").await;
    let dc = str_of(&body, "device_code");
    expect_error(poll(&app, &thief, dc).await, 400, "invalid_grant").await;
    // The owner still gets its tokens.
    assert_eq!(poll(&app, &owner, dc).await.status(), 200);
}

async fn rfc8628_3_4_unknown_or_missing_device_code(app: TestApp) {
    let c = device_client(&app, true, &[]);
    expect_error(poll(&app, &c, "not-a-code").await, 400, "invalid_grant").await;
    let r = post_as(&app, "/token", &c, &[("grant_type", GRANT)]).await;
    expect_error(r, 400, "invalid_request").await;
}

async fn user_disabled_after_approving_gets_no_tokens(app: TestApp) {
    let c = device_client(&app, false, &[]);
    let body = start(&app, &c, Some("read")).await;
    let user = signed_in(&app).await;
    person_decides(&app, str_of(&body, "user_code"), "allow").await;
    {
        use diesel::prelude::*;
        use gatehouse::store::schema::users;
        let mut conn = app.state.store.conn().unwrap();
        db!(conn, cx => diesel::update(users::table.find(&user.id))
            .set(users::disabled.eq(true))
            .execute(cx))
        .unwrap();
    }
    let dc = str_of(&body, "device_code");
    expect_error(poll(&app, &c, dc).await, 400, "invalid_grant").await;
    assert_eq!(row(&app, dc).status, "spent", "the code cannot be retried");
}
