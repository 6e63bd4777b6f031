//! `GET/POST /signup`: self-service sign-up, only while
//! `GATEHOUSE_SIGNUP=open` (otherwise 404). A new person gives a username,
//! optionally an e-mail address, and a password (argon2id on the hasher's
//! threads); they are then signed in and continue to `next`. A username
//! that is taken, or is the same as or looks like a taken one (`text`'s
//! comparison key and skeleton, unique in the database), is refused beside
//! the field.
//!
//! A new person who gave an e-mail address is mailed a link to confirm
//! it (`app::accounts`); until they open it the address is unverified.
//!
//! Every attempt from an address counts against it in the sign-in
//! throttle (`ThrottleKey::SignUp`) before anything is checked, and a
//! successful one is not given back: the form says whether a username is
//! taken (it has to), so it must be neither a fast way to enumerate
//! usernames nor to create people in bulk. Past the throttle's free
//! attempts an address waits, longer each time (429).

use super::filters;
use super::login::NextQuery;
use super::{parse_form, render_form, safe_next, session, PageError};
use crate::app::accounts::Accounts;
use crate::app::metrics::Throttle;
use crate::app::sign_in::client_addr;
use crate::app::throttle::{self, ThrottleKey};
use crate::app::AppState;
use crate::registry::{NewUser, RegistryError};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage<'a> {
    csrf: String,
    next: &'a str,
    username: &'a str,
    email: &'a str,
    /// An error beside a field: (input name, message).
    error: Option<(&'a str, String)>,
    /// An error about the whole form (the throttle).
    general: Option<String>,
    login_href: String,
}

impl SignupPage<'_> {
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

fn closed() -> PageError {
    PageError::NotFound("There is no such page.".into())
}

fn throttle_key(req: &HttpRequest) -> ThrottleKey {
    ThrottleKey::SignUp(client_addr(req))
}

#[allow(clippy::too_many_arguments)]
fn page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    next: &str,
    username: &str,
    email: &str,
    error: Option<(&str, String)>,
    general: Option<String>,
) -> HttpResponse {
    let q = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    render_form(req, state, status, |csrf| SignupPage {
        csrf,
        next,
        username,
        email,
        error,
        general,
        login_href: format!("/login?{q}"),
    })
}

pub async fn show(
    req: HttpRequest,
    query: web::Query<NextQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    if !state.config.signup_open {
        return Err(closed());
    }
    let next = safe_next(query.next.as_deref());
    Ok(page(
        &req,
        &state,
        StatusCode::OK,
        &next,
        "",
        "",
        None,
        None,
    ))
}

pub async fn submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    if !state.config.signup_open {
        return Err(closed());
    }
    let form = parse_form(&req, &state, &body)?;
    let next = safe_next(form.get("next"));
    let username = form.get("username").unwrap_or("");
    let email = form.get("email").unwrap_or("").trim();
    let password = form.get("password").unwrap_or("");
    let refused = |status: StatusCode, field: &'static str, message: String| {
        Ok(page(
            &req,
            &state,
            status,
            &next,
            username,
            email,
            Some((field, message)),
            None,
        ))
    };

    // Counted before anything is checked, and kept.
    let now_ms = state.clock.now_millis();
    let key = throttle_key(&req);
    let reserved = state
        .store
        .run(move |c| throttle::reserve(c, &[key], now_ms))
        .await?;
    match reserved {
        // Never given back: a successful sign-up counts too.
        Ok(reservation) => drop(reservation),
        Err(secs) => {
            state.metrics.throttled(Throttle::SignUp);
            return Ok(page(
                &req,
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                &next,
                username,
                email,
                None,
                Some(format!(
                    "Too many sign-ups from your network. Wait {secs} second{} and try again.",
                    if secs == 1 { "" } else { "s" }
                )),
            ));
        }
    }

    let new = NewUser {
        username: username.to_string(),
        email: (!email.is_empty()).then(|| email.to_string()),
        password: password.to_string(),
        ..NewUser::default()
    };
    let who = crate::app::audit::anonymous(&req);
    let user = match state.registry().acting(&who).create_user(new).await {
        Ok(user) => user,
        Err(RegistryError::Field { field, message }) => {
            return refused(StatusCode::BAD_REQUEST, field, message)
        }
        Err(RegistryError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(PageError::Internal(e.to_string())),
    };
    tracing::info!(user_id = %user.id, "a person signed up");
    // The address is unverified until the link mailed to it is opened.
    if let Some(address) = user.email.as_deref() {
        let mailed = Accounts::of(&state)
            .send_verification(&user, address, None)
            .await;
        if let Err(e) = mailed {
            tracing::warn!(user_id = %user.id, error = %e, "the verification mail was not queued");
        }
    }
    session::start(
        &req,
        &state,
        user.id,
        &crate::oauth::amr::Amr::password(),
        &next,
    )
    .await
}
