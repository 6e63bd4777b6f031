//! OpenID Connect Core §3.1.2.1: `prompt=login` (and `select_account`)
//! and `max_age` MUST re-authenticate the person. The sign-in page's
//! continuation (`next`) carries the request sealed under the server
//! secret with "a sign-in at or after T, in another session"; opening it
//! without signing in, through `/authorize` or the consent page, gives no
//! code, and an edited, cut or moved seal is refused.

use crate::harness::oidc::{code_flow, oidc_client, verify_id_token};
use crate::harness::{
    code_query, form_field, next_of, pkce_pair, signed_in, url_params, TestApp, PASSWORD, REDIRECT,
};
use gatehouse::registry::CreatedClient;

backend_tests!(
    oidc_core_3_1_2_1_prompt_login_cannot_be_skipped_through_the_sign_in_link,
    oidc_core_3_1_2_1_max_age_cannot_be_skipped_through_the_sign_in_link,
    oidc_core_3_1_2_1_a_tampered_cut_or_moved_re_authentication_is_refused,
    oidc_core_3_1_2_1_signing_in_again_answers_with_the_new_sign_ins_auth_time,
    oidc_core_3_1_2_1_the_consent_page_judges_the_sign_in_as_authorize_does,
);

/// Alice signed in, with consent given to `c` for `openid` (so nothing but
/// the sign-in stands between a request and a code).
async fn alice_consented(app: &TestApp, c: &CreatedClient) -> serde_json::Value {
    signed_in(app).await;
    let body = code_flow(app, c, &[("scope", "openid")]).await;
    let (_, claims) = verify_id_token(app, body["id_token"].as_str().unwrap(), &c.client.id).await;
    claims
}

/// `/authorize?query` with `extra`; asserts it sends to the sign-in page
/// and returns that page's `next`.
async fn asks_to_sign_in(app: &TestApp, c: &CreatedClient, extra: &[(&str, &str)]) -> String {
    let (_, challenge) = pkce_pair();
    let mut params = vec![("scope", "openid")];
    params.extend_from_slice(extra);
    let q = code_query(c, &challenge, &params);
    let (status, loc) = app.location(&format!("/authorize?{q}")).await;
    assert_eq!(status, 303, "{loc}");
    next_of(&loc)
}

/// Opens `path` in this browser and checks that no code comes of it: the
/// sign-in page again (returned: its `next`), never the client's redirect
/// URI with a code.
async fn no_code_but_the_sign_in_page(app: &TestApp, path: &str) -> String {
    let (status, loc) = app.location(path).await;
    assert_eq!(status, 303, "{path} -> {loc}");
    assert!(
        !loc.starts_with(REDIRECT),
        "a code without signing in: {loc}"
    );
    next_of(&loc)
}

/// Posts the consent form for `request` (as the page would), allowing.
async fn post_allow(app: &TestApp, request: &str) -> reqwest::Response {
    // Any form of this browser carries a valid CSRF token.
    let html = app.get("/login").await.text().await.unwrap();
    let csrf = form_field(&html, "csrf_token").unwrap();
    app.post_form(
        "/consent",
        &[
            ("csrf_token", csrf.as_str()),
            ("request", request),
            ("decision", "allow"),
        ],
    )
    .await
}

/// The query of a continuation (`/authorize?…` or `/consent?…`).
fn query_of(next: &str) -> &str {
    next.split_once('?').map_or("", |(_, q)| q)
}

async fn oidc_core_3_1_2_1_prompt_login_cannot_be_skipped_through_the_sign_in_link(app: TestApp) {
    // Frozen: the old sign-in, the request and the bypass share one second,
    // so only "another session" tells the old sign-in from a new one.
    app.clock().freeze();
    let c = oidc_client(&app);
    alice_consented(&app, &c).await;
    for prompt in ["login", "select_account", "login consent"] {
        let next = asks_to_sign_in(&app, &c, &[("prompt", prompt)]).await;
        assert!(next.starts_with("/authorize?"), "{next}");
        // The finding: opening `next` directly answered with a code.
        let again = no_code_but_the_sign_in_page(&app, &next).await;
        // Asked again, still sealed (and still not satisfied).
        no_code_but_the_sign_in_page(&app, &again).await;
        // Nor through the consent page, shown or posted.
        let consent = format!("/consent?{}", query_of(&next));
        no_code_but_the_sign_in_page(&app, &consent).await;
        let r = post_allow(&app, query_of(&next)).await;
        assert_eq!(r.status(), 303, "{prompt}");
        let loc = r.headers()["location"].to_str().unwrap();
        assert!(loc.starts_with("/login?"), "{prompt}: {loc}");
    }
    // With prompt=login the sign-in page says why it is shown.
    let next = asks_to_sign_in(&app, &c, &[("prompt", "login")]).await;
    let q = serde_urlencoded::to_string([("next", next.as_str())]).unwrap();
    let html = app.get(&format!("/login?{q}")).await.text().await.unwrap();
    assert!(html.contains("id=\"sign-in-again\""), "{html}");
    assert!(html.contains("to continue to Relying Party"), "{html}");
    // A new sign-in, in that same second, satisfies it.
    let r = app.sign_in("alice", PASSWORD, &next).await;
    assert_eq!(r.headers()["location"], next.as_str());
    let (_, loc) = app.location(&next).await;
    assert!(url_params(&loc, false).contains_key("code"), "{loc}");
}

async fn oidc_core_3_1_2_1_max_age_cannot_be_skipped_through_the_sign_in_link(app: TestApp) {
    app.clock().freeze();
    let c = oidc_client(&app);
    alice_consented(&app, &c).await;
    // max_age=0: always.
    let next = asks_to_sign_in(&app, &c, &[("max_age", "0")]).await;
    assert!(!next.contains("max_age"), "{next}");
    no_code_but_the_sign_in_page(&app, &next).await;
    no_code_but_the_sign_in_page(&app, &format!("/consent?{}", query_of(&next))).await;
    // max_age=N: once the sign-in is older than N.
    let (_, challenge) = pkce_pair();
    let young = code_query(&c, &challenge, &[("scope", "openid"), ("max_age", "60")]);
    let (_, loc) = app.location(&format!("/authorize?{young}")).await;
    assert!(url_params(&loc, false).contains_key("code"), "young: {loc}");
    app.clock().advance(61);
    let next = asks_to_sign_in(&app, &c, &[("max_age", "60")]).await;
    no_code_but_the_sign_in_page(&app, &next).await;
    let r = post_allow(&app, query_of(&next)).await;
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login?"),
        "the consent post gives no code either"
    );
    // prompt=none cannot show the page: login_required, as before.
    let silent = code_query(
        &c,
        &challenge,
        &[("scope", "openid"), ("max_age", "60"), ("prompt", "none")],
    );
    let (_, loc) = app.location(&format!("/authorize?{silent}")).await;
    assert_eq!(url_params(&loc, false)["error"], "login_required", "{loc}");
    // Signing in again satisfies both.
    let r = app.sign_in("alice", PASSWORD, &next).await;
    assert_eq!(r.status(), 303);
    let (_, loc) = app.location(&next).await;
    assert!(url_params(&loc, false).contains_key("code"), "{loc}");
}

async fn oidc_core_3_1_2_1_a_tampered_cut_or_moved_re_authentication_is_refused(app: TestApp) {
    app.clock().freeze();
    let c = oidc_client(&app);
    alice_consented(&app, &c).await;
    let next = asks_to_sign_in(&app, &c, &[("prompt", "login"), ("state", "first")]).await;
    let other = asks_to_sign_in(&app, &c, &[("prompt", "login"), ("state", "second")]).await;
    let value = |n: &str| {
        url::form_urlencoded::parse(query_of(n).as_bytes())
            .find(|(k, _)| k == "reauth")
            .expect("a sealed continuation")
            .1
            .into_owned()
    };
    let (seal, other_seal) = (value(&next), value(&other));
    let parts: Vec<&str> = seal.split('.').collect();
    let other_parts: Vec<&str> = other_seal.split('.').collect();
    assert_eq!(parts.len(), 4, "{seal}");
    let (_, challenge) = pkce_pair();
    let plain = code_query(&c, &challenge, &[("scope", "openid")]);
    let sealed = |v: String| serde_urlencoded::to_string([("reauth", v)]).unwrap();
    let cases = [
        // Stripped: nothing of the request is left.
        String::new(),
        // An earlier time, or no session to avoid.
        sealed(format!("0.{}.{}.{}", parts[1], parts[2], parts[3])),
        sealed(format!("{}..{}.{}", parts[0], parts[2], parts[3])),
        // Moved: this signature on the other request, or on a plain one.
        sealed(format!(
            "{}.{}.{}.{}",
            parts[0], parts[1], other_parts[2], parts[3]
        )),
        format!("{plain}&{}", sealed(seal.clone())),
        // Cut, or with a parameter added beside it.
        sealed(format!("{}.{}.{}", parts[0], parts[1], parts[2])),
        format!("{}&prompt=none", sealed(seal.clone())),
        "reauth=garbage".to_string(),
    ];
    for q in &cases {
        for path in ["/authorize", "/consent"] {
            let r = app.get(&format!("{path}?{q}")).await;
            assert_eq!(r.status(), 400, "{path}?{q}");
            assert!(r.headers().get("location").is_none(), "{path}?{q}");
        }
        let r = post_allow(&app, q).await;
        assert_eq!(r.status(), 400, "consent post {q}");
    }
    // Signing in does not make an edited seal good.
    let edited = format!(
        "/authorize?{}",
        sealed(format!("0.{}.{}.{}", parts[1], parts[2], parts[3]))
    );
    let r = app.sign_in("alice", PASSWORD, &edited).await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.location(&edited).await.0, 400);
    // The untouched one, after that sign-in, answers.
    let (_, loc) = app.location(&next).await;
    let p = url_params(&loc, false);
    assert!(p.contains_key("code"), "{loc}");
    assert_eq!(p["state"], "first");
}

async fn oidc_core_3_1_2_1_signing_in_again_answers_with_the_new_sign_ins_auth_time(app: TestApp) {
    app.clock().freeze();
    let c = oidc_client(&app);
    let first = alice_consented(&app, &c).await;
    let first = first["auth_time"].as_i64().unwrap();
    for (extra, wait) in [
        (vec![("prompt", "login")], 30),
        (vec![("max_age", "0")], 30),
        (vec![("max_age", "20")], 25),
        // A consent page after the sign-in, posted with the sealed request.
        (vec![("prompt", "login consent"), ("nonce", "n-1")], 30),
    ] {
        app.clock().advance(wait);
        let (verifier, challenge) = pkce_pair();
        let mut params = vec![("scope", "openid")];
        params.extend_from_slice(&extra);
        let q = code_query(&c, &challenge, &params);
        let (_, loc) = app.location(&format!("/authorize?{q}")).await;
        let next = next_of(&loc);
        app.clock().advance(5);
        let signed_in_at = app.clock().now();
        let r = app.sign_in("alice", PASSWORD, &next).await;
        assert_eq!(r.headers()["location"], next.as_str(), "{extra:?}");
        let answer = app.authorize_and_allow(query_of(&next)).await;
        let p = url_params(&answer, false);
        let code = p
            .get("code")
            .unwrap_or_else(|| panic!("{extra:?}: {answer}"));
        assert_eq!(p["state"], "st-123");
        let r = app
            .exchange(&c, code, Some(&verifier), Some(REDIRECT))
            .await;
        let body: serde_json::Value = r.json().await.unwrap();
        let (_, claims) =
            verify_id_token(&app, body["id_token"].as_str().unwrap(), &c.client.id).await;
        assert_eq!(
            claims["auth_time"].as_i64().unwrap(),
            signed_in_at,
            "{extra:?}: auth_time is the new sign-in"
        );
        assert!(signed_in_at > first);
    }
}

async fn oidc_core_3_1_2_1_the_consent_page_judges_the_sign_in_as_authorize_does(app: TestApp) {
    app.clock().freeze();
    let c = oidc_client(&app);
    // Bob's ID token, then Alice signed in (and consented) here.
    app.user("bob", PASSWORD);
    assert_eq!(app.sign_in("bob", PASSWORD, "/account").await.status(), 303);
    let bob = code_flow(&app, &c, &[("scope", "openid")]).await;
    let bob_hint = bob["id_token"].as_str().unwrap().to_string();
    alice_consented(&app, &c).await;
    let (_, challenge) = pkce_pair();
    // A consent page made by hand from a prompt=login request: the
    // sign-in page first, sealed like /authorize's.
    let q = code_query(&c, &challenge, &[("scope", "openid"), ("prompt", "login")]);
    let next = no_code_but_the_sign_in_page(&app, &format!("/consent?{q}")).await;
    assert!(next.starts_with("/consent?reauth="), "{next}");
    let r = post_allow(&app, &q).await;
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login?"));
    // Another person's id_token_hint: login_required, as at /authorize.
    let q = code_query(
        &c,
        &challenge,
        &[("scope", "openid"), ("id_token_hint", &bob_hint)],
    );
    let (_, loc) = app.location(&format!("/consent?{q}")).await;
    assert_eq!(url_params(&loc, false)["error"], "login_required", "{loc}");
    let r = post_allow(&app, &q).await;
    let loc = r.headers()["location"].to_str().unwrap();
    assert_eq!(url_params(loc, false)["error"], "login_required", "{loc}");
    // The sealed consent page, after signing in again: shown, and allowed.
    let r = app.sign_in("alice", PASSWORD, &next).await;
    assert_eq!(r.headers()["location"], next.as_str());
    let r = app.decide(&next, "allow").await;
    let loc = r.headers()["location"].to_str().unwrap();
    assert!(url_params(loc, false).contains_key("code"), "{loc}");
}
