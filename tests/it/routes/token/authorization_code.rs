//! The code exchange at `POST /token` (RFC 6749 §4.1.3, RFC 7636 §4.6):
//! single use, expiry, the verifier, the redirect URI, the client.

use crate::harness::{
    code_query, expect_error, issued_rows, pkce_pair, signed_in, url_params, TestApp, REDIRECT,
};

backend_tests!(
    rfc6749_4_1_2_used_code_is_refused_and_its_tokens_revoked,
    rfc6749_4_1_2_code_sent_eight_times_at_once_issues_once_then_is_revoked,
    rfc6749_4_1_2_expired_code_is_invalid_grant,
    rfc7636_4_6_wrong_or_missing_verifier_is_invalid_grant,
    rfc9700_2_1_1_verifier_without_challenge_is_invalid_grant,
    rfc6749_4_1_3_redirect_uri_must_repeat_and_match,
    rfc6749_4_1_3_code_of_another_client_is_invalid_grant,
    public_client_exchanges_with_client_id_only,
);

async fn rfc6749_4_1_2_used_code_is_refused_and_its_tokens_revoked(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (verifier, ch) = pkce_pair();
    let loc = app.authorize_and_allow(&code_query(&c, &ch, &[])).await;
    let code = url_params(&loc, false)["code"].clone();
    let first: serde_json::Value = app
        .exchange(&c, &code, Some(&verifier), Some(REDIRECT))
        .await
        .json()
        .await
        .unwrap();
    let claims = app
        .verify_jwt(first["access_token"].as_str().unwrap())
        .await;
    let second = app
        .exchange(&c, &code, Some(&verifier), Some(REDIRECT))
        .await;
    expect_error(second, 400, "invalid_grant").await;
    let jti = claims["jti"].as_str().unwrap();
    let refresh = app
        .refresh(&c, first["refresh_token"].as_str().unwrap())
        .await;
    expect_error(refresh, 400, "invalid_grant").await;
    assert!(
        app.state
            .store
            .conn()
            .unwrap()
            .is_access_token_revoked(jti)
            .unwrap(),
        "the first access token is revoked"
    );
}

/// The same code in eight requests at once: exactly one exchange wins,
/// the other seven are uses of a spent code, so what the winner got is
/// revoked too. (The narrower race the grant handles, a PostgreSQL loser
/// reading the row before the winner commits, depends on timing and is
/// seldom hit by this test.)
async fn rfc6749_4_1_2_code_sent_eight_times_at_once_issues_once_then_is_revoked(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (verifier, ch) = pkce_pair();
    let loc = app.authorize_and_allow(&code_query(&c, &ch, &[])).await;
    let code = url_params(&loc, false)["code"].clone();
    let requests = (0..8).map(|_| async {
        let r = app
            .exchange(&c, &code, Some(&verifier), Some(REDIRECT))
            .await;
        let status = r.status().as_u16();
        (status, r.json::<serde_json::Value>().await.unwrap())
    });
    let results = futures_util::future::join_all(requests).await;
    let won: Vec<_> = results.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    for (s, body) in results.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(
            (*s, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{body}"
        );
    }
    let won = &won[0].1;
    let claims = app.verify_jwt(won["access_token"].as_str().unwrap()).await;
    assert!(
        app.state
            .store
            .conn()
            .unwrap()
            .is_access_token_revoked(claims["jti"].as_str().unwrap())
            .unwrap(),
        "the winner's access token is revoked"
    );
    let refresh = app
        .refresh(&c, won["refresh_token"].as_str().unwrap())
        .await;
    expect_error(refresh, 400, "invalid_grant").await;
}

async fn rfc6749_4_1_2_expired_code_is_invalid_grant(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (verifier, ch) = pkce_pair();
    let loc = app.authorize_and_allow(&code_query(&c, &ch, &[])).await;
    app.clock().advance(app.state.config.auth_code_ttl + 1);
    let r = app
        .exchange(
            &c,
            &url_params(&loc, false)["code"],
            Some(&verifier),
            Some(REDIRECT),
        )
        .await;
    expect_error(r, 400, "invalid_grant").await;
}

async fn rfc7636_4_6_wrong_or_missing_verifier_is_invalid_grant(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (_, ch) = pkce_pair();
    let (other_verifier, _) = pkce_pair();
    let loc = app.authorize_and_allow(&code_query(&c, &ch, &[])).await;
    let r = app
        .exchange(
            &c,
            &url_params(&loc, false)["code"],
            Some(&other_verifier),
            Some(REDIRECT),
        )
        .await;
    expect_error(r, 400, "invalid_grant").await;
    let loc = app.authorize_and_allow(&code_query(&c, &ch, &[])).await;
    let r = app
        .exchange(&c, &url_params(&loc, false)["code"], None, Some(REDIRECT))
        .await;
    expect_error(r, 400, "invalid_grant").await;
}

async fn rfc9700_2_1_1_verifier_without_challenge_is_invalid_grant(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (verifier, _) = pkce_pair();
    let q = code_query(
        &c,
        "",
        &[("code_challenge", ""), ("code_challenge_method", "")],
    );
    let loc = app.authorize_and_allow(&q).await;
    let code = url_params(&loc, false)["code"].clone();
    let r = app
        .exchange(&c, &code, Some(&verifier), Some(REDIRECT))
        .await;
    expect_error(r, 400, "invalid_grant").await;
}

async fn rfc6749_4_1_3_redirect_uri_must_repeat_and_match(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (verifier, ch) = pkce_pair();
    let loc = app.authorize_and_allow(&code_query(&c, &ch, &[])).await;
    let r = app
        .exchange(&c, &url_params(&loc, false)["code"], Some(&verifier), None)
        .await;
    expect_error(r, 400, "invalid_grant").await;
    let loc = app.authorize_and_allow(&code_query(&c, &ch, &[])).await;
    let r = app
        .exchange(
            &c,
            &url_params(&loc, false)["code"],
            Some(&verifier),
            Some("https://app.example/other"),
        )
        .await;
    expect_error(r, 400, "invalid_grant").await;
}

async fn rfc6749_4_1_3_code_of_another_client_is_invalid_grant(app: TestApp) {
    let c = app.web_client(false);
    let thief = app.web_client(false);
    signed_in(&app).await;
    let (verifier, ch) = pkce_pair();
    let loc = app.authorize_and_allow(&code_query(&c, &ch, &[])).await;
    let code = url_params(&loc, false)["code"].clone();
    let before = issued_rows(&app);
    let r = app
        .exchange(&thief, &code, Some(&verifier), Some(REDIRECT))
        .await;
    expect_error(r, 400, "invalid_grant").await;
    // The exchange writes what it issues before the rules judge the code;
    // the refusal rolled all of it back (and the code's spend).
    assert_eq!(
        issued_rows(&app),
        before,
        "a refused exchange writes nothing"
    );
    // The rightful client can still redeem it.
    let r = app
        .exchange(&c, &code, Some(&verifier), Some(REDIRECT))
        .await;
    assert_eq!(r.status(), 200);
    // A family, its first token, the access token's record.
    assert_eq!(issued_rows(&app), before.map(|n| n + 1));
}

async fn public_client_exchanges_with_client_id_only(app: TestApp) {
    let c = app.web_client(true);
    signed_in(&app).await;
    let (verifier, ch) = pkce_pair();
    let loc = app.authorize_and_allow(&code_query(&c, &ch, &[])).await;
    let r = app
        .exchange(
            &c,
            &url_params(&loc, false)["code"],
            Some(&verifier),
            Some(REDIRECT),
        )
        .await;
    assert_eq!(r.status(), 200);
}
