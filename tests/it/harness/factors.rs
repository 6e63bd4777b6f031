//! Second factors as a person sets them up and uses them: enrolling an
//! authenticator app through `/account` (reading the secret from
//! `#totp_secret` and the recovery codes from `.recovery-code`), the
//! app's code at a moment (RFC 6238, computed here from the secret), and
//! the second step of a sign-in (`/login/factor`, input `code`).

use super::{form_field, html_unescape, TestApp};
use diesel::RunQueryDsl;
use gatehouse::store::DbConn;

/// An authenticator app set up through `/account`.
pub struct Enrolled {
    /// The secret as the page showed it (base32).
    pub secret: String,
    /// The recovery codes the page showed, once.
    pub recovery_codes: Vec<String>,
}

/// The text of the element with `id`, unescaped.
pub fn element_text(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = at + html[at..].find('>')? + 1;
    let end = start + html[start..].find('<')?;
    Some(html_unescape(html[start..end].trim()))
}

/// The texts of the elements with class `recovery-code`, in order.
pub fn recovery_codes(html: &str) -> Vec<String> {
    html.match_indices("class=\"recovery-code\"")
        .filter_map(|(at, _)| {
            let start = at + html[at..].find('>')? + 1;
            let end = start + html[start..].find('<')?;
            Some(html_unescape(html[start..end].trim()))
        })
        .collect()
}

/// The app's code for `secret` (base32) at `unix` seconds.
pub fn code_at(secret: &str, unix: i64) -> String {
    let bytes = totp_rs::Secret::try_from_base32(secret)
        .expect("base32 secret")
        .as_bytes()
        .to_vec();
    gatehouse::app::factors::code_at(&bytes, unix).unwrap()
}

impl TestApp {
    /// This browser's CSRF token, read from the sign-in page.
    pub async fn csrf(&self) -> String {
        let html = self.get("/login").await.text().await.unwrap();
        form_field(&html, "csrf_token").expect("csrf token")
    }

    /// Posts a form of this browser with its CSRF token.
    pub async fn post_with_csrf(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let csrf = self.csrf().await;
        let mut all = vec![("csrf_token", csrf.as_str())];
        all.extend_from_slice(form);
        self.post_form(path, &all).await
    }

    /// `POST /account/totp` with `action=start`, then the enrolment page.
    pub async fn start_totp(&self) -> String {
        let r = self
            .post_with_csrf("/account/totp", &[("action", "start")])
            .await;
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "/account/totp");
        let r = self.get("/account/totp").await;
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    }

    /// Confirms the enrolment in progress with `code`.
    pub async fn confirm_totp(&self, code: &str) -> reqwest::Response {
        self.post_with_csrf("/account/totp", &[("action", "confirm"), ("code", code)])
            .await
    }

    /// Sets up an authenticator app for the person signed in in this
    /// browser, on the clock as it is (the confirming code's step is spent).
    pub async fn enrol_totp(&self) -> Enrolled {
        let page = self.start_totp().await;
        let secret = element_text(&page, "totp_secret").expect("#totp_secret");
        let r = self
            .confirm_totp(&code_at(&secret, self.clock().now()))
            .await;
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        let recovery_codes = recovery_codes(&html);
        assert_eq!(recovery_codes.len(), 10, "{html}");
        Enrolled {
            secret,
            recovery_codes,
        }
    }

    /// `POST /account/totp` with `action` (`remove`, `regenerate`) and
    /// the current password, as the account page's forms send it.
    pub async fn totp_action(&self, action: &str) -> reqwest::Response {
        self.post_with_csrf(
            "/account/totp",
            &[("action", action), ("current_password", super::PASSWORD)],
        )
        .await
    }

    /// Signs this browser out.
    pub async fn sign_out(&self) {
        let r = self.post_with_csrf("/logout", &[]).await;
        assert!(r.status().is_redirection() || r.status().is_success());
        assert!(!self.is_signed_in().await);
    }

    /// Types `code` at the second step of the sign-in in progress.
    pub async fn second_step(&self, code: &str, next: &str) -> reqwest::Response {
        self.post_with_csrf("/login/factor", &[("code", code), ("next", next)])
            .await
    }
}

// Set up in the store directly, for the policy and claims tests: they
// judge what having a factor, or having used one, leads to (the step-up,
// enrolment, the tokens' `amr` and `acr`), not the factor itself.

fn exec(app: &TestApp, sql: &str) {
    let mut pooled = app.state.store.conn().unwrap();
    let conn: &mut DbConn = &mut pooled;
    db!(conn, c => diesel::sql_query(sql).execute(c)).unwrap_or_else(|e| panic!("{e}: {sql}"));
}

/// Gives the person `user_id` a confirmed authenticator app (its sealed
/// secret is a placeholder: no code is ever checked against it here).
pub fn give_factor(app: &TestApp, user_id: &str) {
    exec(
        app,
        &format!(
            "INSERT INTO totp_factors (user_id, secret_sealed, created_at, confirmed_at) \
             VALUES ('{user_id}', 'placeholder', 0, 0)"
        ),
    );
}

/// Records that the sessions of `user_id` were signed in with a password
/// and an authenticator app (what the second step's `pending::finish`
/// stores).
pub fn sessions_used_second_factor(app: &TestApp, user_id: &str) {
    exec(
        app,
        &format!("UPDATE browser_sessions SET amr = 'pwd otp mfa' WHERE user_id = '{user_id}'"),
    );
}
