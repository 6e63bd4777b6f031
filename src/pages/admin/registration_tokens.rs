//! `GET /admin/registration-tokens`: the RFC 7591 initial access tokens
//! (by id, never the token: uses left, expiry, whether `POST /register`
//! takes it now); `POST` with `action=create` (`uses`, optional `ttl` in
//! seconds) shows the new token once, in the answer to that post;
//! `action=revoke` (`id`) revokes one. The registry's rules, as for
//! `gatehouse registration-token`.

use super::{done, filters, gate, when};
use crate::app::AppState;
use crate::pages::{parse_form, render_form, PageError};
use crate::registry::RegistryError;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

const HERE: &str = "/admin/registration-tokens";

pub struct TokenLine {
    pub id: String,
    pub uses_left: i64,
    pub expires: String,
    pub created: String,
    pub usable: bool,
}

#[derive(Template)]
#[template(path = "admin/registration_tokens.html")]
struct TokensPage<'a> {
    section: &'a str,
    csrf: String,
    tokens: Vec<TokenLine>,
    /// The token just made, shown this once.
    created: Option<String>,
    note: Option<&'a str>,
    /// The create form's values and error, after a refused post.
    uses: String,
    ttl: String,
    error: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct TokensQuery {
    done: Option<String>,
}

/// What the create form shows again.
#[derive(Default)]
struct Shown {
    created: Option<String>,
    uses: Option<String>,
    ttl: String,
    error: Option<String>,
}

async fn page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    note: Option<&str>,
    shown: Shown,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    let tokens = state
        .registry()
        .list_registration_tokens()
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?
        .into_iter()
        .rev()
        .map(|t| TokenLine {
            usable: t.usable_at(now),
            expires: t.expires_at.map(when).unwrap_or_else(|| "never".into()),
            created: when(t.created_at),
            uses_left: t.uses_left,
            id: t.id,
        })
        .collect();
    Ok(render_form(req, state, status, |csrf| TokensPage {
        section: "tokens",
        csrf,
        tokens,
        created: shown.created,
        note,
        uses: shown.uses.unwrap_or_else(|| "1".into()),
        ttl: shown.ttl,
        error: shown.error,
    }))
}

pub async fn show(
    req: HttpRequest,
    query: web::Query<TokensQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let _a = gate!(req, state, HERE);
    let note = match query.done.as_deref() {
        Some("revoked") => Some("The token was revoked: POST /register refuses it now."),
        _ => None,
    };
    page(&req, &state, StatusCode::OK, note, Shown::default()).await
}

pub async fn act(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let a = gate!(req, state, HERE);
    let form = parse_form(&req, &state, &body)?;
    let registry = state.registry();
    let registry = registry.acting(&a.acting);
    match form.get("action") {
        Some("create") => {
            let uses_text = form.get("uses").unwrap_or("1").trim().to_string();
            let ttl_text = form.get("ttl").unwrap_or("").trim().to_string();
            let uses = uses_text.parse::<i64>().ok().filter(|n| *n >= 1);
            let ttl = match ttl_text.as_str() {
                "" => Some(None),
                t => t.parse::<i64>().ok().filter(|n| *n >= 1).map(Some),
            };
            let refused = |error: String| Shown {
                uses: Some(uses_text.clone()),
                ttl: ttl_text.clone(),
                error: Some(error),
                ..Shown::default()
            };
            let (Some(uses), Some(ttl)) = (uses, ttl) else {
                let shown = refused(
                    "Uses must be a whole number from 1, and the lifetime empty (no expiry) \
                     or a whole number of seconds from 1: nothing was made."
                        .into(),
                );
                return page(&req, &state, StatusCode::BAD_REQUEST, None, shown).await;
            };
            match registry.create_registration_token(uses, ttl).await {
                Ok(token) => {
                    let shown = Shown {
                        created: Some(token),
                        ..Shown::default()
                    };
                    page(&req, &state, StatusCode::OK, None, shown).await
                }
                Err(RegistryError::Store(e)) => Err(e.into()),
                Err(e) => {
                    let shown = refused(e.to_string());
                    page(&req, &state, StatusCode::BAD_REQUEST, None, shown).await
                }
            }
        }
        Some("revoke") => {
            let id = form.get("id").unwrap_or("");
            match registry.revoke_registration_token(id).await {
                Ok(_) => Ok(done(HERE, "revoked")),
                Err(RegistryError::Store(e)) => Err(e.into()),
                Err(e) => Err(PageError::NotFound(e.to_string())),
            }
        }
        _ => Err(PageError::BadRequest(
            "Unknown action: nothing was changed.".into(),
        )),
    }
}
