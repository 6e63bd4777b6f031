//! `/account`: the apps a person has allowed and taking access back
//! (`/account/revoke`), and the display name (`/account/profile`, OpenID
//! Connect Core §5.1): names that would reorder or hide text are refused
//! beside the field. The password (`action=change_password`, NIST SP
//! 800-63B §5.1.1.2) and the person's sessions (`action=sign_out_others`,
//! `action=sign_out_session`), posted to `/account`.

use crate::harness::names::HIDDEN_TRICK_NAMES;
use crate::harness::oidc::{code_flow, oidc_client, verify_id_token};
use crate::harness::sessions::{Device, FIREFOX_LINUX, SAFARI_IPHONE};
use crate::harness::{
    code_query, error_beside, expect_error, form_field, pkce_pair, signed_in, str_of, url_params,
    TestApp, PASSWORD, REDIRECT, USERNAME,
};

backend_tests!(
    account_page_revokes_an_apps_access,
    display_name_with_bidi_controls_or_invisible_characters_is_refused_beside_the_field,
    oidc_core_5_1_account_page_changes_the_display_name_with_csrf,
    change_password_needs_the_current_one,
    wrong_current_passwords_count_in_the_sign_in_throttle,
    nist_800_63b_5_1_1_2_changing_the_password_ends_every_other_sign_in_but_this_browser,
    nist_800_63b_5_1_1_2_new_passwords_that_break_the_rules_are_refused_beside_the_field,
    nist_800_63b_5_1_1_2_passwords_are_normalised_nfkc_and_old_hashes_still_sign_in,
    sign_out_everywhere_else_ends_the_other_browsers_session_and_keeps_this_one,
    the_sessions_list_shows_each_browser_and_signs_one_out,
);

mod behind_a_proxy {
    use super::*;
    backend_tests!(
        with |c| c.trusted_proxies = gatehouse::net::parse_cidrs("127.0.0.1/32").unwrap();
        the_sessions_list_shows_the_address_a_trusted_proxy_forwards,
    );
}

mod described_scopes {
    use super::*;
    backend_tests!(with |c| { c.scope_descriptions.insert("write".into(), "Edit your photos".into()); };
        the_account_page_words_each_scope_as_the_consent_page_did,
    );
}

async fn the_account_page_words_each_scope_as_the_consent_page_did(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (_, ch) = pkce_pair();
    let (_, loc) = app
        .location(&format!(
            "/authorize?{}",
            code_query(&c, &ch, &[("scope", "read write")])
        ))
        .await;
    let consent = app.get(&loc).await.text().await.unwrap();
    let lines = [
        "<li>Read your data <code>read</code></li>",
        "<li>Edit your photos <code>write</code></li>",
    ];
    for line in lines {
        assert!(consent.contains(line), "consent: {line}\n{consent}");
    }
    let r = app.decide(&loc, "allow").await;
    assert_eq!(r.status(), 303);
    let account = app.get("/account").await.text().await.unwrap();
    for line in lines {
        assert!(account.contains(line), "account: {line}\n{account}");
    }
    assert!(!account.contains("<code>read write</code>"), "{account}");
}

async fn account_page_revokes_an_apps_access(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (verifier, ch) = pkce_pair();
    let loc = app.authorize_and_allow(&code_query(&c, &ch, &[])).await;
    let tokens: serde_json::Value = app
        .exchange(
            &c,
            &url_params(&loc, false)["code"],
            Some(&verifier),
            Some(REDIRECT),
        )
        .await
        .json()
        .await
        .unwrap();
    let html = app.get("/account").await.text().await.unwrap();
    assert!(html.contains("Photo Printer"), "{html}");
    let csrf = form_field(&html, "csrf_token").unwrap();
    let r = app
        .post_form(
            "/account/revoke",
            &[("csrf_token", &csrf), ("client_id", &c.client.id)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let html = app.get("/account").await.text().await.unwrap();
    assert!(!html.contains("Photo Printer"));
    // Its refresh tokens for this person are revoked with it.
    let r = app
        .refresh(&c, tokens["refresh_token"].as_str().unwrap())
        .await;
    expect_error(r, 400, "invalid_grant").await;
    let (_, loc) = app
        .location(&format!("/authorize?{}", code_query(&c, &ch, &[])))
        .await;
    assert!(
        loc.starts_with("/consent?"),
        "access must be asked for again"
    );
}

/// Posts the display-name form of `/account`.
async fn save_name(app: &TestApp, name: &str) -> reqwest::Response {
    let page = app.get("/account").await.text().await.unwrap();
    let csrf = form_field(&page, "csrf_token").unwrap();
    app.post_form("/account/profile", &[("csrf_token", &csrf), ("name", name)])
        .await
}

async fn display_name_with_bidi_controls_or_invisible_characters_is_refused_beside_the_field(
    app: TestApp,
) {
    app.alice();
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
        303
    );
    for name in HIDDEN_TRICK_NAMES {
        let r = save_name(&app, name).await;
        assert_eq!(r.status(), 400, "{name:?}");
        let html = r.text().await.unwrap();
        let error = error_beside(&html, "name")
            .unwrap_or_else(|| panic!("{name:?}: an error beside name: {html}"));
        assert!(error.contains("U+"), "{error}");
    }
    let mut c = app.state.store.conn().unwrap();
    let alice = c.find_user_by_username(USERNAME).unwrap().unwrap();
    assert_eq!(alice.name, None, "nothing saved");
    drop(c);
    // Right-to-left text itself is a fine name.
    assert_eq!(save_name(&app, "אליס ליד").await.status(), 303);
    let mut c = app.state.store.conn().unwrap();
    let alice = c.find_user_by_username(USERNAME).unwrap().unwrap();
    assert_eq!(alice.name.as_deref(), Some("אליס ליד"));
}

async fn oidc_core_5_1_account_page_changes_the_display_name_with_csrf(app: TestApp) {
    let c = oidc_client(&app);
    signed_in(&app).await;
    let html = app.get("/account").await.text().await.unwrap();
    assert_eq!(form_field(&html, "name").as_deref(), Some(""));
    let csrf = form_field(&html, "csrf_token").unwrap();
    // Without the CSRF token: 403 and nothing changes.
    let r = app
        .post_form("/account/profile", &[("name", "Mallory")])
        .await;
    assert_eq!(r.status(), 403);
    // Too long: the page again, with the error beside the field.
    let long = "x".repeat(201);
    let r = app
        .post_form(
            "/account/profile",
            &[("csrf_token", &csrf), ("name", &long)],
        )
        .await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"name-error\""), "{html}");
    let r = app
        .post_form(
            "/account/profile",
            &[("csrf_token", &csrf), ("name", "  Alice <b>L</b>  ")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account?saved=1");
    let html = app.get("/account?saved=1").await.text().await.unwrap();
    assert_eq!(form_field(&html, "name").as_deref(), Some("Alice <b>L</b>"));
    assert!(!html.contains("<b>L</b>"), "escaped on the page");
    let body = code_flow(&app, &c, &[("scope", "openid profile")]).await;
    let (_, claims) = verify_id_token(&app, str_of(&body, "id_token"), &c.client.id).await;
    assert_eq!(claims["name"], "Alice <b>L</b>");
    // Signed out: the form sends to the sign-in page.
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = anon.get(app.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 303);
}

// ---- the password and sessions forms ---------------------------------

/// Alice signed in on two browsers: this one (Firefox on Linux) and
/// another (Safari on an iPhone).
async fn alice_on_two_browsers(app: &TestApp) -> (Device<'_>, Device<'_>) {
    app.alice();
    let (here, there) = (
        Device::new(app, FIREFOX_LINUX),
        Device::new(app, SAFARI_IPHONE),
    );
    assert_eq!(here.sign_in(USERNAME, PASSWORD).await, 303);
    assert_eq!(there.sign_in(USERNAME, PASSWORD).await, 303);
    (here, there)
}

async fn change_password_needs_the_current_one(app: TestApp) {
    let (here, there) = alice_on_two_browsers(&app).await;
    let html = here.account().await;
    // The contract's fields, in a form of its own.
    assert!(html.contains("name=\"current_password\""), "{html}");
    assert!(html.contains("name=\"new_password\""), "{html}");
    assert!(html.contains("value=\"change_password\""), "{html}");
    let r = here
        .change_password("wrong horse", "a brand new passphrase")
        .await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    let error = error_beside(&html, "current_password").expect("an error beside the field");
    assert!(error.contains("not your current password"), "{error}");
    assert!(
        !html.contains("a brand new passphrase"),
        "passwords are not shown again"
    );
    // Nothing changed: the old password signs in, the new one does not, and
    // the other browser is still signed in.
    assert!(there.signed_in().await);
    let third = Device::new(&app, FIREFOX_LINUX);
    assert_eq!(third.sign_in(USERNAME, "a brand new passphrase").await, 401);
    assert_eq!(third.sign_in(USERNAME, PASSWORD).await, 303);
    // No current password at all: refused beside the field too.
    let r = here
        .act(&[
            ("action", "change_password"),
            ("new_password", "a brand new passphrase"),
        ])
        .await;
    assert_eq!(r.status(), 400);
    assert!(error_beside(&r.text().await.unwrap(), "current_password").is_some());
    // Without the CSRF token: 403.
    let r = here
        .http
        .post(app.url("/account"))
        .form(&[
            ("action", "change_password"),
            ("current_password", PASSWORD),
            ("new_password", "a brand new passphrase"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        third.sign_in(USERNAME, PASSWORD).await,
        303,
        "still the old one"
    );
}

async fn wrong_current_passwords_count_in_the_sign_in_throttle(app: TestApp) {
    let (here, _there) = alice_on_two_browsers(&app).await;
    for _ in 0..gatehouse::app::throttle::FREE_FAILURES {
        let r = here
            .change_password("a wrong guess", "a brand new passphrase")
            .await;
        assert_eq!(r.status(), 400);
    }
    assert_eq!(
        crate::harness::metric(
            &app,
            "gatehouse_sign_in_failures_total{via=\"account_page\"}"
        )
        .await,
        gatehouse::app::throttle::FREE_FAILURES as f64
    );
    // Now locked: even the right current password is refused unchecked...
    let r = here
        .change_password(PASSWORD, "a brand new passphrase")
        .await;
    assert_eq!(r.status(), 400);
    let error = error_beside(&r.text().await.unwrap(), "current_password").unwrap();
    assert!(error.contains("too many"), "{error}");
    // ...and so is signing in as alice on the sign-in page.
    let third = Device::new(&app, FIREFOX_LINUX);
    assert_eq!(third.sign_in(USERNAME, PASSWORD).await, 429);
}

async fn nist_800_63b_5_1_1_2_changing_the_password_ends_every_other_sign_in_but_this_browser(
    app: TestApp,
) {
    let (here, there) = alice_on_two_browsers(&app).await;
    let c = app.password_client();
    let refresh = app.password_refresh_token(&c).await;
    let r = here
        .change_password(PASSWORD, "a brand new passphrase")
        .await;
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    let html = here.get(&to).await.text().await.unwrap();
    assert!(html.contains("id=\"password-changed\""), "{html}");
    assert!(
        html.contains("Every other browser signed in as you was signed out"),
        "{html}"
    );
    // This browser stays; the other one is signed out.
    assert!(here.signed_in().await, "this browser stays signed in");
    assert!(!there.signed_in().await, "the other browser is signed out");
    // A refresh token issued before the change is dead (RFC 6749 §5.2).
    expect_error(app.refresh(&c, &refresh).await, 400, "invalid_grant").await;
    // The old password is refused, the new one signs in.
    let third = Device::new(&app, FIREFOX_LINUX);
    assert_eq!(third.sign_in(USERNAME, PASSWORD).await, 401);
    assert_eq!(third.sign_in(USERNAME, "a brand new passphrase").await, 303);
}

async fn nist_800_63b_5_1_1_2_new_passwords_that_break_the_rules_are_refused_beside_the_field(
    app: TestApp,
) {
    let user = app.user("margarethamilton", PASSWORD);
    let mut c = app.state.store.conn().unwrap();
    c.write(|c| {
        c.update_user_profile(&gatehouse::store::models::User {
            email: Some("Margaret.H@example.com".into()),
            ..user.clone()
        })
    })
    .unwrap();
    drop(c);
    let here = Device::new(&app, FIREFOX_LINUX);
    assert_eq!(here.sign_in("margarethamilton", PASSWORD).await, 303);
    let too_long = "x".repeat(257);
    let cases = [
        ("Password123", "most common"),
        ("QWERTYUIOP", "most common"),
        ("MargaretHamilton", "username"),
        ("margaret.h@example.com", "e-mail address"),
        ("margaret.h", "e-mail address"),
        ("7 chars", "at least 8 characters"),
        (too_long.as_str(), "at most 256 characters"),
    ];
    for (new, why) in cases {
        let r = here.change_password(PASSWORD, new).await;
        assert_eq!(r.status(), 400, "{new}");
        let html = r.text().await.unwrap();
        let error = error_beside(&html, "new_password")
            .unwrap_or_else(|| panic!("{new}: an error beside new_password: {html}"));
        assert!(error.contains(why), "{new}: {error}");
    }
    // Two different new passwords: refused beside the confirmation.
    let r = here
        .act(&[
            ("action", "change_password"),
            ("current_password", PASSWORD),
            ("new_password", "a brand new passphrase"),
            ("new_password_confirm", "a brand new passphrasf"),
        ])
        .await;
    assert_eq!(r.status(), 400);
    assert!(error_beside(&r.text().await.unwrap(), "new_password_confirm").is_some());
    // Nothing changed; 8 characters and 256 are fine.
    let other = Device::new(&app, SAFARI_IPHONE);
    assert_eq!(other.sign_in("margarethamilton", PASSWORD).await, 303);
    let longest = "é".repeat(256);
    assert_eq!(here.change_password(PASSWORD, &longest).await.status(), 303);
    assert_eq!(
        here.change_password(&longest, "8 chars!").await.status(),
        303
    );
    assert_eq!(other.sign_in("margarethamilton", "8 chars!").await, 303);
}

async fn nist_800_63b_5_1_1_2_passwords_are_normalised_nfkc_and_old_hashes_still_sign_in(
    app: TestApp,
) {
    let (here, _) = alice_on_two_browsers(&app).await;
    // Set with a composed "é" and full-width digits...
    let set = "caf\u{e9} au lait \u{ff12}\u{ff10}\u{ff12}\u{ff16}";
    assert_eq!(here.change_password(PASSWORD, set).await.status(), 303);
    // ...signs in typed with a combining accent and ASCII digits.
    let typed = "cafe\u{301} au lait 2026";
    let other = Device::new(&app, SAFARI_IPHONE);
    assert_eq!(other.sign_in(USERNAME, typed).await, 303);
    assert_eq!(other.sign_in(USERNAME, set).await, 303);
    assert_eq!(other.sign_in(USERNAME, "cafe au lait 2026").await, 401);
    // A password hashed as typed, before normalisation (an older gatehouse):
    // still signs in as typed.
    let raw = "ﬁne old \u{212b}ngstr\u{f6}m";
    let hash = app.state.hasher.hash(raw.to_string()).await.unwrap();
    let mut c = app.state.store.conn().unwrap();
    let alice = c.find_user_by_username(USERNAME).unwrap().unwrap();
    c.write(|c| c.set_user_password_hash(&alice.id, &hash, 0))
        .unwrap();
    drop(c);
    let third = Device::new(&app, FIREFOX_LINUX);
    assert_eq!(third.sign_in(USERNAME, raw).await, 303);
}

async fn sign_out_everywhere_else_ends_the_other_browsers_session_and_keeps_this_one(app: TestApp) {
    let (here, there) = alice_on_two_browsers(&app).await;
    let html = here.account().await;
    assert!(
        html.contains("name=\"action\" value=\"sign_out_others\""),
        "the contract's button: {html}"
    );
    let r = here.act(&[("action", "sign_out_others")]).await;
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    let html = here.get(&to).await.text().await.unwrap();
    assert!(html.contains("1 other session was signed out."), "{html}");
    assert!(here.signed_in().await, "this browser stays");
    assert!(!there.signed_in().await, "the other browser is signed out");
    assert!(!html.contains("Safari on iPhone"), "{html}");
    // Another user's sessions are not touched.
    app.user("bob", PASSWORD);
    let bob = Device::new(&app, SAFARI_IPHONE);
    assert_eq!(bob.sign_in("bob", PASSWORD).await, 303);
    assert_eq!(
        here.act(&[("action", "sign_out_others")]).await.status(),
        303
    );
    assert!(bob.signed_in().await);
    // Without the CSRF token: 403, nothing ends.
    assert_eq!(there.sign_in(USERNAME, PASSWORD).await, 303);
    let r = here
        .http
        .post(app.url("/account"))
        .form(&[("action", "sign_out_others")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(there.signed_in().await);
}

async fn the_sessions_list_shows_each_browser_and_signs_one_out(app: TestApp) {
    let (here, there) = alice_on_two_browsers(&app).await;
    let html = here.account().await;
    let rows: Vec<&str> = html.split("<tr class=\"session").skip(1).collect();
    assert_eq!(rows.len(), 2, "{html}");
    assert!(
        rows[0].contains("Firefox on Linux"),
        "this browser first: {}",
        rows[0]
    );
    assert!(rows[0].contains("(this browser)"), "{}", rows[0]);
    assert!(rows[1].contains("Safari on iPhone"), "{}", rows[1]);
    assert!(!rows[1].contains("(this browser)"), "{}", rows[1]);
    for row in &rows {
        assert!(row.contains("<code>127.0.0.1</code>"), "the address: {row}");
        assert!(row.contains(" UTC"), "signed in at, last seen: {row}");
    }
    // The other browser sees it the other way round.
    let theirs = there.account().await;
    let mine = theirs.split("<tr class=\"session").nth(1).unwrap();
    assert!(
        mine.contains("Safari on iPhone") && mine.contains("(this browser)"),
        "{mine}"
    );
    // A session is named by a value that is not its stored hash.
    let id = form_field(rows[1], "session").expect("a sign-out button for the other browser");
    let mut c = app.state.store.conn().unwrap();
    let alice = c.find_user_by_username(USERNAME).unwrap().unwrap();
    let stored = c.list_user_sessions(&alice.id, app.clock().now()).unwrap();
    drop(c);
    assert!(stored
        .iter()
        .all(|s| s.id_hash != id && !html.contains(&s.id_hash)));
    assert!(stored
        .iter()
        .any(|s| s.user_agent.as_deref() == Some(SAFARI_IPHONE)));
    let r = here
        .act(&[("action", "sign_out_session"), ("session", &id)])
        .await;
    assert_eq!(r.status(), 303);
    assert!(!there.signed_in().await);
    assert!(here.signed_in().await);
    // Again, or a made-up one: not found, nothing else ends.
    let r = here
        .act(&[("action", "sign_out_session"), ("session", &id)])
        .await;
    assert_eq!(r.status(), 404);
    let r = here
        .act(&[("action", "sign_out_session"), ("session", "made-up")])
        .await;
    assert_eq!(r.status(), 404);
    assert!(here.signed_in().await);
    // An unknown action: 400.
    assert_eq!(here.act(&[("action", "explode")]).await.status(), 400);
}

/// Behind a trusted proxy, a session's address is the client the proxy
/// names (as the sign-in throttle reads it), not the proxy's.
async fn the_sessions_list_shows_the_address_a_trusted_proxy_forwards(app: TestApp) {
    app.alice();
    let mut headers = reqwest::header::HeaderMap::new();
    // What a client claimed, then what the proxy (127.0.0.1, trusted) saw.
    headers.insert(
        "x-forwarded-for",
        "203.0.113.50, 198.51.100.7".parse().unwrap(),
    );
    let here = Device::with_headers(&app, FIREFOX_LINUX, headers);
    assert_eq!(here.sign_in(USERNAME, PASSWORD).await, 303);
    let html = here.account().await;
    let row = html.split("<tr class=\"session").nth(1).unwrap();
    assert!(row.contains("<code>198.51.100.7</code>"), "{row}");
    assert!(!html.contains("203.0.113.50"), "{html}");
}
