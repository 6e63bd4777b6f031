//! Races around refresh token families, fired at two instances on one
//! database (and on one SQLite file): a refresh against a revocation of its
//! family (RFC 7009 §2.1, RFC 9700 §4.14.2), and a reuse-grace replay
//! against the use of the successor it replays (RFC 9700 §4.14.2).
//!
//! A race has no fixed outcome, so each test fires both requests at once
//! many times and checks, every time, the rule that must hold whichever
//! request the database served first.

use crate::harness::{code_query, form_field, pkce_pair, url_params, TestApp};
use crate::harness::{Sibling, REDIRECT};
use gatehouse::registry::CreatedClient;

/// Attempts per race test.
const TRIES: usize = 20;

backend_tests!(
    rfc7009_2_1_refresh_racing_revoke_keeps_no_active_access_token,
    rfc7009_2_1_refresh_racing_consent_withdrawal_keeps_no_active_access_token,
);

/// `grant_type=refresh_token` at instance `b`: (status, body).
async fn refresh_at(
    app: &TestApp,
    b: &Sibling,
    c: &CreatedClient,
    token: &str,
) -> (u16, serde_json::Value) {
    let r = app
        .http
        .post(b.url("/token"))
        .basic_auth(&c.client.id, c.secret.as_deref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// The outcome of a refresh that raced a revocation of its family: it
/// may have lost (`invalid_grant`), or won and then been revoked with the
/// family, but it must not leave the client a working token.
async fn assert_refresh_left_nothing_active(
    app: &TestApp,
    rs: &CreatedClient,
    try_no: usize,
    (status, body): (u16, serde_json::Value),
) {
    match status {
        200 => {
            let at = body["access_token"].as_str().unwrap();
            let rt = body["refresh_token"].as_str().unwrap();
            assert_eq!(
                app.introspect(rs, at).await,
                serde_json::json!({"active": false}),
                "try {try_no}: the refresh won the race, yet its access token \
                 is still active after the family was revoked"
            );
            assert_eq!(
                app.introspect(rs, rt).await,
                serde_json::json!({"active": false}),
                "try {try_no}: the refresh token it got is still active"
            );
        }
        400 => assert_eq!(body["error"], "invalid_grant", "try {try_no}: {body}"),
        other => panic!("try {try_no}: refresh answered {other}: {body}"),
    }
}

/// RFC 7009 §2.1: revoking a refresh token SHOULD invalidate the access
/// tokens of the same grant; RFC 9700 §4.14.2: a revoked family issues
/// nothing more. A refresh at one instance and `/revoke` of the same token
/// at the other, at once: whichever the database serves first, no access
/// token of the family is active afterwards.
async fn rfc7009_2_1_refresh_racing_revoke_keeps_no_active_access_token(app: TestApp) {
    let b = app.sibling();
    app.alice();
    let c = app.password_client();
    let rs = app.introspector();
    for try_no in 0..TRIES {
        let first = app.password_tokens(&c).await;
        let rt = first["refresh_token"].as_str().unwrap();
        let revoke = async {
            app.http
                .post(b.url("/revoke"))
                .basic_auth(&c.client.id, c.secret.as_deref())
                .form(&[("token", rt), ("token_type_hint", "refresh_token")])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        };
        let refresh = async {
            let r = app.refresh(&c, rt).await;
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        };
        let (revoked, refreshed) = tokio::join!(revoke, refresh);
        assert_eq!(revoked, 200, "try {try_no}");
        assert_refresh_left_nothing_active(&app, &rs, try_no, refreshed).await;
        let at = first["access_token"].as_str().unwrap();
        assert_eq!(app.introspect(&rs, at).await["active"], false);
    }
}

/// The same race with consent withdrawn on `/account` (which revokes the
/// app's families for the person) instead of `/revoke`.
async fn rfc7009_2_1_refresh_racing_consent_withdrawal_keeps_no_active_access_token(app: TestApp) {
    let b = app.sibling();
    let c = app.web_client(false);
    let rs = app.introspector();
    app.user("alice", "correct horse");
    let r = app.sign_in("alice", "correct horse", "/account").await;
    assert_eq!(r.status(), 303);
    for try_no in 0..TRIES {
        let (verifier, ch) = pkce_pair();
        let loc = app.authorize_and_allow(&code_query(&c, &ch, &[])).await;
        let code = &url_params(&loc, false)["code"];
        let r = app
            .exchange(&c, code, Some(&verifier), Some(REDIRECT))
            .await;
        assert_eq!(r.status(), 200, "try {try_no}");
        let first: serde_json::Value = r.json().await.unwrap();
        let rt = first["refresh_token"].as_str().unwrap();
        let html = app.get("/account").await.text().await.unwrap();
        let csrf = form_field(&html, "csrf_token").unwrap();
        // The session cookie is the browser's, valid at either instance.
        let withdraw = async {
            app.http
                .post(b.url("/account/revoke"))
                .form(&[("csrf_token", csrf.as_str()), ("client_id", &c.client.id)])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        };
        let refresh = async {
            let r = app.refresh(&c, rt).await;
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        };
        let (withdrawn, refreshed) = tokio::join!(withdraw, refresh);
        assert_eq!(withdrawn, 303, "try {try_no}");
        assert_refresh_left_nothing_active(&app, &rs, try_no, refreshed).await;
        let at = first["access_token"].as_str().unwrap();
        assert_eq!(app.introspect(&rs, at).await["active"], false);
    }
}

/// `GATEHOUSE_REFRESH_REUSE_GRACE=30`: a replay inside the grace is for a
/// client that lost the answer to its refresh, never for a second holder.
mod grace {
    use super::{refresh_at, TRIES};
    use crate::harness::{expect_error, TestApp};

    backend_tests!(
        with |c| c.refresh_reuse_grace = 30;
        rfc9700_4_14_2_grace_replay_leaves_exactly_one_live_chain,
        rfc9700_4_14_2_presenting_a_successor_replaced_by_a_grace_replay_revokes_the_family,
        rfc9700_4_14_2_grace_replay_racing_its_successor_leaves_at_most_one_live_chain,
    );

    /// A refresh token and the access token issued with it.
    struct Pair {
        refresh: String,
        access: String,
    }

    fn pair(body: &serde_json::Value) -> Pair {
        Pair {
            refresh: body["refresh_token"].as_str().unwrap().to_string(),
            access: body["access_token"].as_str().unwrap().to_string(),
        }
    }

    async fn refreshed(app: &TestApp, c: &gatehouse::registry::CreatedClient, t: &str) -> Pair {
        let r = app.refresh(c, t).await;
        assert_eq!(r.status(), 200);
        pair(&r.json().await.unwrap())
    }

    async fn active(app: &TestApp, rs: &gatehouse::registry::CreatedClient, token: &str) -> bool {
        app.introspect(rs, token).await["active"] == true
    }

    /// Replaying at every level: each replay's pair replaces the successor
    /// the client never got (its access token is deny-listed too), so the
    /// family never has more than the one chain a client can hold.
    async fn rfc9700_4_14_2_grace_replay_leaves_exactly_one_live_chain(app: TestApp) {
        // Replays fall inside the 30 s grace however slow the machine.
        app.clock().freeze();
        app.alice();
        let c = app.password_client();
        let rs = app.introspector();
        let mut current = app.password_refresh_token(&c).await;
        let mut issued = Vec::new();
        for level in 0..3 {
            let lost = refreshed(&app, &c, &current).await;
            let replayed = refreshed(&app, &c, &current).await;
            assert!(
                !active(&app, &rs, &lost.refresh).await,
                "level {level}: the successor the replay replaced is still active"
            );
            assert!(
                !active(&app, &rs, &lost.access).await,
                "level {level}: the access token issued with it is still active"
            );
            assert!(active(&app, &rs, &replayed.refresh).await);
            assert!(active(&app, &rs, &replayed.access).await);
            current = replayed.refresh.clone();
            issued.push(lost);
            issued.push(replayed);
        }
        let mut live = Vec::new();
        for p in &issued {
            if active(&app, &rs, &p.refresh).await {
                live.push(p.refresh.clone());
            }
        }
        assert_eq!(live, vec![current.clone()], "exactly one live chain");
        // And it is a working one.
        refreshed(&app, &c, &current).await;
    }

    /// The replaced successor in someone's hands means the replay did not
    /// come from a client that lost it: a second holder. That is reuse, and
    /// the family dies, the replay's chain included.
    async fn rfc9700_4_14_2_presenting_a_successor_replaced_by_a_grace_replay_revokes_the_family(
        app: TestApp,
    ) {
        // Replays fall inside the 30 s grace however slow the machine.
        app.clock().freeze();
        app.alice();
        let c = app.password_client();
        let rs = app.introspector();
        let t1 = app.password_refresh_token(&c).await;
        let lost = refreshed(&app, &c, &t1).await;
        let replayed = refreshed(&app, &c, &t1).await;
        expect_error(app.refresh(&c, &lost.refresh).await, 400, "invalid_grant").await;
        expect_error(
            app.refresh(&c, &replayed.refresh).await,
            400,
            "invalid_grant",
        )
        .await;
        for t in [&lost.access, &replayed.access, &replayed.refresh] {
            assert!(!active(&app, &rs, t).await);
        }
    }

    /// The successor used at one instance while its parent is replayed at
    /// the other, at once. Either order is a second holder (one after the
    /// other the family is revoked), so whichever the database serves
    /// first: at most one chain can still refresh, and a pair whose refresh
    /// token died with its chain has no active access token either.
    async fn rfc9700_4_14_2_grace_replay_racing_its_successor_leaves_at_most_one_live_chain(
        app: TestApp,
    ) {
        let b = app.sibling();
        // Replays fall inside the 30 s grace however slow the machine.
        app.clock().freeze();
        app.alice();
        let c = app.password_client();
        let rs = app.introspector();
        for try_no in 0..TRIES {
            let t1 = app.password_refresh_token(&c).await;
            let t2 = refreshed(&app, &c, &t1).await;
            let use_successor = async {
                let r = app.refresh(&c, &t2.refresh).await;
                let status = r.status().as_u16();
                (status, r.json::<serde_json::Value>().await.unwrap())
            };
            let replay_parent = refresh_at(&app, &b, &c, &t1);
            let (used, replayed) = tokio::join!(use_successor, replay_parent);
            let mut pairs = Vec::new();
            for (status, body) in [used, replayed] {
                match status {
                    200 => pairs.push(pair(&body)),
                    400 => assert_eq!(body["error"], "invalid_grant", "try {try_no}: {body}"),
                    other => panic!("try {try_no}: refresh answered {other}: {body}"),
                }
            }
            let mut live = 0;
            for p in &pairs {
                if active(&app, &rs, &p.refresh).await {
                    live += 1;
                } else {
                    assert!(
                        !active(&app, &rs, &p.access).await,
                        "try {try_no}: a dead chain's access token is active"
                    );
                }
            }
            if active(&app, &rs, &t2.refresh).await {
                live += 1;
            }
            assert!(live <= 1, "try {try_no}: {live} live chains");
        }
    }
}
