//! `GET/POST /email/verify`: the link mailed to confirm an address. The
//! GET only shows what will be confirmed and a button (mail scanners that
//! open links ahead of the person spend nothing); the POST, with its CSRF
//! token, spends the link and makes its address the person's, verified
//! (`email_verified` in ID tokens and userinfo).

use super::filters;
use super::password::{LinkProblemPage, TokenQuery};
use super::{parse_form, render, render_form, PageError};
use crate::app::accounts::{Accounts, LinkProblem};
use crate::app::AppState;
use crate::store::models::account_token::Purpose;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "email_verify.html")]
struct VerifyPage<'a> {
    csrf: String,
    token: &'a str,
    address: &'a str,
    username: &'a str,
    done: bool,
}

/// A verification link that does not work, with the way to a new one
/// (the account's e-mail page, after signing in).
fn link_problem(state: &AppState, problem: LinkProblem) -> HttpResponse {
    let (status, message) = match problem {
        LinkProblem::Unknown => (
            StatusCode::BAD_REQUEST,
            "This link does not work: it may be mistyped or cut short, or a newer link was sent since.",
        ),
        LinkProblem::Used => (
            StatusCode::GONE,
            "This link was already used. Each link works once.",
        ),
        LinkProblem::Expired => (StatusCode::GONE, "This link has expired."),
    };
    render(
        state,
        status,
        &LinkProblemPage {
            title: "This link does not work",
            message,
            again_href: "/account/email",
            again_text: "Send a new link from your account",
        },
    )
}

pub async fn show(
    req: HttpRequest,
    query: web::Query<TokenQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let token = query.token.clone().unwrap_or_default();
    let link = match Accounts::of(&state)
        .check(&token, &[Purpose::VerifyEmail])
        .await?
    {
        Ok(link) => link,
        Err(problem) => return Ok(link_problem(&state, problem)),
    };
    let (Some(address), Ok(user)) = (
        link.email.as_deref(),
        state.registry().find_user(&link.user_id).await,
    ) else {
        return Ok(link_problem(&state, LinkProblem::Unknown));
    };
    Ok(render_form(&req, &state, StatusCode::OK, |csrf| {
        VerifyPage {
            csrf,
            token: &token,
            address,
            username: &user.username,
            done: false,
        }
    }))
}

pub async fn confirm(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = parse_form(&req, &state, &body)?;
    let token = form.get("token").unwrap_or("");
    let who = crate::app::audit::anonymous(&req);
    match Accounts::of(&state).verify_email(token, &who).await? {
        Ok((user_id, address)) => {
            tracing::info!(user_id = %user_id, "e-mail address confirmed");
            Ok(render_form(&req, &state, StatusCode::OK, |csrf| {
                VerifyPage {
                    csrf,
                    token: "",
                    address: &address,
                    username: "",
                    done: true,
                }
            }))
        }
        Err(problem) => Ok(link_problem(&state, problem)),
    }
}
