//! Several gatehouse instances on one database (the PostgreSQL scale-out
//! story, and SQLite processes sharing a file): they publish the same keys
//! and judge single-use grants the same, whichever instance a request hits.

use crate::harness::{code_query, pkce_pair, racer_url, url_params, TestApp, RACERS, REDIRECT};

backend_tests!(
    instances_publish_the_same_keys_and_accept_each_others_clients,
    a_code_is_redeemed_once_across_instances,
    a_refresh_token_is_used_once_across_instances,
    device_polling_state_is_shared_across_instances,
);

async fn instances_publish_the_same_keys_and_accept_each_others_clients(app: TestApp) {
    let b = app.sibling();
    let ja: serde_json::Value = app.get("/jwks.json").await.json().await.unwrap();
    let jb: serde_json::Value = app
        .http
        .get(b.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ja, jb);
    let c = app.service_client();
    let r = app
        .http
        .post(b.url("/token"))
        .basic_auth(&c.client.id, c.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    // A resource server using instance A's JWKS accepts B's token.
    app.verify_jwt(body["access_token"].as_str().unwrap()).await;
}

/// RFC 6749 §4.1.2: single use holds across instances: 50 redemptions
/// of one code, split over two instances, give exactly one success.
async fn a_code_is_redeemed_once_across_instances(app: TestApp) {
    let b = app.sibling();
    let c = app.web_client(false);
    app.user("alice", "correct horse");
    assert_eq!(
        app.sign_in("alice", "correct horse", "/account")
            .await
            .status(),
        303
    );
    let (verifier, ch) = pkce_pair();
    let loc = app.authorize_and_allow(&code_query(&c, &ch, &[])).await;
    let code = url_params(&loc, false)["code"].clone();
    let requests = (0..RACERS).map(|i| {
        app.http
            .post(racer_url(&app, &b, i, "/token"))
            .basic_auth(&c.client.id, c.secret.as_deref())
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("code_verifier", verifier.as_str()),
                ("redirect_uri", REDIRECT),
            ])
            .send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 400),
        "{statuses:?}"
    );
}

/// RFC 9700 §4.14.2: rotation is judged on the shared row: 50 uses of one
/// refresh token, split over two instances, give exactly one success.
async fn a_refresh_token_is_used_once_across_instances(app: TestApp) {
    let b = app.sibling();
    app.alice();
    let c = app.password_client();
    let tokens = app.password_tokens(&c).await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let requests = (0..RACERS).map(|i| {
        app.http
            .post(racer_url(&app, &b, i, "/token"))
            .basic_auth(&c.client.id, c.secret.as_deref())
            .form(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
            .send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    // Exactly one: the first to take the family's lock rotates; every
    // other sees a spent token (reuse) and gets invalid_grant.
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 400),
        "{statuses:?}"
    );
}

/// RFC 8628 §3.5: a poll on B right after one on A is too fast.
async fn device_polling_state_is_shared_across_instances(app: TestApp) {
    const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
    let b = app.sibling();
    let tv = app.client(gatehouse::registry::NewClient {
        name: "TV".into(),
        grant_types: vec![GRANT.into()],
        scope: "read".into(),
        public: true,
        ..Default::default()
    });
    let flow: serde_json::Value = app
        .post_form(
            "/device_authorization",
            &[("client_id", tv.client.id.as_str())],
        )
        .await
        .json()
        .await
        .unwrap();
    let dc = flow["device_code"].as_str().unwrap();
    let form = [
        ("grant_type", GRANT),
        ("device_code", dc),
        ("client_id", tv.client.id.as_str()),
    ];
    let first = app.post_form("/token", &form).await;
    crate::harness::expect_error(first, 400, "authorization_pending").await;
    let second = app
        .http
        .post(b.url("/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    crate::harness::expect_error(second, 400, "slow_down").await;
}
