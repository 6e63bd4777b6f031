//! `GET /jwks.json` (RFC 7517): the RS256 signing key, and its rotation:
//! the new key is published before it signs (so resource servers' cached
//! key sets know it), new tokens then carry the new kid, old tokens keep
//! verifying until they expire, then the old key leaves the JWKS.

use crate::harness::TestApp;

backend_tests!(
    rotation_keeps_old_tokens_valid_and_signs_with_the_new_key,
    rotation_publishes_the_new_key_before_it_signs,
    rfc7517_jwks_publishes_the_rs256_signing_key,
);

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(app: TestApp) {
    let c = app.service_client();
    let old = app.client_credentials_token(&c, None).await;
    let s = &app.state;
    // `keys rotate --now`: no delay.
    let (new_kid, _) = gatehouse::tokens::keystore::rotate(
        &s.store,
        &s.config.keys_dir,
        s.clock.now(),
        s.config.access_token_ttl,
        0,
        None,
    )
    .unwrap();
    s.keys.reload(&s.store, s.clock.now()).unwrap();

    let new = app.client_credentials_token(&c, None).await;
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

fn jwks_kids(jwks: &serde_json::Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

/// RFC 7517 / RFC 9068 §4: a resource server that cached the key set
/// before a rotation never meets a token signed with a key it has not
/// seen: the new key is in `/jwks.json` for `GATEHOUSE_KEY_ROTATION_DELAY`
/// before anything is signed with it.
async fn rotation_publishes_the_new_key_before_it_signs(app: TestApp) {
    // Time moves only when the test says so.
    app.clock().freeze();
    let c = app.service_client();
    let old = app.client_credentials_token(&c, None).await;
    let s = &app.state;
    let delay = s.config.key_rotation_delay;
    assert!(delay >= 60, "the default outlasts the JWKS max-age");
    let r = app.get("/jwks.json").await;
    assert_eq!(r.headers()["cache-control"], "public, max-age=60");
    let (new_kid, from) = gatehouse::tokens::keystore::rotate(
        &s.store,
        &s.config.keys_dir,
        s.clock.now(),
        s.config.access_token_ttl,
        delay,
        None,
    )
    .unwrap();
    assert_eq!(from, s.clock.now() + delay);
    s.keys.reload(&s.store, s.clock.now()).unwrap();

    // Published at once, not yet signing.
    let jwks: serde_json::Value = app.get("/jwks.json").await.json().await.unwrap();
    let kids = jwks_kids(&jwks);
    assert!(kids.contains(&new_kid), "{kids:?}");
    assert_eq!(kids[0], kid(&old), "the signer is still listed first");
    assert_eq!(
        kid(&app.client_credentials_token(&c, None).await),
        kid(&old)
    );

    // After the delay the new key signs; the old one stays published.
    app.clock().advance(delay);
    s.keys.reload(&s.store, s.clock.now()).unwrap();
    let new = app.client_credentials_token(&c, None).await;
    assert_eq!(kid(&new), new_kid);
    app.verify_jwt(&old).await;
    app.verify_jwt(&new).await;

    // Until the last token it signed has expired.
    app.clock().advance(s.config.access_token_ttl + 1);
    s.keys.reload(&s.store, s.clock.now()).unwrap();
    let jwks: serde_json::Value = app.get("/jwks.json").await.json().await.unwrap();
    assert_eq!(jwks_kids(&jwks), vec![new_kid]);
}

async fn rfc7517_jwks_publishes_the_rs256_signing_key(app: TestApp) {
    let resp = app.get("/jwks.json").await;
    assert_eq!(resp.status(), 200);
    let jwks: serde_json::Value = resp.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    assert_eq!(k["kty"], "RSA");
    assert_eq!(k["use"], "sig");
    assert_eq!(k["alg"], "RS256");
    assert_eq!(k["kid"], app.state.keys.current().signer.kid.as_str());
    assert!(k.get("d").is_none(), "no private parts");
    assert!(k["n"].as_str().unwrap().len() > 300, "a 2048-bit modulus");
}
