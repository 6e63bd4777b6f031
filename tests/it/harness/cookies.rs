//! A browser whose cookies the test holds by hand, for the CSRF tests
//! that plant a cookie the way an attacker could; and the old, secretless
//! CSRF token an attacker could compute.

use super::{form_field, TestApp, PASSWORD, USERNAME};

/// A browser whose cookies the test holds by hand, so it can plant one the
/// way a sibling subdomain or a plain-http page on the same host could.
pub struct Browser<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Browser<'a> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser {
            app,
            http,
            cookies: Vec::new(),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.retain(|(n, _)| n != name);
        self.cookies.push((name.to_string(), value.to_string()));
    }

    fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap();
            let (n, val) = pair.split_once('=').unwrap();
            if v.contains("Max-Age=0") || val.is_empty() {
                self.cookies.retain(|(cn, _)| cn != n);
            } else {
                self.set_cookie(n, val);
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> reqwest::Response {
        let r = self
            .http
            .get(self.app.url(path))
            .header("cookie", self.header())
            .send()
            .await
            .unwrap();
        self.keep(&r);
        r
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let r = self
            .http
            .post(self.app.url(path))
            .header("cookie", self.header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(&r);
        r
    }

    /// The CSRF token of the first form on `path`.
    pub async fn csrf(&mut self, path: &str) -> String {
        let html = self.get(path).await.text().await.unwrap();
        form_field(&html, "csrf_token").expect("a form with a CSRF token")
    }

    pub async fn sign_in(&mut self, next: &str) -> reqwest::Response {
        let csrf = self.csrf("/login").await;
        self.post(
            "/login",
            &[
                ("csrf_token", &csrf),
                ("next", next),
                ("username", USERNAME),
                ("password", PASSWORD),
            ],
        )
        .await
    }
}

/// The old token, `b64url(SHA256("gatehouse-csrf-v1:" + cookie))`, needed
/// no secret: whoever could plant a cookie could compute it.
pub fn secretless_token(cookie: &str) -> String {
    gatehouse::crypto::b64url(&gatehouse::crypto::sha256(
        format!("gatehouse-csrf-v1:{cookie}").as_bytes(),
    ))
}
