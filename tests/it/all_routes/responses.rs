//! What every answer has, whichever route it comes from (or none): the
//! security headers, and a 4xx for a path or method nobody serves.

use crate::harness::TestApp;

backend_tests!(
    every_response_carries_security_headers,
    unknown_path_is_404_not_500,
);

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
