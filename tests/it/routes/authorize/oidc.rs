//! OpenID Connect Core §3.1.2.1 authorization request parameters at
//! `/authorize`: `prompt` (`none`, `login`, `consent`, `select_account`),
//! `max_age`, `login_hint`, `id_token_hint`, `request` and `request_uri`
//! (§6), and the errors of §3.1.2.6.

use crate::harness::oidc::{code_flow, oidc_client, verify_id_token};
use crate::harness::{
    code_query, form_field, next_of, pkce_pair, signed_in, url_params, TestApp, PASSWORD, REDIRECT,
};

backend_tests!(
    oidc_core_3_1_2_1_max_age_0_forces_the_sign_in_page,
    oidc_core_3_1_2_1_max_age_older_than_the_sign_in_asks_again,
    oidc_core_3_1_2_6_prompt_none_without_a_session_redirects_login_required,
    oidc_core_3_1_2_6_prompt_none_with_another_users_id_token_hint_is_login_required,
    oidc_core_3_1_2_1_prompt_login_and_select_account_show_the_sign_in_page_though_signed_in,
    oidc_core_3_1_2_1_login_hint_prefills_the_username,
    oidc_core_6_request_and_request_uri_are_refused_with_their_codes,
    oidc_core_3_1_2_1_acr_values_and_display_are_ignored,
    oidc_prompt_none_answers_login_required_and_consent_required,
    oidc_prompt_login_asks_to_sign_in_again,
    oidc_prompt_consent_shows_the_page_even_when_remembered,
);

/// Signs in as `username` on the sign-in page that `/authorize?query`
/// redirected to, follows the continuation and returns the final redirect.
async fn sign_in_and_continue(app: &TestApp, login_location: &str, username: &str) -> String {
    let next = next_of(login_location);
    let r = app.sign_in(username, PASSWORD, &next).await;
    assert_eq!(r.status(), 303);
    let back = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(back, next);
    let (status, loc) = app.location(&back).await;
    assert_eq!(status, 303);
    loc
}

async fn oidc_core_3_1_2_1_max_age_0_forces_the_sign_in_page(app: TestApp) {
    let c = oidc_client(&app);
    signed_in(&app).await;
    let first = code_flow(&app, &c, &[("scope", "openid")]).await;
    let (_, first) = verify_id_token(&app, first["id_token"].as_str().unwrap(), &c.client.id).await;
    app.clock().advance(30);
    let (verifier, challenge) = pkce_pair();
    let q = code_query(&c, &challenge, &[("scope", "openid"), ("max_age", "0")]);
    let (status, loc) = app.location(&format!("/authorize?{q}")).await;
    assert_eq!(status, 303);
    let next = next_of(&loc);
    assert!(
        !next.contains("max_age"),
        "the continuation is satisfied: {next}"
    );
    // The continuation after signing in again answers (no loop).
    let answer = sign_in_and_continue(&app, &loc, "alice").await;
    assert!(answer.starts_with(REDIRECT), "{answer}");
    let p = url_params(&answer, false);
    assert_eq!(p["state"], "st-123");
    let r = app
        .exchange(&c, &p["code"], Some(&verifier), Some(REDIRECT))
        .await;
    let body: serde_json::Value = r.json().await.unwrap();
    let (_, second) = verify_id_token(&app, body["id_token"].as_str().unwrap(), &c.client.id).await;
    assert!(
        second["auth_time"].as_i64().unwrap() >= first["auth_time"].as_i64().unwrap() + 30,
        "auth_time is the new sign-in"
    );
    // max_age=0 with prompt=none cannot show the page.
    let q = code_query(
        &c,
        &challenge,
        &[("scope", "openid"), ("max_age", "0"), ("prompt", "none")],
    );
    let (_, loc) = app.location(&format!("/authorize?{q}")).await;
    assert_eq!(url_params(&loc, false)["error"], "login_required");
}

async fn oidc_core_3_1_2_1_max_age_older_than_the_sign_in_asks_again(app: TestApp) {
    let c = oidc_client(&app);
    signed_in(&app).await;
    code_flow(&app, &c, &[("scope", "openid")]).await;
    app.clock().advance(120);
    let (_, challenge) = pkce_pair();
    let young = code_query(&c, &challenge, &[("scope", "openid"), ("max_age", "600")]);
    let (_, loc) = app.location(&format!("/authorize?{young}")).await;
    assert!(
        loc.starts_with(REDIRECT),
        "signed in 120 s ago: fine: {loc}"
    );
    let old = code_query(&c, &challenge, &[("scope", "openid"), ("max_age", "60")]);
    let (_, loc) = app.location(&format!("/authorize?{old}")).await;
    let answer = sign_in_and_continue(&app, &loc, "alice").await;
    assert!(answer.starts_with(REDIRECT), "{answer}");
    // Not a number: invalid_request, redirected with state.
    let bad = code_query(&c, &challenge, &[("scope", "openid"), ("max_age", "-5")]);
    let (_, loc) = app.location(&format!("/authorize?{bad}")).await;
    let p = url_params(&loc, false);
    assert_eq!(p["error"], "invalid_request");
    assert_eq!(p["state"], "st-123");
}

async fn oidc_core_3_1_2_6_prompt_none_without_a_session_redirects_login_required(app: TestApp) {
    let c = oidc_client(&app);
    let (_, challenge) = pkce_pair();
    let q = code_query(&c, &challenge, &[("scope", "openid"), ("prompt", "none")]);
    let (status, loc) = app.location(&format!("/authorize?{q}")).await;
    assert_eq!(status, 303);
    assert!(loc.starts_with(REDIRECT), "to the client: {loc}");
    let p = url_params(&loc, false);
    assert_eq!(p["error"], "login_required");
    assert_eq!(p["state"], "st-123");
    assert_eq!(p["iss"], app.base.as_str());
    assert!(!p.contains_key("code"));
}

async fn oidc_core_3_1_2_6_prompt_none_with_another_users_id_token_hint_is_login_required(
    app: TestApp,
) {
    let c = oidc_client(&app);
    // Bob's ID token, from an earlier sign-in in this browser.
    app.user("bob", PASSWORD);
    assert_eq!(app.sign_in("bob", PASSWORD, "/account").await.status(), 303);
    let bob = code_flow(&app, &c, &[("scope", "openid")]).await;
    let bob_hint = bob["id_token"].as_str().unwrap().to_string();
    // Now Alice is signed in here (a new session replaces Bob's).
    signed_in(&app).await;
    let alice = code_flow(&app, &c, &[("scope", "openid")]).await;
    let alice_hint = alice["id_token"].as_str().unwrap().to_string();
    let (_, challenge) = pkce_pair();
    let silent = |hint: &str| {
        code_query(
            &c,
            &challenge,
            &[
                ("scope", "openid"),
                ("prompt", "none"),
                ("id_token_hint", hint),
            ],
        )
    };
    let (_, loc) = app
        .location(&format!("/authorize?{}", silent(&bob_hint)))
        .await;
    let p = url_params(&loc, false);
    assert_eq!(p["error"], "login_required", "{loc}");
    assert_eq!(p["state"], "st-123");
    // Her own hint, even once expired, renews silently.
    app.clock().advance(700);
    let (_, loc) = app
        .location(&format!("/authorize?{}", silent(&alice_hint)))
        .await;
    assert!(url_params(&loc, false).contains_key("code"), "{loc}");
    // Interactive, another user's hint is login_required too.
    let q = code_query(
        &c,
        &challenge,
        &[("scope", "openid"), ("id_token_hint", &bob_hint)],
    );
    let (_, loc) = app.location(&format!("/authorize?{q}")).await;
    assert_eq!(url_params(&loc, false)["error"], "login_required");
    // Not an ID token of ours (here: an access token): invalid_request.
    let not_id = alice["access_token"].as_str().unwrap();
    let (_, loc) = app
        .location(&format!("/authorize?{}", silent(not_id)))
        .await;
    assert_eq!(url_params(&loc, false)["error"], "invalid_request");
    let (_, loc) = app
        .location(&format!("/authorize?{}", silent("garbage")))
        .await;
    assert_eq!(url_params(&loc, false)["error"], "invalid_request");
}

async fn oidc_core_3_1_2_1_prompt_login_and_select_account_show_the_sign_in_page_though_signed_in(
    app: TestApp,
) {
    let c = oidc_client(&app);
    signed_in(&app).await;
    code_flow(&app, &c, &[("scope", "openid")]).await;
    let (_, challenge) = pkce_pair();
    for prompt in ["login", "select_account"] {
        let q = code_query(&c, &challenge, &[("scope", "openid"), ("prompt", prompt)]);
        let (_, loc) = app.location(&format!("/authorize?{q}")).await;
        let next = next_of(&loc);
        assert!(!next.contains("prompt"), "{prompt}: {next}");
        let page = app.get(&loc).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("name=\"password\""), "the sign-in page");
        let answer = sign_in_and_continue(&app, &loc, "alice").await;
        assert!(answer.starts_with(REDIRECT), "{prompt}: {answer}");
    }
}

async fn oidc_core_3_1_2_1_login_hint_prefills_the_username(app: TestApp) {
    let c = oidc_client(&app);
    app.alice();
    let (_, challenge) = pkce_pair();
    let q = code_query(
        &c,
        &challenge,
        &[("scope", "openid"), ("login_hint", "alice")],
    );
    let (_, loc) = app.location(&format!("/authorize?{q}")).await;
    let html = app.get(&loc).await.text().await.unwrap();
    assert_eq!(form_field(&html, "username").as_deref(), Some("alice"));
    // An odd hint is just not used; the markup stays intact.
    let q = code_query(
        &c,
        &challenge,
        &[("scope", "openid"), ("login_hint", "\"><script>x</script>")],
    );
    let (_, loc) = app.location(&format!("/authorize?{q}")).await;
    let html = app.get(&loc).await.text().await.unwrap();
    assert!(!html.contains("<script>x"), "escaped");
    let answer = sign_in_and_continue(&app, &loc, "alice").await;
    assert!(answer.starts_with("/consent?"), "{answer}");
}

async fn oidc_core_6_request_and_request_uri_are_refused_with_their_codes(app: TestApp) {
    let c = oidc_client(&app);
    signed_in(&app).await;
    let (_, challenge) = pkce_pair();
    for (param, value, code) in [
        (
            "request",
            "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.",
            "request_not_supported",
        ),
        (
            "request_uri",
            "https://app.example/request.jwt",
            "request_uri_not_supported",
        ),
    ] {
        let q = code_query(&c, &challenge, &[("scope", "openid"), (param, value)]);
        let (status, loc) = app.location(&format!("/authorize?{q}")).await;
        assert_eq!(status, 303);
        assert!(loc.starts_with(REDIRECT), "{loc}");
        let p = url_params(&loc, false);
        assert_eq!(p["error"], code);
        assert_eq!(p["state"], "st-123");
        assert!(!p.contains_key("code"));
    }
}

async fn oidc_core_3_1_2_1_acr_values_and_display_are_ignored(app: TestApp) {
    let c = oidc_client(&app);
    signed_in(&app).await;
    let body = code_flow(
        &app,
        &c,
        &[
            ("scope", "openid"),
            ("acr_values", "urn:mace:incommon:iap:silver"),
            ("display", "popup"),
            ("ui_locales", "fr"),
        ],
    )
    .await;
    assert!(body["id_token"].is_string());
}

async fn oidc_prompt_none_answers_login_required_and_consent_required(app: TestApp) {
    let c = app.web_client(false);
    let (_, ch) = pkce_pair();
    let q = code_query(&c, &ch, &[("prompt", "none")]);
    let (_, loc) = app.location(&format!("/authorize?{q}")).await;
    assert_eq!(url_params(&loc, false)["error"], "login_required");
    signed_in(&app).await;
    let (_, loc) = app.location(&format!("/authorize?{q}")).await;
    assert_eq!(url_params(&loc, false)["error"], "consent_required");
    // Once consented, silent renewal gets a code without any page.
    app.authorize_and_allow(&code_query(&c, &ch, &[])).await;
    let (status, loc) = app.location(&format!("/authorize?{q}")).await;
    assert_eq!(status, 303);
    assert!(url_params(&loc, false).contains_key("code"), "{loc}");
}

async fn oidc_prompt_login_asks_to_sign_in_again(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (_, ch) = pkce_pair();
    let (_, loc) = app
        .location(&format!(
            "/authorize?{}",
            code_query(&c, &ch, &[("prompt", "login")])
        ))
        .await;
    assert!(loc.starts_with("/login?next="), "{loc}");
    assert!(
        !loc.contains("prompt%3Dlogin"),
        "the continuation drops prompt=login: {loc}"
    );
}

async fn oidc_prompt_consent_shows_the_page_even_when_remembered(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (_, ch) = pkce_pair();
    app.authorize_and_allow(&code_query(&c, &ch, &[])).await;
    let (_, loc) = app
        .location(&format!(
            "/authorize?{}",
            code_query(&c, &ch, &[("prompt", "consent")])
        ))
        .await;
    assert!(loc.starts_with("/consent?"), "{loc}");
}
