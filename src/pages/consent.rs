//! `GET/POST /consent`: what the app asks for, and the person's answer.
//! The form carries the authorization request itself; the post validates it
//! again from scratch, so a tampered form is just another request. Both
//! judge the sign-in as `/authorize` does (`authorize::judge`): a request
//! that asks to sign in again (`prompt=login`, `max_age`) gets neither the
//! page nor a code until the person has, and an `id_token_hint` must name
//! who is signed in.

use super::authorize::{
    complete, error_response, forwarded, judge, load_request, redirect_error, to_enrol,
    to_second_factor, to_sign_in, Loaded,
};
use super::filters;
use super::session::SignedIn;
use super::{parse_form, render_form, PageError};
use crate::app::AppState;
use crate::oauth::authorize::{AuthorizeError, ResponseType, Step};
use crate::oauth::OAuthError;
use crate::store::models::audit_event::{subject, AuditType};
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
    /// For a Client ID Metadata Document's client: the host of its URL,
    /// shown large, since nothing else on the page was checked.
    document_host: Option<String>,
    /// Every redirect URI is on this computer (a document client).
    local_only: bool,
    /// RFC 8707: the resources (servers) the access will be for.
    resources: &'a [String],
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

/// The signed-in person when the request may be answered for them; else
/// the response that comes first: the sign-in page (continuing back here,
/// sealed when the request asks to sign in again) or an error for the
/// client (`login_required` for another person's `id_token_hint`), or a
/// second factor first (the second-factor page, or setting one up), which
/// come back here.
async fn gate(
    req: &HttpRequest,
    state: &AppState,
    loaded: &Loaded,
) -> Result<SignedIn, HttpResponse> {
    let (step, signed_in) = judge(req, state, loaded, false).await?;
    match (step, signed_in) {
        (Step::Consent | Step::Answer, Some(s)) => Ok(s),
        (Step::Fail(error), _) => Err(redirect_error(state, &loaded.areq, error)),
        (Step::StepUp, Some(_)) => Err(to_second_factor(state, "/consent", loaded)),
        (Step::Enrol, Some(_)) => Err(to_enrol(state, "/consent", loaded)),
        (_, signed_in) => Err(to_sign_in(state, "/consent", loaded, signed_in.as_ref())),
    }
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let raw = req.query_string().as_bytes().to_vec();
    let loaded = match load_request(&state, &raw).await {
        Ok(r) => r,
        Err(e) => return Ok(error_response(&state, e)),
    };
    let signed_in = match gate(&req, &state, &loaded).await {
        Ok(s) => s,
        Err(resp) => return Ok(resp),
    };
    let request = forwarded(&state, &loaded);
    let areq = &loaded.areq;
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
    let document_host = crate::oauth::client_document::is_document_id(&areq.client.id)
        .then(|| url::Url::parse(&areq.client.id).ok())
        .flatten()
        .and_then(|u| u.host_str().map(str::to_string));
    let local_only = document_host.is_some()
        && crate::oauth::client_document::all_redirects_local(&areq.client.redirect_uris.to_vec());
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
            document_host,
            local_only,
            resources: &areq.resource,
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
    let loaded = match load_request(&state, &raw).await {
        Ok(r) => r,
        Err(e) => return Ok(error_response(&state, e)),
    };
    let signed_in = match gate(&req, &state, &loaded).await {
        Ok(s) => s,
        Err(resp) => return Ok(resp),
    };
    let areq = &loaded.areq;
    match form.get("decision") {
        Some("allow") => {
            let given = crate::app::audit::person(&req, &signed_in.user.id)
                .event(AuditType::ConsentGiven)
                .subject(subject::person(&signed_in.user.id))
                .client(areq.client.id.clone());
            complete(&state, areq, &signed_in, Some(given)).await
        }
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
