//! `/account`: the apps a person has allowed, and taking access back.

use crate::harness::{
    code_query, expect_error, form_field, pkce_pair, signed_in, url_params, TestApp, REDIRECT,
};

backend_tests!(account_page_revokes_an_apps_access,);

async fn account_page_revokes_an_apps_access(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (verifier, ch) = pkce_pair();
    let loc = app.authorize_and_allow(&code_query(&c, &ch, &[])).await;
    let tokens: serde_json::Value = app
        .exchange(
            &c,
            &url_params(&loc, false)["code"],
            Some(&verifier),
            Some(REDIRECT),
        )
        .await
        .json()
        .await
        .unwrap();
    let html = app.get("/account").await.text().await.unwrap();
    assert!(html.contains("Photo Printer"), "{html}");
    let csrf = form_field(&html, "csrf_token").unwrap();
    let r = app
        .post_form(
            "/account/revoke",
            &[("csrf_token", &csrf), ("client_id", &c.client.id)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let html = app.get("/account").await.text().await.unwrap();
    assert!(!html.contains("Photo Printer"));
    // Its refresh tokens for this person are revoked with it.
    let r = app
        .refresh(&c, tokens["refresh_token"].as_str().unwrap())
        .await;
    expect_error(r, 400, "invalid_grant").await;
    let (_, loc) = app
        .location(&format!("/authorize?{}", code_query(&c, &ch, &[])))
        .await;
    assert!(
        loc.starts_with("/consent?"),
        "access must be asked for again"
    );
}
