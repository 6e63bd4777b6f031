//! RFC 8707 `resource` at `/authorize`: a resource the client may not name
//! is `invalid_target` at the redirect URI, and the consent page names the
//! resource the access is for.

use crate::harness::{code_query, form_field, pkce_pair, signed_in, url_params, TestApp};

const MCP: &str = "https://mcp.example.com/mcp";

fn allow(c: &mut gatehouse::Config) {
    c.resources = vec![MCP.to_string()];
}

backend_tests!(with super::allow;
    rfc8707_2_resource_not_allowed_redirects_invalid_target,
    rfc8707_2_consent_page_names_the_resource,
);

async fn rfc8707_2_resource_not_allowed_redirects_invalid_target(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (_, ch) = pkce_pair();
    for bad in [
        "https://other.example.com/mcp",
        "relative/path",
        "https://mcp.example.com/mcp#f",
    ] {
        let q = code_query(&c, &ch, &[("resource", bad)]);
        let (status, loc) = app.location(&format!("/authorize?{q}")).await;
        assert_eq!(status, 303, "{bad}");
        let p = url_params(&loc, false);
        assert_eq!(p["error"], "invalid_target", "{bad}: {loc}");
        assert_eq!(p["state"], "st-123");
    }
}

async fn rfc8707_2_consent_page_names_the_resource(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (_, ch) = pkce_pair();
    let q = code_query(&c, &ch, &[("resource", MCP)]);
    let (status, loc) = app.location(&format!("/authorize?{q}")).await;
    assert_eq!(status, 303);
    assert!(loc.starts_with("/consent?"), "{loc}");
    let html = app.get(&loc).await.text().await.unwrap();
    assert!(html.contains(r#"id="resources""#), "{html}");
    assert!(html.contains(MCP), "{html}");
    assert!(form_field(&html, "request").unwrap().contains("resource="));
}
