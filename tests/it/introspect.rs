//! `POST /introspect` (RFC 7662).

use crate::harness::{expect_error, refresh_token_of, TestApp};
use gatehouse::admin::NewClient;

backend_tests!(
    rfc7662_2_2_active_access_token_has_its_claims,
    rfc7662_2_2_active_refresh_token,
    rfc7662_2_2_revoked_access_token_is_inactive_but_still_verifies,
    rfc7662_2_2_revoked_refresh_token_is_inactive,
    rfc7662_2_2_expired_access_token_is_inactive,
    rfc7662_2_2_malformed_and_foreign_tokens_are_inactive,
    rfc7662_2_1_hint_is_not_trusted,
    rfc7662_2_1_client_without_permission_is_403,
    rfc7662_2_3_bad_or_missing_client_authentication_is_401,
    rfc7662_2_1_missing_token_is_invalid_request,
    rfc8414_metadata_advertises_introspection,
);

async fn access_token(app: &TestApp) -> (gatehouse::admin::CreatedClient, String) {
    let c = app.service_client();
    let r = app
        .post_form_basic(
            "/token",
            &c,
            &[("grant_type", "client_credentials"), ("scope", "read")],
        )
        .await;
    let body: serde_json::Value = r.json().await.unwrap();
    (c, body["access_token"].as_str().unwrap().to_string())
}

async fn rfc7662_2_2_active_access_token_has_its_claims(app: TestApp) {
    let (c, at) = access_token(&app).await;
    let rs = app.introspector();
    let got = app.introspect(&rs, &at).await;
    let claims = app.verify_jwt(&at).await;
    assert_eq!(got["active"], true);
    assert_eq!(got["token_type"], "Bearer");
    assert_eq!(got["scope"], "read");
    assert_eq!(got["client_id"], c.client.id.as_str());
    assert_eq!(got["sub"], c.client.id.as_str());
    for k in ["exp", "iat", "iss", "aud", "jti"] {
        assert_eq!(got[k], claims[k], "{k}");
    }
}

async fn rfc7662_2_2_active_refresh_token(app: TestApp) {
    let user = app.alice();
    let c = app.password_client();
    let rs = app.introspector();
    let rt = app.password_refresh_token(&c).await;
    let got = app.introspect(&rs, &rt).await;
    assert_eq!(got["active"], true);
    assert_eq!(got["token_type"], "refresh_token");
    assert_eq!(got["scope"], "read write");
    assert_eq!(got["client_id"], c.client.id.as_str());
    assert_eq!(got["sub"], user.id.as_str());
    assert_eq!(got["iss"], app.base);
    assert!(got.get("jti").is_none());
    let iat = got["iat"].as_i64().unwrap();
    assert_eq!(
        got["exp"].as_i64().unwrap() - iat,
        app.state.config.refresh_idle_ttl
    );
    // Once spent by a rotation it is inactive.
    let next = refresh_token_of(app.refresh(&c, &rt).await).await;
    assert_eq!(
        app.introspect(&rs, &rt).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(app.introspect(&rs, &next).await["active"], true);
}

/// A resource server validating offline still accepts a revoked token's
/// signature against `/jwks.json`; introspection is how it learns of the
/// revocation.
async fn rfc7662_2_2_revoked_access_token_is_inactive_but_still_verifies(app: TestApp) {
    let (c, at) = access_token(&app).await;
    let rs = app.introspector();
    let r = app.post_form_basic("/revoke", &c, &[("token", &at)]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.introspect(&rs, &at).await,
        serde_json::json!({"active": false})
    );
    let claims = app.verify_jwt(&at).await;
    assert_eq!(claims["client_id"], c.client.id.as_str());
}

async fn rfc7662_2_2_revoked_refresh_token_is_inactive(app: TestApp) {
    app.alice();
    let c = app.password_client();
    let rs = app.introspector();
    let rt = app.password_refresh_token(&c).await;
    let r = app.post_form_basic("/revoke", &c, &[("token", &rt)]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.introspect(&rs, &rt).await,
        serde_json::json!({"active": false})
    );
}

async fn rfc7662_2_2_expired_access_token_is_inactive(app: TestApp) {
    let (_, at) = access_token(&app).await;
    let rs = app.introspector();
    app.clock().advance(600);
    assert_eq!(
        app.introspect(&rs, &at).await,
        serde_json::json!({"active": false})
    );
}

async fn rfc7662_2_2_malformed_and_foreign_tokens_are_inactive(app: TestApp) {
    let rs = app.introspector();
    // A well-formed token with our issuer and audience, signed by a key
    // gatehouse does not publish.
    let dir = tempfile::tempdir().unwrap();
    let foreign_key = gatehouse::tokens::keys::generate_key(dir.path()).unwrap();
    let now = app.state.clock.now();
    let foreign = foreign_key
        .sign(&gatehouse::tokens::AccessTokenClaims {
            iss: app.state.issuer.clone(),
            sub: "someone".into(),
            aud: app.state.audience.clone(),
            exp: now + 600,
            iat: now,
            jti: "forged".into(),
            client_id: "forged".into(),
            scope: "read".into(),
            auth_time: None,
        })
        .unwrap();
    // Ours, but for another audience.
    let other_aud = app
        .state
        .keys
        .current()
        .signer
        .sign(&gatehouse::tokens::AccessTokenClaims {
            iss: app.state.issuer.clone(),
            sub: "someone".into(),
            aud: "https://elsewhere.example".into(),
            exp: now + 600,
            iat: now,
            jti: "j".into(),
            client_id: "c".into(),
            scope: "read".into(),
            auth_time: None,
        })
        .unwrap();
    for token in [
        "garbage",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        &foreign,
        &other_aud,
    ] {
        assert_eq!(
            app.introspect(&rs, token).await,
            serde_json::json!({"active": false}),
            "{token}"
        );
    }
}

async fn rfc7662_2_1_hint_is_not_trusted(app: TestApp) {
    app.alice();
    let c = app.password_client();
    let rs = app.introspector();
    let body = app.password_tokens(&c).await;
    for (token, hint) in [
        (body["access_token"].as_str().unwrap(), "refresh_token"),
        (body["refresh_token"].as_str().unwrap(), "access_token"),
        (body["refresh_token"].as_str().unwrap(), "something_else"),
    ] {
        let r = app
            .post_form_basic(
                "/introspect",
                &rs,
                &[("token", token), ("token_type_hint", hint)],
            )
            .await;
        let got: serde_json::Value = r.json().await.unwrap();
        assert_eq!(got["active"], true, "hint {hint}");
    }
}

/// §2.1: "the endpoint MUST also require some form of authorization".
/// An authenticated client without `--introspect` gets 403 and learns
/// nothing about the token.
async fn rfc7662_2_1_client_without_permission_is_403(app: TestApp) {
    let (c, at) = access_token(&app).await;
    let r = app
        .post_form_basic("/introspect", &c, &[("token", &at)])
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized_client");
    assert!(body.get("active").is_none());
}

async fn rfc7662_2_3_bad_or_missing_client_authentication_is_401(app: TestApp) {
    let (_, at) = access_token(&app).await;
    let rs = app.introspector();
    let r = app.post_form("/introspect", &[("token", &at)]).await;
    expect_error(r, 401, "invalid_client").await;
    let r = app
        .http
        .post(app.url("/introspect"))
        .basic_auth(&rs.client.id, Some("wrong"))
        .form(&[("token", &at)])
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("www-authenticate"));
    expect_error(r, 401, "invalid_client").await;
    // A public client only names itself: that is not authentication.
    let public = app.client(NewClient {
        name: "spa".into(),
        grant_types: vec!["password".into()],
        scope: "read".into(),
        public: true,
        can_introspect: true,
        ..Default::default()
    });
    let r = app
        .post_form(
            "/introspect",
            &[("client_id", &public.client.id), ("token", &at)],
        )
        .await;
    expect_error(r, 401, "invalid_client").await;
}

async fn rfc7662_2_1_missing_token_is_invalid_request(app: TestApp) {
    let rs = app.introspector();
    let r = app
        .post_form_basic("/introspect", &rs, &[("token_type_hint", "access_token")])
        .await;
    expect_error(r, 400, "invalid_request").await;
}

async fn rfc8414_metadata_advertises_introspection(app: TestApp) {
    let doc: serde_json::Value = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(doc["introspection_endpoint"], app.url("/introspect"));
    assert_eq!(
        doc["introspection_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
}
