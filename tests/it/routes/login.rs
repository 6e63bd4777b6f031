//! `GET/POST /login`: the sign-in page (contract: HTML forms), sessions,
//! CSRF and its cookie, throttling, where it continues to (`next`, RFC 9700
//! §4.11), what it says about the app it continues to, and who a username
//! is (RFC 8265: case and width variants are the same person).

use crate::harness::cookies::{secretless_token, Browser};
use crate::harness::{
    assert_accessible, count_status, form_field, pkce_pair, TestApp, PASSWORD, USERNAME,
};
use gatehouse::app::throttle::FREE_FAILURES;

backend_tests!(
    sign_in_page_has_the_contract_form_and_security_headers,
    correct_password_starts_a_session_and_continues_to_next,
    wrong_password_and_unknown_user_get_the_same_answer,
    post_without_csrf_token_is_403_and_signs_nobody_in,
    five_failures_throttle_the_username,
    next_never_leaves_the_site,
    a_disabled_person_is_told_so_only_after_the_right_password,
    rfc6819_4_4_3_6_parallel_guesses_never_exceed_the_allowance,
    rfc6819_4_4_3_6_parallel_guesses_at_two_instances_never_exceed_the_allowance,
    a_successful_sign_in_costs_the_address_nothing,
    rfc6819_4_4_3_6_a_lock_lasts_its_whole_time_however_late_in_a_second_it_starts,
    a_lock_written_by_an_older_instance_in_whole_seconds_still_holds,
    the_sign_in_page_names_the_app_it_continues_to,
    rfc9700_4_11_sign_in_never_continues_to_another_site,
    rfc9700_4_11_sign_in_continues_to_gatehouse_pages,
    rfc6819_4_4_1_8_short_or_malformed_csrf_cookies_are_replaced,
    rfc8265_3_3_case_and_width_variants_sign_in_as_the_person_and_share_her_throttle,
);

async fn sign_in_page_has_the_contract_form_and_security_headers(app: TestApp) {
    let r = app.get("/login").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(r.headers()["cache-control"], "no-store");
    let set_cookie: Vec<_> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        set_cookie.iter().any(|c| c.starts_with("gatehouse_csrf=")
            && c.contains("HttpOnly")
            && c.contains("SameSite=Lax")),
        "{set_cookie:?}"
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("<form method=\"post\""));
    assert!(html.contains("name=\"username\""));
    assert!(html.contains("name=\"password\""));
    assert!(html.contains("<label for=\"username\">"));
    assert!(form_field(&html, "csrf_token").unwrap().len() >= 40);
    let css = app.get("/static/gatehouse.css").await;
    assert_eq!(css.status(), 200);
}

async fn correct_password_starts_a_session_and_continues_to_next(app: TestApp) {
    app.user("alice", "correct horse");
    let r = app.sign_in("alice", "correct horse", "/account?x=1").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account?x=1");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("gatehouse_session="))
        .expect("session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain-http issuer: no Secure flag"
    );
    let logout = app.get("/logout").await.text().await.unwrap();
    assert!(logout.contains("alice"), "the session knows who signed in");
}

async fn wrong_password_and_unknown_user_get_the_same_answer(app: TestApp) {
    app.user("alice", "correct horse");
    let a = app.sign_in("alice", "wrong horse", "/account").await;
    let b = app.sign_in("mallory", "wrong horse", "/account").await;
    assert_eq!(a.status(), 401);
    assert_eq!(b.status(), 401);
    let (a, b) = (a.text().await.unwrap(), b.text().await.unwrap());
    assert!(a.contains("Wrong username or password."));
    assert!(b.contains("Wrong username or password."));
    assert!(!a.contains("correct horse"));
}

async fn post_without_csrf_token_is_403_and_signs_nobody_in(app: TestApp) {
    app.user("alice", "correct horse");
    let _ = app.get("/login").await; // has a CSRF cookie, posts no token
    let r = app
        .post_form(
            "/login",
            &[("username", "alice"), ("password", "correct horse")],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(r
        .headers()
        .get_all("set-cookie")
        .iter()
        .all(|c| !c.to_str().unwrap().starts_with("gatehouse_session=")));
    let r = app
        .post_form(
            "/login",
            &[
                ("csrf_token", "forged"),
                ("username", "alice"),
                ("password", "correct horse"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    let logout = app.get("/logout").await.text().await.unwrap();
    assert!(logout.contains("You are not signed in"));
}

async fn five_failures_throttle_the_username(app: TestApp) {
    // A 1-second lock must not run out between requests on a slow machine.
    app.clock().freeze();
    app.user("alice", "correct horse");
    for _ in 0..5 {
        assert_eq!(
            app.sign_in("alice", "nope nope", "/account").await.status(),
            401
        );
    }
    // Locked now, even with the right password.
    let r = app.sign_in("alice", "correct horse", "/account").await;
    assert_eq!(r.status(), 429);
    assert!(r.text().await.unwrap().contains("Too many failed attempts"));
    // The lock is temporary.
    app.clock().advance(16 * 60);
    assert_eq!(
        app.sign_in("alice", "correct horse", "/account")
            .await
            .status(),
        303
    );
}

/// The fifth failure locks for 1 s from the millisecond it happened: at
/// 0.95 s into a second, the right password 158 ms later (the next second)
/// is still refused, and so it is 999 ms later; at 1 s it is accepted.
async fn rfc6819_4_4_3_6_a_lock_lasts_its_whole_time_however_late_in_a_second_it_starts(
    app: TestApp,
) {
    let second = app.clock().now();
    app.clock().freeze_at_millis(second * 1000 + 950);
    app.user("alice", "correct horse");
    for _ in 0..FREE_FAILURES {
        assert_eq!(
            app.sign_in("alice", "nope nope", "/account").await.status(),
            401
        );
    }
    app.clock().advance_millis(158);
    let r = app.sign_in("alice", "correct horse", "/account").await;
    assert_eq!(r.status(), 429, "158 ms into a 1 s lock");
    assert!(r.text().await.unwrap().contains("1 second"));
    app.clock().advance_millis(999 - 158);
    let r = app.sign_in("alice", "correct horse", "/account").await;
    assert_eq!(r.status(), 429, "999 ms into a 1 s lock");
    app.clock().advance_millis(1);
    let r = app.sign_in("alice", "correct horse", "/account").await;
    assert_eq!(r.status(), 303, "the lock has lasted its 1 s");
}

/// A lock that an instance from before millisecond locks wrote (only the
/// whole-second `locked_until`) holds until that second on an upgraded one.
async fn a_lock_written_by_an_older_instance_in_whole_seconds_still_holds(app: TestApp) {
    use diesel::prelude::*;
    use gatehouse::store::schema::sign_in_throttle;
    app.clock().freeze();
    app.user("alice", "correct horse");
    let now = app.clock().now();
    let mut c = app.state.store.conn().unwrap();
    db!(c, conn => diesel::insert_into(sign_in_throttle::table)
        .values((
            sign_in_throttle::throttle_key.eq("user:alice"),
            sign_in_throttle::failures.eq(6),
            sign_in_throttle::last_failure_at.eq(now),
            sign_in_throttle::locked_until.eq(Some(now + 2)),
        ))
        .execute(conn))
    .unwrap();
    let r = app.sign_in("alice", "correct horse", "/account").await;
    assert_eq!(r.status(), 429);
    app.clock().advance(2);
    let r = app.sign_in("alice", "correct horse", "/account").await;
    assert_eq!(r.status(), 303);
}

async fn next_never_leaves_the_site(app: TestApp) {
    app.user("alice", "correct horse");
    let r = app
        .sign_in("alice", "correct horse", "https://evil.example/")
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account");
}

async fn a_disabled_person_is_told_so_only_after_the_right_password(app: TestApp) {
    let u = app.user("bob", "correct horse");
    {
        use diesel::prelude::*;
        use gatehouse::store::schema::users;
        let mut c = app.state.store.conn().unwrap();
        db!(c, conn => diesel::update(users::table.find(&u.id)).set(users::disabled.eq(true)).execute(conn)).unwrap();
    }
    // A wrong password gets the usual answer: nothing tells a guesser
    // that the account exists, let alone that it is disabled.
    let r = app.sign_in("bob", "wrong horse", "/account").await;
    assert_eq!(r.status(), 401);
    let html = r.text().await.unwrap();
    assert!(html.contains("Wrong username or password."), "{html}");
    assert!(!html.contains("disabled"), "{html}");
    // The right password: the person is told, and still not signed in.
    let r = app.sign_in("bob", "correct horse", "/account").await;
    assert_eq!(r.status(), 401);
    let html = r.text().await.unwrap();
    assert!(html.contains("This account is disabled."), "{html}");
    assert!(!html.contains("Wrong username or password."), "{html}");
    assert!(!app.is_signed_in().await);
}

/// Fires `n` wrong-password posts of the sign-in form for `alice` at once,
/// spread over `bases` (one or more instances on the same database), from
/// one browser. Returns the statuses and the whole seconds the burst took
/// on the server clock.
async fn sign_in_burst(app: &TestApp, bases: &[&str], n: usize) -> (Vec<u16>, i64) {
    let page = app.get("/login").await.text().await.unwrap();
    let csrf = form_field(&page, "csrf_token").unwrap();
    let started = app.clock().now();
    let posts = (0..n).map(|i| {
        app.http
            .post(format!("{}/login", bases[i % bases.len()]))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("next", "/account"),
                ("username", "alice"),
                ("password", "wrong guess"),
            ])
            .send()
    });
    let statuses = futures_util::future::join_all(posts)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    (statuses, app.clock().now() - started)
}

/// What a burst of guesses may show: each one either checked (401) or
/// refused unchecked (429); no more checked than the free failures, plus
/// one per second the burst took (each lock lasts at least a second, so at
/// most one can run out per second); and every checked guess counted.
fn assert_burst_held(app: &TestApp, statuses: &[u16], elapsed: i64) {
    let checked = count_status(statuses, 401);
    let refused = count_status(statuses, 429);
    assert_eq!(checked + refused, statuses.len(), "{statuses:?}");
    assert!(checked >= 1, "{statuses:?}");
    assert!(
        checked as i64 <= FREE_FAILURES + elapsed,
        "{checked} guesses checked in {elapsed} s: {statuses:?}"
    );
    // No failure lost: the user's count is exactly the guesses checked.
    assert_eq!(app.throttle_failures("user:alice"), checked as i64);
}

/// RFC 6819 §4.4.3.6 (and RFC 6749 §10.10): the lockout limits the
/// passwords an attacker can try, so guesses sent all at once must not
/// get more checked than guesses sent one at a time.
async fn rfc6819_4_4_3_6_parallel_guesses_never_exceed_the_allowance(app: TestApp) {
    // A 1-second lock must not run out between requests on a slow machine.
    app.clock().freeze();
    app.user("alice", "correct horse");
    let (statuses, elapsed) = sign_in_burst(&app, &[&app.base], 30).await;
    assert_burst_held(&app, &statuses, elapsed);
    // The lock is temporary, and the right password works after it.
    app.clock().advance(16 * 60);
    assert_eq!(
        app.sign_in("alice", "correct horse", "/account")
            .await
            .status(),
        303
    );
    assert_eq!(app.throttle_failures("user:alice"), 0);
}

/// RFC 6819 §4.4.3.6: the same with the guesses spread over two instances
/// on one database, as behind a load balancer.
async fn rfc6819_4_4_3_6_parallel_guesses_at_two_instances_never_exceed_the_allowance(
    app: TestApp,
) {
    // A 1-second lock must not run out between requests on a slow machine.
    app.clock().freeze();
    app.user("alice", "correct horse");
    let sibling = app.sibling();
    let (statuses, elapsed) = sign_in_burst(&app, &[&app.base, &sibling.base], 30).await;
    assert_burst_held(&app, &statuses, elapsed);
}

/// Each attempt is counted before its password is checked; a right one
/// gets that back: the user's failures are forgotten and the address is
/// where it was, so people signing in from one office don't lock it.
async fn a_successful_sign_in_costs_the_address_nothing(app: TestApp) {
    app.user("alice", "correct horse");
    app.user("bob", "battery staple");
    for _ in 0..3 {
        assert_eq!(
            app.sign_in("alice", "nope nope", "/account").await.status(),
            401
        );
    }
    assert_eq!(app.throttle_failures("ip:127.0.0.1"), 3);
    for (user, password) in [("alice", "correct horse"), ("bob", "battery staple")] {
        assert_eq!(app.sign_in(user, password, "/account").await.status(), 303);
    }
    assert_eq!(app.throttle_failures("user:alice"), 0);
    assert_eq!(app.throttle_failures("user:bob"), 0);
    assert_eq!(app.throttle_failures("ip:127.0.0.1"), 3);
}

async fn the_sign_in_page_names_the_app_it_continues_to(app: TestApp) {
    let c = app.web_client(false);
    let (_, challenge) = pkce_pair();
    let (status, login) = app
        .location(&format!(
            "/authorize?{}",
            crate::harness::code_query(&c, &challenge, &[])
        ))
        .await;
    assert_eq!(status, 303);
    assert!(login.starts_with("/login?"));
    let html = app.get(&login).await.text().await.unwrap();
    assert!(html.contains("to continue to Photo Printer"), "{html}");
    assert!(html.contains("name=\"username\"") && html.contains("name=\"password\""));
    assert_accessible(&html, "sign-in with an app");

    // Through the consent page too.
    let next = format!("/consent?client_id={}&response_type=code", c.client.id);
    let html = app
        .http
        .get(app.url("/login"))
        .query(&[("next", next.as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("to continue to Photo Printer"));

    // An unknown app, no app, or another page: no such line.
    for next in [
        "/authorize?client_id=nobody&response_type=code",
        "/authorize?response_type=code",
        format!("/authorize?client_id={0}&client_id={0}", c.client.id).as_str(),
        "/account",
        "/device?user_code=ABCD-EFGH",
    ] {
        let html = app
            .http
            .get(app.url("/login"))
            .query(&[("next", next)])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!html.contains("to continue to"), "{next}");
    }
}

/// RFC 9700 §4.11 / RFC 6749 §10.15: `next` after sign-in is never a way
/// to another site. Browsers drop tabs and newlines and read `\` as `/`,
/// so `/\t/host` becomes `//host`; none of these may come back as the
/// `Location`, and none may cause a 5xx (`/%0A` used to, after the session
/// cookie was already set).
async fn rfc9700_4_11_sign_in_never_continues_to_another_site(app: TestApp) {
    app.alice();
    for next in [
        "/\t/127.0.0.1:3412/landed.html",
        "/%09/127.0.0.1:3412/landed.html",
        "/\n/127.0.0.1:3412/",
        "/\r\n",
        "/%0A",
        "//127.0.0.1:3412/",
        "/\\127.0.0.1:3412/",
        "\\\\127.0.0.1:3412/",
        "https://127.0.0.1:3412/",
        "/ /127.0.0.1:3412/",
        "/authorize/../\t/127.0.0.1:3412/",
        "/%2F127.0.0.1:3412/",
        "/\u{3000}/127.0.0.1:3412/",
    ] {
        let mut b = Browser::new(&app);
        let r = b.sign_in(next).await;
        assert_eq!(r.status(), 303, "next={next:?}");
        assert_eq!(r.headers()["location"], "/account", "next={next:?}");
        assert!(b.cookie("gatehouse_session").is_some(), "signed in");
    }
}

async fn rfc9700_4_11_sign_in_continues_to_gatehouse_pages(app: TestApp) {
    app.alice();
    for next in [
        "/authorize?client_id=abc&scope=read+write&state=x%20y",
        "/device?user_code=BCDF-GHJK&step=consent",
        "/consent?client_id=abc",
        "/account",
    ] {
        let mut b = Browser::new(&app);
        let r = b.sign_in(next).await;
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], next);
    }
}

/// Only a full-length random value counts as a CSRF cookie: a browser
/// sending a short or malformed one gets a new cookie with the form, and
/// a post carrying the short one is refused.
async fn rfc6819_4_4_1_8_short_or_malformed_csrf_cookies_are_replaced(app: TestApp) {
    let short = "x".repeat(42);
    let long = "x".repeat(44);
    for planted in ["a", short.as_str(), long.as_str(), "a=b", "~~~~"] {
        let mut b = Browser::new(&app);
        b.set_cookie("gatehouse_csrf", planted);
        let r = b.get("/login").await;
        assert_eq!(r.status(), 200);
        let fresh = b.cookie("gatehouse_csrf").unwrap().to_string();
        assert_ne!(fresh, planted, "a new cookie replaces {planted:?}");
        assert_eq!(fresh.len(), 43);
        b.set_cookie("gatehouse_csrf", planted);
        let r = b
            .post(
                "/login",
                &[
                    ("csrf_token", &secretless_token(planted)),
                    ("username", USERNAME),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(r.status(), 403, "{planted:?}");
    }
}

/// Over https the CSRF cookie is `__Host-` prefixed (RFC 6265bis
/// §4.1.3.2): `Secure`, `Path=/`, no `Domain`, so a sibling subdomain
/// cannot set it at all; a plain-named cookie is not read there.
#[actix_rt::test]
async fn rfc6265bis_csrf_cookie_is_host_prefixed_over_https() {
    let app = TestApp::spawn_with(crate::harness::Backend::Sqlite, |c| {
        c.issuer = Some("https://gatehouse.example".into())
    })
    .await
    .unwrap();
    let r = app.get("/login").await;
    let set: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let csrf = set
        .iter()
        .find(|c| c.starts_with("__Host-gatehouse_csrf="))
        .unwrap_or_else(|| panic!("{set:?}"));
    assert!(csrf.contains("Secure"), "{csrf}");
    assert!(csrf.contains("Path=/"), "{csrf}");
    assert!(!csrf.to_ascii_lowercase().contains("domain="), "{csrf}");
    let value = csrf
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    let html = r.text().await.unwrap();
    let token = form_field(&html, "csrf_token").unwrap();
    let post_with = |cookie: String| {
        reqwest::Client::new()
            .post(app.url("/login"))
            .header("cookie", cookie)
            .form(&[
                ("csrf_token", token.as_str()),
                ("username", "x"),
                ("password", "y"),
            ])
            .send()
    };
    // The same value under the plain name is not accepted over https.
    let plain = post_with(format!("gatehouse_csrf={value}")).await.unwrap();
    assert_eq!(plain.status(), 403);
    let prefixed = post_with(format!("__Host-gatehouse_csrf={value}"))
        .await
        .unwrap();
    assert_eq!(
        prefixed.status(),
        401,
        "wrong password, but the form was accepted"
    );
}

async fn rfc8265_3_3_case_and_width_variants_sign_in_as_the_person_and_share_her_throttle(
    app: TestApp,
) {
    app.clock().freeze();
    app.alice();
    for variant in ["ALICE", "Alice", "\u{FF41}\u{FF4C}\u{FF49}\u{FF43}\u{FF45}"] {
        let r = app.sign_in(variant, PASSWORD, "/account").await;
        assert_eq!(r.status(), 303, "{variant} is alice");
        assert!(app.is_signed_in().await);
        let r = app.get("/account").await.text().await.unwrap();
        assert!(r.contains("<bdi>alice</bdi>"), "signed in as alice: {r}");
    }
    // One throttle budget for every form of the name: wrong passwords
    // under two spellings count for her together.
    for variant in ["ALICE", "alice", "Alice"] {
        assert_eq!(
            app.sign_in(variant, "wrong", "/account").await.status(),
            401
        );
    }
    assert_eq!(app.throttle_failures("user:alice"), 3);
    assert_eq!(app.throttle_failures("user:ALICE"), 0);
}
