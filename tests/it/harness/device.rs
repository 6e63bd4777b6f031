//! The RFC 8628 device flow as its tests drive it: a device client,
//! starting the flow, polling, the stored row, and a person entering the
//! code on `/device` and deciding.

use super::{form_field, TestApp};
use gatehouse::crypto::token_hash;
use gatehouse::registry::{CreatedClient, NewClient};

pub const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A device client with scopes "read write"; `grants` besides the device
/// grant (e.g. refresh_token).
pub fn device_client(app: &TestApp, public: bool, extra: &[&str]) -> CreatedClient {
    let mut grants = vec![GRANT.to_string()];
    grants.extend(extra.iter().map(|g| g.to_string()));
    app.client(NewClient {
        name: "Living-room TV".into(),
        grant_types: grants,
        scope: "read write".into(),
        public,
        ..Default::default()
    })
}

/// POSTs as the client: Basic for a confidential one, `client_id` for a
/// public one.
pub async fn post_as(
    app: &TestApp,
    path: &str,
    client: &CreatedClient,
    form: &[(&str, &str)],
) -> reqwest::Response {
    if client.secret.is_some() {
        app.post_form_basic(path, client, form).await
    } else {
        let mut f = form.to_vec();
        f.push(("client_id", &client.client.id));
        app.post_form(path, &f).await
    }
}

/// Starts the flow; returns the §3.2 response.
pub async fn start(
    app: &TestApp,
    client: &CreatedClient,
    scope: Option<&str>,
) -> serde_json::Value {
    let form: Vec<(&str, &str)> = scope.map(|s| ("scope", s)).into_iter().collect();
    let r = post_as(app, "/device_authorization", client, &form).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    r.json().await.unwrap()
}

pub async fn poll(app: &TestApp, client: &CreatedClient, device_code: &str) -> reqwest::Response {
    post_as(
        app,
        "/token",
        client,
        &[("grant_type", GRANT), ("device_code", device_code)],
    )
    .await
}

/// The stored row for a device code.
pub fn row(app: &TestApp, device_code: &str) -> gatehouse::store::models::device_code::DeviceCode {
    let mut c = app.state.store.conn().unwrap();
    c.find_device_code(&token_hash(device_code))
        .unwrap()
        .expect("device code stored")
}

/// Loads `path` and returns its HTML and CSRF token.
pub async fn page(app: &TestApp, path: &str) -> (u16, String, String) {
    let r = app.get(path).await;
    let status = r.status().as_u16();
    let html = r.text().await.unwrap();
    let csrf = form_field(&html, "csrf_token").unwrap_or_default();
    (status, html, csrf)
}

/// Posts the device entry form as a browser would (CSRF token from the page).
pub async fn enter_code(app: &TestApp, user_code: &str) -> reqwest::Response {
    let (_, _, csrf) = page(app, "/device").await;
    app.post_form(
        "/device",
        &[("csrf_token", &csrf), ("user_code", user_code)],
    )
    .await
}

/// A person with a signed-in browser enters the code and decides; returns
/// the final page.
pub async fn person_decides(app: &TestApp, user_code: &str, decision: &str) -> (u16, String) {
    let r = enter_code(app, user_code).await;
    assert_eq!(r.status(), 200, "the consent form");
    let html = r.text().await.unwrap();
    let csrf = form_field(&html, "csrf_token").unwrap();
    let code = form_field(&html, "user_code").unwrap();
    let r = app
        .post_form(
            "/device",
            &[
                ("csrf_token", &csrf),
                ("user_code", &code),
                ("decision", decision),
            ],
        )
        .await;
    (r.status().as_u16(), r.text().await.unwrap())
}
