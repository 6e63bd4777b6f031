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
use gatehouse::admin::CreatedClient;

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
