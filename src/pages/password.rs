//! `GET/POST /password/forgot` and `GET/POST /password/reset`: a person
//! who forgot their password asks for a link by e-mail address or
//! username, and the mailed link (or an operator's reset link or
//! invitation) opens the page that sets a new one.
//!
//! The forgotten-password form answers the same page whatever was typed,
//! so it tells nobody whether an account exists: the lookup, the throttle
//! and the mail all happen after the answer, on a task of their own, so
//! the answer takes the same time too. Requests are throttled per name or
//! address typed and per account (`ThrottleKey::ResetFor`, `ResetUser`,
//! in the database so every instance counts them); a throttled request
//! gets the same answer and no mail.
//!
//! The reset page shows its form only for a live link (a mail scanner
//! opening it changes nothing); the POST spends the link in the same
//! transaction that sets the password (`Registry::replace_password`),
//! which ends every session, refresh-token family and access token of the
//! person and voids their other reset links.

use super::{filters, parse_form, render, render_form, session, PageError};
use crate::app::accounts::{Accounts, LinkProblem};
use crate::app::throttle::{self, ThrottleKey};
use crate::app::AppState;
use crate::mail::messages::human_duration;
use crate::registry::RegistryError;
use crate::store::models::account_token::Purpose;
use crate::store::models::audit_event::AuditType;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "password_forgot.html")]
struct ForgotPage<'a> {
    csrf: String,
    mail_enabled: bool,
    email: &'a str,
    error: Option<&'a str>,
    /// What was typed, once the request is taken.
    sent: Option<&'a str>,
    valid_for: String,
}

#[derive(Template)]
#[template(path = "password_reset.html")]
struct ResetPage<'a> {
    csrf: String,
    token: &'a str,
    username: &'a str,
    invite: bool,
    /// An error beside a field: (input name, message).
    error: Option<(&'a str, String)>,
    general: Option<String>,
}

impl ResetPage<'_> {
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

#[derive(Template)]
#[template(path = "password_reset_done.html")]
struct DonePage<'a> {
    username: &'a str,
    invite: bool,
}

#[derive(Template)]
#[template(path = "link_problem.html")]
pub(super) struct LinkProblemPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub again_href: &'a str,
    pub again_text: &'a str,
}

/// A reset or invitation link that does not work: 400 for one never
/// issued (or voided), 410 for one used or expired; with the way to a new
/// one.
fn link_problem(state: &AppState, problem: LinkProblem) -> HttpResponse {
    let (status, message) = match problem {
        LinkProblem::Unknown => (
            StatusCode::BAD_REQUEST,
            "This link does not work: it may be mistyped or cut short, or a newer link was sent since, or the password was changed since.",
        ),
        LinkProblem::Used => (
            StatusCode::GONE,
            "This link was already used. Each link works once.",
        ),
        LinkProblem::Expired => (
            StatusCode::GONE,
            "This link has expired. Links work for a short time only.",
        ),
    };
    render(
        state,
        status,
        &LinkProblemPage {
            title: "This link does not work",
            message,
            again_href: "/password/forgot",
            again_text: "Ask for a new link",
        },
    )
}

#[derive(serde::Deserialize)]
pub struct TokenQuery {
    pub token: Option<String>,
}

const RESET_PURPOSES: &[Purpose] = &[Purpose::ResetPassword, Purpose::Invite];

fn forgot_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    email: &str,
    error: Option<&str>,
    sent: Option<&str>,
) -> HttpResponse {
    render_form(req, state, status, |csrf| ForgotPage {
        csrf,
        mail_enabled: state.outbox.enabled(),
        email,
        error,
        sent,
        valid_for: human_duration(state.config.password_reset_ttl),
    })
}

pub async fn forgot_show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    forgot_page(&req, &state, StatusCode::OK, "", None, None)
}

pub async fn forgot_submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = parse_form(&req, &state, &body)?;
    let typed = form.get("email").unwrap_or("").trim().to_string();
    if !state.outbox.enabled() {
        return Ok(forgot_page(&req, &state, StatusCode::OK, "", None, None));
    }
    if typed.is_empty() || typed.chars().count() > 320 {
        return Ok(forgot_page(
            &req,
            &state,
            StatusCode::BAD_REQUEST,
            "",
            Some("Type the e-mail address or the username of your account."),
            None,
        ));
    }
    // Answered now; looked up, throttled and mailed after, the same for
    // every value typed.
    let job_state = state.clone();
    let job_typed = typed.clone();
    actix_web::rt::spawn(async move {
        if let Err(e) = send_reset(job_state, job_typed).await {
            tracing::warn!(error = %e, "a password-reset request failed");
        }
    });
    Ok(forgot_page(
        &req,
        &state,
        StatusCode::OK,
        "",
        None,
        Some(typed.as_str()),
    ))
}

/// Finds the accounts `typed` names (an e-mail address, or else a
/// username), counts the request against the name typed and each account,
/// and mails each active account with an address a reset link, unless a
/// key is locked.
async fn send_reset(
    state: web::Data<AppState>,
    typed: String,
) -> Result<(), crate::store::StoreError> {
    let now_ms = state.clock.now_millis();
    let people = state
        .store
        .run(move |c| {
            let mut people = if typed.contains('@') {
                c.find_users_by_email(&typed)?
            } else {
                Vec::new()
            };
            if people.is_empty() {
                people.extend(c.find_user_by_username(&typed)?);
            }
            let mut keys = vec![ThrottleKey::reset_for(&typed)];
            keys.extend(people.iter().map(|u| ThrottleKey::ResetUser(u.id.clone())));
            // Kept: every request counts, answered or not.
            Ok::<_, crate::store::StoreError>(match throttle::reserve(c, &keys, now_ms)? {
                Ok(_) => people,
                Err(_) => Vec::new(),
            })
        })
        .await?;
    let accounts = Accounts::of(&state);
    for person in people.iter().filter(|u| !u.disabled) {
        if accounts.send_reset(person).await? {
            tracing::info!(user_id = %person.id, "password-reset link mailed");
        }
    }
    Ok(())
}

pub async fn reset_show(
    req: HttpRequest,
    query: web::Query<TokenQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let token = query.token.clone().unwrap_or_default();
    let accounts = Accounts::of(&state);
    let link = match accounts.check(&token, RESET_PURPOSES).await? {
        Ok(link) => link,
        Err(problem) => return Ok(link_problem(&state, problem)),
    };
    let Ok(user) = state.registry().find_user(&link.user_id).await else {
        return Ok(link_problem(&state, LinkProblem::Unknown));
    };
    let invite = link.purpose() == Some(Purpose::Invite);
    Ok(render_form(&req, &state, StatusCode::OK, |csrf| {
        ResetPage {
            csrf,
            token: &token,
            username: &user.username,
            invite,
            error: None,
            general: None,
        }
    }))
}

pub async fn reset_submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = parse_form(&req, &state, &body)?;
    let token = form.get("token").unwrap_or("").to_string();
    let password = form.get("password").unwrap_or("");
    let confirm = form.get("password_confirm");
    let accounts = Accounts::of(&state);
    let link = match accounts.check(&token, RESET_PURPOSES).await? {
        Ok(link) => link,
        Err(problem) => return Ok(link_problem(&state, problem)),
    };
    let Ok(user) = state.registry().find_user(&link.user_id).await else {
        return Ok(link_problem(&state, LinkProblem::Unknown));
    };
    let invite = link.purpose() == Some(Purpose::Invite);
    let again = |status: StatusCode, error: Option<(&str, String)>, general: Option<String>| {
        render_form(&req, &state, status, |csrf| ResetPage {
            csrf,
            token: &token,
            username: &user.username,
            invite,
            error,
            general,
        })
    };
    // `password_confirm` is checked when the form sends it.
    if confirm.is_some_and(|c| c != password) {
        return Ok(again(
            StatusCode::BAD_REQUEST,
            Some((
                "password_confirm",
                "the two passwords differ: type the same one twice".into(),
            )),
            None,
        ));
    }
    let spend = accounts.spend_for_new_password(&token, &user)?;
    let who = crate::app::audit::person(&req, &user.id);
    match state
        .registry()
        .acting(&who)
        .replace_password(&user, password, None, AuditType::PasswordReset, spend)
        .await
    {
        Ok(user) => {
            accounts.wake();
            tracing::info!(user_id = %user.id, invite, "password set through a link");
            let mut resp = render(
                &state,
                StatusCode::OK,
                &DonePage {
                    username: &user.username,
                    invite,
                },
            );
            // This browser's session, if it had one, ended with the others.
            if req.cookie(session::COOKIE).is_some() {
                let _ = resp.add_cookie(&session::removal(&state));
            }
            Ok(resp)
        }
        Err(RegistryError::Field { field, message }) => {
            let field = if field == "password_confirm" {
                "password_confirm"
            } else {
                "password"
            };
            Ok(again(StatusCode::BAD_REQUEST, Some((field, message)), None))
        }
        // Spent, voided or expired between the check and the change.
        Err(RegistryError::TokenRefused) => Ok(link_problem(&state, LinkProblem::Used)),
        Err(RegistryError::NotFound(_)) => Ok(link_problem(&state, LinkProblem::Unknown)),
        Err(RegistryError::Store(e)) => Err(e.into()),
        Err(e) => Err(PageError::Internal(e.to_string())),
    }
}
