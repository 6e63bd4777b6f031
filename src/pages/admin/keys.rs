//! `GET /admin/keys`: the signing keys as `gatehouse keys list` shows
//! them (which signs, which are published at `/jwks.json` and until when,
//! which are retired, whether the keys folder has each one's file);
//! `POST` with `action=rotate` adds a key that signs after
//! `GATEHOUSE_KEY_ROTATION_DELAY` (published at once, so resource servers'
//! cached key sets learn it first), `action=rotate_now` one that signs at
//! once (a compromised key), only with its `confirm` checkbox ticked. The
//! key store's `rotate`, as for `gatehouse keys rotate`; this server
//! reloads its keys at once, the others within their reload interval.

use super::{done, filters, gate, when};
use crate::app::AppState;
use crate::pages::{parse_form, render_form, PageError};
use crate::store::models::audit_event::AuditType;
use crate::tokens::keyset::{states, KeyState};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

const HERE: &str = "/admin/keys";

pub struct KeyLine {
    pub kid: String,
    /// When it signs from (a staged key's is still to come; for others,
    /// when it was made).
    pub created: String,
    pub state: &'static str,
    pub until: String,
    /// Signs from a time still to come (a staged rotation).
    pub staged: bool,
    /// The keys folder lacks its file (`<kid>.pem`), though it is in use.
    pub missing_file: bool,
}

#[derive(Template)]
#[template(path = "admin/keys.html")]
struct KeysPage<'a> {
    section: &'a str,
    csrf: String,
    keys: Vec<KeyLine>,
    delay: i64,
    note: Option<&'a str>,
}

#[derive(serde::Deserialize)]
pub struct KeysQuery {
    done: Option<String>,
}

pub async fn show(
    req: HttpRequest,
    query: web::Query<KeysQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let _a = gate!(req, state, HERE);
    let rows = state.store.run(|c| c.list_signing_keys()).await?;
    let now = state.clock.now();
    let dir = state.config.keys_dir.clone();
    let keys = rows
        .iter()
        .zip(states(&rows, now))
        .rev()
        .map(|(r, s)| KeyLine {
            kid: r.kid.clone(),
            created: when(r.created_at),
            state: s.name(),
            until: match (s, r.not_after) {
                (_, Some(t)) => when(t),
                (KeyState::Retired, None) => "-".into(),
                (_, None) => "while it signs".into(),
            },
            staged: r.created_at > now,
            missing_file: s != KeyState::Retired && !dir.join(format!("{}.pem", r.kid)).is_file(),
        })
        .collect();
    let note = match query.done.as_deref() {
        Some("rotated") => Some(
            "A new key is published now and signs after the delay; the old one keeps \
             validating until its last token expires.",
        ),
        Some("rotated_now") => {
            Some("A new key signs now; the old one stays published until its last token expires.")
        }
        _ => None,
    };
    Ok(render_form(&req, &state, StatusCode::OK, |csrf| KeysPage {
        section: "keys",
        csrf,
        keys,
        delay: state.config.key_rotation_delay,
        note,
    }))
}

pub async fn act(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let a = gate!(req, state, HERE);
    let form = parse_form(&req, &state, &body)?;
    let now_too = match form.get("action") {
        Some("rotate") => false,
        Some("rotate_now") if form.get("confirm") == Some("yes") => true,
        Some("rotate_now") => {
            return Err(PageError::BadRequest(
                "Tick the box to confirm switching keys at once, then press the button again: \
                 nothing was changed."
                    .into(),
            ))
        }
        _ => {
            return Err(PageError::BadRequest(
                "Unknown action: nothing was changed.".into(),
            ))
        }
    };
    let event = a.acting.event(AuditType::KeyRotated);
    let shared = state.clone().into_inner();
    let rotated = tokio::task::spawn_blocking(move || {
        let s = &shared;
        let now = s.clock.now();
        let delay = if now_too {
            0
        } else {
            s.config.key_rotation_delay
        };
        let longest = s.config.access_token_ttl.max(s.config.id_token_ttl);
        crate::tokens::keystore::rotate(
            &s.store,
            &s.config.keys_dir,
            now,
            longest,
            delay,
            Some(event),
        )?;
        s.keys.reload(&s.store, now)
    })
    .await
    .map_err(|e| PageError::Internal(e.to_string()))?;
    rotated.map_err(|e| PageError::Internal(format!("rotating the signing key: {e}")))?;
    Ok(done(HERE, if now_too { "rotated_now" } else { "rotated" }))
}
