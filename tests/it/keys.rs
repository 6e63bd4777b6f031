//! Signing key rotation: new tokens carry the new kid, old tokens keep
//! verifying until they expire, then the old key leaves the JWKS.

use crate::harness::TestApp;

backend_tests!(rotation_keeps_old_tokens_valid_and_signs_with_the_new_key);

async fn token(app: &TestApp, c: &gatehouse::admin::CreatedClient) -> String {
    let r = app
        .post_form_basic("/token", c, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(app: TestApp) {
    let c = app.service_client();
    let old = token(&app, &c).await;
    let s = &app.state;
    let new_kid = gatehouse::tokens::keys::rotate(
        &s.store,
        &s.config.keys_dir,
        s.clock.now(),
        s.config.access_token_ttl,
    )
    .unwrap();
    s.keys.reload(&s.store, s.clock.now()).unwrap();

    let new = token(&app, &c).await;
    assert_eq!(kid(&new), new_kid);
    assert_ne!(kid(&old), new_kid);
    // Both verify against the published set.
    app.verify_jwt(&old).await;
    app.verify_jwt(&new).await;
    let jwks: serde_json::Value = app.get("/jwks.json").await.json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    assert_eq!(
        jwks["keys"][0]["kid"],
        new_kid.as_str(),
        "the signer is listed first"
    );

    // Once every token the old key signed has expired, it drops out.
    app.clock().advance(s.config.access_token_ttl + 1);
    s.keys.reload(&s.store, s.clock.now()).unwrap();
    let jwks: serde_json::Value = app.get("/jwks.json").await.json().await.unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, vec![new_kid.as_str()]);
}
