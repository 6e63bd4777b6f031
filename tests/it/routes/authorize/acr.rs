//! A second factor at `/authorize`: `acr_values` (OpenID Connect Core
//! §3.1.2.1) asking for `urn:gatehouse:acr:mfa`, a person who has a
//! second factor, and the factor policy (`GATEHOUSE_MFA`). A session
//! signed in with a password alone gets no code (nor through the consent
//! page, shown or posted, nor the device page) until the person steps up
//! on `/login/factor` or sets a factor up on `/account`; the request
//! continues after either (sealed when it was); `prompt=none` answers
//! `interaction_required` (§3.1.2.6).

use crate::harness::factors::{give_factor, sessions_used_second_factor};
use crate::harness::oidc::{code_flow, oidc_client, verify_id_token};
use crate::harness::{
    code_query, form_field, next_of, pkce_pair, signed_in, url_params, TestApp, PASSWORD, REDIRECT,
    USERNAME,
};
use gatehouse::registry::CreatedClient;

const MFA: &str = "urn:gatehouse:acr:mfa";
const PWD: &str = "urn:gatehouse:acr:pwd";

backend_tests!(
    oidc_core_3_1_2_1_acr_values_mfa_without_a_factor_sets_one_up_before_any_code,
    oidc_core_3_1_2_1_a_person_with_a_second_factor_steps_up_before_any_code,
    oidc_core_3_1_2_6_prompt_none_needing_a_second_factor_is_interaction_required,
);

/// Alice signed in with her password, with consent given to `c` for
/// `openid` (so only a second factor can stand between a request and a
/// code). Returns her id.
async fn alice_consented(app: &TestApp, c: &CreatedClient) -> String {
    let alice = signed_in(app).await;
    code_flow(app, c, &[("scope", "openid")]).await;
    alice.id
}

/// `/authorize` for `c` with `scope=openid` and `extra`: the status and
/// `Location`, and the query sent.
async fn authorize(app: &TestApp, c: &CreatedClient, extra: &[(&str, &str)]) -> (String, String) {
    let (_, challenge) = pkce_pair();
    let mut params = vec![("scope", "openid")];
    params.extend_from_slice(extra);
    let q = code_query(c, &challenge, &params);
    let (status, loc) = app.location(&format!("/authorize?{q}")).await;
    assert_eq!(status, 303, "{loc}");
    (loc, q)
}

/// A redirect to `path` (`/login/factor` or `/account`): its parameters.
fn detour(loc: &str, path: &str) -> std::collections::HashMap<String, String> {
    assert!(
        loc.starts_with(&format!("{path}?")),
        "expected {path}, got {loc}"
    );
    url_params(&format!("http://x{loc}"), false)
}

/// Opens `path` (a continuation) and checks no code comes of it: the
/// detour to `to` again.
async fn still_no_code(app: &TestApp, path: &str, to: &str) {
    let (status, loc) = app.location(path).await;
    assert_eq!(status, 303, "{path} -> {loc}");
    assert!(!loc.starts_with(REDIRECT), "a code: {path} -> {loc}");
    detour(&loc, to);
}

/// Posts the consent form for `request`, allowing; returns where it sends.
async fn post_allow(app: &TestApp, request: &str) -> String {
    let html = app.get("/login").await.text().await.unwrap();
    let csrf = form_field(&html, "csrf_token").unwrap();
    let r = app
        .post_form(
            "/consent",
            &[
                ("csrf_token", csrf.as_str()),
                ("request", request),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    r.headers()["location"].to_str().unwrap().to_string()
}

/// The code of a redirect to the client.
fn code_of(loc: &str) -> String {
    assert!(loc.starts_with(REDIRECT), "expected a code, got {loc}");
    url_params(loc, false)
        .get("code")
        .unwrap_or_else(|| panic!("a code in {loc}"))
        .clone()
}

async fn oidc_core_3_1_2_1_acr_values_mfa_without_a_factor_sets_one_up_before_any_code(
    app: TestApp,
) {
    let c = oidc_client(&app);
    alice_consented(&app, &c).await;
    let (loc, q) = authorize(&app, &c, &[("acr_values", MFA)]).await;
    let p = detour(&loc, "/account");
    assert_eq!(p["enrol"], "app");
    assert_eq!(
        p["next"],
        format!("/authorize?{q}"),
        "the request comes back"
    );
    // Neither the continuation, nor the consent page, shown or posted,
    // gives a code.
    still_no_code(&app, &p["next"], "/account").await;
    still_no_code(&app, &format!("/consent?{q}"), "/account").await;
    detour(&post_allow(&app, &q).await, "/account");
    // The account page says an app asked, and links back to the request.
    let r = app.get(&loc).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"factor-asked\""), "{html}");
    assert!(html.contains("id=\"factor-continue\""), "{html}");
    assert!(html.contains("href=\"/authorize?"), "{html}");
    // A list that accepts a password alone (preferences, §3.1.2.1) is
    // answered, and the ID token says what the sign-in was.
    let both = format!("{MFA} {PWD}");
    let body = code_flow(
        &app,
        &c,
        &[("scope", "openid"), ("acr_values", both.as_str())],
    )
    .await;
    let (_, claims) = verify_id_token(&app, body["id_token"].as_str().unwrap(), &c.client.id).await;
    assert_eq!(claims["acr"], PWD);
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
}

async fn oidc_core_3_1_2_1_a_person_with_a_second_factor_steps_up_before_any_code(app: TestApp) {
    app.clock().freeze();
    let c = oidc_client(&app);
    let alice = alice_consented(&app, &c).await;
    // She sets up an authenticator app; her session is a password's.
    give_factor(&app, &alice);
    for extra in [vec![], vec![("acr_values", MFA)]] {
        let (loc, q) = authorize(&app, &c, &extra).await;
        let p = detour(&loc, "/login/factor");
        assert_eq!(
            p["next"],
            format!("/authorize?{q}"),
            "the request comes back"
        );
        still_no_code(&app, &p["next"], "/login/factor").await;
        still_no_code(&app, &format!("/consent?{q}"), "/login/factor").await;
        detour(&post_allow(&app, &q).await, "/login/factor");
    }
    // prompt=login: the password, then the second step, continuing to the
    // sealed request; the seal survives the detour and still gives no code
    // without the second factor.
    let (loc, _) = authorize(&app, &c, &[("prompt", "login")]).await;
    let sealed = next_of(&loc);
    assert!(sealed.starts_with("/authorize?reauth="), "{sealed}");
    let r = app.sign_in(USERNAME, PASSWORD, &sealed).await;
    assert_eq!(r.status(), 303);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(detour(&loc, "/login/factor")["next"], sealed);
    let (status, loc) = app.location(&sealed).await;
    assert_eq!(status, 303);
    assert!(!loc.starts_with(REDIRECT), "{loc}");

    // With the second factor used (as `/login/factor` records it), a code,
    // and tokens that say so: the ID token, the access token, and its
    // introspection (RFC 9068 §2.2.1, RFC 9470 §6.2).
    sessions_used_second_factor(&app, &alice);
    let body = code_flow(&app, &c, &[("scope", "openid"), ("acr_values", MFA)]).await;
    let (_, claims) = verify_id_token(&app, body["id_token"].as_str().unwrap(), &c.client.id).await;
    assert_eq!(claims["acr"], MFA);
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    let access = body["access_token"].as_str().unwrap();
    let at = app.verify_jwt(access).await;
    assert_eq!(at["acr"], MFA);
    assert_eq!(at["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    let seen = app.introspect(&app.introspector(), access).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["acr"], MFA);
    assert_eq!(seen["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(seen["auth_time"], at["auth_time"]);
}

async fn oidc_core_3_1_2_6_prompt_none_needing_a_second_factor_is_interaction_required(
    app: TestApp,
) {
    let c = oidc_client(&app);
    let alice = alice_consented(&app, &c).await;
    let interaction_required = |loc: &str| {
        let p = url_params(loc, false);
        assert!(loc.starts_with(REDIRECT), "{loc}");
        assert_eq!(p["error"], "interaction_required", "{loc}");
        assert_eq!(p["state"], "st-123");
        assert!(!p.contains_key("code"));
    };
    // No factor, an app asks for one.
    let (loc, _) = authorize(&app, &c, &[("prompt", "none"), ("acr_values", MFA)]).await;
    interaction_required(&loc);
    // Nothing asked: a password will do.
    let (loc, _) = authorize(&app, &c, &[("prompt", "none")]).await;
    code_of(&loc);
    // She has one, and signed in without it.
    give_factor(&app, &alice);
    let (loc, _) = authorize(&app, &c, &[("prompt", "none")]).await;
    interaction_required(&loc);
    sessions_used_second_factor(&app, &alice);
    let (loc, _) = authorize(&app, &c, &[("prompt", "none"), ("acr_values", MFA)]).await;
    code_of(&loc);
}

/// `GATEHOUSE_MFA=required`: nobody gets a code, a token or a device
/// approved on a password alone.
mod required {
    use super::*;
    use crate::harness::device::{device_client, enter_code, row, start};
    use crate::harness::str_of;

    backend_tests!(with |c| c.mfa = gatehouse::config::MfaPolicy::Required;
        gatehouse_mfa_required_gives_no_code_and_no_device_approval_before_enrolment,
    );

    async fn gatehouse_mfa_required_gives_no_code_and_no_device_approval_before_enrolment(
        app: TestApp,
    ) {
        let c = oidc_client(&app);
        let alice = signed_in(&app).await;
        let html = app.get("/account").await.text().await.unwrap();
        assert!(html.contains("id=\"factor-required\""), "{html}");
        let (loc, q) = authorize(&app, &c, &[]).await;
        let p = detour(&loc, "/account");
        assert_eq!(p["enrol"], "policy");
        still_no_code(&app, &p["next"], "/account").await;
        still_no_code(&app, &format!("/consent?{q}"), "/account").await;
        detour(&post_allow(&app, &q).await, "/account");
        let (loc, _) = authorize(&app, &c, &[("prompt", "none")]).await;
        assert_eq!(url_params(&loc, false)["error"], "interaction_required");

        // The device page: neither the consent form nor an approval.
        let d = device_client(&app, true, &[]);
        let started = start(&app, &d, None).await;
        let user_code = str_of(&started, "user_code");
        let r = enter_code(&app, user_code).await;
        assert_eq!(r.status(), 303);
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        assert!(detour(&loc, "/account")["next"].starts_with("/device?"));
        let html = app.get("/login").await.text().await.unwrap();
        let csrf = form_field(&html, "csrf_token").unwrap();
        let r = app
            .post_form(
                "/device",
                &[
                    ("csrf_token", csrf.as_str()),
                    ("user_code", user_code),
                    ("decision", "allow"),
                ],
            )
            .await;
        assert_eq!(r.status(), 303);
        let device_code = str_of(&started, "device_code");
        assert_eq!(row(&app, device_code).status, "pending");

        // Once she has a factor: the second step, not enrolment.
        give_factor(&app, &alice.id);
        let (loc, _) = authorize(&app, &c, &[]).await;
        detour(&loc, "/login/factor");
        let r = enter_code(&app, user_code).await;
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        assert!(detour(&loc, "/login/factor")["next"].starts_with("/device?"));
        // And with it used, the code, and the device approved with the
        // sign-in's methods.
        sessions_used_second_factor(&app, &alice.id);
        let body = code_flow(&app, &c, &[("scope", "openid")]).await;
        assert!(body["id_token"].is_string());
        let (status, _) = crate::harness::device::person_decides(&app, user_code, "allow").await;
        assert_eq!(status, 200);
        let approved = row(&app, device_code);
        assert_eq!(approved.status, "approved");
        assert_eq!(approved.amr.as_deref(), Some("pwd otp mfa"));
    }
}

/// `GATEHOUSE_MFA=admins`: admins only.
mod admins {
    use super::*;

    backend_tests!(with |c| c.mfa = gatehouse::config::MfaPolicy::Admins;
        gatehouse_mfa_admins_asks_admins_only,
    );

    async fn gatehouse_mfa_admins_asks_admins_only(app: TestApp) {
        let c = oidc_client(&app);
        signed_in(&app).await;
        // Alice is no admin: answered as ever.
        let body = code_flow(&app, &c, &[("scope", "openid")]).await;
        assert!(body["id_token"].is_string());
        // Made an admin: no code until she has a factor.
        let change = gatehouse::registry::UserChange {
            admin: Some(true),
            ..Default::default()
        };
        crate::harness::wait(app.state.registry().update_user(USERNAME, change)).unwrap();
        let (loc, _) = authorize(&app, &c, &[]).await;
        assert_eq!(detour(&loc, "/account")["enrol"], "policy");
    }
}
