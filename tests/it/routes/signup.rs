//! Self-service sign-up (contract: `GET/POST /signup` only while
//! `GATEHOUSE_SIGNUP=open`; inputs `username`, `email`, `password`): off by
//! default, then a person signs up, is signed in and continues; errors
//! beside the field; throttled per address; CSRF.

use crate::harness::{assert_accessible, error_beside, form_field, html_unescape, metric, TestApp};

use gatehouse::app::throttle::FREE_FAILURES;

backend_tests!(sign_up_is_404_and_unlinked_while_off);

async fn sign_up_is_404_and_unlinked_while_off(app: TestApp) {
    assert!(!app.state.config.signup_open, "off by default");
    assert_eq!(app.get("/signup").await.status(), 404);
    let login = app.get("/login").await.text().await.unwrap();
    assert!(!login.contains("/signup"), "no link to it");
    let csrf = form_field(&login, "csrf_token").unwrap();
    let r = app
        .post_form(
            "/signup",
            &[
                ("csrf_token", &csrf),
                ("username", "mallory"),
                ("password", "long enough password"),
            ],
        )
        .await;
    assert_eq!(r.status(), 404);
    let mut c = app.state.store.conn().unwrap();
    assert!(c.find_user_by_username("mallory").unwrap().is_none());
}

mod open {
    use super::*;

    backend_tests!(
        with |c| c.signup_open = true;
        signing_up_creates_the_person_signs_them_in_and_continues_to_next,
        sign_up_errors_show_beside_the_field_and_keep_what_was_typed,
        rfc6819_4_4_3_6_sign_up_is_throttled_per_address,
        rfc6819_4_4_1_8_sign_up_without_a_csrf_token_is_403_and_creates_nobody,
        the_sign_up_page_is_accessible,
        rfc8265_look_alikes_of_a_taken_username_are_refused_beside_the_field,
        rfc8265_look_alike_sign_ups_at_once_create_one_person,
    );

    /// Opens the sign-up page (from the sign-in page's link when `next`
    /// is given) and posts `fields` with its CSRF token and `next`.
    async fn sign_up(app: &TestApp, fields: &[(&str, &str)]) -> reqwest::Response {
        let page = app.get("/signup").await.text().await.unwrap();
        let csrf = form_field(&page, "csrf_token").unwrap();
        let next = form_field(&page, "next").unwrap();
        let mut form = vec![("csrf_token", csrf.as_str()), ("next", next.as_str())];
        form.extend_from_slice(fields);
        app.post_form("/signup", &form).await
    }

    async fn signing_up_creates_the_person_signs_them_in_and_continues_to_next(app: TestApp) {
        // The sign-in page links to it, carrying where to continue.
        let (status, login) = app.location("/apps/new").await;
        assert_eq!(status, 303);
        let html = app.get(&login).await.text().await.unwrap();
        assert!(
            html.contains("href=\"/signup?next=%2Fapps%2Fnew\""),
            "{html}"
        );
        let page = app.get("/signup?next=%2Fapps%2Fnew").await;
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["cache-control"], "no-store");
        let html = page.text().await.unwrap();
        for name in ["username", "email", "password"] {
            assert!(html.contains(&format!("name=\"{name}\"")), "input {name}");
        }
        assert_eq!(form_field(&html, "next").unwrap(), "/apps/new");
        let r = app
            .post_form(
                "/signup",
                &[
                    ("csrf_token", &form_field(&html, "csrf_token").unwrap()),
                    ("next", "/apps/new"),
                    ("username", "dana"),
                    ("email", "dana@example.com"),
                    ("password", "a long passphrase"),
                ],
            )
            .await;
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "/apps/new");
        assert!(r
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("gatehouse_session=")));
        // Signed in: the page that asked is shown.
        assert_eq!(app.get("/apps/new").await.status(), 200);

        let user = app
            .state
            .store
            .conn()
            .unwrap()
            .find_user_by_username("dana")
            .unwrap()
            .expect("the person exists");
        assert_eq!(user.email.as_deref(), Some("dana@example.com"));
        assert!(!user.is_admin && !user.disabled);
        assert!(user.password_hash.starts_with("$argon2id$"), "argon2id");
        assert!(!user.password_hash.contains("a long passphrase"));

        // The password works on the sign-in page (another browser).
        let other = sign_in_elsewhere(&app, "dana", "a long passphrase").await;
        assert_eq!(other, 303);

        // A `next` that leaves the site continues to the account page.
        let page = app.get("/signup?next=https%3A%2F%2Fevil.example%2F").await;
        let html = page.text().await.unwrap();
        assert_eq!(form_field(&html, "next").unwrap(), "/account");
        let r = sign_up(
            &app,
            &[("username", "erin"), ("password", "another long one")],
        )
        .await;
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "/account");
    }

    async fn sign_up_errors_show_beside_the_field_and_keep_what_was_typed(app: TestApp) {
        app.user("alice", "correct horse");
        for (username, email, password, field) in [
            ("frank", "frank@example.com", "short", "password"),
            ("frank", "not an address", "long enough password", "email"),
            ("frank", "frank@", "long enough password", "email"),
            (
                "alice",
                "alice2@example.com",
                "long enough password",
                "username",
            ),
            ("frank smith", "", "long enough password", "username"),
        ] {
            let r = sign_up(
                &app,
                &[
                    ("username", username),
                    ("email", email),
                    ("password", password),
                ],
            )
            .await;
            assert_eq!(r.status(), 400, "{field}");
            assert!(r
                .headers()
                .get_all("set-cookie")
                .iter()
                .all(|c| !c.to_str().unwrap().starts_with("gatehouse_session=")));
            let html = r.text().await.unwrap();
            let error = error_beside(&html, field)
                .unwrap_or_else(|| panic!("an error beside {field}: {html}"));
            assert!(!error.is_empty());
            assert_eq!(html.matches("class=\"field-error\"").count(), 1);
            let page = html_unescape(&html);
            assert!(
                page.contains(&format!("value=\"{username}\"")),
                "keeps the username"
            );
            assert!(
                page.contains(&format!("value=\"{email}\"")),
                "keeps the e-mail"
            );
            assert!(
                !page.contains(&format!("value=\"{password}\"")),
                "never echoes the password"
            );
        }
        let mut c = app.state.store.conn().unwrap();
        assert!(c.find_user_by_username("frank").unwrap().is_none());
        assert!(c.find_user_by_username("frank smith").unwrap().is_none());
        assert_eq!(c.list_users().unwrap().len(), 1);
    }

    async fn rfc6819_4_4_3_6_sign_up_is_throttled_per_address(app: TestApp) {
        // A 1-second lock must not run out between requests on a slow machine.
        app.clock().freeze();
        app.user("alice", "correct horse");
        // Probing for taken names, or creating people in bulk, counts.
        for i in 0..FREE_FAILURES {
            let name = if i == 0 {
                "alice".to_string()
            } else {
                format!("bulk{i}")
            };
            let r = sign_up(
                &app,
                &[("username", &name), ("password", "long enough password")],
            )
            .await;
            // The taken name is refused beside the field; the others sign up.
            assert_eq!(r.status(), if i == 0 { 400 } else { 303 }, "{name}");
        }
        assert_eq!(app.throttle_failures("signup-ip:127.0.0.1"), FREE_FAILURES);
        let r = sign_up(
            &app,
            &[
                ("username", "bulk-more"),
                ("password", "long enough password"),
            ],
        )
        .await;
        assert_eq!(r.status(), 429);
        let html = r.text().await.unwrap();
        assert!(html.contains("Too many sign-ups"), "{html}");
        assert_eq!(
            metric(
                &app,
                "gatehouse_throttled_attempts_total{throttle=\"sign_up\"}"
            )
            .await,
            1.0
        );
        let mut c = app.state.store.conn().unwrap();
        assert!(c.find_user_by_username("bulk-more").unwrap().is_none());
        // The sign-in page's throttle is another key: signing in still works.
        assert_eq!(
            app.sign_in("alice", "correct horse", "/account")
                .await
                .status(),
            303
        );
        // The lock is temporary.
        app.clock().advance(16 * 60);
        let r = sign_up(
            &app,
            &[
                ("username", "bulk-more"),
                ("password", "long enough password"),
            ],
        )
        .await;
        assert_eq!(r.status(), 303);
    }

    async fn rfc6819_4_4_1_8_sign_up_without_a_csrf_token_is_403_and_creates_nobody(app: TestApp) {
        let _ = app.get("/signup").await; // has a CSRF cookie, posts no token
        for token in [None, Some("forged")] {
            let mut form = vec![
                ("username", "mallory"),
                ("password", "long enough password"),
            ];
            if let Some(t) = token {
                form.push(("csrf_token", t));
            }
            let r = app.post_form("/signup", &form).await;
            assert_eq!(r.status(), 403);
            assert!(r
                .headers()
                .get_all("set-cookie")
                .iter()
                .all(|c| !c.to_str().unwrap().starts_with("gatehouse_session=")));
        }
        let mut c = app.state.store.conn().unwrap();
        assert!(c.find_user_by_username("mallory").unwrap().is_none());
        assert_eq!(
            app.throttle_failures("signup-ip:127.0.0.1"),
            0,
            "not even counted"
        );
    }

    async fn rfc8265_look_alikes_of_a_taken_username_are_refused_beside_the_field(app: TestApp) {
        app.clock().freeze();
        let alice = app.user("alice", "correct horse");
        for name in crate::harness::names::ALICE_LOOK_ALIKES {
            // Past the address's throttle window: each try is a first.
            app.clock().advance(16 * 60);
            let r = sign_up(
                &app,
                &[("username", name), ("password", "long enough password")],
            )
            .await;
            assert_eq!(r.status(), 400, "{name:?}");
            assert!(r
                .headers()
                .get_all("set-cookie")
                .iter()
                .all(|c| !c.to_str().unwrap().starts_with("gatehouse_session=")));
            let html = r.text().await.unwrap();
            let error = error_beside(&html, "username")
                .unwrap_or_else(|| panic!("{name:?}: an error beside username: {html}"));
            assert!(!error.is_empty());
            assert_eq!(html.matches("class=\"field-error\"").count(), 1);
        }
        let mut c = app.state.store.conn().unwrap();
        let users = c.list_users().unwrap();
        assert_eq!(users.len(), 1, "nothing created");
        assert_eq!(users[0].id, alice.id);
        drop(c);
        // A different name is accepted, kept as typed.
        app.clock().advance(16 * 60);
        let r = sign_up(
            &app,
            &[("username", "Alicia"), ("password", "long enough password")],
        )
        .await;
        assert_eq!(r.status(), 303);
        let mut c = app.state.store.conn().unwrap();
        assert_eq!(
            c.find_user_by_username("alicia").unwrap().unwrap().username,
            "Alicia"
        );
    }

    /// Four browsers sign up as `dana`, `Dana`, `DANA` and fullwidth
    /// `ｄａｎａ` at once: every check before the insert passes for all of
    /// them, and the unique comparison key lets exactly one in.
    async fn rfc8265_look_alike_sign_ups_at_once_create_one_person(app: TestApp) {
        let names = ["dana", "Dana", "DANA", "\u{FF44}\u{FF41}\u{FF4E}\u{FF41}"];
        let mut forms = Vec::new();
        for name in names {
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .build()
                .unwrap();
            let page = http
                .get(app.url("/signup"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let csrf = form_field(&page, "csrf_token").unwrap();
            forms.push((http, csrf, name));
        }
        let posts = forms.iter().map(|(http, csrf, name)| {
            http.post(app.url("/signup"))
                .form(&[
                    ("csrf_token", csrf.as_str()),
                    ("next", "/account"),
                    ("username", name),
                    ("password", "long enough password"),
                ])
                .send()
        });
        let statuses: Vec<u16> = futures_util::future::join_all(posts)
            .await
            .into_iter()
            .map(|r| r.unwrap().status().as_u16())
            .collect();
        assert_eq!(
            statuses.iter().filter(|&&s| s == 303).count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|&&s| s == 400).count(),
            3,
            "{statuses:?}"
        );
        assert_eq!(
            app.state.store.conn().unwrap().list_users().unwrap().len(),
            1
        );
    }

    async fn the_sign_up_page_is_accessible(app: TestApp) {
        let html = app.get("/signup").await.text().await.unwrap();
        assert_accessible(&html, "/signup");
        assert!(html.contains("autocomplete=\"new-password\""));
        let r = sign_up(&app, &[("username", "frank"), ("password", "short")]).await;
        let html = r.text().await.unwrap();
        assert_accessible(&html, "/signup with an error");
        assert!(html.contains("aria-invalid=\"true\""));
        let login = app.get("/login").await.text().await.unwrap();
        assert!(login.contains("href=\"/signup?next=%2Faccount\""));
        assert_accessible(&login, "/login with the sign-up link");
    }
}

/// Signs in from a fresh browser; returns the status of the post.
async fn sign_in_elsewhere(app: &TestApp, username: &str, password: &str) -> u16 {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let page = http
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    http.post(app.url("/login"))
        .form(&[
            (
                "csrf_token",
                form_field(&page, "csrf_token").unwrap().as_str(),
            ),
            ("next", "/account"),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}
