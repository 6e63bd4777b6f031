//! `POST /introspect` (RFC 7662).

use crate::harness::{
    code_query, expect_error, form_field, pkce_pair, refresh_token_of, url_params, TestApp,
    PASSWORD, REDIRECT, USERNAME,
};
use gatehouse::registry::NewClient;

backend_tests!(
    rfc7662_2_2_active_access_token_has_its_claims,
    rfc7662_2_2_active_refresh_token,
    rfc7662_2_2_revoked_access_token_is_inactive_but_still_verifies,
    rfc7662_2_2_revoked_refresh_token_is_inactive,
    rfc7662_2_2_expired_access_token_is_inactive,
    rfc7662_2_2_malformed_and_foreign_tokens_are_inactive,
    rfc7662_2_1_hint_is_not_trusted,
    rfc7662_4_a_client_may_introspect_only_its_own_tokens,
    rfc7009_2_1_deleting_a_client_ends_its_tokens,
    rfc7662_2_2_a_disabled_users_tokens_are_inactive,
    rfc7009_2_1_withdrawn_consent_ends_tokens_without_a_refresh_family,
    rfc6749_4_1_3_a_user_disabled_after_the_code_was_issued_gets_no_tokens,
    rfc7662_2_3_bad_or_missing_client_authentication_is_401,
    rfc7662_2_1_missing_token_is_invalid_request,
);

async fn access_token(app: &TestApp) -> (gatehouse::registry::CreatedClient, String) {
    let c = app.service_client();
    let token = app.client_credentials_token(&c, Some("read")).await;
    (c, token)
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
    let foreign_key = gatehouse::tokens::keystore::generate_key(dir.path()).unwrap();
    let now = app.state.clock.now();
    let foreign = foreign_key
        .sign(&gatehouse::tokens::AccessTokenClaims {
            iss: app.state.issuer.clone(),
            sub: "someone".into(),
            aud: app.state.audience.clone().into(),
            exp: now + 600,
            iat: now,
            jti: "forged".into(),
            client_id: "forged".into(),
            scope: "read".into(),
            auth_time: None,
            acr: None,
            amr: None,
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
            acr: None,
            amr: None,
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

/// The contract's access rule (RFC 7662 §4 leaves it to the server):
/// every confidential client may introspect the tokens issued to it, and
/// gets exactly `{"active": false}` for anyone else's, as for an unknown
/// token; only a client created with `--introspect` sees every token.
async fn rfc7662_4_a_client_may_introspect_only_its_own_tokens(app: TestApp) {
    let (c, at) = access_token(&app).await;
    let got = app.introspect(&c, &at).await;
    assert_eq!(got["active"], true);
    assert_eq!(got["client_id"], c.client.id);

    let (other, other_at) = access_token(&app).await;
    assert_eq!(
        app.introspect(&c, &other_at).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(app.introspect(&other, &other_at).await["active"], true);

    // Refresh tokens too.
    app.alice();
    let pc = app.password_client();
    let rt = app.password_refresh_token(&pc).await;
    assert_eq!(app.introspect(&pc, &rt).await["active"], true);
    assert_eq!(
        app.introspect(&c, &rt).await,
        serde_json::json!({"active": false})
    );
    let rs = app.introspector();
    assert_eq!(app.introspect(&rs, &rt).await["active"], true);
    assert_eq!(app.introspect(&rs, &at).await["active"], true);
}

fn disable(app: &TestApp, user_id: &str) {
    use diesel::prelude::*;
    use gatehouse::store::schema::users;
    let mut c = app.state.store.conn().unwrap();
    db!(c, conn => diesel::update(users::table.find(user_id))
        .set(users::disabled.eq(true))
        .execute(conn))
    .unwrap();
}

/// Deleting a client ends its tokens at once: its own (client_credentials)
/// access tokens and its users' tokens are inactive at introspection.
async fn rfc7009_2_1_deleting_a_client_ends_its_tokens(app: TestApp) {
    let rs = app.introspector();
    let (c, at) = access_token(&app).await;
    app.alice();
    let pc = app.password_client();
    let tokens = app.password_tokens(&pc).await;
    let user_at = tokens["access_token"].as_str().unwrap().to_string();
    let user_rt = tokens["refresh_token"].as_str().unwrap().to_string();
    for t in [&at, &user_at, &user_rt] {
        assert_eq!(app.introspect(&rs, t).await["active"], true);
    }
    let mut conn = app.state.store.conn().unwrap();
    assert!(conn.write(|t| t.delete_client(&c.client.id)).unwrap());
    assert!(conn.write(|t| t.delete_client(&pc.client.id)).unwrap());
    drop(conn);
    for t in [&at, &user_at, &user_rt] {
        assert_eq!(
            app.introspect(&rs, t).await,
            serde_json::json!({"active": false})
        );
    }
}

/// A disabled user's access and refresh tokens are inactive: a resource
/// server asking gatehouse stops honouring them at once.
async fn rfc7662_2_2_a_disabled_users_tokens_are_inactive(app: TestApp) {
    let rs = app.introspector();
    let alice = app.alice();
    let pc = app.password_client();
    let tokens = app.password_tokens(&pc).await;
    let at = tokens["access_token"].as_str().unwrap().to_string();
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(app.introspect(&rs, &at).await["active"], true);
    assert_eq!(app.introspect(&rs, &rt).await["active"], true);
    // Another user's tokens at the same client are unaffected.
    app.user("bob", "another horse");
    let r = app
        .post_form_basic(
            "/token",
            &pc,
            &[
                ("grant_type", "password"),
                ("username", "bob"),
                ("password", "another horse"),
            ],
        )
        .await;
    let bob: serde_json::Value = r.json().await.unwrap();
    let bob_at = bob["access_token"].as_str().unwrap().to_string();

    disable(&app, &alice.id);
    for t in [&at, &rt] {
        assert_eq!(
            app.introspect(&rs, t).await,
            serde_json::json!({"active": false})
        );
    }
    assert_eq!(app.introspect(&rs, &bob_at).await["active"], true);
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

/// Withdrawing consent on /account deny-lists the app's live access tokens
/// for that person even when no refresh family carries them: a client
/// without the refresh grant, and the implicit flow.
async fn rfc7009_2_1_withdrawn_consent_ends_tokens_without_a_refresh_family(app: TestApp) {
    let rs = app.introspector();
    app.alice();
    let code_only = app.client(NewClient {
        name: "Code only".into(),
        grant_types: vec!["authorization_code".into()],
        redirect_uris: vec![REDIRECT.into()],
        scope: "read".into(),
        ..Default::default()
    });
    let implicit = app.client(NewClient {
        name: "Implicit app".into(),
        grant_types: vec!["implicit".into()],
        redirect_uris: vec![REDIRECT.into()],
        scope: "read".into(),
        public: true,
        ..Default::default()
    });
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
        303
    );
    let (verifier, ch) = pkce_pair();
    let loc = app
        .authorize_and_allow(&code_query(&code_only, &ch, &[]))
        .await;
    let code = url_params(&loc, false)["code"].clone();
    let r = app
        .exchange(&code_only, &code, Some(&verifier), Some(REDIRECT))
        .await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body.get("refresh_token").is_none());
    let code_at = body["access_token"].as_str().unwrap().to_string();

    let q = serde_urlencoded::to_string([
        ("response_type", "token"),
        ("client_id", implicit.client.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "read"),
        ("state", "s"),
    ])
    .unwrap();
    let loc = app.authorize_and_allow(&q).await;
    let implicit_at = url_params(&loc, true)["access_token"].clone();
    for t in [&code_at, &implicit_at] {
        assert_eq!(app.introspect(&rs, t).await["active"], true);
    }

    for (client, token) in [(&code_only, &code_at), (&implicit, &implicit_at)] {
        let html = app.get("/account").await.text().await.unwrap();
        let csrf = form_field(&html, "csrf_token").unwrap();
        let r = app
            .post_form(
                "/account/revoke",
                &[("csrf_token", &csrf), ("client_id", &client.client.id)],
            )
            .await;
        assert_eq!(r.status(), 303);
        assert_eq!(
            app.introspect(&rs, token).await,
            serde_json::json!({"active": false})
        );
    }
}

/// RFC 6749 §4.1.3 with the rule the other grants follow: a person disabled
/// after the code was issued gets no tokens for it.
async fn rfc6749_4_1_3_a_user_disabled_after_the_code_was_issued_gets_no_tokens(app: TestApp) {
    let alice = app.alice();
    let c = app.web_client(false);
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
        303
    );
    let (verifier, ch) = pkce_pair();
    let loc = app.authorize_and_allow(&code_query(&c, &ch, &[])).await;
    let code = url_params(&loc, false)["code"].clone();
    disable(&app, &alice.id);
    let r = app
        .exchange(&c, &code, Some(&verifier), Some(REDIRECT))
        .await;
    expect_error(r, 400, "invalid_grant").await;
}
