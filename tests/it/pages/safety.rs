//! The sign-in page's continuation and the CSRF tokens of every form, tried
//! the way an attacker would: a crafted `next`, a planted CSRF cookie, a
//! token minted in the attacker's own browser.

use crate::harness::{form_field, TestApp, PASSWORD, USERNAME};
use gatehouse::admin::{CreatedClient, NewClient};

backend_tests!(
    rfc9700_4_11_sign_in_never_continues_to_another_site,
    rfc9700_4_11_sign_in_continues_to_gatehouse_pages,
    rfc6819_4_4_1_8_a_planted_cookie_cannot_forge_a_device_approval,
    rfc6819_4_4_1_8_a_token_from_another_browser_session_is_refused,
    rfc6819_4_4_1_8_short_or_malformed_csrf_cookies_are_replaced,
);

/// A browser whose cookies the test holds by hand, so it can plant one the
/// way a sibling subdomain or a plain-http page on the same host could.
struct Browser<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Browser<'a> {
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

    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn set_cookie(&mut self, name: &str, value: &str) {
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

    async fn get(&mut self, path: &str) -> reqwest::Response {
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

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
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
    async fn csrf(&mut self, path: &str) -> String {
        let html = self.get(path).await.text().await.unwrap();
        form_field(&html, "csrf_token").expect("a form with a CSRF token")
    }

    async fn sign_in(&mut self, next: &str) -> reqwest::Response {
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

fn tv(app: &TestApp) -> CreatedClient {
    app.client(NewClient {
        name: "Attacker's TV".into(),
        grant_types: vec![gatehouse::oauth::device::GRANT_TYPE.into()],
        scope: "read".into(),
        public: true,
        ..Default::default()
    })
}

/// Starts a device flow as the attacker's device: (device_code, user_code).
async fn attacker_device(app: &TestApp, client: &CreatedClient) -> (String, String) {
    let r = app
        .post_form("/device_authorization", &[("client_id", &client.client.id)])
        .await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    (
        body["device_code"].as_str().unwrap().to_string(),
        body["user_code"].as_str().unwrap().to_string(),
    )
}

async fn poll_error(app: &TestApp, client: &CreatedClient, device_code: &str) -> String {
    let r = app
        .post_form(
            "/token",
            &[
                ("grant_type", gatehouse::oauth::device::GRANT_TYPE),
                ("device_code", device_code),
                ("client_id", &client.client.id),
            ],
        )
        .await;
    let body: serde_json::Value = r.json().await.unwrap();
    body["error"].as_str().unwrap_or("none").to_string()
}

/// The old token, `b64url(SHA256("gatehouse-csrf-v1:" + cookie))`, needed
/// no secret: whoever could plant a cookie could compute it.
fn secretless_token(cookie: &str) -> String {
    gatehouse::crypto::b64url(&gatehouse::crypto::sha256(
        format!("gatehouse-csrf-v1:{cookie}").as_bytes(),
    ))
}

/// RFC 6819 §4.4.1.8 / RFC 6749 §10.12: an attacker who plants a CSRF
/// cookie in the victim's browser cannot compute a matching form token
/// (it is an HMAC under a server secret), so a forged `decision=allow` for
/// the attacker's device is refused and its poll never gets a token.
async fn rfc6819_4_4_1_8_a_planted_cookie_cannot_forge_a_device_approval(app: TestApp) {
    app.alice();
    let client = tv(&app);
    let (device_code, user_code) = attacker_device(&app, &client).await;
    let mut victim = Browser::new(&app);
    assert_eq!(victim.sign_in("/account").await.status(), 303);
    for planted in ["a".to_string(), gatehouse::crypto::random_token(32)] {
        victim.set_cookie("gatehouse_csrf", &planted);
        let r = victim
            .post(
                "/device",
                &[
                    ("csrf_token", &secretless_token(&planted)),
                    ("user_code", &user_code),
                    ("decision", "allow"),
                ],
            )
            .await;
        assert_eq!(r.status(), 403, "planted cookie {planted:?}");
    }
    assert_eq!(
        poll_error(&app, &client, &device_code).await,
        "authorization_pending"
    );
}

/// The form token is bound to the browser's session: a (cookie, token)
/// pair the attacker got from their own browser does not work once planted
/// in a signed-in victim's browser. The victim's own form still works.
async fn rfc6819_4_4_1_8_a_token_from_another_browser_session_is_refused(app: TestApp) {
    app.alice();
    let client = tv(&app);
    let (device_code, user_code) = attacker_device(&app, &client).await;

    let mut attacker = Browser::new(&app);
    let token = attacker.csrf("/device").await;
    let cookie = attacker.cookie("gatehouse_csrf").unwrap().to_string();

    let mut victim = Browser::new(&app);
    assert_eq!(victim.sign_in("/account").await.status(), 303);
    let own_cookie = victim.cookie("gatehouse_csrf").unwrap().to_string();
    victim.set_cookie("gatehouse_csrf", &cookie);
    let forged = [
        ("csrf_token", token.as_str()),
        ("user_code", user_code.as_str()),
        ("decision", "allow"),
    ];
    assert_eq!(victim.post("/device", &forged).await.status(), 403);
    assert_eq!(
        poll_error(&app, &client, &device_code).await,
        "authorization_pending"
    );

    // The same victim, with its own cookie and a form it loaded itself.
    victim.set_cookie("gatehouse_csrf", &own_cookie);
    let csrf = victim.csrf(&format!("/device?user_code={user_code}")).await;
    let r = victim
        .post(
            "/device",
            &[("csrf_token", &csrf), ("user_code", &user_code)],
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
                ("user_code", &user_code),
                ("decision", "deny"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        poll_error(&app, &client, &device_code).await,
        "access_denied"
    );
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
