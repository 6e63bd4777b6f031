//! The flows most tests start from: a signed-in person, an authorization
//! code with PKCE, the password grant's tokens, refresh, introspection.

use super::{form_field, TestApp};
use gatehouse::registry::{CreatedClient, NewClient};

// ---- authorization-code helpers ---------------------------------------

impl TestApp {
    /// The RFC 8414 metadata document, `GET
    /// /.well-known/oauth-authorization-server`; asserts 200.
    pub async fn metadata(&self) -> serde_json::Value {
        let r = self.get("/.well-known/oauth-authorization-server").await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Whether `app.http` has a session: `/account` shows instead of
    /// sending to the sign-in page.
    pub async fn is_signed_in(&self) -> bool {
        self.get("/account").await.status() == 200
    }
}

/// Creates `alice` (password `correct horse`) and signs her in on
/// `app.http`; returns her row.
pub async fn signed_in(app: &TestApp) -> gatehouse::store::models::User {
    let alice = app.alice();
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
        303
    );
    alice
}

/// Creates `alice` with an address of her own (`<tag>-<random>@example.com`,
/// so mail to her is hers in the shared SMTP sink) and signs her in on
/// `app.http`; returns the address.
pub async fn signed_in_with_address(app: &TestApp, tag: &str) -> String {
    let email = format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple());
    super::wait(
        app.state
            .registry()
            .create_user(gatehouse::registry::NewUser {
                username: USERNAME.into(),
                email: Some(email.clone()),
                password: PASSWORD.into(),
                ..Default::default()
            }),
    )
    .unwrap();
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
        303
    );
    email
}

/// The `next` of a redirect to the sign-in page.
pub fn next_of(login_location: &str) -> String {
    assert!(
        login_location.starts_with("/login?"),
        "expected the sign-in page, got {login_location}"
    );
    url::form_urlencoded::parse(login_location.trim_start_matches("/login?").as_bytes())
        .find(|(k, _)| k == "next")
        .unwrap()
        .1
        .into_owned()
}

pub const REDIRECT: &str = "https://app.example/cb";

/// A PKCE verifier and its S256 challenge (RFC 7636 §4.1–4.2).
pub fn pkce_pair() -> (String, String) {
    let verifier = gatehouse::crypto::random_token(32);
    let challenge = gatehouse::crypto::b64url(&gatehouse::crypto::sha256(verifier.as_bytes()));
    (verifier, challenge)
}

/// The string `key` of a JSON object; panics, showing the object, when
/// there is none.
pub fn str_of<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// A response body that must be JSON; panics, showing it, when it is not.
pub fn as_json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"))
}

/// The query parameters of a URL (or of its fragment when `fragment`).
pub fn url_params(location: &str, fragment: bool) -> std::collections::HashMap<String, String> {
    let u = url::Url::parse(location).unwrap();
    let part = if fragment {
        u.fragment().unwrap_or("").to_string()
    } else {
        u.query().unwrap_or("").to_string()
    };
    url::form_urlencoded::parse(part.as_bytes())
        .into_owned()
        .collect()
}

impl TestApp {
    /// A web app client: authorization_code + refresh_token, scopes "read write".
    pub fn web_client(&self, public: bool) -> CreatedClient {
        self.client(NewClient {
            name: "Photo Printer".into(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            redirect_uris: vec![REDIRECT.into()],
            scope: "read write".into(),
            public,
            website: Some("https://app.example".into()),
            ..Default::default()
        })
    }

    /// GET `path` and return the `Location` of the redirect it answers with.
    pub async fn location(&self, path_and_query: &str) -> (u16, String) {
        let r = self
            .http
            .get(self.url(path_and_query))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let loc = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, loc)
    }

    /// Posts the consent form shown at `consent_path` with `decision`;
    /// returns the response.
    pub async fn decide(&self, consent_path: &str, decision: &str) -> reqwest::Response {
        let page = self.http.get(self.url(consent_path)).send().await.unwrap();
        assert_eq!(page.status(), 200, "consent page at {consent_path}");
        let html = page.text().await.unwrap();
        let csrf = form_field(&html, "csrf_token").unwrap();
        let request = form_field(&html, "request").unwrap();
        self.http
            .post(self.url("/consent"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("request", request.as_str()),
                ("decision", decision),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Signed in already: authorize with `query`, allow on the consent page
    /// if shown, and return the final redirect to the client.
    pub async fn authorize_and_allow(&self, query: &str) -> String {
        let (status, loc) = self.location(&format!("/authorize?{query}")).await;
        assert_eq!(status, 303, "authorize answered {status} {loc}");
        if loc.starts_with("/consent?") {
            let r = self.decide(&loc, "allow").await;
            let st = r.status();
            if st != 303 {
                panic!("consent post answered {st}: {}", r.text().await.unwrap());
            }
            return r.headers()["location"].to_str().unwrap().to_string();
        }
        loc
    }

    /// Exchanges a code at the token endpoint.
    pub async fn exchange(
        &self,
        client: &CreatedClient,
        code: &str,
        verifier: Option<&str>,
        redirect_uri: Option<&str>,
    ) -> reqwest::Response {
        let mut form = vec![("grant_type", "authorization_code"), ("code", code)];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        if let Some(r) = redirect_uri {
            form.push(("redirect_uri", r));
        }
        if client.secret.is_some() {
            self.post_form_basic("/token", client, &form).await
        } else {
            form.push(("client_id", &client.client.id));
            self.post_form("/token", &form).await
        }
    }
}

/// An authorization query string for `client` with PKCE `challenge`.
pub fn code_query(client: &CreatedClient, challenge: &str, extra: &[(&str, &str)]) -> String {
    let mut p: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &client.client.id),
        ("redirect_uri", REDIRECT),
        ("scope", "read"),
        ("state", "st-123"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        p.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            p.push((k, v));
        }
    }
    serde_urlencoded::to_string(&p).unwrap()
}

/// RFC 6749 §4.4: `grant_type=client_credentials` at `/token` as client
/// `id` with `client_secret_basic`, asking for no scope (so the client's
/// own).
pub async fn client_credentials(app: &TestApp, id: &str, secret: &str) -> reqwest::Response {
    app.http
        .post(app.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

impl TestApp {
    /// An access token for `client` from `grant_type=client_credentials`
    /// (with `scope` when given); asserts it was issued.
    pub async fn client_credentials_token(
        &self,
        client: &CreatedClient,
        scope: Option<&str>,
    ) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend(scope.map(|s| ("scope", s)));
        let r = self.post_form_basic("/token", client, &form).await;
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        str_of(&body, "access_token").to_string()
    }
}

// ---- refresh tokens, the password grant, revocation, introspection -----

pub const USERNAME: &str = "alice";
pub const PASSWORD: &str = "correct horse";

impl TestApp {
    /// The user `alice` with password `correct horse`.
    pub fn alice(&self) -> gatehouse::store::models::User {
        self.user(USERNAME, PASSWORD)
    }

    /// A confidential client with grants `password refresh_token` and
    /// scopes "read write".
    pub fn password_client(&self) -> CreatedClient {
        self.client(NewClient {
            name: "legacy-app".into(),
            grant_types: vec!["password".into(), "refresh_token".into()],
            scope: "read write".into(),
            ..Default::default()
        })
    }

    /// A resource server allowed to introspect (`--introspect`).
    pub fn introspector(&self) -> CreatedClient {
        self.client(NewClient {
            name: "resource-server".into(),
            grant_types: vec!["client_credentials".into()],
            scope: "".into(),
            can_introspect: true,
            ..Default::default()
        })
    }

    /// Signs `alice` in with the password grant; asserts success and
    /// returns the token response.
    pub async fn password_tokens(&self, client: &CreatedClient) -> serde_json::Value {
        let r = self
            .post_form_basic(
                "/token",
                client,
                &[
                    ("grant_type", "password"),
                    ("username", USERNAME),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// The refresh token from signing `alice` in with the password grant.
    pub async fn password_refresh_token(&self, client: &CreatedClient) -> String {
        self.password_tokens(client).await["refresh_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// `grant_type=refresh_token` with `client_secret_basic`.
    pub async fn refresh(&self, client: &CreatedClient, token: &str) -> reqwest::Response {
        self.post_form_basic(
            "/token",
            client,
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
        )
        .await
    }

    /// RFC 7662 introspection by `by`; asserts 200 and `no-store`.
    pub async fn introspect(&self, by: &CreatedClient, token: &str) -> serde_json::Value {
        let r = self
            .post_form_basic("/introspect", by, &[("token", token)])
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        r.json().await.unwrap()
    }
}

/// The `refresh_token` of a successful token response.
pub async fn refresh_token_of(resp: reqwest::Response) -> String {
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    body["refresh_token"].as_str().unwrap().to_string()
}

/// The value of one series (`name{labels}` exactly as written), read from
/// `/metrics` as text.
pub async fn metric(app: &TestApp, series: &str) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in /metrics:\n{text}"))
        .parse()
        .unwrap()
}
