//! `GET/POST /login/factor`, the second step of a sign-in: a person with a
//! second factor, whose password was right (`pending`), or who is signed
//! in with a password alone and asked for more (a step-up), proves one:
//! a code from their authenticator app or a recovery code (input `code`),
//! or a passkey (`login_factor_passkey.html`).

use super::filters;
use super::{pending, render_form, safe_next, PageError};
use crate::app::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "login_factor.html")]
pub struct FactorPage<'a> {
    pub csrf: String,
    pub next: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
    pub notice: Option<&'a str>,
    /// An authenticator app (so recovery codes too): the `code` form.
    pub has_code_factor: bool,
    /// Passkeys: the passkey button.
    pub passkeys: bool,
}

#[derive(serde::Deserialize)]
pub struct NextQuery {
    pub next: Option<String>,
}

/// Renders the second step for `first`.
pub async fn factor_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    first: &pending::FirstFactor,
    next: &str,
    error: Option<&str>,
    notice: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let uid = first.user.id.clone();
    let factors = state.store.run(move |c| c.user_factors(&uid)).await?;
    Ok(render_form(req, state, status, |csrf| FactorPage {
        csrf,
        next,
        username: &first.user.username,
        error,
        notice,
        has_code_factor: factors.totp,
        passkeys: !factors.passkeys.is_empty(),
    }))
}

/// The second-step form; without a first step, the sign-in page.
pub async fn show(
    req: HttpRequest,
    query: web::Query<NextQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let next = safe_next(query.next.as_deref());
    let Some(first) = pending::first_factor(&req, &state).await? else {
        return Ok(to_sign_in(&next));
    };
    factor_page(&req, &state, StatusCode::OK, &first, &next, None, None).await
}

/// The sign-in page, continuing to `next`.
pub fn to_sign_in(next: &str) -> HttpResponse {
    let q = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    super::see_other(&format!("/login?{q}"))
}
