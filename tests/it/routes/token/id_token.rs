//! OpenID Connect Core 1.0 at `POST /token`: the ID token in the answers
//! of the code flow (§3.1.3.3, §3.1.3.7), the password grant (§3.1.3.6),
//! the device grant (§2) and refresh (§12.2), its lifetime, and the claims
//! each scope adds (§5.4).

use crate::harness::oidc::{
    alice_profile, code_flow, expected_at_hash, oidc_client, verify_id_token,
};
use crate::harness::{form_field, signed_in, str_of, TestApp};
use gatehouse::registry::NewClient;

backend_tests!(
    oidc_core_3_1_3_3_code_flow_with_openid_returns_an_id_token_signed_like_access_tokens,
    oidc_core_3_1_3_7_id_token_has_nonce_and_at_hash,
    oidc_core_3_1_3_3_no_id_token_without_openid,
    oidc_core_12_2_refresh_gives_a_new_id_token_with_the_same_sub_and_auth_time,
    oidc_core_12_2_refresh_narrowed_without_openid_has_no_id_token,
    oidc_core_3_1_3_6_password_grant_with_openid_gets_an_id_token,
    oidc_core_2_device_grant_with_openid_gets_an_id_token_of_the_approving_sign_in,
    oidc_core_5_4_profile_and_email_claims_by_scope_in_the_id_token,
);

mod short_id_tokens {
    use super::*;
    backend_tests!(with |c| c.id_token_ttl = 30;
        oidc_core_2_id_token_lifetime_is_the_id_token_ttl_setting,
    );
}

/// The stored hashes of every browser session.
fn session_hashes(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use gatehouse::store::schema::browser_sessions;
    let mut c = app.state.store.conn().unwrap();
    let hashes: Vec<String> = db!(c, conn => browser_sessions::table
        .select(browser_sessions::id_hash)
        .load(conn))
    .unwrap();
    assert!(!hashes.is_empty());
    hashes
}

async fn oidc_core_3_1_3_3_code_flow_with_openid_returns_an_id_token_signed_like_access_tokens(
    app: TestApp,
) {
    let c = oidc_client(&app);
    let alice = signed_in(&app).await;
    let before = app.clock().now();
    let body = code_flow(&app, &c, &[("scope", "openid")]).await;
    assert_eq!(body["scope"], "openid");
    let access = str_of(&body, "access_token");
    let at_claims = app.verify_jwt(access).await;
    let (header, claims) = verify_id_token(&app, str_of(&body, "id_token"), &c.client.id).await;
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let at_header = jsonwebtoken::decode_header(access).unwrap();
    assert_eq!(
        header.kid, at_header.kid,
        "same key and kid as access tokens"
    );
    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["sub"], alice.id.as_str());
    assert_eq!(claims["sub"], at_claims["sub"], "sub is the access token's");
    assert_eq!(claims["aud"], c.client.id.as_str());
    assert_eq!(claims["azp"], c.client.id.as_str());
    let iat = claims["iat"].as_i64().unwrap();
    assert!(iat >= before);
    assert_eq!(
        claims["exp"].as_i64().unwrap(),
        iat + 600,
        "default lifetime"
    );
    let auth_time = claims["auth_time"].as_i64().unwrap();
    assert!(auth_time <= iat && auth_time >= before - 5);
    assert_eq!(claims["at_hash"], expected_at_hash(access).as_str());
    assert!(claims.get("nonce").is_none(), "no nonce asked, none sent");
    // sid names the browser session without being its cookie or the
    // session's stored hash.
    let sid = str_of(&claims, "sid");
    assert!(sid.len() >= 16);
    assert!(!session_hashes(&app).iter().any(|h| h == sid));
    // The ID token is not an access token: introspection knows it not.
    let rs = app.introspector();
    assert_eq!(
        app.introspect(&rs, str_of(&body, "id_token")).await,
        serde_json::json!({"active": false})
    );
}

async fn oidc_core_3_1_3_7_id_token_has_nonce_and_at_hash(app: TestApp) {
    let c = oidc_client(&app);
    signed_in(&app).await;
    let nonce = "n-0S6_WzA2Mj é&=+";
    let body = code_flow(&app, &c, &[("scope", "openid read"), ("nonce", nonce)]).await;
    let (_, claims) = verify_id_token(&app, str_of(&body, "id_token"), &c.client.id).await;
    assert_eq!(claims["nonce"], nonce, "echoed exactly");
    assert_eq!(
        claims["at_hash"],
        expected_at_hash(str_of(&body, "access_token")).as_str()
    );
    // A second sign-in in the same session keeps sid; a new nonce is echoed.
    let again = code_flow(&app, &c, &[("scope", "openid"), ("nonce", "other")]).await;
    let (_, second) = verify_id_token(&app, str_of(&again, "id_token"), &c.client.id).await;
    assert_eq!(second["nonce"], "other");
    assert_eq!(second["sid"], claims["sid"], "one browser session, one sid");
}

async fn oidc_core_3_1_3_3_no_id_token_without_openid(app: TestApp) {
    let c = oidc_client(&app);
    signed_in(&app).await;
    let body = code_flow(&app, &c, &[("scope", "read profile"), ("nonce", "n")]).await;
    assert!(body.get("id_token").is_none(), "{body}");
    // Nor for a client's own token.
    let svc = app.client(NewClient {
        name: "svc".into(),
        grant_types: vec!["client_credentials".into()],
        scope: "openid read".into(),
        ..Default::default()
    });
    let r = app
        .post_form_basic(
            "/token",
            &svc,
            &[("grant_type", "client_credentials"), ("scope", "openid")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body.get("id_token").is_none(), "{body}");
}

async fn oidc_core_12_2_refresh_gives_a_new_id_token_with_the_same_sub_and_auth_time(app: TestApp) {
    let c = oidc_client(&app);
    signed_in(&app).await;
    let body = code_flow(&app, &c, &[("scope", "openid profile"), ("nonce", "n1")]).await;
    let (_, first) = verify_id_token(&app, str_of(&body, "id_token"), &c.client.id).await;
    app.clock().advance(120);
    let r = app.refresh(&c, str_of(&body, "refresh_token")).await;
    assert_eq!(r.status(), 200);
    let refreshed: serde_json::Value = r.json().await.unwrap();
    let (_, second) = verify_id_token(&app, str_of(&refreshed, "id_token"), &c.client.id).await;
    for same in [
        "iss",
        "sub",
        "aud",
        "azp",
        "auth_time",
        "sid",
        "preferred_username",
    ] {
        assert_eq!(second[same], first[same], "{same} kept on refresh");
    }
    assert!(second["iat"].as_i64().unwrap() >= first["iat"].as_i64().unwrap() + 120);
    assert!(second.get("nonce").is_none(), "§12.2: no nonce on refresh");
    assert_eq!(
        second["at_hash"],
        expected_at_hash(str_of(&refreshed, "access_token")).as_str()
    );
    // The refreshed access token keeps the sign-in time too.
    let at = app.verify_jwt(str_of(&refreshed, "access_token")).await;
    assert_eq!(at["auth_time"], first["auth_time"]);
    // And again from the rotated refresh token.
    let r = app.refresh(&c, str_of(&refreshed, "refresh_token")).await;
    let third: serde_json::Value = r.json().await.unwrap();
    let (_, third) = verify_id_token(&app, str_of(&third, "id_token"), &c.client.id).await;
    assert_eq!(third["auth_time"], first["auth_time"]);
}

async fn oidc_core_12_2_refresh_narrowed_without_openid_has_no_id_token(app: TestApp) {
    let c = oidc_client(&app);
    signed_in(&app).await;
    let body = code_flow(&app, &c, &[("scope", "openid read")]).await;
    let r = app
        .post_form_basic(
            "/token",
            &c,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", str_of(&body, "refresh_token")),
                ("scope", "read"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let narrowed: serde_json::Value = r.json().await.unwrap();
    assert_eq!(narrowed["scope"], "read");
    assert!(narrowed.get("id_token").is_none(), "{narrowed}");
}

async fn oidc_core_3_1_3_6_password_grant_with_openid_gets_an_id_token(app: TestApp) {
    let alice = app.alice();
    let c = app.client(NewClient {
        name: "legacy".into(),
        grant_types: vec!["password".into()],
        scope: "openid email".into(),
        ..Default::default()
    });
    let now = app.clock().now();
    let r = app
        .post_form_basic(
            "/token",
            &c,
            &[
                ("grant_type", "password"),
                ("username", crate::harness::USERNAME),
                ("password", crate::harness::PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let (_, claims) = verify_id_token(&app, str_of(&body, "id_token"), &c.client.id).await;
    assert_eq!(claims["sub"], alice.id.as_str());
    assert!(claims["auth_time"].as_i64().unwrap() >= now);
    assert!(claims.get("sid").is_none(), "no browser session");
}

async fn oidc_core_2_id_token_lifetime_is_the_id_token_ttl_setting(app: TestApp) {
    let c = oidc_client(&app);
    signed_in(&app).await;
    let body = code_flow(&app, &c, &[("scope", "openid")]).await;
    let (_, claims) = verify_id_token(&app, str_of(&body, "id_token"), &c.client.id).await;
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        30
    );
    assert_eq!(body["expires_in"], 600, "access tokens keep their own");
}

async fn oidc_core_2_device_grant_with_openid_gets_an_id_token_of_the_approving_sign_in(
    app: TestApp,
) {
    const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
    let tv = app.client(NewClient {
        name: "TV".into(),
        grant_types: vec![GRANT.into(), "refresh_token".into()],
        scope: "openid profile".into(),
        ..Default::default()
    });
    let alice = signed_in(&app).await;
    let auth_time = app.clock().now();
    app.clock().advance(60);
    let r = app
        .post_form_basic("/device_authorization", &tv, &[("scope", "openid profile")])
        .await;
    let started: serde_json::Value = r.json().await.unwrap();
    let html = app.get("/device").await.text().await.unwrap();
    let r = app
        .post_form(
            "/device",
            &[
                ("csrf_token", &form_field(&html, "csrf_token").unwrap()),
                ("user_code", str_of(&started, "user_code")),
            ],
        )
        .await;
    let html = r.text().await.unwrap();
    let r = app
        .post_form(
            "/device",
            &[
                ("csrf_token", &form_field(&html, "csrf_token").unwrap()),
                ("user_code", &form_field(&html, "user_code").unwrap()),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .post_form_basic(
            "/token",
            &tv,
            &[
                ("grant_type", GRANT),
                ("device_code", str_of(&started, "device_code")),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let (_, claims) = verify_id_token(&app, str_of(&body, "id_token"), &tv.client.id).await;
    assert_eq!(claims["sub"], alice.id.as_str());
    assert_eq!(claims["preferred_username"], "alice");
    let t = claims["auth_time"].as_i64().unwrap();
    assert!(
        (auth_time - 5..=auth_time).contains(&t),
        "the sign-in, not the approval"
    );
    assert!(claims["sid"].is_string());
    let r = app.refresh(&tv, str_of(&body, "refresh_token")).await;
    let refreshed: serde_json::Value = r.json().await.unwrap();
    let (_, again) = verify_id_token(&app, str_of(&refreshed, "id_token"), &tv.client.id).await;
    assert_eq!(again["auth_time"], claims["auth_time"]);
    assert_eq!(again["sid"], claims["sid"]);
}

async fn oidc_core_5_4_profile_and_email_claims_by_scope_in_the_id_token(app: TestApp) {
    let c = oidc_client(&app);
    signed_in(&app).await;
    let alice = alice_profile(&app);
    let id_claims = |body: serde_json::Value| {
        let app = &app;
        let c = &c;
        async move {
            verify_id_token(app, str_of(&body, "id_token"), &c.client.id)
                .await
                .1
        }
    };
    let all = id_claims(code_flow(&app, &c, &[("scope", "openid profile email")]).await).await;
    assert_eq!(all["name"], "Alice Liddell");
    assert_eq!(all["preferred_username"], "alice");
    assert_eq!(all["updated_at"], alice.updated_at);
    assert_eq!(all["email"], "alice@example.com");
    assert_eq!(all["email_verified"], true);

    let none = id_claims(code_flow(&app, &c, &[("scope", "openid")]).await).await;
    for k in [
        "name",
        "preferred_username",
        "updated_at",
        "email",
        "email_verified",
    ] {
        assert!(none.get(k).is_none(), "{k} without its scope: {none}");
    }
    let email = id_claims(code_flow(&app, &c, &[("scope", "openid email")]).await).await;
    assert_eq!(email["email"], "alice@example.com");
    assert!(email.get("name").is_none() && email.get("preferred_username").is_none());
    let profile = id_claims(code_flow(&app, &c, &[("scope", "openid profile")]).await).await;
    assert_eq!(profile["name"], "Alice Liddell");
    assert!(profile.get("email").is_none() && profile.get("email_verified").is_none());

    // A person without a name or address: the claims are left out, never null.
    let change = gatehouse::registry::UserChange {
        name: Some(String::new()),
        email: Some(String::new()),
        ..Default::default()
    };
    app.state
        .registry()
        .update_user("alice", change)
        .await
        .unwrap();
    let bare = id_claims(code_flow(&app, &c, &[("scope", "openid profile email")]).await).await;
    assert_eq!(bare["preferred_username"], "alice");
    for k in ["name", "email", "email_verified"] {
        assert!(bare.get(k).is_none(), "{k}: {bare}");
    }
}
