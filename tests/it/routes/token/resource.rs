//! RFC 8707 resource indicators at `POST /token` (code exchange, refresh,
//! client credentials) and the audience they give the access token (RFC
//! 9068 §3, RFC 7519 §4.1.3), as the token and introspection say it.

use crate::harness::{
    as_json, code_query, expect_error, pkce_pair, signed_in, url_params, TestApp, REDIRECT,
};
use gatehouse::registry::NewClient;

const MCP: &str = "https://mcp.example.com/mcp";
const TOOLS: &str = "https://tools.example.com/";

fn allow(c: &mut gatehouse::Config) {
    c.resources = vec![MCP.to_string(), TOOLS.to_string()];
}

backend_tests!(with super::allow;
    rfc8707_2_code_flow_token_aud_is_the_resource_and_introspection_agrees,
    rfc8707_2_2_token_request_narrows_to_one_granted_resource_never_widens,
    rfc8707_2_2_refresh_narrows_and_a_new_resource_is_invalid_target,
    rfc8707_2_client_credentials_resource_and_invalid_target,
    rfc8707_2_without_resource_the_default_audience_stays,
    rfc8707_2_a_clients_own_resource_list_allows_it_alone,
);

/// Signed in, authorized with `extra`, exchanged: the token response.
async fn code_tokens(
    app: &TestApp,
    c: &gatehouse::registry::CreatedClient,
    extra: &[(&str, &str)],
    token_extra: &[(&str, &str)],
) -> reqwest::Response {
    let (verifier, ch) = pkce_pair();
    let mut q = code_query(c, &ch, &[]);
    for (k, v) in extra {
        q.push_str(&format!(
            "&{}",
            serde_urlencoded::to_string([(k, v)]).unwrap()
        ));
    }
    let loc = app.authorize_and_allow(&q).await;
    let code = url_params(&loc, false)
        .get("code")
        .unwrap_or_else(|| panic!("no code in {loc}"))
        .clone();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", verifier.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    form.extend_from_slice(token_extra);
    app.post_form_basic("/token", c, &form).await
}

/// The claims of an access token, checked by signature and issuer only.
fn claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&raw).unwrap()
}

async fn rfc8707_2_code_flow_token_aud_is_the_resource_and_introspection_agrees(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let r = code_tokens(&app, &c, &[("resource", MCP)], &[("resource", MCP)]).await;
    assert_eq!(r.status(), 200);
    let body = as_json(&r.text().await.unwrap());
    let at = body["access_token"].as_str().unwrap();
    // RFC 7519 §4.1.3: one audience is a string.
    assert_eq!(claims(at)["aud"], MCP);
    // RFC 7662 §2.2: introspection says the same.
    let i = app
        .post_form_basic("/introspect", &c, &[("token", at)])
        .await;
    let i = as_json(&i.text().await.unwrap());
    assert_eq!(i["active"], true);
    assert_eq!(i["aud"], MCP);
    // A token for another resource is not for gatehouse's own /userinfo.
    let u = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(u.status(), 401);

    // Several resources: an array, in introspection too.
    let two = "https://tools.example.com/a";
    let r = code_tokens(&app, &c, &[("resource", MCP), ("resource", two)], &[]).await;
    assert_eq!(r.status(), 200);
    let at = as_json(&r.text().await.unwrap())["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(claims(&at)["aud"], serde_json::json!([MCP, two]));
    let i = app
        .post_form_basic("/introspect", &c, &[("token", &at)])
        .await;
    assert_eq!(
        as_json(&i.text().await.unwrap())["aud"],
        serde_json::json!([MCP, two])
    );
}

async fn rfc8707_2_2_token_request_narrows_to_one_granted_resource_never_widens(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let two = "https://tools.example.com/a";
    let both = [("resource", MCP), ("resource", two)];
    let r = code_tokens(&app, &c, &both, &[("resource", two)]).await;
    assert_eq!(r.status(), 200);
    let body = as_json(&r.text().await.unwrap());
    assert_eq!(claims(body["access_token"].as_str().unwrap())["aud"], two);
    // The refresh family keeps both: a refresh may name the other one.
    let rt = body["refresh_token"].as_str().unwrap();
    let r = app
        .post_form_basic(
            "/token",
            &c,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("resource", MCP),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let body = as_json(&r.text().await.unwrap());
    assert_eq!(claims(body["access_token"].as_str().unwrap())["aud"], MCP);

    // Allowed for the client, but not granted by this code: invalid_target.
    let r = code_tokens(&app, &c, &[("resource", MCP)], &[("resource", two)]).await;
    expect_error(r, 400, "invalid_target").await;
    // A code granted without a resource cannot gain one at /token.
    let r = code_tokens(&app, &c, &[], &[("resource", MCP)]).await;
    expect_error(r, 400, "invalid_target").await;
}

async fn rfc8707_2_2_refresh_narrows_and_a_new_resource_is_invalid_target(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let r = code_tokens(&app, &c, &[("resource", MCP)], &[]).await;
    let body = as_json(&r.text().await.unwrap());
    let rt = body["refresh_token"].as_str().unwrap().to_string();
    // Widening, to a resource the client may name but was not granted.
    let r = app
        .post_form_basic(
            "/token",
            &c,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("resource", "https://tools.example.com/x"),
            ],
        )
        .await;
    expect_error(r, 400, "invalid_target").await;
    // The refused refresh spent nothing: the same token still works, and
    // without resource the token is for everything granted.
    let r = app
        .post_form_basic(
            "/token",
            &c,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        )
        .await;
    assert_eq!(r.status(), 200);
    let body = as_json(&r.text().await.unwrap());
    assert_eq!(claims(body["access_token"].as_str().unwrap())["aud"], MCP);
}

async fn rfc8707_2_client_credentials_resource_and_invalid_target(app: TestApp) {
    let c = app.service_client();
    let r = app
        .post_form_basic(
            "/token",
            &c,
            &[("grant_type", "client_credentials"), ("resource", TOOLS)],
        )
        .await;
    assert_eq!(r.status(), 200);
    let at = as_json(&r.text().await.unwrap())["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(claims(&at)["aud"], TOOLS);
    for bad in [
        "https://elsewhere.example/",
        "/relative",
        "https://mcp.example.com/mcp#x",
    ] {
        let r = app
            .post_form_basic(
                "/token",
                &c,
                &[("grant_type", "client_credentials"), ("resource", bad)],
            )
            .await;
        expect_error(r, 400, "invalid_target").await;
    }
    // Prefixes do not let a path climb out (RFC 3986 §5.2.4 dot segments).
    let r = app
        .post_form_basic(
            "/token",
            &c,
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://tools.example.com/../admin"),
            ],
        )
        .await;
    expect_error(r, 400, "invalid_target").await;
}

async fn rfc8707_2_without_resource_the_default_audience_stays(app: TestApp) {
    let c = app.service_client();
    let at = app.client_credentials_token(&c, None).await;
    // `verify_jwt` checks `aud` is the default one (the issuer here).
    let claims = app.verify_jwt(&at).await;
    assert_eq!(claims["aud"], app.base);
}

async fn rfc8707_2_a_clients_own_resource_list_allows_it_alone(app: TestApp) {
    let own = "https://own.example.com/api";
    let mine = app.client(NewClient {
        name: "svc-own".into(),
        grant_types: vec!["client_credentials".into()],
        scope: "read".into(),
        resources: vec![own.into()],
        ..Default::default()
    });
    let other = app.service_client();
    let ask = |c| {
        let app = &app;
        async move {
            app.post_form_basic(
                "/token",
                c,
                &[("grant_type", "client_credentials"), ("resource", own)],
            )
            .await
        }
    };
    let r = ask(&mine).await;
    assert_eq!(r.status(), 200);
    let at = as_json(&r.text().await.unwrap())["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(claims(&at)["aud"], own);
    // Not in GATEHOUSE_RESOURCES: another client may not name it.
    expect_error(ask(&other).await, 400, "invalid_target").await;
}
