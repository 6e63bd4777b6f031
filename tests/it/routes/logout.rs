//! `GET/POST /logout`: signing out, and OpenID Connect RP-Initiated Logout
//! 1.0 there (the `end_session_endpoint`): confirmation, CSRF, the redirect
//! to a registered `post_logout_redirect_uri` with `state`, and never
//! anywhere else.

use crate::harness::oidc::code_flow;
use crate::harness::{
    code_query, form_field, pkce_pair, signed_in, url_params, TestApp, PASSWORD, REDIRECT, USERNAME,
};
use gatehouse::registry::{CreatedClient, NewClient};

backend_tests!(
    rp_initiated_logout_2_asks_to_confirm_with_a_form_that_needs_csrf,
    rp_initiated_logout_3_redirects_with_state_to_a_registered_uri_and_signs_out,
    rp_initiated_logout_3_client_id_or_an_expired_hint_names_the_client,
    rp_initiated_logout_3_an_unregistered_uri_shows_the_signed_out_page_and_never_redirects,
    rp_initiated_logout_2_a_hint_for_someone_else_signs_out_only_when_confirmed_and_never_redirects,
    sign_out_ends_the_session_the_page_has_cancel_and_the_signed_out_page_leads_to_sign_in,
);

const BYE: &str = "https://app.example/signed-out";

/// A web app with a registered post-logout redirect URI.
fn rp(app: &TestApp) -> CreatedClient {
    app.client(NewClient {
        name: "Relying Party".into(),
        grant_types: vec!["authorization_code".into()],
        redirect_uris: vec![REDIRECT.into()],
        scope: "openid profile".into(),
        post_logout_redirect_uris: vec![BYE.into(), "https://app.example/other".into()],
        ..Default::default()
    })
}

/// Alice (created the first time) signs in and the app gets her ID token.
async fn id_token(app: &TestApp, c: &CreatedClient) -> String {
    let known = app
        .state
        .store
        .conn()
        .unwrap()
        .find_user_by_username(USERNAME)
        .unwrap()
        .is_some();
    if known {
        let r = app.sign_in(USERNAME, PASSWORD, "/account").await;
        assert_eq!(r.status(), 303);
    } else {
        signed_in(app).await;
    }
    let body = code_flow(app, c, &[("scope", "openid")]).await;
    body["id_token"].as_str().unwrap().to_string()
}

/// Loads `/logout?params` and posts its form as the person would (every
/// hidden field, CSRF included); returns the post's answer.
async fn confirm(app: &TestApp, params: &[(&str, &str)]) -> reqwest::Response {
    let q = serde_urlencoded::to_string(params).unwrap();
    let page = app.get(&format!("/logout?{q}")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let mut form = vec![(
        "csrf_token".to_string(),
        form_field(&html, "csrf_token").unwrap(),
    )];
    for name in [
        "id_token_hint",
        "client_id",
        "post_logout_redirect_uri",
        "state",
    ] {
        if let Some(v) = form_field(&html, name) {
            form.push((name.to_string(), v));
        }
    }
    app.http
        .post(app.url("/logout"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Whether the browser is still signed in: a silent authorization request
/// gets a code, or `login_required`.
async fn still_signed_in(app: &TestApp, c: &CreatedClient) -> bool {
    let (_, challenge) = pkce_pair();
    let q = code_query(c, &challenge, &[("scope", "openid"), ("prompt", "none")]);
    let (_, loc) = app.location(&format!("/authorize?{q}")).await;
    let p = url_params(&loc, false);
    match p.get("error").map(String::as_str) {
        Some("login_required") => false,
        None if p.contains_key("code") => true,
        other => panic!("unexpected {other:?}: {loc}"),
    }
}

async fn rp_initiated_logout_2_asks_to_confirm_with_a_form_that_needs_csrf(app: TestApp) {
    let c = rp(&app);
    let hint = id_token(&app, &c).await;
    let q = serde_urlencoded::to_string([
        ("id_token_hint", hint.as_str()),
        ("post_logout_redirect_uri", BYE),
        ("state", "s-1 \"x\""),
    ])
    .unwrap();
    let page = app.get(&format!("/logout?{q}")).await;
    assert_eq!(page.status(), 200);
    assert!(page.headers().get("location").is_none(), "asks first");
    let html = page.text().await.unwrap();
    assert!(html.contains("Relying Party"), "names the app");
    assert!(html.contains("alice"), "and who is signed in");
    assert!(html.contains("action=\"/logout\""));
    assert_eq!(
        form_field(&html, "id_token_hint").as_deref(),
        Some(hint.as_str())
    );
    assert_eq!(
        form_field(&html, "post_logout_redirect_uri").as_deref(),
        Some(BYE)
    );
    assert_eq!(form_field(&html, "state").as_deref(), Some("s-1 \"x\""));
    // Just loading the page signs no one out.
    assert!(still_signed_in(&app, &c).await);
    // A post without a valid CSRF token: 403, nothing happens.
    for form in [
        vec![
            ("post_logout_redirect_uri", BYE),
            ("id_token_hint", hint.as_str()),
        ],
        vec![
            ("post_logout_redirect_uri", BYE),
            ("id_token_hint", hint.as_str()),
            ("csrf_token", "forged"),
        ],
    ] {
        let r = app.post_form("/logout", &form).await;
        assert_eq!(r.status(), 403);
        assert!(r.headers().get("location").is_none());
    }
    assert!(still_signed_in(&app, &c).await);
    // A repeated parameter is a bad request, not a crash.
    let r = app.get("/logout?state=a&state=b").await;
    assert_eq!(r.status(), 400);
}

async fn rp_initiated_logout_3_redirects_with_state_to_a_registered_uri_and_signs_out(
    app: TestApp,
) {
    let c = rp(&app);
    let hint = id_token(&app, &c).await;
    let r = confirm(
        &app,
        &[
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", BYE),
            ("state", "xyz 1"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with(BYE), "{loc}");
    assert_eq!(url_params(&loc, false)["state"], "xyz 1");
    // Signed out: the next authorization request asks to sign in.
    assert!(!still_signed_in(&app, &c).await);
    let (_, challenge) = pkce_pair();
    let (_, loc) = app
        .location(&format!(
            "/authorize?{}",
            code_query(&c, &challenge, &[("scope", "openid")])
        ))
        .await;
    assert!(loc.starts_with("/login?"), "{loc}");
    // Without state: the URI as registered.
    let hint = id_token(&app, &c).await;
    let r = confirm(
        &app,
        &[
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", "https://app.example/other"),
        ],
    )
    .await;
    assert_eq!(r.headers()["location"], "https://app.example/other");
}

async fn rp_initiated_logout_3_client_id_or_an_expired_hint_names_the_client(app: TestApp) {
    let c = rp(&app);
    id_token(&app, &c).await;
    let r = confirm(
        &app,
        &[
            ("client_id", &c.client.id),
            ("post_logout_redirect_uri", BYE),
            ("state", "s"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], format!("{BYE}?state=s"));
    // An ID token that expired long ago is still a good hint (§2).
    let hint = id_token(&app, &c).await;
    app.clock().advance(3600);
    let r = confirm(
        &app,
        &[
            ("id_token_hint", &hint),
            ("client_id", &c.client.id),
            ("post_logout_redirect_uri", BYE),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], BYE);
}

async fn rp_initiated_logout_3_an_unregistered_uri_shows_the_signed_out_page_and_never_redirects(
    app: TestApp,
) {
    let c = rp(&app);
    let other = app.client(NewClient {
        name: "Other".into(),
        grant_types: vec!["authorization_code".into()],
        redirect_uris: vec![REDIRECT.into()],
        scope: "openid".into(),
        post_logout_redirect_uris: vec!["https://other.example/bye".into()],
        ..Default::default()
    });
    let hint = id_token(&app, &c).await;
    let mut tampered: Vec<String> = hint.split('.').map(str::to_string).collect();
    tampered[2] = tampered[2].chars().rev().collect();
    let tampered = tampered.join(".");
    let cases: Vec<Vec<(&str, &str)>> = vec![
        // Not registered for this client.
        vec![
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ],
        vec![
            ("id_token_hint", &hint),
            (
                "post_logout_redirect_uri",
                "https://app.example/signed-out/",
            ),
        ],
        // Registered for another client.
        vec![
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", "https://other.example/bye"),
        ],
        // No way to tell which client asks.
        vec![("post_logout_redirect_uri", BYE), ("state", "s")],
        // The hint and client_id disagree.
        vec![
            ("id_token_hint", &hint),
            ("client_id", &other.client.id),
            ("post_logout_redirect_uri", "https://other.example/bye"),
        ],
        // A forged hint vouches for nobody.
        vec![
            ("id_token_hint", &tampered),
            ("client_id", &c.client.id),
            ("post_logout_redirect_uri", BYE),
        ],
        // An unknown client.
        vec![("client_id", "nope"), ("post_logout_redirect_uri", BYE)],
    ];
    for case in cases {
        id_token(&app, &c).await;
        let r = confirm(&app, &case).await;
        assert_eq!(r.status(), 200, "{case:?}");
        assert!(r.headers().get("location").is_none(), "{case:?}");
        let html = r.text().await.unwrap();
        assert!(html.contains("You are signed out"), "{case:?}");
        assert!(html.contains("id=\"not-returned\""), "{case:?}");
        assert!(
            !still_signed_in(&app, &c).await,
            "signed out all the same: {case:?}"
        );
    }
    // The plain sign-out form still works, and says nothing of an app.
    id_token(&app, &c).await;
    let r = confirm(&app, &[]).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("You are signed out") && !html.contains("not-returned"));
    assert!(!still_signed_in(&app, &c).await);
}

async fn rp_initiated_logout_2_a_hint_for_someone_else_signs_out_only_when_confirmed_and_never_redirects(
    app: TestApp,
) {
    let c = rp(&app);
    // Bob's ID token from an earlier sign-in in this browser; now Alice is
    // signed in here, so the app's session (Bob's) is out of date.
    app.user("bob", PASSWORD);
    assert_eq!(app.sign_in("bob", PASSWORD, "/account").await.status(), 303);
    let bob_hint = code_flow(&app, &c, &[("scope", "openid")]).await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    id_token(&app, &c).await;
    let params = [
        ("id_token_hint", bob_hint.as_str()),
        ("post_logout_redirect_uri", BYE),
        ("state", "s-1"),
    ];
    // The confirmation page says so, and loading it signs no one out.
    let q = serde_urlencoded::to_string(params).unwrap();
    let page = app.get(&format!("/logout?{q}")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("id=\"someone-else\""), "{html}");
    assert!(html.contains("alice"), "names who is signed in");
    assert!(still_signed_in(&app, &c).await);
    // Confirmed: signed out, but not sent to the app (registered as the
    // address is), and told why.
    let r = confirm(&app, &params).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("location").is_none());
    let html = r.text().await.unwrap();
    assert!(html.contains("You are signed out"), "{html}");
    assert!(html.contains("another account than yours"), "{html}");
    assert!(!still_signed_in(&app, &c).await);
    // The same hint with nobody signed in, or Alice's own: back to the app.
    let r = confirm(&app, &params).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], format!("{BYE}?state=s-1"));
    let alice_hint = id_token(&app, &c).await;
    let page = app
        .get(&format!(
            "/logout?{}",
            serde_urlencoded::to_string([("id_token_hint", alice_hint.as_str())]).unwrap()
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("someone-else"));
    let r = confirm(
        &app,
        &[
            ("id_token_hint", &alice_hint),
            ("post_logout_redirect_uri", BYE),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], BYE);
}

async fn sign_out_ends_the_session_the_page_has_cancel_and_the_signed_out_page_leads_to_sign_in(
    app: TestApp,
) {
    app.user("alice", "correct horse");
    assert_eq!(
        app.sign_in("alice", "correct horse", "/account")
            .await
            .status(),
        303
    );
    let page = app.get("/logout").await.text().await.unwrap();
    assert!(page.contains("alice"));
    assert!(page.contains("action=\"/logout\""));
    // Cancel leaves, signed in: a plain link, no form post.
    assert!(
        page.contains("<a class=\"button\" href=\"/\" id=\"cancel\">Cancel</a>"),
        "{page}"
    );
    assert!(app.is_signed_in().await);
    let csrf = form_field(&page, "csrf_token").unwrap();
    let r = app.post_form("/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!(r.status(), 200);
    let done = r.text().await.unwrap();
    assert!(done.contains("You are signed out"));
    // The signed-out page leads back to the sign-in page.
    assert!(
        done.contains("<a href=\"/login\" id=\"sign-in-again\">Sign in again</a>"),
        "{done}"
    );
    assert_eq!(app.get("/login").await.status(), 200);
    let page = app.get("/logout").await.text().await.unwrap();
    assert!(page.contains("You are not signed in"));
}
