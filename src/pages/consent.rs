//! `GET/POST /consent`: what the app asks for, and the person's answer.
//! The form carries the authorization request itself; the post validates it
//! again from scratch, so a tampered form is just another request.

use super::authorize::{complete, error_response, load_request};
use super::{parse_form, render_form, see_other, session, PageError};
use crate::app::AppState;
use crate::oauth::authorize::{continuation_query, AuthorizeError, ResponseType};
use crate::oauth::OAuthError;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

pub struct ScopeLine {
    pub name: String,
    pub description: String,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    csrf: String,
    request: &'a str,
    client_name: &'a str,
    website: Option<&'a str>,
    /// The username of the person who registered the app on the
    /// application pages; `None` for the operator's apps.
    registered_by: Option<String>,
    username: &'a str,
    scopes: Vec<ScopeLine>,
}

/// What the consent page says a scope allows: the operator's text from
/// `[scope_descriptions]`, else a built-in one for common scopes.
pub fn describe_scope(state: &AppState, scope: &str) -> String {
    if let Some(d) = state.config.scope_descriptions.get(scope) {
        return d.clone();
    }
    match scope {
        "openid" => "Confirm who you are".into(),
        "profile" => "See your basic profile".into(),
        "email" => "See your email address".into(),
        "offline_access" => "Stay connected when you are not using the app".into(),
        "read" => "Read your data".into(),
        "write" => "Change your data".into(),
        other => format!("Use “{other}”"),
    }
}

fn login_redirect(query: &str) -> HttpResponse {
    let next = format!("/consent?{query}");
    let q = serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default();
    see_other(&format!("/login?{q}"))
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let raw = req.query_string().as_bytes().to_vec();
    let areq = match load_request(&state, &raw).await {
        Ok(r) => r,
        Err(e) => return Ok(error_response(&state, e)),
    };
    let Some(signed_in) = session::current(&req, &state).await? else {
        return Ok(login_redirect(&continuation_query(&raw)));
    };
    let request = continuation_query(&raw);
    let registered_by = match areq.client.owner.clone() {
        Some(owner) => state
            .store
            .run(move |c| c.find_user(&owner))
            .await?
            .map(|u| u.username),
        None => None,
    };
    let scopes = areq
        .scope
        .iter()
        .map(|s| ScopeLine {
            name: s.clone(),
            description: describe_scope(&state, s),
        })
        .collect();
    Ok(render_form(&req, &state, StatusCode::OK, |csrf| {
        ConsentPage {
            csrf,
            request: &request,
            client_name: &areq.client.name,
            // Checked again here: a client stored before the rules existed
            // may hold a javascript: or data: "website"; it is not linked.
            website: areq
                .client
                .website
                .as_deref()
                .filter(|w| crate::oauth::redirect_uri::check_web_uri(w, "client_uri").is_ok()),
            registered_by,
            username: &signed_in.user.username,
            scopes,
        }
    }))
}

pub async fn submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = parse_form(&req, &state, &body)?;
    let raw = form.get("request").unwrap_or("").as_bytes().to_vec();
    let areq = match load_request(&state, &raw).await {
        Ok(r) => r,
        Err(e) => return Ok(error_response(&state, e)),
    };
    let Some(signed_in) = session::current(&req, &state).await? else {
        return Ok(login_redirect(&continuation_query(&raw)));
    };
    match form.get("decision") {
        Some("allow") => complete(&state, &areq, &signed_in, true).await,
        // RFC 6749 §4.1.2.1: the resource owner denied the request.
        Some("deny") => Ok(error_response(
            &state,
            AuthorizeError::Redirect {
                error: OAuthError::AccessDenied("the user denied the request".into()),
                redirect_uri: areq.redirect_uri.clone(),
                state: areq.state.clone(),
                fragment: areq.response_type == ResponseType::Token,
            },
        )),
        _ => Err(PageError::BadRequest("Choose Allow or Deny.".into())),
    }
}
