//! `GET/POST /login` and `GET/POST /logout`.

use super::{csrf, parse_form, render, render_form, safe_next, see_other, session, PageError};
use crate::app::sign_in::{authenticate_user, client_addr, SignInError};
use crate::app::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: String,
    next: &'a str,
    username: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage<'a> {
    csrf: String,
    username: Option<&'a str>,
    done: bool,
}

#[derive(serde::Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn login_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    next: &str,
    username: &str,
    error: Option<&str>,
) -> HttpResponse {
    render_form(req, state, status, |csrf| LoginPage {
        csrf,
        next,
        username,
        error,
    })
}

/// The sign-in form. `?next=` is where to continue afterwards (a local path).
pub async fn show(
    req: HttpRequest,
    query: web::Query<NextQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let next = safe_next(query.next.as_deref());
    login_page(&req, &state, StatusCode::OK, &next, "", None)
}

pub async fn submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = parse_form(&req, &state, &body)?;
    let next = safe_next(form.get("next"));
    let username = form.get("username").unwrap_or("");
    let password = form.get("password").unwrap_or("");
    if username.is_empty() || password.is_empty() {
        return Ok(login_page(
            &req,
            &state,
            StatusCode::BAD_REQUEST,
            &next,
            username,
            Some("Enter your username and password."),
        ));
    }
    match authenticate_user(&state, username, password, &client_addr(&req)).await {
        Ok(user) => {
            let now = state.clock.now();
            let id = user.id.clone();
            let sid = state.store.run(move |c| c.create_session(&id, now)).await?;
            // A fresh id on every sign-in: no session fixation.
            if let Some(old) = req.cookie(session::COOKIE) {
                let old = old.value().to_string();
                state.store.run(move |c| c.delete_session(&old)).await?;
            }
            let mut resp = see_other(&next);
            let _ = resp.add_cookie(&session::cookie(&state, sid));
            Ok(resp)
        }
        Err(SignInError::Invalid) => Ok(login_page(
            &req,
            &state,
            StatusCode::UNAUTHORIZED,
            &next,
            username,
            Some("Wrong username or password."),
        )),
        Err(SignInError::Throttled(secs)) => Ok(login_page(
            &req,
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            username,
            Some(&format!(
                "Too many failed attempts. Wait {secs} second{} and try again.",
                if secs == 1 { "" } else { "s" }
            )),
        )),
        Err(SignInError::Store(e)) => Err(e.into()),
    }
}

pub async fn show_logout(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let signed_in = session::current(&req, &state).await?;
    Ok(render_form(&req, &state, StatusCode::OK, |csrf| {
        LogoutPage {
            csrf,
            username: signed_in.as_ref().map(|s| s.user.username.as_str()),
            done: false,
        }
    }))
}

/// Ends the session: the row is deleted and the cookie removed, so the next
/// authorization request asks to sign in.
pub async fn submit_logout(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    parse_form(&req, &state, &body)?;
    if let Some(c) = req.cookie(session::COOKIE) {
        let value = c.value().to_string();
        state.store.run(move |c| c.delete_session(&value)).await?;
    }
    let (token, _) = csrf::token_for_session(&req, &state, None);
    let mut resp = render(
        StatusCode::OK,
        &LogoutPage {
            csrf: token,
            username: None,
            done: true,
        },
    );
    let _ = resp.add_cookie(&session::removal(&state));
    Ok(resp)
}
