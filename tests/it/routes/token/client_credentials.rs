//! `POST /token` with `grant_type=client_credentials` (RFC 6749 §4.4), client
//! authentication (§2.3.1), errors (§5.2), and the RFC 9068 token format.

use crate::harness::{as_json, expect_error, TestApp};
use gatehouse::registry::NewClient;

backend_tests!(
    rfc9068_basic_auth_returns_a_jwt_access_token,
    rfc6749_2_3_1_client_secret_post_is_accepted,
    rfc6749_5_1_token_response_is_not_cached,
    rfc6749_5_2_wrong_secret_is_401_invalid_client,
    rfc6749_5_2_unknown_client_is_401_invalid_client,
    rfc6749_5_2_missing_client_authentication_is_401,
    rfc6749_3_3_scope_beyond_the_clients_is_invalid_scope,
    rfc6749_3_3_no_scope_grants_the_clients_scope,
    rfc6749_5_2_missing_grant_type_is_invalid_request,
    rfc6749_5_2_unknown_grant_type_is_unsupported_grant_type,
    rfc6749_5_2_client_without_the_grant_is_unauthorized_client,
    rfc6749_3_2_repeated_parameter_is_invalid_request,
    rfc6749_3_2_non_form_body_is_invalid_request,
    rfc6749_2_3_1_credentials_in_the_query_are_refused,
    rfc6749_2_3_two_authentication_methods_are_refused,
    rfc7591_auth_method_basic_refuses_post,
    rotated_secret_replaces_the_old_one_at_once,
    malformed_basic_header_is_invalid_client,
    public_client_cannot_use_client_credentials,
    rfc6749_2_3_public_and_unknown_client_ids_with_a_secret_cost_the_same,
);

async fn rfc9068_basic_auth_returns_a_jwt_access_token(app: TestApp) {
    let c = app.service_client();
    let r = app
        .post_form_basic(
            "/token",
            &c,
            &[("grant_type", "client_credentials"), ("scope", "read")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let body = as_json(&r.text().await.unwrap());
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["scope"], "read");
    // §4.4.3: no refresh token for client_credentials.
    assert!(body.get("refresh_token").is_none());
    let token = body["access_token"].as_str().unwrap();
    // RFC 9068 §2.1: typ at+jwt, RS256, kid.
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let claims = app.verify_jwt(token).await;
    // RFC 9068 §2.2 claims; for client_credentials `sub` is the client.
    assert_eq!(claims["iss"], app.base);
    assert_eq!(claims["aud"], app.base);
    assert_eq!(claims["sub"], c.client.id);
    assert_eq!(claims["client_id"], c.client.id);
    assert_eq!(claims["scope"], "read");
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 600);
    assert!(claims["jti"].as_str().unwrap().len() >= 16);
}

async fn rfc6749_2_3_1_client_secret_post_is_accepted(app: TestApp) {
    let c = app.service_client();
    let r = app
        .post_form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &c.client.id),
                ("client_secret", c.secret.as_deref().unwrap()),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "read write");
}

async fn rfc6749_5_1_token_response_is_not_cached(app: TestApp) {
    let c = app.service_client();
    let r = app
        .post_form_basic("/token", &c, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["pragma"], "no-cache");
}

async fn rfc6749_5_2_wrong_secret_is_401_invalid_client(app: TestApp) {
    let c = app.service_client();
    let r = app
        .http
        .post(app.url("/token"))
        .basic_auth(&c.client.id, Some("not-the-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    expect_error(r, 401, "invalid_client").await;
}

async fn rfc6749_5_2_unknown_client_is_401_invalid_client(app: TestApp) {
    let r = app
        .http
        .post(app.url("/token"))
        .basic_auth("no-such-client", Some("whatever"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("www-authenticate"));
    expect_error(r, 401, "invalid_client").await;
}

async fn rfc6749_5_2_missing_client_authentication_is_401(app: TestApp) {
    let r = app
        .post_form("/token", &[("grant_type", "client_credentials")])
        .await;
    expect_error(r, 401, "invalid_client").await;
}

async fn rfc6749_3_3_scope_beyond_the_clients_is_invalid_scope(app: TestApp) {
    let c = app.service_client();
    let r = app
        .post_form_basic(
            "/token",
            &c,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "read admin"),
            ],
        )
        .await;
    let body = expect_error(r, 400, "invalid_scope").await;
    // Described in gatehouse's words, never quoting the request (§5.2).
    assert!(!body["error_description"]
        .as_str()
        .unwrap()
        .contains("admin"));
}

async fn rfc6749_3_3_no_scope_grants_the_clients_scope(app: TestApp) {
    let c = app.service_client();
    let r = app
        .post_form_basic("/token", &c, &[("grant_type", "client_credentials")])
        .await;
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "read write");
}

async fn rfc6749_5_2_missing_grant_type_is_invalid_request(app: TestApp) {
    let c = app.service_client();
    let r = app
        .post_form_basic("/token", &c, &[("scope", "read")])
        .await;
    expect_error(r, 400, "invalid_request").await;
}

async fn rfc6749_5_2_unknown_grant_type_is_unsupported_grant_type(app: TestApp) {
    let c = app.service_client();
    let r = app
        .post_form_basic("/token", &c, &[("grant_type", "urn:example:magic")])
        .await;
    expect_error(r, 400, "unsupported_grant_type").await;
}

async fn rfc6749_5_2_client_without_the_grant_is_unauthorized_client(app: TestApp) {
    let c = app.client(NewClient {
        name: "web".into(),
        grant_types: vec!["authorization_code".into()],
        redirect_uris: vec!["https://app.example/cb".into()],
        scope: "read".into(),
        ..Default::default()
    });
    let r = app
        .post_form_basic("/token", &c, &[("grant_type", "client_credentials")])
        .await;
    expect_error(r, 400, "unauthorized_client").await;
}

async fn rfc6749_3_2_repeated_parameter_is_invalid_request(app: TestApp) {
    let c = app.service_client();
    let r = app
        .http
        .post(app.url("/token"))
        .basic_auth(&c.client.id, c.secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=read&scope=write")
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request").await;
}

async fn rfc6749_3_2_non_form_body_is_invalid_request(app: TestApp) {
    let c = app.service_client();
    let r = app
        .http
        .post(app.url("/token"))
        .basic_auth(&c.client.id, c.secret.as_deref())
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request").await;
    // Garbage bytes are a malformed request too, never a 500.
    let r = app
        .http
        .post(app.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![0xff, 0xfe, b'=', 0x00])
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request").await;
}

async fn rfc6749_2_3_1_credentials_in_the_query_are_refused(app: TestApp) {
    let c = app.service_client();
    let url = format!(
        "{}?client_id={}&client_secret={}",
        app.url("/token"),
        c.client.id,
        c.secret.as_deref().unwrap()
    );
    let r = app
        .http
        .post(url)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request").await;
}

async fn rfc6749_2_3_two_authentication_methods_are_refused(app: TestApp) {
    let c = app.service_client();
    let r = app
        .post_form_basic(
            "/token",
            &c,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &c.client.id),
                ("client_secret", c.secret.as_deref().unwrap()),
            ],
        )
        .await;
    expect_error(r, 400, "invalid_request").await;
}

async fn rfc7591_auth_method_basic_refuses_post(app: TestApp) {
    let c = app.client(NewClient {
        name: "basic-only".into(),
        grant_types: vec!["client_credentials".into()],
        scope: "read".into(),
        auth_method: Some("basic".into()),
        ..Default::default()
    });
    let post = app
        .post_form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &c.client.id),
                ("client_secret", c.secret.as_deref().unwrap()),
            ],
        )
        .await;
    expect_error(post, 401, "invalid_client").await;
    let basic = app
        .post_form_basic("/token", &c, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(basic.status(), 200);
}

async fn rotated_secret_replaces_the_old_one_at_once(app: TestApp) {
    let mut c = app.service_client();
    // Warm the verified-secret cache with the old secret.
    let r = app
        .post_form_basic("/token", &c, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status(), 200);
    let new = app
        .state
        .registry()
        .rotate_client_secret(&c.client.id)
        .await
        .unwrap();
    let r = app
        .post_form_basic("/token", &c, &[("grant_type", "client_credentials")])
        .await;
    expect_error(r, 401, "invalid_client").await;
    c.secret = Some(new);
    let r = app
        .post_form_basic("/token", &c, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status(), 200);
}

async fn malformed_basic_header_is_invalid_client(app: TestApp) {
    for header in ["Basic !!!notbase64", "Basic Zm9v", "Bearer abc"] {
        let r = app
            .http
            .post(app.url("/token"))
            .header("authorization", header)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        expect_error(r, 401, "invalid_client").await;
    }
}

async fn public_client_cannot_use_client_credentials(app: TestApp) {
    let c = app.client(NewClient {
        name: "spa".into(),
        grant_types: vec!["authorization_code".into()],
        redirect_uris: vec!["http://localhost:3000/cb".into()],
        scope: "read".into(),
        public: true,
        ..Default::default()
    });
    let r = app
        .post_form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &c.client.id),
            ],
        )
        .await;
    expect_error(r, 400, "unauthorized_client").await;
}

/// A public client's id sent with a secret, and an unknown id with a
/// secret, both answer `invalid_client` after the same argon2 work (one
/// verification each, counted on /metrics), so response time can't tell
/// which client ids exist. Measured as work done, not as time.
async fn rfc6749_2_3_public_and_unknown_client_ids_with_a_secret_cost_the_same(app: TestApp) {
    let public = app.client(NewClient {
        name: "spa".into(),
        grant_types: vec!["authorization_code".into()],
        redirect_uris: vec!["https://app.example/cb".into()],
        scope: "read".into(),
        public: true,
        ..Default::default()
    });
    let verifications = |app: &TestApp| app.state.hasher.verifications();
    for id in [public.client.id.as_str(), "no-such-client"] {
        for post in [false, true] {
            let before = verifications(&app);
            let req = app.http.post(app.url("/token"));
            let req = if post {
                req.form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", id),
                    ("client_secret", "guess"),
                ])
            } else {
                req.basic_auth(id, Some("guess"))
                    .form(&[("grant_type", "client_credentials")])
            };
            expect_error(req.send().await.unwrap(), 401, "invalid_client").await;
            assert_eq!(verifications(&app) - before, 1, "{id} (post: {post})");
        }
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains("gatehouse_argon2_verifications_total 4"),
        "{text}"
    );
}
