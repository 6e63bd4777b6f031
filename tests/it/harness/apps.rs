//! The application pages (`/apps`) as people use them: a person with a
//! browser of their own, signed in; the registration form's fields; what
//! the store holds for their apps.

use super::{element_value, form_field, TestApp, PASSWORD, REDIRECT};
use gatehouse::registry::CreatedClient;
use gatehouse::store::models::Client;

/// One person's browser: its own cookies, signed in.
pub struct Person<'a> {
    app: &'a TestApp,
    pub http: reqwest::Client,
    pub id: String,
}

impl<'a> Person<'a> {
    /// Creates `name` (an admin when `admin`) and signs them in, in a
    /// browser of their own.
    pub async fn new(app: &'a TestApp, name: &str, admin: bool) -> Person<'a> {
        let user = app
            .state
            .registry()
            .create_user(gatehouse::registry::NewUser {
                username: name.into(),
                password: PASSWORD.into(),
                admin,
                ..Default::default()
            })
            .await
            .unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        let p = Person {
            app,
            http,
            id: user.id,
        };
        let page = p.html("/login").await;
        let r = p
            .http
            .post(app.url("/login"))
            .form(&[
                (
                    "csrf_token",
                    form_field(&page, "csrf_token").unwrap().as_str(),
                ),
                ("next", "/apps"),
                ("username", name),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{name} signs in");
        p
    }

    /// The harness's own browser (`app.http`), signed in as a new person.
    pub async fn in_app_browser(app: &'a TestApp, name: &str) -> Person<'a> {
        let user = app.user(name, PASSWORD);
        let r = app.sign_in(name, PASSWORD, "/apps").await;
        assert_eq!(r.status(), 303);
        Person {
            app,
            http: app.http.clone(),
            id: user.id,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.app.url(path)).send().await.unwrap()
    }

    pub async fn html(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }

    /// Posts `fields` to `path` with the CSRF token of a form of this
    /// browser (from `/apps/new`); to `/apps/new`, also that fresh form's
    /// `form_id` unless `fields` has one.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let page = self.html("/apps/new").await;
        let csrf = form_field(&page, "csrf_token").expect("a CSRF token");
        let form_id = form_field(&page, "form_id").expect("a form_id");
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", csrf.as_str())];
        if path == "/apps/new" && !fields.iter().any(|(k, _)| *k == "form_id") {
            form.push(("form_id", form_id.as_str()));
        }
        form.extend_from_slice(fields);
        self.post_raw(path, &form).await
    }

    /// Posts `fields` as they are (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.app.url(path))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// Posts the registration form; returns the status and the page.
    pub async fn register(&self, fields: &[(&str, &str)]) -> (u16, String) {
        let r = self.post("/apps/new", fields).await;
        let status = r.status().as_u16();
        (status, r.text().await.unwrap())
    }

    /// Registers an app that must succeed; returns it as the store has it,
    /// with the secret read from the page.
    pub async fn registered(&self, fields: &[(&str, &str)]) -> CreatedClient {
        let (status, html) = self.register(fields).await;
        assert_eq!(status, 201, "{html}");
        let id = element_value(&html, "client_id").expect("the client id on the page");
        CreatedClient {
            client: self.app.stored_client(&id).expect("the app is stored"),
            secret: element_value(&html, "client_secret"),
        }
    }
}

/// Looking up what the application pages stored.
pub trait StoreLook {
    fn stored_client(&self, id: &str) -> Option<Client>;
    fn clients_of(&self, owner: &str) -> Vec<Client>;
}

impl StoreLook for TestApp {
    fn stored_client(&self, id: &str) -> Option<Client> {
        self.state.store.conn().unwrap().find_client(id).unwrap()
    }
    fn clients_of(&self, owner: &str) -> Vec<Client> {
        self.state
            .store
            .conn()
            .unwrap()
            .list_clients_owned_by(owner)
            .unwrap()
    }
}

/// A confidential web app with every offered grant but the device flow.
pub const WEB_APP: &[(&str, &str)] = &[
    ("client_name", "Photo Printer"),
    ("client_uri", "https://app.example"),
    ("redirect_uris", REDIRECT),
    ("client_type", "confidential"),
    ("grant_types", "authorization_code"),
    ("grant_types", "refresh_token"),
    ("grant_types", "client_credentials"),
    ("scope", "read"),
];

/// A form's fields, as posted.
pub type Fields = Vec<(&'static str, &'static str)>;

/// `fields` with `key` replaced by `value` (every occurrence removed
/// first).
pub fn with(
    fields: &[(&'static str, &'static str)],
    key: &'static str,
    value: &'static str,
) -> Fields {
    let mut out: Vec<_> = fields.iter().filter(|(k, _)| *k != key).copied().collect();
    out.push((key, value));
    out
}
