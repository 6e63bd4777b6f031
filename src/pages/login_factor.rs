//! `GET/POST /login/factor`, the second step of a sign-in: a person with a
//! second factor, whose password was right (`pending`), or who is signed
//! in with a password alone and asked for more (a step-up), proves one:
//! a code from their authenticator app or a recovery code (input `code`),
//! or a passkey (`login_factor_passkey.html`).

use super::filters;
use super::{parse_form, pending, render, render_form, safe_next, PageError};
use crate::app::factors::{self, CodeCheck};
use crate::app::AppState;
use crate::oauth::amr::Method;
use actix_web::http::header::SET_COOKIE;
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

/// The page after a recovery code: signed in, this many codes left, and
/// a link on to `next`.
#[derive(Template)]
#[template(path = "login_factor_recovery.html")]
pub struct RecoveryUsedPage<'a> {
    pub next: &'a str,
    pub left: i64,
}

/// Checks the code typed at the second step: an authenticator app's code
/// (accepted once, RFC 6238 §5.2) or a recovery code (spent), throttled
/// per person; on success the session starts (`pending::finish`, amr
/// `otp`).
pub async fn submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = parse_form(&req, &state, &body)?;
    let next = safe_next(form.get("next"));
    let Some(first) = pending::first_factor(&req, &state).await? else {
        return Ok(to_sign_in(&next));
    };
    let code = form.get("code").unwrap_or("").trim();
    if code.is_empty() || code.len() > 64 {
        let msg = "Enter the code from your authenticator app, or a recovery code.";
        return factor_page(
            &req,
            &state,
            StatusCode::BAD_REQUEST,
            &first,
            &next,
            Some(msg),
            None,
        )
        .await;
    }
    let shared = state.clone().into_inner();
    let who = crate::app::audit::person(&req, &first.user.id);
    let checked = factors::check_second_factor(&shared, &first.user, code, &who).await?;
    match checked {
        CodeCheck::App => pending::finish(&req, &state, &first, &[Method::Otp], &next).await,
        CodeCheck::Recovery { left } => {
            let signed_in = pending::finish(&req, &state, &first, &[Method::Otp], &next).await?;
            let mut page = render(
                &state,
                StatusCode::OK,
                &RecoveryUsedPage { next: &next, left },
            );
            for v in signed_in.headers().get_all(SET_COOKIE) {
                page.headers_mut().append(SET_COOKIE, v.clone());
            }
            Ok(page)
        }
        CodeCheck::Wrong => {
            let msg =
                "That code is not right, or was used already. Try the newest code your app shows.";
            factor_page(
                &req,
                &state,
                StatusCode::UNAUTHORIZED,
                &first,
                &next,
                Some(msg),
                None,
            )
            .await
        }
        CodeCheck::Throttled(secs) => {
            let msg = format!(
                "Too many failed attempts. Wait {secs} second{} and try again.",
                if secs == 1 { "" } else { "s" }
            );
            factor_page(
                &req,
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                &first,
                &next,
                Some(&msg),
                None,
            )
            .await
        }
    }
}
