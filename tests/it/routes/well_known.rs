//! RFC 8414 metadata, RFC 7517 JWKS, health, metrics, security headers.

use crate::harness::TestApp;

backend_tests!(
    rfc8414_metadata_names_issuer_and_endpoints,
    rfc8414_openid_configuration_is_the_same_document,
    rfc7517_jwks_publishes_the_rs256_signing_key,
    health_and_readiness_answer,
    metrics_count_responses_and_tokens,
    every_response_carries_security_headers,
    unknown_path_is_404_not_500,
);

async fn rfc8414_metadata_names_issuer_and_endpoints(app: TestApp) {
    let resp = app.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(resp.status(), 200);
    let doc: serde_json::Value = resp.json().await.unwrap();
    // RFC 8414 §3.3: the issuer in the document is the issuer itself.
    assert_eq!(doc["issuer"], app.base);
    assert_eq!(doc["token_endpoint"], app.url("/token"));
    assert_eq!(doc["jwks_uri"], app.url("/jwks.json"));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    let grants = doc["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&"client_credentials".into()));
    // Legacy grants are never advertised unless a client has them.
    assert!(!grants.contains(&"password".into()));
    assert!(!grants.contains(&"implicit".into()));
    let methods = doc["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(methods.contains(&"client_secret_basic".into()));
    assert!(methods.contains(&"client_secret_post".into()));
}

async fn rfc8414_openid_configuration_is_the_same_document(app: TestApp) {
    app.service_client();
    let a: serde_json::Value = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    let b: serde_json::Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["issuer"], b["issuer"]);
    assert_eq!(a["token_endpoint"], b["token_endpoint"]);
    // The clients' scopes, and OpenID Connect's (issue 12).
    assert_eq!(
        a["scopes_supported"],
        serde_json::json!(["email", "openid", "profile", "read", "write"])
    );
    assert_eq!(a["scopes_supported"], b["scopes_supported"]);
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

async fn health_and_readiness_answer(app: TestApp) {
    assert_eq!(app.get("/healthz").await.status(), 200);
    let resp = app.get("/readyz").await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

async fn metrics_count_responses_and_tokens(app: TestApp) {
    let c = app.service_client();
    let r = app
        .post_form_basic("/token", &c, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status(), 200);
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains("gatehouse_tokens_issued_total{grant_type=\"client_credentials\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("gatehouse_http_responses_total{class=\"2xx\"}"),
        "{text}"
    );
}

async fn every_response_carries_security_headers(app: TestApp) {
    for path in ["/healthz", "/jwks.json", "/nope"] {
        let r = app.get(path).await;
        let h = r.headers();
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
    }
}

async fn unknown_path_is_404_not_500(app: TestApp) {
    assert_eq!(app.get("/does-not-exist").await.status(), 404);
    let r = app.http.get(app.url("/token")).send().await.unwrap();
    assert!(r.status().is_client_error(), "GET /token: {}", r.status());
}
