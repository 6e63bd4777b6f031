//! A developer's first five minutes in a real browser: sign up, register a
//! confidential app on `/apps/new`, copy its id and secret from the page,
//! and run the authorization-code flow with PKCE (RFC 6749 §4.1, RFC 7636)
//! from a Rust app using the stock `oauth2` crate: the browser signs in and
//! consents, the crate exchanges the code. Same skip rule as the other
//! browser tests (fails under CI=true without a browser).

use crate::harness::element_value;
use crate::harness::webdriver::{Browser, Callback};
use crate::harness::TestApp;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, RedirectUrl,
    Scope, TokenResponse, TokenUrl,
};

backend_tests!(
    with |c| c.signup_open = true;
    browser_signs_up_registers_an_app_and_the_oauth2_crate_completes_the_code_flow,
);

async fn browser_signs_up_registers_an_app_and_the_oauth2_crate_completes_the_code_flow(
    app: TestApp,
) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let callback = Callback::start();

    // The landing page, signed out.
    browser.goto(&app.url("/")).await;
    browser
        .assert_accessible("the landing page, signed out")
        .await;

    // Signed out, the application pages ask to sign in; the sign-in page
    // offers to sign up, which continues to the registration form.
    browser.goto(&app.url("/apps/new")).await;
    browser.wait_for_url(|u| u.contains("/login")).await;
    browser.assert_accessible("the sign-in page").await;
    browser.click("a[href^='/signup']").await;
    browser.wait_for_url(|u| u.contains("/signup")).await;
    browser.type_into("#username", "dana").await;
    browser.type_into("#email", "dana@example.com").await;
    browser.type_into("#password", "a long passphrase").await;
    browser.screenshot("signup-desktop").await;
    browser.assert_accessible("the sign-up page").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(|u| u.ends_with("/apps/new")).await;

    // The registration form, with its defaults: confidential, code and
    // refresh tokens, the registration scopes.
    browser.type_into("#client_name", "Dana's Notes").await;
    browser
        .type_into("#client_uri", "https://notes.example")
        .await;
    browser.type_into("#redirect_uris", &callback.url).await;
    browser.screenshot("apps-new-desktop").await;
    browser.assert_accessible("the app registration form").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("is registered").await;
    browser.screenshot("apps-created-desktop").await;
    browser.assert_accessible("the created-app page").await;
    // On a phone the one-time secret wraps inside the card, and the copy
    // button (shown by the page's own script) is there.
    browser.resize(375, 812).await;
    browser.screenshot("apps-created-phone").await;
    assert!(browser.fits_the_window().await, "the page fits 375 px");
    let secret_fits = browser
        .execute(
            "const t = document.getElementById('client_secret'); \
             return t.scrollWidth <= t.clientWidth && t.getBoundingClientRect().right <= window.innerWidth;",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(secret_fits, serde_json::json!(true), "the secret wraps");
    let copy_shown = browser
        .execute(
            "return !document.querySelector('button[data-copy=client_secret]').hidden;",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(copy_shown, serde_json::json!(true), "the copy button shows");
    browser.resize(1280, 900).await;
    let html = browser.source().await;
    let client_id = element_value(&html, "client_id").expect("the client id on the page");
    let secret = element_value(&html, "client_secret").expect("the secret on the page");

    // A Rust app configured from the metadata, the id and the secret.
    let meta = app.metadata().await;
    let client = BasicClient::new(ClientId::new(client_id.clone()))
        .set_client_secret(ClientSecret::new(secret))
        .set_auth_uri(
            AuthUrl::new(meta["authorization_endpoint"].as_str().unwrap().into()).unwrap(),
        )
        .set_token_uri(TokenUrl::new(meta["token_endpoint"].as_str().unwrap().into()).unwrap())
        .set_redirect_uri(RedirectUrl::new(callback.url.clone()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf_state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("read".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The person (already signed in) sees who registered the app, allows.
    browser.goto(auth_url.as_str()).await;
    browser.wait_for_url(|u| u.contains("/consent")).await;
    // The owner's name is isolated in <bdi>, in the source too.
    browser.wait_for_text("Registered by <bdi>dana</bdi>").await;
    let html = browser.source().await;
    assert!(html.contains("Dana's Notes"), "{html}");
    assert!(html.contains("https://notes.example"));
    browser.screenshot("consent-registered-by-desktop").await;
    browser
        .assert_accessible("the consent page naming the owner")
        .await;
    browser.click("button[name=decision][value=allow]").await;

    let params = callback.next_params();
    assert_eq!(&params["state"], csrf_state.secret());
    let http = oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = client
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the oauth2 crate exchanges the code");
    assert!(token.refresh_token().is_some());
    let claims = app.verify_jwt(token.access_token().secret()).await;
    assert_eq!(claims["client_id"], client_id.as_str());
    assert_eq!(claims["scope"], "read");
    let dana = app
        .state
        .store
        .conn()
        .unwrap()
        .find_user_by_username("dana")
        .unwrap()
        .unwrap();
    assert_eq!(claims["sub"], dana.id.as_str());

    // The app is on dana's list.
    browser.goto(&app.url("/apps")).await;
    let html = browser.source().await;
    assert!(html.contains(&client_id));
    browser.resize(390, 844).await;
    browser.screenshot("apps-list-phone").await;
    browser.assert_accessible("the apps list").await;
    browser.click("td a").await;
    browser.wait_for_text("Make a new secret").await;
    browser.screenshot("app-settings-phone").await;
    browser.assert_accessible("the app settings page").await;
    // "Make a new secret" asks first.
    browser
        .click("button[type=submit]:not(.primary):not(.danger)")
        .await;
    browser.wait_for_text("Keep the current secret").await;
    browser.screenshot("app-rotate-confirm-phone").await;
    browser
        .assert_accessible("the new-secret confirmation")
        .await;
    assert!(browser.fits_the_window().await);

    // The landing page, at both sizes.
    browser.goto(&app.url("/")).await;
    browser.wait_for_text("Signed in as").await;
    browser.screenshot("landing-phone").await;
    browser
        .assert_accessible("the landing page, signed in")
        .await;
    assert!(
        browser.fits_the_window().await,
        "the landing page fits 375 px"
    );
    browser.resize(1280, 900).await;
    browser.screenshot("landing-desktop").await;
    browser.click("#link-apps").await;
    browser.wait_for_url(|u| u.ends_with("/apps")).await;
}
