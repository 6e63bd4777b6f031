//! `GET/POST /userinfo` (OpenID Connect Core §5.3) and its RFC 6750 §3
//! errors.

use crate::harness::oidc::{alice_profile, code_flow, oidc_client, verify_id_token};
use crate::harness::{signed_in, TestApp};
use gatehouse::registry::NewClient;

backend_tests!(
    oidc_core_5_3_userinfo_get_and_post_answer_sub_and_the_claims_of_the_scopes,
    rfc6750_3_1_missing_invalid_expired_or_revoked_token_is_401_invalid_token,
    rfc6750_3_1_token_without_openid_is_403_insufficient_scope,
    oidc_core_5_3_userinfo_refuses_a_client_credentials_token_and_a_disabled_person,
);

/// Calls `/userinfo` with `method` and an optional bearer token.
async fn userinfo(app: &TestApp, method: &str, token: Option<&str>) -> reqwest::Response {
    let mut r = match method {
        "GET" => app.http.get(app.url("/userinfo")),
        _ => app
            .http
            .post(app.url("/userinfo"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(""),
    };
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

/// Asserts an RFC 6750 §3 error: status, `WWW-Authenticate: Bearer` with
/// the error code, and the same code in the JSON body.
async fn expect_bearer_error(resp: reqwest::Response, status: u16, code: &str) {
    assert_eq!(resp.status().as_u16(), status);
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .expect("WWW-Authenticate")
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains(&format!("error=\"{code}\"")),
        "{challenge}"
    );
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
}

async fn oidc_core_5_3_userinfo_get_and_post_answer_sub_and_the_claims_of_the_scopes(app: TestApp) {
    let c = oidc_client(&app);
    signed_in(&app).await;
    let alice = alice_profile(&app);
    let body = code_flow(&app, &c, &[("scope", "openid profile email")]).await;
    let access = body["access_token"].as_str().unwrap();
    let (_, id) = verify_id_token(&app, body["id_token"].as_str().unwrap(), &c.client.id).await;
    for method in ["GET", "POST"] {
        let r = userinfo(&app, method, Some(access)).await;
        assert_eq!(r.status(), 200, "{method}");
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let info: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            info,
            serde_json::json!({
                "sub": alice.id,
                "name": "Alice Liddell",
                "preferred_username": "alice",
                "updated_at": alice.updated_at,
                "email": "alice@example.com",
                "email_verified": true,
            }),
            "{method}"
        );
        // §5.3.2: the sub is the ID token's.
        assert_eq!(info["sub"], id["sub"]);
    }
    // The scheme is case-insensitive (RFC 7235 §2.1).
    let r = app
        .http
        .get(app.url("/userinfo"))
        .header("Authorization", format!("bearer {access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Fewer scopes, fewer claims; `sub` always.
    let body = code_flow(&app, &c, &[("scope", "openid")]).await;
    let info: serde_json::Value = userinfo(&app, "GET", body["access_token"].as_str())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info, serde_json::json!({"sub": alice.id}));
    let body = code_flow(&app, &c, &[("scope", "openid email")]).await;
    let info: serde_json::Value = userinfo(&app, "POST", body["access_token"].as_str())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        info,
        serde_json::json!({"sub": alice.id, "email": "alice@example.com", "email_verified": true})
    );
    // A refreshed access token works too.
    let r = app
        .refresh(&c, body["refresh_token"].as_str().unwrap())
        .await;
    let refreshed: serde_json::Value = r.json().await.unwrap();
    let r = userinfo(&app, "GET", refreshed["access_token"].as_str()).await;
    assert_eq!(r.status(), 200);
}

async fn rfc6750_3_1_missing_invalid_expired_or_revoked_token_is_401_invalid_token(app: TestApp) {
    let c = oidc_client(&app);
    signed_in(&app).await;
    let body = code_flow(&app, &c, &[("scope", "openid profile")]).await;
    let access = body["access_token"].as_str().unwrap().to_string();
    for method in ["GET", "POST"] {
        expect_bearer_error(userinfo(&app, method, None).await, 401, "invalid_token").await;
        expect_bearer_error(
            userinfo(&app, method, Some("not-a-token")).await,
            401,
            "invalid_token",
        )
        .await;
    }
    let r = app
        .http
        .get(app.url("/userinfo"))
        .basic_auth(&c.client.id, c.secret.as_deref())
        .send()
        .await
        .unwrap();
    expect_bearer_error(r, 401, "invalid_token").await;
    // Tampered: another sub in the payload, the old signature.
    let parts: Vec<&str> = access.split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&base64_url_decode(parts[1])).unwrap();
    payload["sub"] = "someone-else".into();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        gatehouse::crypto::b64url(payload.to_string().as_bytes()),
        parts[2]
    );
    expect_bearer_error(
        userinfo(&app, "GET", Some(&forged)).await,
        401,
        "invalid_token",
    )
    .await;
    // The ID token is not an access token.
    expect_bearer_error(
        userinfo(&app, "GET", body["id_token"].as_str()).await,
        401,
        "invalid_token",
    )
    .await;
    // The refresh token is not one either.
    expect_bearer_error(
        userinfo(&app, "GET", body["refresh_token"].as_str()).await,
        401,
        "invalid_token",
    )
    .await;
    // Revoked (RFC 7009): on the deny list at once.
    let second = code_flow(&app, &c, &[("scope", "openid")]).await;
    let second_access = second["access_token"].as_str().unwrap();
    assert_eq!(
        userinfo(&app, "GET", Some(second_access)).await.status(),
        200
    );
    let r = app
        .post_form_basic("/revoke", &c, &[("token", second_access)])
        .await;
    assert_eq!(r.status(), 200);
    expect_bearer_error(
        userinfo(&app, "GET", Some(second_access)).await,
        401,
        "invalid_token",
    )
    .await;
    // Expired.
    assert_eq!(userinfo(&app, "GET", Some(&access)).await.status(), 200);
    app.clock().advance(601);
    expect_bearer_error(
        userinfo(&app, "POST", Some(&access)).await,
        401,
        "invalid_token",
    )
    .await;
}

fn base64_url_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

async fn rfc6750_3_1_token_without_openid_is_403_insufficient_scope(app: TestApp) {
    let c = oidc_client(&app);
    signed_in(&app).await;
    let body = code_flow(&app, &c, &[("scope", "read profile email")]).await;
    for method in ["GET", "POST"] {
        expect_bearer_error(
            userinfo(&app, method, body["access_token"].as_str()).await,
            403,
            "insufficient_scope",
        )
        .await;
    }
}

async fn oidc_core_5_3_userinfo_refuses_a_client_credentials_token_and_a_disabled_person(
    app: TestApp,
) {
    let svc = app.client(NewClient {
        name: "svc".into(),
        grant_types: vec!["client_credentials".into()],
        scope: "openid".into(),
        ..Default::default()
    });
    let r = app
        .post_form_basic("/token", &svc, &[("grant_type", "client_credentials")])
        .await;
    let cc: serde_json::Value = r.json().await.unwrap();
    assert_eq!(cc["scope"], "openid");
    expect_bearer_error(
        userinfo(&app, "GET", cc["access_token"].as_str()).await,
        401,
        "invalid_token",
    )
    .await;

    let c = oidc_client(&app);
    signed_in(&app).await;
    let body = code_flow(&app, &c, &[("scope", "openid")]).await;
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, "GET", Some(access)).await.status(), 200);
    app.state
        .registry()
        .set_user_disabled("alice", true)
        .await
        .unwrap();
    expect_bearer_error(
        userinfo(&app, "GET", Some(access)).await,
        401,
        "invalid_token",
    )
    .await;
}
