//! `POST /revoke` (RFC 7009).

use crate::harness::{expect_error, refresh_token_of, TestApp};
use gatehouse::registry::NewClient;

backend_tests!(
    rfc7009_2_1_revoking_a_refresh_token_denies_the_access_tokens_of_its_family,
    rfc9700_4_14_2_reuse_denies_the_access_tokens_of_the_family,
    rfc7009_2_1_revoking_a_refresh_token_revokes_its_family,
    rfc7009_2_1_revoking_an_access_token_denies_its_jti,
    rfc7009_2_1_wrong_hint_is_not_trusted,
    rfc7009_2_1_unknown_hint_is_ignored,
    rfc7009_2_2_unknown_and_already_revoked_tokens_get_200,
    rfc7009_2_1_another_clients_tokens_are_untouched,
    rfc7009_2_1_public_client_revokes_its_own_token,
    rfc7009_2_1_client_authentication_is_required,
    rfc7009_2_1_missing_token_is_invalid_request,
);

async fn revoke(
    app: &TestApp,
    c: &gatehouse::registry::CreatedClient,
    form: &[(&str, &str)],
) -> reqwest::Response {
    app.post_form_basic("/revoke", c, form).await
}

async fn rfc7009_2_1_revoking_a_refresh_token_revokes_its_family(app: TestApp) {
    app.alice();
    let c = app.password_client();
    let rs = app.introspector();
    let t1 = app.password_refresh_token(&c).await;
    let t2 = refresh_token_of(app.refresh(&c, &t1).await).await;
    let t3 = refresh_token_of(app.refresh(&c, &t2).await).await;
    // Revoking an earlier (spent) token of the family revokes the family.
    let r = revoke(
        &app,
        &c,
        &[("token", &t2), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    expect_error(app.refresh(&c, &t3).await, 400, "invalid_grant").await;
    assert_eq!(
        app.introspect(&rs, &t3).await,
        serde_json::json!({"active": false})
    );
}

async fn rfc7009_2_1_revoking_an_access_token_denies_its_jti(app: TestApp) {
    let c = app.service_client();
    let rs = app.introspector();
    let r = app
        .post_form_basic("/token", &c, &[("grant_type", "client_credentials")])
        .await;
    let body: serde_json::Value = r.json().await.unwrap();
    let at = body["access_token"].as_str().unwrap();
    assert_eq!(app.introspect(&rs, at).await["active"], true);
    let r = revoke(
        &app,
        &c,
        &[("token", at), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.introspect(&rs, at).await,
        serde_json::json!({"active": false})
    );
}

async fn rfc7009_2_1_wrong_hint_is_not_trusted(app: TestApp) {
    app.alice();
    let c = app.password_client();
    let rs = app.introspector();
    let body = app.password_tokens(&c).await;
    let (at, rt) = (
        body["access_token"].as_str().unwrap(),
        body["refresh_token"].as_str().unwrap(),
    );
    // §2.1: a server that cannot find the token with the hint "MUST extend
    // its search across all of its supported token types".
    let r = revoke(
        &app,
        &c,
        &[("token", rt), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(r.status(), 200);
    expect_error(app.refresh(&c, rt).await, 400, "invalid_grant").await;
    let r = revoke(
        &app,
        &c,
        &[("token", at), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.introspect(&rs, at).await["active"], false);
}

/// §2.1 lets the server ignore `token_type_hint`; an unknown value is not
/// `unsupported_token_type` (§2.2.1 is for token types the server cannot
/// revoke, and gatehouse revokes every type it issues).
async fn rfc7009_2_1_unknown_hint_is_ignored(app: TestApp) {
    app.alice();
    let c = app.password_client();
    let rt = app.password_refresh_token(&c).await;
    let r = revoke(&app, &c, &[("token", &rt), ("token_type_hint", "id_token")]).await;
    assert_eq!(r.status(), 200);
    expect_error(app.refresh(&c, &rt).await, 400, "invalid_grant").await;
}

async fn rfc7009_2_2_unknown_and_already_revoked_tokens_get_200(app: TestApp) {
    app.alice();
    let c = app.password_client();
    let rt = app.password_refresh_token(&c).await;
    for token in ["no-such-token", "a.b.c", rt.as_str(), rt.as_str()] {
        let r = revoke(&app, &c, &[("token", token)]).await;
        assert_eq!(r.status(), 200, "{token}");
    }
}

/// §2.1: the server "verifies whether the token was issued to the client
/// making the revocation request". Another client's token is left alone;
/// the answer is still 200 so it does not confirm the token exists.
async fn rfc7009_2_1_another_clients_tokens_are_untouched(app: TestApp) {
    app.alice();
    let owner = app.password_client();
    let other = app.password_client();
    let rs = app.introspector();
    let body = app.password_tokens(&owner).await;
    let (at, rt) = (
        body["access_token"].as_str().unwrap(),
        body["refresh_token"].as_str().unwrap(),
    );
    for token in [at, rt] {
        let r = revoke(&app, &other, &[("token", token)]).await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(app.introspect(&rs, at).await["active"], true);
    assert_eq!(app.introspect(&rs, rt).await["active"], true);
    assert_eq!(app.refresh(&owner, rt).await.status(), 200);
}

async fn rfc7009_2_1_public_client_revokes_its_own_token(app: TestApp) {
    app.alice();
    let c = app.client(NewClient {
        name: "cli".into(),
        grant_types: vec!["password".into(), "refresh_token".into()],
        scope: "read".into(),
        public: true,
        ..Default::default()
    });
    let id = c.client.id.as_str();
    let r = app
        .post_form(
            "/token",
            &[
                ("grant_type", "password"),
                ("client_id", id),
                ("username", crate::harness::USERNAME),
                ("password", crate::harness::PASSWORD),
            ],
        )
        .await;
    let rt = refresh_token_of(r).await;
    let r = app
        .post_form("/revoke", &[("client_id", id), ("token", &rt)])
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", id),
                ("refresh_token", &rt),
            ],
        )
        .await;
    expect_error(r, 400, "invalid_grant").await;
}

async fn rfc7009_2_1_client_authentication_is_required(app: TestApp) {
    app.alice();
    let c = app.password_client();
    let rt = app.password_refresh_token(&c).await;
    let r = app.post_form("/revoke", &[("token", &rt)]).await;
    expect_error(r, 401, "invalid_client").await;
    let r = app
        .http
        .post(app.url("/revoke"))
        .basic_auth(&c.client.id, Some("wrong"))
        .form(&[("token", &rt)])
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("www-authenticate"));
    expect_error(r, 401, "invalid_client").await;
    // Nothing was revoked.
    assert_eq!(app.refresh(&c, &rt).await.status(), 200);
}

async fn rfc7009_2_1_missing_token_is_invalid_request(app: TestApp) {
    let c = app.service_client();
    let r = revoke(&app, &c, &[("token_type_hint", "access_token")]).await;
    expect_error(r, 400, "invalid_request").await;
}

/// RFC 7009 §2.1: "If the particular token is a refresh token and the
/// authorization server supports the revocation of access tokens, then the
/// authorization server SHOULD also invalidate all access tokens based on
/// the same authorization grant."
async fn rfc7009_2_1_revoking_a_refresh_token_denies_the_access_tokens_of_its_family(app: TestApp) {
    app.alice();
    let c = app.password_client();
    let rs = app.introspector();
    let first = app.password_tokens(&c).await;
    let r = app
        .refresh(&c, first["refresh_token"].as_str().unwrap())
        .await;
    let second: serde_json::Value = r.json().await.unwrap();
    let a1 = first["access_token"].as_str().unwrap();
    let a2 = second["access_token"].as_str().unwrap();
    assert_eq!(app.introspect(&rs, a1).await["active"], true);
    let r = app
        .post_form_basic(
            "/revoke",
            &c,
            &[("token", second["refresh_token"].as_str().unwrap())],
        )
        .await;
    assert_eq!(r.status(), 200);
    for a in [a1, a2] {
        assert_eq!(
            app.introspect(&rs, a).await,
            serde_json::json!({"active": false})
        );
        // Still a valid signature: offline validators accept it until exp.
        app.verify_jwt(a).await;
    }
    // Another session's tokens are untouched.
    let other = app.password_tokens(&c).await;
    assert_eq!(
        app.introspect(&rs, other["access_token"].as_str().unwrap())
            .await["active"],
        true
    );
}

async fn rfc9700_4_14_2_reuse_denies_the_access_tokens_of_the_family(app: TestApp) {
    app.alice();
    let c = app.password_client();
    let rs = app.introspector();
    let first = app.password_tokens(&c).await;
    let old = first["refresh_token"].as_str().unwrap();
    let second: serde_json::Value = app.refresh(&c, old).await.json().await.unwrap();
    expect_error(app.refresh(&c, old).await, 400, "invalid_grant").await;
    let a2 = second["access_token"].as_str().unwrap();
    assert_eq!(
        app.introspect(&rs, a2).await,
        serde_json::json!({"active": false})
    );
}
