//! Browsers of their own for the tests of a person's sessions: each with
//! its own cookies and `User-Agent`, so one person can be signed in twice
//! and the sessions list can tell the two apart; and `/account`'s forms.

use super::{form_field, TestApp};

pub const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
pub const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) \
    AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";

/// A browser of its own (cookies, `User-Agent`), so a test can hold two
/// sessions of one person.
pub struct Device<'a> {
    app: &'a TestApp,
    pub http: reqwest::Client,
}

impl<'a> Device<'a> {
    pub fn new(app: &'a TestApp, user_agent: &str) -> Device<'a> {
        Self::with_headers(app, user_agent, reqwest::header::HeaderMap::new())
    }

    /// A browser whose every request carries `headers` too (as a proxy in
    /// front of gatehouse would add them).
    pub fn with_headers(
        app: &'a TestApp,
        user_agent: &str,
        headers: reqwest::header::HeaderMap,
    ) -> Device<'a> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .user_agent(user_agent)
            .default_headers(headers)
            .build()
            .unwrap();
        Device { app, http }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.app.url(path)).send().await.unwrap()
    }

    /// Signs in through the sign-in page; the status of its answer.
    pub async fn sign_in(&self, username: &str, password: &str) -> u16 {
        let page = self.get("/login").await.text().await.unwrap();
        let csrf = form_field(&page, "csrf_token").unwrap();
        let r = self
            .http
            .post(self.app.url("/login"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("next", "/account"),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .unwrap();
        r.status().as_u16()
    }

    /// Whether this browser is still signed in: `/account` shows.
    pub async fn signed_in(&self) -> bool {
        self.get("/account").await.status() == 200
    }

    pub async fn account(&self) -> String {
        let r = self.get("/account").await;
        assert_eq!(r.status(), 200, "signed in");
        r.text().await.unwrap()
    }

    /// Posts `/account` with this page's CSRF token and `form`.
    pub async fn act(&self, form: &[(&str, &str)]) -> reqwest::Response {
        let csrf = form_field(&self.account().await, "csrf_token").unwrap();
        let mut all = vec![("csrf_token", csrf.as_str())];
        all.extend_from_slice(form);
        self.http
            .post(self.app.url("/account"))
            .form(&all)
            .send()
            .await
            .unwrap()
    }

    pub async fn change_password(&self, current: &str, new: &str) -> reqwest::Response {
        self.act(&[
            ("action", "change_password"),
            ("current_password", current),
            ("new_password", new),
            ("new_password_confirm", new),
        ])
        .await
    }
}
