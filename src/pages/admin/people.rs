//! `GET /admin/people`: everyone, searched by username or e-mail address
//! and paged; `GET /admin/people/{id}`: one person (their details, second
//! factors, browsers signed in, the apps they registered, their latest
//! events); `POST /admin/people/{id}` the actions, by `action`: `disable`,
//! `enable`, `make_admin`, `unmake_admin`, `reset_link`, `reset_factors`
//! and `delete` (both with a `confirm` checkbox), `sign_out`. An admin
//! cannot disable, delete or unmake themselves here, so the console never
//! locks out the one using it (the CLI can).

use super::{done, filters, gate, not_found, when};
use crate::app::accounts::Accounts;
use crate::app::AppState;
use crate::oauth::wire::max_len;
use crate::pages::{parse_form, render, render_form, user_agent, PageError};
use crate::registry::{RegistryError, UserChange};
use crate::store::models::audit_event::{subject, AuditFilter};
use crate::store::models::factors::Factors;
use crate::store::models::{Client, User};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

/// People on one page of the list.
const PAGE_SIZE: i64 = 25;

#[derive(serde::Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    page: Option<i64>,
    done: Option<String>,
}

/// One person as the list shows them.
pub struct PersonLine {
    pub id: String,
    pub username: String,
    pub email: String,
    pub admin: bool,
    pub disabled: bool,
    pub created: String,
}

impl PersonLine {
    fn of(u: &User) -> PersonLine {
        PersonLine {
            id: u.id.clone(),
            username: u.username.clone(),
            email: u.email.clone().unwrap_or_default(),
            admin: u.is_admin,
            disabled: u.disabled,
            created: when(u.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/people.html")]
struct ListPage<'a> {
    section: &'a str,
    q: &'a str,
    people: Vec<PersonLine>,
    total: i64,
    /// The first and last shown (1-based), for "21–40 of 57".
    first: i64,
    last: i64,
    prev: Option<String>,
    next: Option<String>,
    /// A person was just deleted.
    deleted: bool,
}

/// A list page's address.
fn list_href(q: &str, page: i64) -> String {
    let page = page.to_string();
    let mut pairs = vec![];
    if !q.is_empty() {
        pairs.push(("q", q));
    }
    if page != "1" {
        pairs.push(("page", page.as_str()));
    }
    match serde_urlencoded::to_string(pairs).unwrap_or_default() {
        s if s.is_empty() => "/admin/people".to_string(),
        s => format!("/admin/people?{s}"),
    }
}

pub async fn list(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let _a = gate!(req, state, "/admin/people");
    let q: String = query
        .q
        .as_deref()
        .unwrap_or("")
        .trim()
        .chars()
        // No control characters (PostgreSQL refuses a NUL in text).
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let page = query.page.unwrap_or(1).clamp(1, 1_000_000);
    let (needle, offset) = (q.clone(), (page - 1) * PAGE_SIZE);
    let (rows, total) = state
        .store
        .run(move |c| c.search_users(&needle, offset, PAGE_SIZE))
        .await?;
    let shown = rows.len() as i64;
    let page_view = ListPage {
        section: "people",
        q: &q,
        people: rows.iter().map(PersonLine::of).collect(),
        total,
        first: if shown == 0 { 0 } else { offset + 1 },
        last: offset + shown,
        prev: (page > 1).then(|| list_href(&q, page - 1)),
        next: (offset + shown < total).then(|| list_href(&q, page + 1)),
        deleted: query.done.as_deref() == Some("deleted"),
    };
    Ok(render(&state, StatusCode::OK, &page_view))
}

/// A browser the person is signed in with.
pub struct SessionLine {
    pub device: String,
    pub address: String,
    pub signed_in: String,
    pub last_seen: String,
}

/// An app the person registered.
pub struct AppLine {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "admin/person.html")]
struct PersonPage<'a> {
    section: &'a str,
    csrf: String,
    person: PersonLine,
    name: String,
    email_verified: bool,
    factors: Factors,
    sessions: Vec<SessionLine>,
    apps: Vec<AppLine>,
    /// Their latest events, newest first.
    events: Vec<super::audit::EventLine>,
    /// The admin looking is this person.
    myself: bool,
    note: Option<&'a str>,
    /// A reset link made for handing over (no mail), shown once.
    link: Option<String>,
    mail: bool,
}

#[derive(serde::Deserialize)]
pub struct ShowQuery {
    done: Option<String>,
}

/// The person `id`; an unknown or malformed id is the console's 404.
async fn load(state: &AppState, id: &str) -> Result<User, PageError> {
    if id.is_empty() || id.contains('\0') || id.len() > max_len("client_id") {
        return Err(not_found());
    }
    let id = id.to_string();
    state
        .store
        .run(move |c| c.find_user(&id))
        .await?
        .ok_or_else(not_found)
}

/// What a done action's note says (only these words are shown).
fn note_text(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "disabled" => "Disabled: their sessions ended and their tokens were revoked.",
        "enabled" => "Enabled: they can sign in again.",
        "made_admin" => "They are an admin now.",
        "unmade_admin" => "They are no longer an admin.",
        "reset_link" => "A password reset link was mailed to them.",
        "reset_factors" => {
            "Their second factors were removed, their sessions ended and their tokens revoked."
        }
        "signed_out" => "They were signed out of every browser.",
        _ => return None,
    })
}

pub async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ShowQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let here = format!("/admin/people/{}", path.as_str());
    let a = gate!(req, state, &here);
    let user = load(&state, &path).await?;
    person_page(
        &req,
        &state,
        &a,
        user,
        note_text(query.done.as_deref()),
        None,
    )
    .await
}

async fn person_page(
    req: &HttpRequest,
    state: &AppState,
    a: &super::Admin,
    user: User,
    note: Option<&str>,
    link: Option<String>,
) -> Result<HttpResponse, PageError> {
    let (uid, now) = (user.id.clone(), state.clock.now());
    let party = subject::person(&user.id);
    let (factors, sessions, apps, events) = state
        .store
        .run(move |c| {
            let factors = c.user_factors(&uid)?;
            let sessions = c.list_user_sessions(&uid, now)?;
            let apps: Vec<Client> = c.list_clients_owned_by(&uid)?;
            let mut events = c.audit_events(&AuditFilter {
                party: Some(party),
                limit: 20,
                ..Default::default()
            })?;
            events.reverse();
            Ok::<_, crate::store::StoreError>((factors, sessions, apps, events))
        })
        .await?;
    let sessions = sessions
        .iter()
        .map(|s| SessionLine {
            device: user_agent::describe(s.user_agent.as_deref()),
            address: s.ip.clone().unwrap_or_else(|| "unknown".into()),
            signed_in: when(s.auth_time),
            last_seen: when(s.last_seen_at),
        })
        .collect();
    let apps = apps
        .into_iter()
        .map(|c| AppLine {
            name: c.name,
            id: c.id,
        })
        .collect();
    // Their own name is the page's heading; others' ids stay as they are.
    let events = events.iter().map(super::audit::EventLine::of).map(|mut e| {
        for (party, name) in [
            (&e.actor, &mut e.actor_name),
            (&e.subject, &mut e.subject_name),
        ] {
            if *party == subject::person(&user.id) {
                *name = user.username.clone();
            }
        }
        e
    });
    let myself = user.id == a.me.user.id;
    let mail = state.outbox.enabled() && user.email.is_some();
    Ok(render_form(req, state, StatusCode::OK, |csrf| PersonPage {
        section: "people",
        csrf,
        name: user.name.clone().unwrap_or_default(),
        email_verified: user.email_verified,
        person: PersonLine::of(&user),
        factors,
        sessions,
        apps,
        events: events.collect(),
        myself,
        note,
        link,
        mail,
    }))
}

/// A refusal the page words (a bad or forbidden action): 400 with the
/// reason.
fn refuse(message: &str) -> PageError {
    PageError::BadRequest(message.to_string())
}

pub async fn act(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let here = format!("/admin/people/{}", path.as_str());
    let a = gate!(req, state, &here);
    let form = parse_form(&req, &state, &body)?;
    let user = load(&state, &path).await?;
    let myself = user.id == a.me.user.id;
    let confirmed = form.get("confirm") == Some("yes");
    let registry = state.registry();
    let registry = registry.acting(&a.acting);
    let failed = |e: RegistryError| match e {
        RegistryError::Store(e) => PageError::from(e),
        RegistryError::NotFound(_) => not_found(),
        other => PageError::BadRequest(other.to_string()),
    };
    let note = match form.get("action") {
        Some("disable" | "delete" | "unmake_admin") if myself => {
            return Err(refuse(
                "You cannot do that to your own account here: another admin can, or the \
                 command line (gatehouse user …).",
            ))
        }
        Some("disable") => {
            registry
                .set_user_disabled(&user.id, true)
                .await
                .map_err(failed)?;
            "disabled"
        }
        Some("enable") => {
            registry
                .set_user_disabled(&user.id, false)
                .await
                .map_err(failed)?;
            "enabled"
        }
        Some(action @ ("make_admin" | "unmake_admin")) => {
            let admin = action == "make_admin";
            let change = UserChange {
                admin: Some(admin),
                ..Default::default()
            };
            registry
                .update_user(&user.id, change)
                .await
                .map_err(failed)?;
            if admin {
                "made_admin"
            } else {
                "unmade_admin"
            }
        }
        Some("sign_out") => {
            registry.end_sessions(&user).await.map_err(failed)?;
            "signed_out"
        }
        Some("reset_link") => {
            let links = Accounts::of(&state).acting(&a.acting);
            if !links.send_reset(&user).await? {
                // No mail (or no address): the link is shown once, to hand over.
                let issued = links
                    .hand_link(
                        &user,
                        crate::store::models::account_token::Purpose::ResetPassword,
                    )
                    .await?;
                return person_page(&req, &state, &a, user, None, Some(issued.link)).await;
            }
            "reset_link"
        }
        Some("reset_factors") if confirmed => {
            let notice = match (&user.email, state.outbox.enabled()) {
                (Some(to), true) => Some(
                    crate::mail::messages::factors_reset(
                        &crate::app::mail_site(&state.config),
                        to,
                        &user.username,
                        &state.url("/password/forgot"),
                    )
                    .map_err(|e| PageError::Internal(e.to_string()))?,
                ),
                _ => None,
            };
            let shared = state.clone().into_inner();
            let now = state.clock.now();
            registry
                .reset_factors(&user, move |tx| {
                    if let Some(mail) = &notice {
                        shared.outbox.queue(tx, mail, now)?;
                    }
                    Ok(())
                })
                .await
                .map_err(failed)?;
            state.outbox.wake();
            "reset_factors"
        }
        Some("delete") if confirmed => {
            registry.delete_user(&user.id).await.map_err(failed)?;
            return Ok(done("/admin/people", "deleted"));
        }
        Some("reset_factors" | "delete") => {
            return Err(refuse(
                "Tick the box to confirm, then press the button again: nothing was changed.",
            ))
        }
        Some(_) | None => return Err(refuse("Unknown action: nothing was changed.")),
    };
    Ok(done(&here, note))
}
