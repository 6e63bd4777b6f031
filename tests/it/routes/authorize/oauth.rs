//! `GET/POST /authorize` (RFC 6749 §4.1, §4.2): the code flow with PKCE
//! (RFC 7636), the errors shown as a page or redirected to the client,
//! sign-in on the way, remembered consent, and the implicit grant for the
//! clients registered with it.

use crate::harness::{code_query, next_of, pkce_pair, signed_in, url_params, TestApp, REDIRECT};
use gatehouse::registry::NewClient;

backend_tests!(
    rfc6749_4_1_full_code_flow_with_pkce_issues_tokens,
    rfc6749_4_1_2_1_bad_client_or_redirect_uri_shows_a_page_and_never_redirects,
    rfc6749_4_1_2_1_other_errors_redirect_with_state_and_iss,
    rfc7636_4_4_1_plain_and_missing_pkce_are_refused,
    rfc6749_3_1_repeated_parameter_redirects_invalid_request,
    not_signed_in_goes_to_sign_in_and_continues,
    remembered_consent_skips_the_page_for_the_same_or_fewer_scopes,
    post_to_authorize_works_like_get,
    rfc6749_4_2_implicit_only_for_clients_registered_with_it,
);

async fn rfc6749_4_1_full_code_flow_with_pkce_issues_tokens(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (verifier, challenge) = pkce_pair();
    let loc = app
        .authorize_and_allow(&code_query(&c, &challenge, &[]))
        .await;
    assert!(loc.starts_with(REDIRECT), "{loc}");
    let p = url_params(&loc, false);
    assert_eq!(p["state"], "st-123");
    assert_eq!(p["iss"], app.base, "RFC 9207 iss");
    assert!(p["code"].len() >= 22, "≥128 bits");
    let r = app
        .exchange(&c, &p["code"], Some(&verifier), Some(REDIRECT))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "read");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["refresh_token"].as_str().unwrap().len() >= 22);
    let claims = app.verify_jwt(body["access_token"].as_str().unwrap()).await;
    let alice = app
        .state
        .store
        .conn()
        .unwrap()
        .find_user_by_username("alice")
        .unwrap()
        .unwrap();
    assert_eq!(
        claims["sub"],
        alice.id.as_str(),
        "sub is the user's stable id"
    );
    assert_eq!(claims["client_id"], c.client.id.as_str());
    assert!(claims["auth_time"].is_i64());
}

async fn rfc6749_4_1_2_1_bad_client_or_redirect_uri_shows_a_page_and_never_redirects(app: TestApp) {
    let c = app.web_client(false);
    let two = app.client(NewClient {
        name: "two".into(),
        grant_types: vec!["authorization_code".into()],
        redirect_uris: vec!["https://a.example/cb".into(), "https://b.example/cb".into()],
        scope: "read".into(),
        ..Default::default()
    });
    let (_, ch) = pkce_pair();
    for q in [
        code_query(&c, &ch, &[("client_id", "nope")]),
        code_query(&c, &ch, &[("client_id", "")]),
        code_query(&c, &ch, &[("redirect_uri", "https://evil.example/cb")]),
        code_query(&c, &ch, &[("redirect_uri", "https://app.example/cb/extra")]),
        code_query(&c, &ch, &[("redirect_uri", "https://app.example/CB")]),
        code_query(&two, &ch, &[("redirect_uri", "")]),
    ] {
        let r = app.get(&format!("/authorize?{q}")).await;
        assert_eq!(r.status(), 400, "{q}");
        assert!(r.headers().get("location").is_none(), "{q}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
    // Omitted redirect_uri is fine with exactly one registered.
    signed_in(&app).await;
    let (status, loc) = app
        .location(&format!(
            "/authorize?{}",
            code_query(&c, &ch, &[("redirect_uri", "")])
        ))
        .await;
    assert_eq!(status, 303);
    assert!(loc.starts_with("/consent?"), "{loc}");
}

async fn rfc6749_4_1_2_1_other_errors_redirect_with_state_and_iss(app: TestApp) {
    let c = app.web_client(false);
    let (_, ch) = pkce_pair();
    for (extra, code) in [
        (
            vec![("response_type", "magic")],
            "unsupported_response_type",
        ),
        (vec![("response_type", "")], "invalid_request"),
        (vec![("scope", "read admin")], "invalid_scope"),
        (vec![("response_type", "token")], "unauthorized_client"),
    ] {
        let (status, loc) = app
            .location(&format!("/authorize?{}", code_query(&c, &ch, &extra)))
            .await;
        assert_eq!(status, 303, "{extra:?}");
        let fragment = extra.contains(&("response_type", "token"));
        assert!(loc.starts_with(REDIRECT), "{loc}");
        let p = url_params(&loc, fragment);
        assert_eq!(p["error"], code, "{extra:?}: {loc}");
        assert_eq!(p["state"], "st-123");
        assert_eq!(p["iss"], app.base);
        assert!(p.contains_key("error_description"));
    }
}

async fn rfc7636_4_4_1_plain_and_missing_pkce_are_refused(app: TestApp) {
    let public = app.web_client(true);
    let (_, ch) = pkce_pair();
    let (_, loc) = app
        .location(&format!(
            "/authorize?{}",
            code_query(&public, &ch, &[("code_challenge_method", "plain")])
        ))
        .await;
    assert_eq!(url_params(&loc, false)["error"], "invalid_request");
    let (_, loc) = app
        .location(&format!(
            "/authorize?{}",
            code_query(
                &public,
                &ch,
                &[("code_challenge", ""), ("code_challenge_method", "")]
            )
        ))
        .await;
    assert_eq!(
        url_params(&loc, false)["error"],
        "invalid_request",
        "public clients must use PKCE"
    );
    let (_, loc) = app
        .location(&format!(
            "/authorize?{}",
            code_query(&public, "tooshort", &[])
        ))
        .await;
    assert_eq!(url_params(&loc, false)["error"], "invalid_request");
}

async fn rfc6749_3_1_repeated_parameter_redirects_invalid_request(app: TestApp) {
    let c = app.web_client(false);
    let (_, ch) = pkce_pair();
    let q = format!("{}&scope=write", code_query(&c, &ch, &[]));
    let (status, loc) = app.location(&format!("/authorize?{q}")).await;
    assert_eq!(status, 303);
    assert_eq!(url_params(&loc, false)["error"], "invalid_request");
}

async fn not_signed_in_goes_to_sign_in_and_continues(app: TestApp) {
    let c = app.web_client(false);
    app.user("alice", "correct horse");
    let (_, ch) = pkce_pair();
    let q = code_query(&c, &ch, &[]);
    let (status, loc) = app.location(&format!("/authorize?{q}")).await;
    assert_eq!(status, 303);
    assert!(loc.starts_with("/login?next="), "{loc}");
    let next = next_of(&loc);
    assert!(next.starts_with("/authorize?"));
    let r = app.sign_in("alice", "correct horse", &next).await;
    assert_eq!(r.status(), 303);
    let back = r.headers()["location"].to_str().unwrap().to_string();
    let (status, loc) = app.location(&back).await;
    assert_eq!(status, 303);
    assert!(loc.starts_with("/consent?"), "{loc}");
}

async fn remembered_consent_skips_the_page_for_the_same_or_fewer_scopes(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (_, ch) = pkce_pair();
    app.authorize_and_allow(&code_query(&c, &ch, &[("scope", "read write")]))
        .await;
    let (_, loc) = app
        .location(&format!(
            "/authorize?{}",
            code_query(&c, &ch, &[("scope", "read")])
        ))
        .await;
    assert!(loc.starts_with(REDIRECT), "fewer scopes: no page: {loc}");
    let other = app.client(NewClient {
        name: "Other".into(),
        grant_types: vec!["authorization_code".into()],
        redirect_uris: vec![REDIRECT.into()],
        scope: "read write".into(),
        ..Default::default()
    });
    let (_, loc) = app
        .location(&format!(
            "/authorize?{}",
            code_query(&other, &ch, &[("scope", "read")])
        ))
        .await;
    assert!(loc.starts_with("/consent?"), "consent is per client: {loc}");
}

async fn post_to_authorize_works_like_get(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (_, ch) = pkce_pair();
    let q = code_query(&c, &ch, &[]);
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
        .into_owned()
        .collect();
    let r = app
        .http
        .post(app.url("/authorize"))
        .form(&pairs)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/consent?"));
}

async fn rfc6749_4_2_implicit_only_for_clients_registered_with_it(app: TestApp) {
    let meta = app.metadata().await;
    assert_eq!(
        meta["response_types_supported"],
        serde_json::json!(["code"])
    );
    let c = app.client(NewClient {
        name: "Legacy SPA".into(),
        grant_types: vec!["implicit".into()],
        redirect_uris: vec![REDIRECT.into()],
        scope: "read".into(),
        public: true,
        ..Default::default()
    });
    // Never advertised (RFC 9700 §2.1.2: implicit SHOULD NOT be used); the
    // client knows it has it.
    let meta = app.metadata().await;
    assert_eq!(
        meta["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert!(!meta["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&"implicit".into()));
    signed_in(&app).await;
    let q = serde_urlencoded::to_string([
        ("response_type", "token"),
        ("client_id", &c.client.id),
        ("state", "s1"),
        ("scope", "read"),
    ])
    .unwrap();
    let loc = app.authorize_and_allow(&q).await;
    // §4.2.2: the token travels in the fragment, never the query.
    assert!(url::Url::parse(&loc).unwrap().query().is_none(), "{loc}");
    let p = url_params(&loc, true);
    assert_eq!(p["token_type"], "Bearer");
    assert_eq!(p["state"], "s1");
    assert!(!p.contains_key("refresh_token"), "§4.2.2: no refresh token");
    app.verify_jwt(&p["access_token"]).await;
    // A code client asking for a token gets unauthorized_client in the fragment.
    let web = app.web_client(false);
    let q = serde_urlencoded::to_string([
        ("response_type", "token"),
        ("client_id", &web.client.id),
        ("state", "s2"),
    ])
    .unwrap();
    let (_, loc) = app.location(&format!("/authorize?{q}")).await;
    assert_eq!(url_params(&loc, true)["error"], "unauthorized_client");
}
