//! `GET /account`: the apps a signed-in person has given access to, each
//! with a button to take it back (which also revokes that app's refresh
//! tokens for the person), and the person's display name (OpenID Connect
//! `name`), which they may change.

use super::consent::{describe_scope, ScopeLine};
use super::filters;
use super::session::SignedIn;
use super::{parse_form, render_form, see_other, session, sign_in_first, PageError};
use crate::app::AppState;
use crate::registry::{RegistryError, UserChange};
use crate::store::models::split_list;
use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

pub struct AppLine {
    pub client_id: String,
    pub name: String,
    /// What it may do, worded as the consent page worded it.
    pub scopes: Vec<ScopeLine>,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    csrf: String,
    username: &'a str,
    apps: Vec<AppLine>,
    revoked: Option<&'a str>,
    saved: Option<&'a str>,
    /// The display name in the form.
    name: &'a str,
    name_error: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct AccountQuery {
    revoked: Option<String>,
    saved: Option<String>,
}

pub async fn show(
    req: HttpRequest,
    query: web::Query<AccountQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(me) = session::current(&req, &state).await? else {
        return Ok(sign_in_first("/account"));
    };
    let name = me.user.name.clone().unwrap_or_default();
    let notes = Notes {
        revoked: query.revoked.as_deref(),
        saved: query.saved.as_deref(),
    };
    account_page(&req, &state, &me, StatusCode::OK, notes, &name, None).await
}

/// What the page reports after a post.
#[derive(Default)]
struct Notes<'a> {
    revoked: Option<&'a str>,
    saved: Option<&'a str>,
}

async fn account_page(
    req: &HttpRequest,
    state: &AppState,
    me: &SignedIn,
    status: StatusCode,
    notes: Notes<'_>,
    name: &str,
    name_error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let uid = me.user.id.clone();
    let apps = state
        .store
        .run(move |c| c.list_consents(&uid))
        .await?
        .into_iter()
        .map(|(consent, name)| AppLine {
            client_id: consent.client_id,
            name,
            scopes: split_list(&consent.scope)
                .map(|s| ScopeLine {
                    name: s.to_string(),
                    description: describe_scope(state, s),
                })
                .collect(),
        })
        .collect();
    Ok(render_form(req, state, status, |csrf| AccountPage {
        csrf,
        username: &me.user.username,
        apps,
        revoked: notes.revoked,
        saved: notes.saved,
        name,
        name_error,
    }))
}

/// `POST /account/profile`: the person changes their display name. A bad
/// one shows the page again with the error beside the field.
pub async fn profile(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = parse_form(&req, &state, &body)?;
    let Some(me) = session::current(&req, &state).await? else {
        return Ok(sign_in_first("/account"));
    };
    let name = form.get("name").unwrap_or("").to_string();
    let change = UserChange {
        name: Some(name.clone()),
        ..Default::default()
    };
    match state.registry().update_user(&me.user.id, change).await {
        Ok(_) => Ok(see_other("/account?saved=1")),
        Err(RegistryError::Field { message, .. }) => {
            account_page(
                &req,
                &state,
                &me,
                StatusCode::BAD_REQUEST,
                Notes::default(),
                &name,
                Some(message),
            )
            .await
        }
        Err(e) => Err(PageError::Internal(e.to_string())),
    }
}

/// Withdraws consent for one app and revokes its refresh tokens and live
/// access tokens for this person, in one transaction.
pub async fn revoke(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = parse_form(&req, &state, &body)?;
    let Some(me) = session::current(&req, &state).await? else {
        return Ok(sign_in_first("/account"));
    };
    let client_id = form
        .get("client_id")
        .ok_or_else(|| PageError::BadRequest("Which app? (client_id missing)".into()))?
        .to_string();
    let now = state.clock.now();
    let (uid, cid) = (me.user.id.clone(), client_id.clone());
    let removed = state
        .store
        .run(move |c| {
            c.transaction(|c| -> Result<bool, StoreError> {
                let removed = c.delete_consent(&uid, &cid)?;
                c.revoke_families_for_user_client(&uid, &cid, now)?;
                // Access tokens issued without a refresh token (a client
                // without that grant, the implicit flow) die too.
                c.deny_user_access_tokens(&uid, Some(&cid), now)?;
                Ok(removed)
            })
        })
        .await?;
    if !removed {
        return Err(PageError::NotFound(
            "That app has no access to your account.".into(),
        ));
    }
    Ok(see_other("/account?revoked=1"))
}
