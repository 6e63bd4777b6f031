//! RFC 8628 device authorization grant: `POST /device_authorization`, the
//! device page a person uses, polling `POST /token`, and the sample client
//! `examples/device_login.rs`.

use crate::harness::{count_status, expect_error, form_field, TestApp};
use gatehouse::admin::{CreatedClient, NewClient};
use gatehouse::crypto::token_hash;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const PASSWORD: &str = "correct horse";

backend_tests!(
    rfc8628_3_2_response_has_codes_uris_lifetime_and_interval,
    rfc8628_3_2_device_code_is_stored_only_hashed,
    rfc8628_3_1_public_client_sends_client_id,
    rfc8628_3_1_confidential_client_must_authenticate,
    rfc8628_3_1_client_without_the_grant_is_unauthorized_client,
    rfc8628_3_1_scope_beyond_the_clients_is_invalid_scope,
    rfc8628_3_5_authorization_pending_until_the_user_decides,
    rfc8628_3_5_slow_down_grows_the_interval_by_5_seconds,
    rfc8628_3_5_expired_token,
    rfc8628_3_5_access_denied_after_the_user_denies,
    rfc8628_3_5_tokens_once_then_invalid_grant,
    rfc8628_3_5_concurrent_polls_get_tokens_exactly_once,
    rfc8628_3_4_device_code_of_another_client_is_invalid_grant,
    rfc8628_3_4_unknown_or_missing_device_code,
    rfc8414_metadata_advertises_the_device_flow,
    device_page_flow_signs_in_and_allows,
    device_page_signed_in_user_goes_straight_to_consent,
    device_page_prefills_and_normalises_the_code,
    device_page_wrong_expired_and_used_codes_have_clear_messages,
    device_page_post_without_csrf_is_403_and_changes_nothing,
    rfc8628_5_1_code_entry_is_throttled_per_browser_and_address,
    user_disabled_after_approving_gets_no_tokens,
    rfc8628_5_1_a_burst_of_wrong_codes_gets_no_more_checked_and_loses_no_failure,
);

/// On a server whose devices poll every second, so the sample client
/// (which really sleeps) finishes quickly.
mod with_fast_polling {
    use super::*;

    backend_tests!(with super::fast_polling;
        sample_client_gets_tokens_while_a_person_approves,
        sample_client_reports_a_denial,
    );
}

fn fast_polling(cfg: &mut gatehouse::Config) {
    cfg.device_interval = 1;
}

// ---- helpers ----------------------------------------------------------

/// A device client with scopes "read write"; `grants` besides the device
/// grant (e.g. refresh_token).
fn device_client(app: &TestApp, public: bool, extra: &[&str]) -> CreatedClient {
    let mut grants = vec![GRANT.to_string()];
    grants.extend(extra.iter().map(|g| g.to_string()));
    app.client(NewClient {
        name: "Living-room TV".into(),
        grant_types: grants,
        scope: "read write".into(),
        public,
        ..Default::default()
    })
}

/// POSTs as the client: Basic for a confidential one, `client_id` for a
/// public one.
async fn post_as(
    app: &TestApp,
    path: &str,
    client: &CreatedClient,
    form: &[(&str, &str)],
) -> reqwest::Response {
    if client.secret.is_some() {
        app.post_form_basic(path, client, form).await
    } else {
        let mut f = form.to_vec();
        f.push(("client_id", &client.client.id));
        app.post_form(path, &f).await
    }
}

/// Starts the flow; returns the §3.2 response.
async fn start(app: &TestApp, client: &CreatedClient, scope: Option<&str>) -> serde_json::Value {
    let form: Vec<(&str, &str)> = scope.map(|s| ("scope", s)).into_iter().collect();
    let r = post_as(app, "/device_authorization", client, &form).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    r.json().await.unwrap()
}

async fn poll(app: &TestApp, client: &CreatedClient, device_code: &str) -> reqwest::Response {
    post_as(
        app,
        "/token",
        client,
        &[("grant_type", GRANT), ("device_code", device_code)],
    )
    .await
}

fn str_of<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// The stored row for a device code.
fn row(app: &TestApp, device_code: &str) -> gatehouse::store::models::device_code::DeviceCode {
    let mut c = app.state.store.conn().unwrap();
    c.find_device_code(&token_hash(device_code))
        .unwrap()
        .expect("device code stored")
}

/// Loads `path` and returns its HTML and CSRF token.
async fn page(app: &TestApp, path: &str) -> (u16, String, String) {
    let r = app.get(path).await;
    let status = r.status().as_u16();
    let html = r.text().await.unwrap();
    let csrf = form_field(&html, "csrf_token").unwrap_or_default();
    (status, html, csrf)
}

/// Posts the device entry form as a browser would (CSRF token from the page).
async fn enter_code(app: &TestApp, user_code: &str) -> reqwest::Response {
    let (_, _, csrf) = page(app, "/device").await;
    app.post_form(
        "/device",
        &[("csrf_token", &csrf), ("user_code", user_code)],
    )
    .await
}

/// A person with a signed-in browser enters the code and decides; returns
/// the final page.
async fn person_decides(app: &TestApp, user_code: &str, decision: &str) -> (u16, String) {
    let r = enter_code(app, user_code).await;
    assert_eq!(r.status(), 200, "the consent form");
    let html = r.text().await.unwrap();
    let csrf = form_field(&html, "csrf_token").unwrap();
    let code = form_field(&html, "user_code").unwrap();
    let r = app
        .post_form(
            "/device",
            &[
                ("csrf_token", &csrf),
                ("user_code", &code),
                ("decision", decision),
            ],
        )
        .await;
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn signed_in_person(app: &TestApp) -> gatehouse::store::models::User {
    let u = app.user("alice", PASSWORD);
    assert_eq!(
        app.sign_in("alice", PASSWORD, "/device").await.status(),
        303
    );
    u
}

// ---- POST /device_authorization -----------------------------------------

async fn rfc8628_3_2_response_has_codes_uris_lifetime_and_interval(app: TestApp) {
    let c = device_client(&app, true, &[]);
    let body = start(&app, &c, Some("read")).await;
    // §3.2: device_code, user_code, verification_uri, expires_in REQUIRED.
    assert!(str_of(&body, "device_code").len() >= 43, "≥ 256 bits");
    let user_code = str_of(&body, "user_code");
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert!(user_code
        .chars()
        .filter(|c| *c != '-')
        .all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)));
    assert_eq!(body["verification_uri"], app.url("/device"));
    assert_eq!(
        body["verification_uri_complete"],
        format!("{}?user_code={user_code}", app.url("/device"))
    );
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["interval"], 5);
    // Codes are random.
    let again = start(&app, &c, None).await;
    assert_ne!(again["device_code"], body["device_code"]);
    assert_ne!(again["user_code"], body["user_code"]);
}

async fn rfc8628_3_2_device_code_is_stored_only_hashed(app: TestApp) {
    let c = device_client(&app, true, &[]);
    let body = start(&app, &c, Some("write")).await;
    let device_code = str_of(&body, "device_code");
    let stored = row(&app, device_code);
    assert_ne!(stored.device_code_hash, device_code);
    assert_eq!(
        stored.user_code,
        str_of(&body, "user_code").replace('-', "")
    );
    assert_eq!(stored.scope, "write");
    assert_eq!(stored.status, "pending");
    assert_eq!(stored.poll_interval, 5);
    assert_eq!(stored.expires_at - stored.created_at, 600);
    let dump = format!("{stored:?}");
    assert!(!dump.contains(device_code));
}

async fn rfc8628_3_1_public_client_sends_client_id(app: TestApp) {
    let c = device_client(&app, true, &[]);
    let body = start(&app, &c, None).await;
    // No scope asked: the client's scope.
    assert_eq!(row(&app, str_of(&body, "device_code")).scope, "read write");
    // A public client that sends a secret is refused.
    let r = app
        .post_form(
            "/device_authorization",
            &[("client_id", &c.client.id), ("client_secret", "guess")],
        )
        .await;
    expect_error(r, 401, "invalid_client").await;
}

async fn rfc8628_3_1_confidential_client_must_authenticate(app: TestApp) {
    let c = device_client(&app, false, &[]);
    start(&app, &c, None).await;
    let r = app
        .post_form("/device_authorization", &[("client_id", &c.client.id)])
        .await;
    expect_error(r, 401, "invalid_client").await;
    let r = app
        .post_form(
            "/device_authorization",
            &[("client_id", &c.client.id), ("client_secret", "wrong")],
        )
        .await;
    let r_headers = r.headers().clone();
    expect_error(r, 401, "invalid_client").await;
    assert!(r_headers.contains_key("www-authenticate"));
    let r = app.post_form("/device_authorization", &[]).await;
    expect_error(r, 401, "invalid_client").await;
}

async fn rfc8628_3_1_client_without_the_grant_is_unauthorized_client(app: TestApp) {
    let svc = app.service_client();
    let r = app
        .post_form_basic("/device_authorization", &svc, &[])
        .await;
    expect_error(r, 400, "unauthorized_client").await;
    // Nor may it poll with a device code issued to someone else.
    let tv = device_client(&app, true, &[]);
    let body = start(&app, &tv, None).await;
    let r = poll(&app, &svc, str_of(&body, "device_code")).await;
    expect_error(r, 400, "unauthorized_client").await;
}

async fn rfc8628_3_1_scope_beyond_the_clients_is_invalid_scope(app: TestApp) {
    let c = device_client(&app, true, &[]);
    let r = post_as(
        &app,
        "/device_authorization",
        &c,
        &[("scope", "read admin")],
    )
    .await;
    let body = expect_error(r, 400, "invalid_scope").await;
    // Described in gatehouse's words, never quoting the request (§5.2).
    assert!(!body["error_description"]
        .as_str()
        .unwrap()
        .contains("admin"));
}

// ---- polling (§3.4–3.5) -----------------------------------------------

async fn rfc8628_3_5_authorization_pending_until_the_user_decides(app: TestApp) {
    let c = device_client(&app, true, &[]);
    let body = start(&app, &c, None).await;
    let dc = str_of(&body, "device_code");
    for _ in 0..3 {
        expect_error(poll(&app, &c, dc).await, 400, "authorization_pending").await;
        app.clock().advance(5);
    }
    assert_eq!(row(&app, dc).poll_interval, 5, "polite polls keep 5 s");
}

async fn rfc8628_3_5_slow_down_grows_the_interval_by_5_seconds(app: TestApp) {
    let c = device_client(&app, true, &[]);
    let body = start(&app, &c, None).await;
    let dc = str_of(&body, "device_code");
    expect_error(poll(&app, &c, dc).await, 400, "authorization_pending").await;
    // Too soon: slow_down, and the interval is now 10 s…
    expect_error(poll(&app, &c, dc).await, 400, "slow_down").await;
    assert_eq!(row(&app, dc).poll_interval, 10);
    // …so 6 s later is still too soon: 15 s.
    app.clock().advance(6);
    expect_error(poll(&app, &c, dc).await, 400, "slow_down").await;
    assert_eq!(row(&app, dc).poll_interval, 15);
    // Keeping the new interval is fine, and it stays (persisted).
    app.clock().advance(15);
    expect_error(poll(&app, &c, dc).await, 400, "authorization_pending").await;
    app.clock().advance(10);
    expect_error(poll(&app, &c, dc).await, 400, "slow_down").await;
    assert_eq!(row(&app, dc).poll_interval, 20);
    app.clock().advance(20);
    expect_error(poll(&app, &c, dc).await, 400, "authorization_pending").await;
    // An approved code is not "pending": its tokens come however soon.
    signed_in_person(&app).await;
    let (status, _) = person_decides(&app, str_of(&body, "user_code"), "allow").await;
    assert_eq!(status, 200);
    assert_eq!(poll(&app, &c, dc).await.status(), 200);
}

async fn rfc8628_3_5_expired_token(app: TestApp) {
    let c = device_client(&app, true, &[]);
    let pending = start(&app, &c, None).await;
    let approved = start(&app, &c, None).await;
    signed_in_person(&app).await;
    let (status, _) = person_decides(&app, str_of(&approved, "user_code"), "allow").await;
    assert_eq!(status, 200);
    app.clock().advance(600);
    for body in [&pending, &approved] {
        let r = poll(&app, &c, str_of(body, "device_code")).await;
        expect_error(r, 400, "expired_token").await;
    }
}

async fn rfc8628_3_5_access_denied_after_the_user_denies(app: TestApp) {
    let c = device_client(&app, true, &[]);
    let body = start(&app, &c, Some("read")).await;
    let user = signed_in_person(&app).await;
    let (status, html) = person_decides(&app, str_of(&body, "user_code"), "deny").await;
    assert_eq!(status, 200);
    assert!(html.contains("Request denied"), "{html}");
    let dc = str_of(&body, "device_code");
    expect_error(poll(&app, &c, dc).await, 400, "access_denied").await;
    app.clock().advance(5);
    expect_error(poll(&app, &c, dc).await, 400, "access_denied").await;
    // No consent was recorded.
    let mut conn = app.state.store.conn().unwrap();
    assert!(conn.find_consent(&user.id, &c.client.id).unwrap().is_none());
}

async fn rfc8628_3_5_tokens_once_then_invalid_grant(app: TestApp) {
    let c = device_client(&app, false, &["refresh_token"]);
    let body = start(&app, &c, Some("read")).await;
    let user = signed_in_person(&app).await;
    person_decides(&app, str_of(&body, "user_code"), "allow").await;
    let dc = str_of(&body, "device_code");
    let r = poll(&app, &c, dc).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let tokens: serde_json::Value = r.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "read");
    assert!(str_of(&tokens, "refresh_token").len() >= 43);
    let claims = app.verify_jwt(str_of(&tokens, "access_token")).await;
    assert_eq!(claims["sub"], user.id, "sub is the user's id");
    assert_eq!(claims["client_id"], c.client.id);
    assert_eq!(claims["scope"], "read");
    // Spent.
    assert_eq!(row(&app, dc).status, "spent");
    app.clock().advance(5);
    expect_error(poll(&app, &c, dc).await, 400, "invalid_grant").await;
    // The refresh token is stored hashed in a family for this user.
    {
        use diesel::prelude::*;
        use gatehouse::store::schema::{refresh_families, refresh_tokens};
        let mut conn = app.state.store.conn().unwrap();
        let hash = token_hash(str_of(&tokens, "refresh_token"));
        let owner: Option<String> = db!(conn, cx => refresh_tokens::table
            .inner_join(refresh_families::table)
            .filter(refresh_tokens::token_hash.eq(&hash))
            .select(refresh_families::user_id)
            .first(cx))
        .unwrap();
        assert_eq!(owner.as_deref(), Some(user.id.as_str()));
    }
    // Without the refresh_token grant, no refresh token.
    let plain = device_client(&app, true, &[]);
    let body = start(&app, &plain, None).await;
    person_decides(&app, str_of(&body, "user_code"), "allow").await;
    let tokens: serde_json::Value = poll(&app, &plain, str_of(&body, "device_code"))
        .await
        .json()
        .await
        .unwrap();
    assert!(tokens["access_token"].is_string());
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
}

async fn rfc8628_3_5_concurrent_polls_get_tokens_exactly_once(app: TestApp) {
    let c = device_client(&app, true, &["refresh_token"]);
    let body = start(&app, &c, None).await;
    signed_in_person(&app).await;
    person_decides(&app, str_of(&body, "user_code"), "allow").await;
    let dc = str_of(&body, "device_code");
    let polls = (0..8).map(|_| poll(&app, &c, dc));
    let answers = futures_util::future::join_all(polls).await;
    let mut ok = 0;
    for r in answers {
        if r.status() == 200 {
            ok += 1;
        } else {
            expect_error(r, 400, "invalid_grant").await;
        }
    }
    assert_eq!(ok, 1, "exactly one poll gets tokens");
    let mut conn = app.state.store.conn().unwrap();
    use diesel::prelude::*;
    use gatehouse::store::schema::refresh_families;
    let families: i64 = db!(conn, cx => refresh_families::table
        .filter(refresh_families::client_id.eq(&c.client.id))
        .count()
        .get_result(cx))
    .unwrap();
    assert_eq!(families, 1, "one refresh token family");
}

async fn rfc8628_3_4_device_code_of_another_client_is_invalid_grant(app: TestApp) {
    let owner = device_client(&app, true, &[]);
    let thief = device_client(&app, true, &[]);
    let body = start(&app, &owner, None).await;
    signed_in_person(&app).await;
    person_decides(&app, str_of(&body, "user_code"), "allow").await;
    let dc = str_of(&body, "device_code");
    expect_error(poll(&app, &thief, dc).await, 400, "invalid_grant").await;
    // The owner still gets its tokens.
    assert_eq!(poll(&app, &owner, dc).await.status(), 200);
}

async fn rfc8628_3_4_unknown_or_missing_device_code(app: TestApp) {
    let c = device_client(&app, true, &[]);
    expect_error(poll(&app, &c, "not-a-code").await, 400, "invalid_grant").await;
    let r = post_as(&app, "/token", &c, &[("grant_type", GRANT)]).await;
    expect_error(r, 400, "invalid_request").await;
}

async fn rfc8414_metadata_advertises_the_device_flow(app: TestApp) {
    let doc: serde_json::Value = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["device_authorization_endpoint"],
        app.url("/device_authorization")
    );
    let grants = doc["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&GRANT.into()), "{grants:?}");
}

// ---- the device page (§3.3) ---------------------------------------------

async fn device_page_flow_signs_in_and_allows(app: TestApp) {
    let user = app.user("alice", PASSWORD);
    let c = device_client(&app, true, &["refresh_token"]);
    let body = start(&app, &c, Some("read write")).await;
    let user_code = str_of(&body, "user_code");
    let dc = str_of(&body, "device_code");

    // The person opens verification_uri_complete: the code is filled in.
    let complete = str_of(&body, "verification_uri_complete");
    let (status, html, csrf) = page(&app, complete.trim_start_matches(&app.base)).await;
    assert_eq!(status, 200);
    assert_eq!(form_field(&html, "user_code").as_deref(), Some(user_code));
    assert!(html.contains("<label for=\"user_code\">"));

    // Continue: not signed in yet, so to the sign-in page and back.
    let r = app
        .post_form(
            "/device",
            &[("csrf_token", &csrf), ("user_code", user_code)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let next = format!("/device?user_code={user_code}&step=consent");
    let want: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    assert_eq!(r.headers()["location"], format!("/login?next={want}"));
    let login = r.headers()["location"].to_str().unwrap().to_string();
    let (_, html, csrf) = page(&app, &login).await;
    // (`form_field` leaves Askama's `&#38;` as it is; a browser decodes it.)
    let posted_next = form_field(&html, "next").unwrap().replace("&#38;", "&");
    assert_eq!(posted_next, next);
    let r = app
        .post_form(
            "/login",
            &[
                ("csrf_token", &csrf),
                ("next", &next),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], next.as_str());

    // Still pending while the person reads the consent form.
    expect_error(poll(&app, &c, dc).await, 400, "authorization_pending").await;

    // The consent form: client, scopes, code to compare, warning, sign-out.
    let (status, html, csrf) = page(&app, &next).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Living-room TV"));
    assert!(html.contains("Read your data <code>read</code>"));
    assert!(html.contains("Change your data <code>write</code>"));
    assert!(html.contains(user_code), "the code to compare");
    assert!(html.contains("class=\"warning\""));
    assert!(html.contains("your own device"));
    assert!(html.contains("name=\"decision\" value=\"allow\""));
    assert!(html.contains("name=\"decision\" value=\"deny\""));
    assert!(html.contains("Not you?"));
    assert!(html.contains("action=\"/logout\""));
    assert_eq!(html.matches("name=\"csrf_token\"").count(), 2);
    assert!(html.contains("alice"));

    let r = app
        .post_form(
            "/device",
            &[
                ("csrf_token", &csrf),
                ("user_code", user_code),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let done = r.text().await.unwrap();
    assert!(done.contains("return to your device"), "{done}");

    // Consent recorded with the approval.
    {
        let mut conn = app.state.store.conn().unwrap();
        let consent = conn.find_consent(&user.id, &c.client.id).unwrap().unwrap();
        assert_eq!(consent.scope, "read write");
    }
    let stored = row(&app, dc);
    assert_eq!(stored.status, "approved");
    assert_eq!(stored.user_id.as_deref(), Some(user.id.as_str()));

    // The device gets tokens exactly once.
    app.clock().advance(5);
    let r = poll(&app, &c, dc).await;
    assert_eq!(r.status(), 200);
    let tokens: serde_json::Value = r.json().await.unwrap();
    let claims = app.verify_jwt(str_of(&tokens, "access_token")).await;
    assert_eq!(claims["sub"], user.id);
    assert_eq!(claims["scope"], "read write");
    assert!(tokens["refresh_token"].is_string());
    app.clock().advance(5);
    expect_error(poll(&app, &c, dc).await, 400, "invalid_grant").await;
}

async fn device_page_signed_in_user_goes_straight_to_consent(app: TestApp) {
    let c = device_client(&app, true, &[]);
    let body = start(&app, &c, None).await;
    signed_in_person(&app).await;
    // Typed in lower case with a space instead of the dash.
    let typed = str_of(&body, "user_code").replace('-', " ").to_lowercase();
    let r = enter_code(&app, &typed).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("name=\"decision\" value=\"allow\""));
    assert_eq!(
        form_field(&html, "user_code").as_deref(),
        Some(str_of(&body, "user_code"))
    );
    // A decision other than allow or deny changes nothing.
    let csrf = form_field(&html, "csrf_token").unwrap();
    let r = app
        .post_form(
            "/device",
            &[
                ("csrf_token", &csrf),
                ("user_code", str_of(&body, "user_code")),
                ("decision", "maybe"),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(row(&app, str_of(&body, "device_code")).status, "pending");
}

async fn device_page_prefills_and_normalises_the_code(app: TestApp) {
    let (status, html, csrf) = page(&app, "/device?user_code=bcdf%20ghjk").await;
    assert_eq!(status, 200);
    assert_eq!(form_field(&html, "user_code").as_deref(), Some("BCDF-GHJK"));
    assert!(csrf.len() >= 40);
    let (_, html, _) = page(&app, "/device").await;
    assert_eq!(form_field(&html, "user_code").as_deref(), Some(""));
    // step=consent without a session is just the entry form.
    let (status, html, _) = page(&app, "/device?user_code=BCDF-GHJK&step=consent").await;
    assert_eq!(status, 200);
    assert!(!html.contains("name=\"decision\""));
}

async fn device_page_wrong_expired_and_used_codes_have_clear_messages(app: TestApp) {
    let c = device_client(&app, true, &[]);
    signed_in_person(&app).await;

    let r = enter_code(&app, "BCDF-GHJK").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("That code is not valid"));
    let r = enter_code(&app, "no").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("That code is not valid"));

    let used = start(&app, &c, None).await;
    let (status, _) = person_decides(&app, str_of(&used, "user_code"), "allow").await;
    assert_eq!(status, 200);
    let r = enter_code(&app, str_of(&used, "user_code")).await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("already been used"), "{html}");
    assert!(!html.contains("name=\"decision\""));

    let old = start(&app, &c, None).await;
    app.clock().advance(601);
    let r = enter_code(&app, str_of(&old, "user_code")).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("has expired"));
    // Allowing an expired code by posting the decision directly: no grant.
    let (_, _, csrf) = page(&app, "/device").await;
    let r = app
        .post_form(
            "/device",
            &[
                ("csrf_token", &csrf),
                ("user_code", str_of(&old, "user_code")),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(row(&app, str_of(&old, "device_code")).status, "pending");
    expect_error(
        poll(&app, &c, str_of(&old, "device_code")).await,
        400,
        "expired_token",
    )
    .await;
}

async fn device_page_post_without_csrf_is_403_and_changes_nothing(app: TestApp) {
    let c = device_client(&app, true, &[]);
    let body = start(&app, &c, None).await;
    let user = signed_in_person(&app).await;
    let user_code = str_of(&body, "user_code");
    for token in [None, Some("forged")] {
        let mut form = vec![("user_code", user_code), ("decision", "allow")];
        if let Some(t) = token {
            form.push(("csrf_token", t));
        }
        let r = app.post_form("/device", &form).await;
        assert_eq!(r.status(), 403);
        let r = app.post_form("/device", &form[..1]).await;
        assert_eq!(r.status(), 403, "the entry form too");
    }
    assert_eq!(row(&app, str_of(&body, "device_code")).status, "pending");
    let mut conn = app.state.store.conn().unwrap();
    assert!(conn.find_consent(&user.id, &c.client.id).unwrap().is_none());
    drop(conn);
    expect_error(
        poll(&app, &c, str_of(&body, "device_code")).await,
        400,
        "authorization_pending",
    )
    .await;
}

async fn rfc8628_5_1_code_entry_is_throttled_per_browser_and_address(app: TestApp) {
    let c = device_client(&app, true, &[]);
    let body = start(&app, &c, None).await;
    let good = str_of(&body, "user_code");
    // Five free wrong guesses; then each further one locks for longer
    // (1 s, 2 s, 4 s). The clock moves past each lock.
    for i in 0..7 {
        let r = enter_code(&app, "BCDF-GHJK").await;
        assert_eq!(r.status(), 400, "guess {i}");
        app.clock()
            .advance(if i >= 4 { 1 << (i - 4) } else { 0 } + 1);
    }
    let r = enter_code(&app, "BCDF-GHJK").await;
    assert_eq!(r.status(), 400);
    // Now locked for 8 s: even the right code is refused, with a clear message.
    let r = enter_code(&app, good).await;
    assert_eq!(r.status(), 429);
    assert!(r.text().await.unwrap().contains("Too many wrong codes"));
    // A fresh browser from the same address is locked too.
    let other = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let html = other
        .get(app.url("/device"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = form_field(&html, "csrf_token").unwrap();
    let r = other
        .post(app.url("/device"))
        .form(&[("csrf_token", csrf.as_str()), ("user_code", good)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    // The lock passes; the code still works.
    app.clock().advance(9);
    let r = enter_code(&app, good).await;
    assert_eq!(r.status(), 303, "valid code, not signed in: to sign-in");
    // Nothing was decided by the guesses.
    assert_eq!(row(&app, str_of(&body, "device_code")).status, "pending");
}

// ---- the sample client (examples/device_login.rs) ---------------------

#[allow(dead_code)]
#[path = "../../examples/device_login.rs"]
mod device_login;

fn sample_options(app: &TestApp, client: &CreatedClient) -> device_login::Options {
    device_login::Options {
        issuer: app.base.clone(),
        client_id: client.client.id.clone(),
        client_secret: client.secret.clone(),
        scope: Some("read".into()),
        no_qr: false,
    }
}

async fn sample_client_gets_tokens_while_a_person_approves(app: TestApp) {
    let c = device_client(&app, false, &["refresh_token"]);
    let user = signed_in_person(&app).await;
    let login = device_login::DeviceLogin::discover(sample_options(&app, &c))
        .await
        .unwrap();
    let auth = login.start().await.unwrap();
    assert_eq!(auth.interval, 1);
    let shown = device_login::instructions(&auth, true);
    assert!(shown.contains(&auth.user_code));
    assert!(shown.contains(&auth.verification_uri));
    assert!(shown.contains('█'), "a QR code");
    let mut log = Vec::new();
    let (tokens, (status, _)) = tokio::join!(login.wait_for_tokens(&auth, &mut log), async {
        // The person takes a moment: the client sees authorization_pending.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        person_decides(&app, &auth.user_code, "allow").await
    });
    assert_eq!(status, 200);
    let tokens = tokens.unwrap();
    assert_eq!(tokens.scope.as_deref(), Some("read"));
    assert!(tokens.refresh_token.is_some());
    let claims = app.verify_jwt(&tokens.access_token).await;
    assert_eq!(claims["sub"], user.id);
    let log = String::from_utf8(log).unwrap();
    assert!(
        !log.contains("slow down"),
        "the client kept the interval: {log}"
    );
    run_built_example(&app, &c).await;
}

async fn sample_client_reports_a_denial(app: TestApp) {
    let c = device_client(&app, true, &[]);
    signed_in_person(&app).await;
    let login = device_login::DeviceLogin::discover(sample_options(&app, &c))
        .await
        .unwrap();
    let auth = login.start().await.unwrap();
    let mut log = Vec::new();
    let (result, _) = tokio::join!(
        login.wait_for_tokens(&auth, &mut log),
        person_decides(&app, &auth.user_code, "deny")
    );
    let failure = result.unwrap_err();
    assert!(failure.0.contains("denied"), "{failure}");
    // A client the server does not know: one clear line.
    let mut opts = sample_options(&app, &c);
    opts.client_id = "nobody".into();
    let login = device_login::DeviceLogin::discover(opts).await.unwrap();
    let failure = login.start().await.unwrap_err();
    assert!(failure.0.contains("invalid_client"), "{failure}");
}

/// Runs the built example binary as a child process (`cargo test` builds
/// examples; a run limited to `--test it` does not, and this part skips)
/// while a person approves the code it prints.
async fn run_built_example(app: &TestApp, client: &CreatedClient) {
    let exe = std::env::current_exe().unwrap();
    let Some(bin) = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|d| d.join("examples").join("device_login"))
        .filter(|p| p.exists())
    else {
        eprintln!("SKIPPED (child process): the device_login example is not built");
        return;
    };
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut child = Command::new(bin)
        .args(["--issuer", &app.base, "--client-id", &client.client.id])
        .args(["--scope", "write"])
        .env("GATEHOUSE_CLIENT_SECRET", client.secret.as_deref().unwrap())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    // Read what the person reads until the code appears.
    let is_code = |l: &str| {
        let l = l.trim();
        l.len() == 9
            && l.as_bytes()[4] == b'-'
            && l.chars().all(|c| c == '-' || c.is_ascii_uppercase())
    };
    let mut seen = Vec::new();
    let code = loop {
        match rx.try_recv() {
            Ok(line) if is_code(&line) => break line.trim().to_string(),
            Ok(line) => seen.push(line),
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await
            }
            Err(e) => panic!("example ended before showing a code ({e}): {seen:?}"),
        }
    };
    let (status, _) = person_decides(app, &code, "allow").await;
    assert_eq!(status, 200);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "exit {:?}; saw {seen:?}", out.status);
    let tokens: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tokens["scope"], "write");
    app.verify_jwt(tokens["access_token"].as_str().unwrap())
        .await;
}

async fn user_disabled_after_approving_gets_no_tokens(app: TestApp) {
    let c = device_client(&app, false, &[]);
    let body = start(&app, &c, Some("read")).await;
    let user = signed_in_person(&app).await;
    person_decides(&app, str_of(&body, "user_code"), "allow").await;
    {
        use diesel::prelude::*;
        use gatehouse::store::schema::users;
        let mut conn = app.state.store.conn().unwrap();
        db!(conn, cx => diesel::update(users::table.find(&user.id))
            .set(users::disabled.eq(true))
            .execute(cx))
        .unwrap();
    }
    let dc = str_of(&body, "device_code");
    expect_error(poll(&app, &c, dc).await, 400, "invalid_grant").await;
    assert_eq!(row(&app, dc).status, "spent", "the code cannot be retried");
}

/// RFC 8628 §5.1 (and RFC 6819 §4.4.3.6): user codes are short, so their
/// entry is rate-limited; a burst of wrong codes sent all at once gets no
/// more of them looked up than codes sent one at a time, and every code
/// looked up is counted.
async fn rfc8628_5_1_a_burst_of_wrong_codes_gets_no_more_checked_and_loses_no_failure(
    app: TestApp,
) {
    // A 1-second lock must not run out between requests on a slow machine.
    app.clock().freeze();
    let c = device_client(&app, true, &[]);
    let body = start(&app, &c, None).await;
    let (_, _, csrf) = page(&app, "/device").await;
    let started = app.clock().now();
    let form = [("csrf_token", csrf.as_str()), ("user_code", "BCDF-GHJK")];
    let posts = (0..40).map(|_| app.post_form("/device", &form));
    let statuses: Vec<u16> = futures_util::future::join_all(posts)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    let elapsed = app.clock().now() - started;
    let checked = count_status(&statuses, 400);
    let refused = count_status(&statuses, 429);
    assert_eq!(checked + refused, statuses.len(), "{statuses:?}");
    assert!(checked >= 1, "{statuses:?}");
    // At most one more per second the burst took (each lock lasts at least
    // a second, so at most one runs out per second).
    assert!(
        checked as i64 <= gatehouse::store::models::throttle::FREE_FAILURES + elapsed,
        "{checked} codes checked in {elapsed} s: {statuses:?}"
    );
    // No failure lost: the address counted every code it got checked.
    assert_eq!(app.throttle_failures("device-ip:127.0.0.1"), checked as i64);
    // Nothing was decided by the guesses; once the lock passes, a right
    // code works.
    assert_eq!(row(&app, str_of(&body, "device_code")).status, "pending");
    app.clock().advance(16 * 60);
    let body = start(&app, &c, None).await;
    let r = enter_code(&app, str_of(&body, "user_code")).await;
    assert_eq!(r.status(), 303, "valid code, not signed in: to sign-in");
}
