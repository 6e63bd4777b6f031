//! `GET /`: what this server is, and where to go from here: sign in (or
//! create an account, while sign-up is open), or, signed in, one's apps
//! and account. Named by the operator's site name.

use super::{filters, render, session, PageError};
use crate::app::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "landing.html")]
struct LandingPage {
    /// Who is signed in, if anyone.
    username: Option<String>,
    signup_open: bool,
    /// OpenID Connect Discovery 1.0 §4, for developers.
    discovery_url: String,
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let username = session::current(&req, &state)
        .await?
        .map(|s| s.user.username);
    Ok(render(
        &state,
        StatusCode::OK,
        &LandingPage {
            username,
            signup_open: state.config.signup_open,
            discovery_url: state.url("/.well-known/openid-configuration"),
        },
    ))
}
