//! `grant_type=refresh_token` (RFC 6749 §6) with rotation and reuse
//! detection (RFC 9700 §4.14.2), family lifetimes, and the reuse grace.

use crate::harness::{as_json, expect_error, issued_rows, refresh_token_of, TestApp};
use gatehouse::registry::NewClient;

backend_tests!(
    rfc6749_6_refresh_rotates_and_returns_a_new_pair,
    rfc6749_6_spent_token_is_rejected_and_rfc9700_4_14_2_revokes_the_family,
    rfc6749_10_4_token_of_another_client_is_invalid_grant_and_changes_nothing,
    rfc6749_6_scope_may_be_narrowed_and_the_refresh_token_keeps_its_scope,
    rfc6749_6_wider_scope_is_invalid_scope_and_spends_nothing,
    rfc6749_6_missing_refresh_token_is_invalid_request,
    rfc6749_5_2_unknown_refresh_token_is_invalid_grant,
    rfc6749_5_2_client_without_refresh_grant_is_unauthorized_client,
    rfc9700_4_14_2_concurrent_use_lets_at_most_one_succeed,
    rfc9700_4_14_2_chain_of_200_rotations_then_reuse_kills_it,
    rfc9700_4_14_2_reuse_grace_is_off_by_default,
);

async fn rfc6749_6_refresh_rotates_and_returns_a_new_pair(app: TestApp) {
    let user = app.alice();
    let c = app.password_client();
    let first = app.password_tokens(&c).await;
    let t1 = first["refresh_token"].as_str().unwrap();
    let r = app.refresh(&c, t1).await;
    assert_eq!(r.status(), 200);
    // §5.1: not cached.
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body = as_json(&r.text().await.unwrap());
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["scope"], "read write");
    let t2 = body["refresh_token"].as_str().unwrap();
    assert_ne!(t1, t2, "rotation: a new refresh token every time");
    assert!(t2.len() >= 22, "at least 128 bits");
    let claims = app.verify_jwt(body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["sub"], user.id.as_str());
    assert_eq!(claims["client_id"], c.client.id.as_str());
    assert_eq!(claims["scope"], "read write");
    // The successor works in turn.
    assert_eq!(app.refresh(&c, t2).await.status(), 200);
}

async fn rfc6749_6_spent_token_is_rejected_and_rfc9700_4_14_2_revokes_the_family(app: TestApp) {
    app.alice();
    let c = app.password_client();
    let t1 = app.password_refresh_token(&c).await;
    let t2 = refresh_token_of(app.refresh(&c, &t1).await).await;
    // Presenting the spent token: refused ...
    expect_error(app.refresh(&c, &t1).await, 400, "invalid_grant").await;
    // ... and its whole family is revoked, including the live successor.
    expect_error(app.refresh(&c, &t2).await, 400, "invalid_grant").await;
}

async fn rfc6749_10_4_token_of_another_client_is_invalid_grant_and_changes_nothing(app: TestApp) {
    app.alice();
    let a = app.password_client();
    let b = app.password_client();
    let t1 = app.password_refresh_token(&a).await;
    let before = issued_rows(&app);
    let r = expect_error(app.refresh(&b, &t1).await, 400, "invalid_grant").await;
    assert_eq!(issued_rows(&app), before, "no successor written");
    // The same answer as for a token that does not exist.
    let unknown = expect_error(app.refresh(&b, "no-such-token").await, 400, "invalid_grant").await;
    assert_eq!(r, unknown);
    // Not spent, family not revoked: the owner still uses it.
    let t2 = refresh_token_of(app.refresh(&a, &t1).await).await;
    // Nor does another client's attempt with a spent token kill the family.
    expect_error(app.refresh(&b, &t1).await, 400, "invalid_grant").await;
    assert_eq!(app.refresh(&a, &t2).await.status(), 200);
}

async fn rfc6749_6_scope_may_be_narrowed_and_the_refresh_token_keeps_its_scope(app: TestApp) {
    app.alice();
    let c = app.password_client();
    let t1 = app.password_refresh_token(&c).await;
    let r = app
        .post_form_basic(
            "/token",
            &c,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &t1),
                ("scope", "read"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "read");
    let claims = app.verify_jwt(body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["scope"], "read");
    // §6: the new refresh token's scope is identical to the presented one's,
    // so the next refresh without `scope` gets the original grant again.
    let t2 = body["refresh_token"].as_str().unwrap();
    let r = app.refresh(&c, t2).await;
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "read write");
}

async fn rfc6749_6_wider_scope_is_invalid_scope_and_spends_nothing(app: TestApp) {
    app.alice();
    let c = app.password_client();
    // Granted "read" only at sign-in.
    let r = app
        .post_form_basic(
            "/token",
            &c,
            &[
                ("grant_type", "password"),
                ("username", crate::harness::USERNAME),
                ("password", crate::harness::PASSWORD),
                ("scope", "read"),
            ],
        )
        .await;
    let t1 = refresh_token_of(r).await;
    let before = issued_rows(&app);
    // "write" is the client's, but was not originally granted.
    for scope in ["read write", "admin"] {
        let r = app
            .post_form_basic(
                "/token",
                &c,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &t1),
                    ("scope", scope),
                ],
            )
            .await;
        expect_error(r, 400, "invalid_scope").await;
    }
    // The rotation writes the successor before the rules judge the
    // request; the refusals rolled it back.
    assert_eq!(
        issued_rows(&app),
        before,
        "a refused refresh writes nothing"
    );
    // The refused requests spent nothing.
    let r = app.refresh(&c, &t1).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "read");
    let [families, tokens, records] = before;
    assert_eq!(issued_rows(&app), [families, tokens + 1, records]);
}

async fn rfc6749_6_missing_refresh_token_is_invalid_request(app: TestApp) {
    let c = app.password_client();
    let r = app
        .post_form_basic("/token", &c, &[("grant_type", "refresh_token")])
        .await;
    expect_error(r, 400, "invalid_request").await;
}

async fn rfc6749_5_2_unknown_refresh_token_is_invalid_grant(app: TestApp) {
    let c = app.password_client();
    for token in [
        "not-a-token",
        "eyJhbGciOiJSUzI1NiJ9.e30.x",
        &"A".repeat(4000),
    ] {
        expect_error(app.refresh(&c, token).await, 400, "invalid_grant").await;
    }
}

async fn rfc6749_5_2_client_without_refresh_grant_is_unauthorized_client(app: TestApp) {
    app.alice();
    let c = app.password_client();
    let t1 = app.password_refresh_token(&c).await;
    let svc = app.service_client();
    expect_error(app.refresh(&svc, &t1).await, 400, "unauthorized_client").await;
    // A password-only client gets no refresh token at all.
    let p = app.client(NewClient {
        name: "pw-only".into(),
        grant_types: vec!["password".into()],
        scope: "read".into(),
        ..Default::default()
    });
    let body = app.password_tokens(&p).await;
    assert!(body.get("refresh_token").is_none(), "{body}");
}

async fn refresh_in_parallel(
    app: &TestApp,
    c: &gatehouse::registry::CreatedClient,
    token: &str,
) -> Vec<(u16, serde_json::Value)> {
    let requests = (0..8).map(|_| async {
        let r = app.refresh(c, token).await;
        let status = r.status().as_u16();
        (status, r.json::<serde_json::Value>().await.unwrap())
    });
    futures_util::future::join_all(requests).await
}

/// Eight requests with the same refresh token at once: one wins, seven are
/// reuse. With the grace off that revokes the family, winner included.
async fn rfc9700_4_14_2_concurrent_use_lets_at_most_one_succeed(app: TestApp) {
    app.alice();
    let c = app.password_client();
    let t1 = app.password_refresh_token(&c).await;
    let results = refresh_in_parallel(&app, &c, &t1).await;
    let ok: Vec<_> = results.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(ok.len(), 1, "{results:?}");
    for (s, body) in results.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*s, 400);
        assert_eq!(body["error"], "invalid_grant");
    }
    let winner = ok[0].1["refresh_token"].as_str().unwrap();
    expect_error(app.refresh(&c, winner).await, 400, "invalid_grant").await;
}

/// 200 rotations in a row; every spent token is inactive (RFC 7662) while
/// the chain lives; then replaying an old one kills the chain.
async fn rfc9700_4_14_2_chain_of_200_rotations_then_reuse_kills_it(app: TestApp) {
    app.alice();
    let c = app.password_client();
    let rs = app.introspector();
    let mut tokens = vec![app.password_refresh_token(&c).await];
    for _ in 0..200 {
        let current = tokens.last().unwrap().clone();
        let next = refresh_token_of(app.refresh(&c, &current).await).await;
        assert!(!tokens.contains(&next));
        assert_eq!(
            app.introspect(&rs, &current).await,
            serde_json::json!({"active": false}),
            "a spent token is inactive"
        );
        tokens.push(next);
    }
    let newest = tokens.last().unwrap().clone();
    assert_eq!(app.introspect(&rs, &newest).await["active"], true);
    // Replaying a token from the middle of the chain revokes the family.
    expect_error(app.refresh(&c, &tokens[100]).await, 400, "invalid_grant").await;
    expect_error(app.refresh(&c, &newest).await, 400, "invalid_grant").await;
    for t in tokens.iter().step_by(10) {
        expect_error(app.refresh(&c, t).await, 400, "invalid_grant").await;
    }
}

async fn rfc9700_4_14_2_reuse_grace_is_off_by_default(app: TestApp) {
    assert_eq!(app.state.config.refresh_reuse_grace, 0);
    app.alice();
    let c = app.password_client();
    let t1 = app.password_refresh_token(&c).await;
    let t2 = refresh_token_of(app.refresh(&c, &t1).await).await;
    // Immediately (same second), the replay still kills the family.
    expect_error(app.refresh(&c, &t1).await, 400, "invalid_grant").await;
    expect_error(app.refresh(&c, &t2).await, 400, "invalid_grant").await;
}

/// `GATEHOUSE_REFRESH_IDLE_TTL` / `GATEHOUSE_REFRESH_MAX_TTL`.
mod lifetimes {
    use crate::harness::{expect_error, refresh_token_of, TestApp};

    backend_tests!(
        with |c| { c.refresh_idle_ttl = 100; c.refresh_max_ttl = 250; };
        rfc6749_6_idle_family_expires,
        rfc6749_6_use_keeps_a_family_alive_until_its_absolute_end,
    );

    async fn rfc6749_6_idle_family_expires(app: TestApp) {
        app.alice();
        let c = app.password_client();
        let t1 = app.password_refresh_token(&c).await;
        app.clock().advance(100);
        expect_error(app.refresh(&c, &t1).await, 400, "invalid_grant").await;
    }

    async fn rfc6749_6_use_keeps_a_family_alive_until_its_absolute_end(app: TestApp) {
        app.alice();
        let c = app.password_client();
        let mut t = app.password_refresh_token(&c).await;
        // Each use restarts the idle clock: 3 × 80 s > the 100 s idle TTL.
        for _ in 0..3 {
            app.clock().advance(80);
            t = refresh_token_of(app.refresh(&c, &t).await).await;
        }
        // 240 s in; the absolute lifetime (250 s) ends before the idle one.
        app.clock().advance(10);
        expect_error(app.refresh(&c, &t).await, 400, "invalid_grant").await;
    }
}

/// `GATEHOUSE_REFRESH_REUSE_GRACE=30`.
mod grace {
    use super::refresh_in_parallel;
    use crate::harness::{expect_error, refresh_token_of, TestApp};

    backend_tests!(
        with |c| c.refresh_reuse_grace = 30;
        rfc9700_4_14_2_grace_replay_inside_the_window_gets_one_fresh_pair,
        rfc9700_4_14_2_grace_second_replay_kills_the_family,
        rfc9700_4_14_2_grace_replay_after_the_window_kills_the_family,
        rfc9700_4_14_2_grace_ends_once_the_successor_is_used,
        rfc9700_4_14_2_grace_concurrent_use_gives_at_most_two_pairs,
    );

    async fn start(app: &TestApp) -> (gatehouse::registry::CreatedClient, String) {
        app.alice();
        let c = app.password_client();
        let t1 = app.password_refresh_token(&c).await;
        (c, t1)
    }

    async fn rfc9700_4_14_2_grace_replay_inside_the_window_gets_one_fresh_pair(app: TestApp) {
        let (c, t1) = start(&app).await;
        let t2 = refresh_token_of(app.refresh(&c, &t1).await).await;
        app.clock().advance(25);
        // The answer to the first refresh was "lost": replay it.
        let t3 = refresh_token_of(app.refresh(&c, &t1).await).await;
        assert_ne!(t2, t3);
        // The replay's pair replaces the one whose answer was lost (see
        // refresh_races.rs); the new chain keeps working.
        let t4 = refresh_token_of(app.refresh(&c, &t3).await).await;
        assert_eq!(app.refresh(&c, &t4).await.status(), 200);
    }

    async fn rfc9700_4_14_2_grace_second_replay_kills_the_family(app: TestApp) {
        let (c, t1) = start(&app).await;
        let t2 = refresh_token_of(app.refresh(&c, &t1).await).await;
        let t3 = refresh_token_of(app.refresh(&c, &t1).await).await;
        expect_error(app.refresh(&c, &t1).await, 400, "invalid_grant").await;
        expect_error(app.refresh(&c, &t2).await, 400, "invalid_grant").await;
        expect_error(app.refresh(&c, &t3).await, 400, "invalid_grant").await;
    }

    async fn rfc9700_4_14_2_grace_replay_after_the_window_kills_the_family(app: TestApp) {
        let (c, t1) = start(&app).await;
        let t2 = refresh_token_of(app.refresh(&c, &t1).await).await;
        app.clock().advance(31);
        expect_error(app.refresh(&c, &t1).await, 400, "invalid_grant").await;
        expect_error(app.refresh(&c, &t2).await, 400, "invalid_grant").await;
    }

    async fn rfc9700_4_14_2_grace_ends_once_the_successor_is_used(app: TestApp) {
        let (c, t1) = start(&app).await;
        let t2 = refresh_token_of(app.refresh(&c, &t1).await).await;
        let t3 = refresh_token_of(app.refresh(&c, &t2).await).await;
        // t1 is no longer the just-spent token: this is a stolen copy.
        expect_error(app.refresh(&c, &t1).await, 400, "invalid_grant").await;
        expect_error(app.refresh(&c, &t3).await, 400, "invalid_grant").await;
    }

    async fn rfc9700_4_14_2_grace_concurrent_use_gives_at_most_two_pairs(app: TestApp) {
        let (c, t1) = start(&app).await;
        let results = refresh_in_parallel(&app, &c, &t1).await;
        let ok = results.iter().filter(|(s, _)| *s == 200).count();
        // One rotation plus the one grace replay; the third use is reuse.
        assert_eq!(ok, 2, "{results:?}");
        for (_, body) in results.iter().filter(|(s, _)| *s == 200) {
            let t = body["refresh_token"].as_str().unwrap();
            expect_error(app.refresh(&c, t).await, 400, "invalid_grant").await;
        }
    }
}
