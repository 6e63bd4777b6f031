//! `grant_type=password` (RFC 6749 §4.3) and second factors: it cannot ask
//! for one, so a person who has one, or whom the factor policy
//! (`GATEHOUSE_MFA`) requires to have one, gets no tokens from a password
//! alone, and the answer is a wrong password's (it does not tell that the
//! password was right, nor does the throttle). Everyone else's tokens say
//! the sign-in was a password's (RFC 9068 §2.2.1, OIDC Core §2).

use crate::harness::factors::give_factor;
use crate::harness::{expect_error, TestApp, PASSWORD, USERNAME};
use gatehouse::registry::CreatedClient;

backend_tests!(
    rfc6749_4_3_2_a_person_with_a_second_factor_gets_no_tokens_from_a_password_alone,
    rfc9068_2_2_1_password_grant_tokens_say_the_sign_in_was_a_password,
);

async fn password(app: &TestApp, c: &CreatedClient, pw: &str) -> reqwest::Response {
    app.post_form_basic(
        "/token",
        c,
        &[
            ("grant_type", "password"),
            ("username", USERNAME),
            ("password", pw),
            ("scope", "read"),
        ],
    )
    .await
}

/// The `error_description` of an `invalid_grant`.
async fn refused(r: reqwest::Response) -> String {
    expect_error(r, 400, "invalid_grant").await["error_description"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn rfc6749_4_3_2_a_person_with_a_second_factor_gets_no_tokens_from_a_password_alone(
    app: TestApp,
) {
    let alice = app.alice();
    let c = app.password_client();
    give_factor(&app, &alice.id);
    let wrong = refused(password(&app, &c, "not her password").await).await;
    let right = refused(password(&app, &c, PASSWORD).await).await;
    assert_eq!(right, wrong, "the right password is not told apart");
    assert!(right.contains("two-step sign-in"), "{right}");
    // Counted as a failure like the wrong one: the throttle does not tell
    // either (a right password would have cleared the count).
    assert_eq!(app.throttle_failures("user:alice"), 2);
}

async fn rfc9068_2_2_1_password_grant_tokens_say_the_sign_in_was_a_password(app: TestApp) {
    app.alice();
    let c = app.password_client();
    let r = password(&app, &c, PASSWORD).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let at = app.verify_jwt(body["access_token"].as_str().unwrap()).await;
    assert_eq!(at["acr"], "urn:gatehouse:acr:pwd");
    assert_eq!(at["amr"], serde_json::json!(["pwd"]));
    // Kept on refresh.
    let r = app
        .post_form_basic(
            "/token",
            &c,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let at = app.verify_jwt(body["access_token"].as_str().unwrap()).await;
    assert_eq!(at["amr"], serde_json::json!(["pwd"]));
}

/// `GATEHOUSE_MFA=required`: even without a factor yet.
mod required {
    use super::*;

    backend_tests!(with |c| c.mfa = gatehouse::config::MfaPolicy::Required;
        rfc6749_4_3_2_gatehouse_mfa_required_refuses_a_password_alone,
    );

    async fn rfc6749_4_3_2_gatehouse_mfa_required_refuses_a_password_alone(app: TestApp) {
        app.alice();
        let c = app.password_client();
        let d = refused(password(&app, &c, PASSWORD).await).await;
        assert!(d.contains("wrong username or password"), "{d}");
    }
}
