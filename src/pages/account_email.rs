//! `GET/POST /account/email`: the signed-in person's e-mail address:
//! whether it is confirmed, a new address (which takes effect only once
//! the link mailed to it is opened; the current address is told at once),
//! and sending the link again. Changing the address asks for the current
//! password, checked and throttled as a sign-in is: an address is how a
//! forgotten password is reset, so a borrowed session must not move it.
//! Verification mails are throttled per person (`ThrottleKey::VerifyMail`,
//! in the database so every instance counts them). Without mail the page
//! says so: an operator changes addresses (`gatehouse user update`).

use super::{filters, parse_form, render_form, session, sign_in_first, PageError};
use crate::app::accounts::Accounts;
use crate::app::metrics::SignInVia;
use crate::app::sign_in::{authenticate_user, client_addr, SignInError};
use crate::app::throttle::{self, ThrottleKey};
use crate::app::AppState;
use crate::store::models::account_token::Purpose;
use crate::store::models::User;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "account_email.html")]
struct EmailPage<'a> {
    csrf: String,
    username: &'a str,
    current: Option<&'a str>,
    verified: bool,
    pending: Option<String>,
    /// The address a "send again" would mail: the pending one, or the
    /// current one while unconfirmed.
    resend_target: Option<String>,
    mail_enabled: bool,
    email: &'a str,
    error: Option<(&'a str, String)>,
    general: Option<String>,
    done: Option<String>,
}

impl EmailPage<'_> {
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn has_error(&self, field: &str) -> bool {
        self.error_for(field).is_some()
    }
}

const HERE: &str = "/account/email";

/// What the page shows besides its messages.
struct Shown {
    pending: Option<String>,
    resend_target: Option<String>,
}

async fn shown(state: &AppState, user: &User) -> Result<Shown, PageError> {
    let (id, now) = (user.id.clone(), state.clock.now());
    let link = state
        .store
        .run(move |c| c.pending_account_token(&id, Purpose::VerifyEmail, now))
        .await?;
    let current = user.email.as_deref();
    let pending = link
        .and_then(|l| l.email)
        .filter(|e| Some(e.as_str()) != current || !user.email_verified);
    let resend_target = pending
        .clone()
        .or_else(|| current.filter(|_| !user.email_verified).map(str::to_string));
    let pending = pending.filter(|e| Some(e.as_str()) != current);
    Ok(Shown {
        pending,
        resend_target,
    })
}

#[allow(clippy::too_many_arguments)]
async fn page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    user: &User,
    email: &str,
    error: Option<(&str, String)>,
    general: Option<String>,
    done: Option<String>,
) -> Result<HttpResponse, PageError> {
    let s = shown(state, user).await?;
    Ok(render_form(req, state, status, |csrf| EmailPage {
        csrf,
        username: &user.username,
        current: user.email.as_deref(),
        verified: user.email_verified,
        pending: s.pending,
        resend_target: s.resend_target,
        mail_enabled: state.outbox.enabled(),
        email,
        error,
        general,
        done,
    }))
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let Some(signed_in) = session::current(&req, &state).await? else {
        return Ok(sign_in_first(HERE));
    };
    page(
        &req,
        &state,
        StatusCode::OK,
        &signed_in.user,
        "",
        None,
        None,
        None,
    )
    .await
}

/// An e-mail address by the registry's rule: one `@` between a local part
/// and a domain, no spaces, at most 320 bytes.
fn plausible_address(e: &str) -> bool {
    let parts = e.split_once('@');
    e.len() <= 320
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && parts.is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'))
}

/// Counts one verification mail for `user`; the wait in seconds when
/// they asked too often.
async fn count_mail(state: &AppState, user: &User) -> Result<Option<i64>, PageError> {
    let key = ThrottleKey::VerifyMail(user.id.clone());
    let now_ms = state.clock.now_millis();
    let reserved = state
        .store
        .run(move |c| throttle::reserve(c, &[key], now_ms))
        .await?;
    // Kept: every mail counts.
    Ok(reserved.err())
}

fn wait_message(secs: i64) -> String {
    format!(
        "Too many mails asked for. Wait {secs} second{} and try again.",
        if secs == 1 { "" } else { "s" }
    )
}

pub async fn submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = parse_form(&req, &state, &body)?;
    let Some(signed_in) = session::current(&req, &state).await? else {
        return Ok(sign_in_first(HERE));
    };
    let user = signed_in.user;
    if !state.outbox.enabled() {
        return page(&req, &state, StatusCode::OK, &user, "", None, None, None).await;
    }
    let accounts = Accounts::of(&state);
    match form.get("action") {
        Some("resend") => {
            let Some(target) = shown(&state, &user).await?.resend_target else {
                return page(
                    &req,
                    &state,
                    StatusCode::OK,
                    &user,
                    "",
                    None,
                    None,
                    Some("Your address is already confirmed.".into()),
                )
                .await;
            };
            if let Some(secs) = count_mail(&state, &user).await? {
                return page(
                    &req,
                    &state,
                    StatusCode::TOO_MANY_REQUESTS,
                    &user,
                    "",
                    None,
                    Some(wait_message(secs)),
                    None,
                )
                .await;
            }
            accounts.send_verification(&user, &target, None).await?;
            let done = format!("We sent a new link to {target}. The older link no longer works.");
            page(
                &req,
                &state,
                StatusCode::OK,
                &user,
                "",
                None,
                None,
                Some(done),
            )
            .await
        }
        Some("change") => {
            let email = form.get("email").unwrap_or("").trim();
            let password = form.get("current_password").unwrap_or("");
            let refused = |field: &'static str, message: &str| Some((field, message.to_string()));
            if !plausible_address(email) {
                return page(
                    &req,
                    &state,
                    StatusCode::BAD_REQUEST,
                    &user,
                    email,
                    refused("email", "an e-mail address looks like name@example.com"),
                    None,
                    None,
                )
                .await;
            }
            if user.email_verified
                && user
                    .email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(email))
            {
                return page(
                    &req,
                    &state,
                    StatusCode::BAD_REQUEST,
                    &user,
                    email,
                    refused("email", "this is your address already"),
                    None,
                    None,
                )
                .await;
            }
            let addr = client_addr(&req);
            match authenticate_user(
                &state,
                &user.username,
                password,
                &addr,
                SignInVia::LoginPage,
                None,
            )
            .await
            {
                Ok(_) => {}
                Err(SignInError::Throttled(secs)) => {
                    return page(
                        &req,
                        &state,
                        StatusCode::TOO_MANY_REQUESTS,
                        &user,
                        email,
                        None,
                        Some(format!(
                            "Too many wrong passwords. Wait {secs} second{} and try again.",
                            if secs == 1 { "" } else { "s" }
                        )),
                        None,
                    )
                    .await
                }
                Err(SignInError::Store(e)) => return Err(e.into()),
                Err(_) => {
                    return page(
                        &req,
                        &state,
                        StatusCode::BAD_REQUEST,
                        &user,
                        email,
                        refused("current_password", "this is not your current password"),
                        None,
                        None,
                    )
                    .await
                }
            }
            if let Some(secs) = count_mail(&state, &user).await? {
                return page(
                    &req,
                    &state,
                    StatusCode::TOO_MANY_REQUESTS,
                    &user,
                    email,
                    None,
                    Some(wait_message(secs)),
                    None,
                )
                .await;
            }
            let old = user.email.as_deref().filter(|_| user.email_verified);
            accounts.send_verification(&user, email, old).await?;
            tracing::info!(user_id = %user.id, "e-mail address change asked for");
            let done = match &user.email {
                Some(current) => format!(
                    "We sent a link to {email}. Your address stays {current} until you open it."
                ),
                None => format!("We sent a link to {email}. Open it to make it your address."),
            };
            page(
                &req,
                &state,
                StatusCode::OK,
                &user,
                "",
                None,
                None,
                Some(done),
            )
            .await
        }
        _ => Err(PageError::BadRequest(
            "Choose to change your address or to send the link again.".into(),
        )),
    }
}
