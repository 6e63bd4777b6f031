//! `GET/POST /device`, the page a person uses to enter the code (RFC 8628
//! §3.3), its throttling (§5.1), and its CSRF token tried the way an
//! attacker would (RFC 6819 §4.4.1.8): a planted cookie, a token minted in
//! the attacker's own browser.

use crate::harness::cookies::{secretless_token, Browser};
use crate::harness::device::*;
use crate::harness::{
    count_status, expect_error, form_field, metric, signed_in, str_of, url_params, TestApp,
    PASSWORD,
};

backend_tests!(
    device_page_flow_signs_in_and_allows_and_the_sign_in_page_names_the_app,
    device_page_signed_in_user_goes_straight_to_consent,
    device_page_prefills_and_normalises_the_code,
    device_page_wrong_expired_and_used_codes_have_clear_messages,
    device_page_post_without_csrf_is_403_and_changes_nothing,
    rfc8628_5_1_code_entry_is_throttled_per_browser_and_address,
    rfc8628_5_1_a_burst_of_wrong_codes_gets_no_more_checked_and_loses_no_failure,
    rfc6819_4_4_1_8_a_planted_cookie_cannot_forge_a_device_approval,
    rfc6819_4_4_1_8_a_token_from_another_browser_session_is_refused,
);

async fn device_page_flow_signs_in_and_allows_and_the_sign_in_page_names_the_app(app: TestApp) {
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
    let login = r.headers()["location"].to_str().unwrap().to_string();
    let next = url_params(&app.url(&login), false)["next"].clone();
    let start = format!(
        "/device?user_code={user_code}&step=consent&client_id={}&app_mac=",
        c.client.id
    );
    assert!(next.starts_with(&start), "{next}");
    let (_, html, csrf) = page(&app, &login).await;
    // (`form_field` leaves Askama's `&#38;` as it is; a browser decodes it.)
    let posted_next = form_field(&html, "next").unwrap().replace("&#38;", "&");
    assert_eq!(posted_next, next);
    // The sign-in page names the app the device asks for.
    let continue_to = "id=\"continue-to\">to continue to Living-room TV</p>";
    assert!(html.contains(continue_to), "{html}");
    // An address that was not made by the device page names none.
    let other = device_client(&app, true, &[]);
    let forged = next.replace(&c.client.id, &other.client.id);
    let q: String = url::form_urlencoded::byte_serialize(forged.as_bytes()).collect();
    let (_, forged_page, _) = page(&app, &format!("/login?next={q}")).await;
    assert!(!forged_page.contains("continue-to"), "{forged_page}");
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
    signed_in(&app).await;
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
    signed_in(&app).await;

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
    let user = signed_in(&app).await;
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
        checked as i64 <= gatehouse::app::throttle::FREE_FAILURES + elapsed,
        "{checked} codes checked in {elapsed} s: {statuses:?}"
    );
    // No failure lost: the address counted every code it got checked.
    assert_eq!(app.throttle_failures("device-ip:127.0.0.1"), checked as i64);
    // Every refusal shows on /metrics, parallel ones too.
    assert_eq!(
        metric(
            &app,
            "gatehouse_throttled_attempts_total{throttle=\"user_code\"}"
        )
        .await,
        refused as f64
    );
    // Nothing was decided by the guesses; once the lock passes, a right
    // code works.
    assert_eq!(row(&app, str_of(&body, "device_code")).status, "pending");
    app.clock().advance(16 * 60);
    let body = start(&app, &c, None).await;
    let r = enter_code(&app, str_of(&body, "user_code")).await;
    assert_eq!(r.status(), 303, "valid code, not signed in: to sign-in");
}

/// RFC 6819 §4.4.1.8 / RFC 6749 §10.12: an attacker who plants a CSRF
/// cookie in the victim's browser cannot compute a matching form token
/// (it is an HMAC under a server secret), so a forged `decision=allow` for
/// the attacker's device is refused and its poll never gets a token.
async fn rfc6819_4_4_1_8_a_planted_cookie_cannot_forge_a_device_approval(app: TestApp) {
    app.alice();
    let client = device_client(&app, true, &[]);
    let flow = start(&app, &client, None).await;
    let (device_code, user_code) = (str_of(&flow, "device_code"), str_of(&flow, "user_code"));
    let mut victim = Browser::new(&app);
    assert_eq!(victim.sign_in("/account").await.status(), 303);
    for planted in ["a".to_string(), gatehouse::crypto::random_token(32)] {
        victim.set_cookie("gatehouse_csrf", &planted);
        let r = victim
            .post(
                "/device",
                &[
                    ("csrf_token", &secretless_token(&planted)),
                    ("user_code", user_code),
                    ("decision", "allow"),
                ],
            )
            .await;
        assert_eq!(r.status(), 403, "planted cookie {planted:?}");
    }
    expect_error(
        poll(&app, &client, device_code).await,
        400,
        "authorization_pending",
    )
    .await;
}

/// The form token is bound to the browser's session: a (cookie, token)
/// pair the attacker got from their own browser does not work once planted
/// in a signed-in victim's browser. The victim's own form still works.
async fn rfc6819_4_4_1_8_a_token_from_another_browser_session_is_refused(app: TestApp) {
    app.alice();
    let client = device_client(&app, true, &[]);
    let flow = start(&app, &client, None).await;
    let (device_code, user_code) = (str_of(&flow, "device_code"), str_of(&flow, "user_code"));

    let mut attacker = Browser::new(&app);
    let token = attacker.csrf("/device").await;
    let cookie = attacker.cookie("gatehouse_csrf").unwrap().to_string();

    let mut victim = Browser::new(&app);
    assert_eq!(victim.sign_in("/account").await.status(), 303);
    let own_cookie = victim.cookie("gatehouse_csrf").unwrap().to_string();
    victim.set_cookie("gatehouse_csrf", &cookie);
    let forged = [
        ("csrf_token", token.as_str()),
        ("user_code", user_code),
        ("decision", "allow"),
    ];
    assert_eq!(victim.post("/device", &forged).await.status(), 403);
    expect_error(
        poll(&app, &client, device_code).await,
        400,
        "authorization_pending",
    )
    .await;

    // The same victim, with its own cookie and a form it loaded itself.
    victim.set_cookie("gatehouse_csrf", &own_cookie);
    let csrf = victim.csrf(&format!("/device?user_code={user_code}")).await;
    let r = victim
        .post(
            "/device",
            &[("csrf_token", &csrf), ("user_code", user_code)],
        )
        .await;
    assert_eq!(r.status(), 200, "the consent form");
    let html = r.text().await.unwrap();
    let csrf = form_field(&html, "csrf_token").unwrap();
    let r = victim
        .post(
            "/device",
            &[
                ("csrf_token", &csrf),
                ("user_code", user_code),
                ("decision", "deny"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    expect_error(poll(&app, &client, device_code).await, 400, "access_denied").await;
}
