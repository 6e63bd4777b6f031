//! `/account`: the apps a person has allowed and taking access back
//! (`/account/revoke`), and the display name (`/account/profile`, OpenID
//! Connect Core §5.1): names that would reorder or hide text are refused
//! beside the field.

use crate::harness::names::HIDDEN_TRICK_NAMES;
use crate::harness::oidc::{code_flow, oidc_client, verify_id_token};
use crate::harness::{
    code_query, error_beside, expect_error, form_field, pkce_pair, signed_in, str_of, url_params,
    TestApp, PASSWORD, REDIRECT, USERNAME,
};

backend_tests!(
    account_page_revokes_an_apps_access,
    display_name_with_bidi_controls_or_invisible_characters_is_refused_beside_the_field,
    oidc_core_5_1_account_page_changes_the_display_name_with_csrf,
);

mod described_scopes {
    use super::*;
    backend_tests!(with |c| { c.scope_descriptions.insert("write".into(), "Edit your photos".into()); };
        the_account_page_words_each_scope_as_the_consent_page_did,
    );
}

async fn the_account_page_words_each_scope_as_the_consent_page_did(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (_, ch) = pkce_pair();
    let (_, loc) = app
        .location(&format!(
            "/authorize?{}",
            code_query(&c, &ch, &[("scope", "read write")])
        ))
        .await;
    let consent = app.get(&loc).await.text().await.unwrap();
    let lines = [
        "<li>Read your data <code>read</code></li>",
        "<li>Edit your photos <code>write</code></li>",
    ];
    for line in lines {
        assert!(consent.contains(line), "consent: {line}\n{consent}");
    }
    let r = app.decide(&loc, "allow").await;
    assert_eq!(r.status(), 303);
    let account = app.get("/account").await.text().await.unwrap();
    for line in lines {
        assert!(account.contains(line), "account: {line}\n{account}");
    }
    assert!(!account.contains("<code>read write</code>"), "{account}");
}

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

/// Posts the display-name form of `/account`.
async fn save_name(app: &TestApp, name: &str) -> reqwest::Response {
    let page = app.get("/account").await.text().await.unwrap();
    let csrf = form_field(&page, "csrf_token").unwrap();
    app.post_form("/account/profile", &[("csrf_token", &csrf), ("name", name)])
        .await
}

async fn display_name_with_bidi_controls_or_invisible_characters_is_refused_beside_the_field(
    app: TestApp,
) {
    app.alice();
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
        303
    );
    for name in HIDDEN_TRICK_NAMES {
        let r = save_name(&app, name).await;
        assert_eq!(r.status(), 400, "{name:?}");
        let html = r.text().await.unwrap();
        let error = error_beside(&html, "name")
            .unwrap_or_else(|| panic!("{name:?}: an error beside name: {html}"));
        assert!(error.contains("U+"), "{error}");
    }
    let mut c = app.state.store.conn().unwrap();
    let alice = c.find_user_by_username(USERNAME).unwrap().unwrap();
    assert_eq!(alice.name, None, "nothing saved");
    drop(c);
    // Right-to-left text itself is a fine name.
    assert_eq!(save_name(&app, "אליס ליד").await.status(), 303);
    let mut c = app.state.store.conn().unwrap();
    let alice = c.find_user_by_username(USERNAME).unwrap().unwrap();
    assert_eq!(alice.name.as_deref(), Some("אליס ליד"));
}

async fn oidc_core_5_1_account_page_changes_the_display_name_with_csrf(app: TestApp) {
    let c = oidc_client(&app);
    signed_in(&app).await;
    let html = app.get("/account").await.text().await.unwrap();
    assert_eq!(form_field(&html, "name").as_deref(), Some(""));
    let csrf = form_field(&html, "csrf_token").unwrap();
    // Without the CSRF token: 403 and nothing changes.
    let r = app
        .post_form("/account/profile", &[("name", "Mallory")])
        .await;
    assert_eq!(r.status(), 403);
    // Too long: the page again, with the error beside the field.
    let long = "x".repeat(201);
    let r = app
        .post_form(
            "/account/profile",
            &[("csrf_token", &csrf), ("name", &long)],
        )
        .await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"name-error\""), "{html}");
    let r = app
        .post_form(
            "/account/profile",
            &[("csrf_token", &csrf), ("name", "  Alice <b>L</b>  ")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account?saved=1");
    let html = app.get("/account?saved=1").await.text().await.unwrap();
    assert_eq!(form_field(&html, "name").as_deref(), Some("Alice <b>L</b>"));
    assert!(!html.contains("<b>L</b>"), "escaped on the page");
    let body = code_flow(&app, &c, &[("scope", "openid profile")]).await;
    let (_, claims) = verify_id_token(&app, str_of(&body, "id_token"), &c.client.id).await;
    assert_eq!(claims["name"], "Alice <b>L</b>");
    // Signed out: the form sends to the sign-in page.
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = anon.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 303);
}
