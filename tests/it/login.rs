//! The sign-in and sign-out pages (contract: HTML forms), sessions, CSRF,
//! throttling.

use crate::harness::{form_field, TestApp};

backend_tests!(
    sign_in_page_has_the_contract_form_and_security_headers,
    correct_password_starts_a_session_and_continues_to_next,
    wrong_password_and_unknown_user_get_the_same_answer,
    post_without_csrf_token_is_403_and_signs_nobody_in,
    five_failures_throttle_the_username,
    next_never_leaves_the_site,
    sign_out_ends_the_session,
    disabled_user_cannot_sign_in,
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

async fn next_never_leaves_the_site(app: TestApp) {
    app.user("alice", "correct horse");
    let r = app
        .sign_in("alice", "correct horse", "https://evil.example/")
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account");
}

async fn sign_out_ends_the_session(app: TestApp) {
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
    let csrf = form_field(&page, "csrf_token").unwrap();
    let r = app.post_form("/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("You are signed out"));
    let page = app.get("/logout").await.text().await.unwrap();
    assert!(page.contains("You are not signed in"));
}

async fn disabled_user_cannot_sign_in(app: TestApp) {
    let u = app.user("bob", "correct horse");
    {
        use diesel::prelude::*;
        use gatehouse::store::schema::users;
        let mut c = app.state.store.conn().unwrap();
        gatehouse::dispatch!(c, conn => diesel::update(users::table.find(&u.id)).set(users::disabled.eq(true)).execute(conn)).unwrap();
    }
    let r = app.sign_in("bob", "correct horse", "/account").await;
    assert_eq!(r.status(), 401);
}
