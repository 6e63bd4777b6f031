//! `GET /admin/audit`: the audit trail, newest first, filtered by person
//! (a username or an id: events by them or done to them), app (client
//! id), type and time (from, until; UTC), all in the query so a filtered
//! view can be bookmarked. The same rows `gatehouse audit` prints; a
//! person's id is shown with their username while they exist.

use super::{filters, gate};
use crate::app::AppState;
use crate::pages::{render, PageError};
use crate::store::models::audit_event::{subject, AuditEvent, AuditFilter, AuditType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use std::collections::HashMap;

/// Events on the page at most.
const SHOWN: i64 = 200;

/// The form's time inputs (`datetime-local`): minutes, read as UTC.
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M";

#[derive(serde::Deserialize, Default)]
pub struct AuditQuery {
    person: Option<String>,
    client: Option<String>,
    r#type: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

/// One event as a table row.
pub struct EventLine {
    pub date: String,
    pub time: String,
    pub kind: String,
    pub actor: String,
    /// The actor's username, when it is a person who still exists.
    pub actor_name: String,
    pub subject: String,
    pub subject_name: String,
    pub client: String,
    pub outcome: String,
    pub ip: String,
    pub detail: String,
}

impl EventLine {
    pub fn of(e: &AuditEvent) -> EventLine {
        let at = chrono::DateTime::from_timestamp_millis(e.at_ms);
        let show = |f: &str| at.map(|t| t.format(f).to_string()).unwrap_or_default();
        EventLine {
            date: show("%Y-%m-%d"),
            time: show("%H:%M:%S UTC"),
            kind: e.kind.clone(),
            actor: e.actor.clone(),
            actor_name: String::new(),
            subject: e.subject.clone().unwrap_or_default(),
            subject_name: String::new(),
            client: e.client_id.clone().unwrap_or_default(),
            outcome: e.outcome.clone(),
            ip: e.ip.clone().unwrap_or_default(),
            detail: if e.detail == "{}" {
                String::new()
            } else {
                e.detail.clone()
            },
        }
    }
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage<'a> {
    section: &'a str,
    query: &'a AuditQuery,
    types: Vec<&'static str>,
    events: Vec<EventLine>,
    /// What was wrong with the filter (shown above it; nothing is listed).
    error: Option<String>,
    shown: i64,
    /// As many as are shown: there may be more.
    full: bool,
}

impl AuditQuery {
    fn get(v: &Option<String>) -> &str {
        v.as_deref().map(str::trim).unwrap_or("")
    }
    pub fn person(&self) -> &str {
        Self::get(&self.person)
    }
    pub fn client(&self) -> &str {
        Self::get(&self.client)
    }
    pub fn kind(&self) -> &str {
        Self::get(&self.r#type)
    }
    pub fn since(&self) -> &str {
        Self::get(&self.since)
    }
    pub fn until(&self) -> &str {
        Self::get(&self.until)
    }
}

/// A `datetime-local` value (or a date alone) as milliseconds, UTC.
fn time_ms(v: &str, field: &str) -> Result<Option<i64>, String> {
    if v.is_empty() {
        return Ok(None);
    }
    let parsed = chrono::NaiveDateTime::parse_from_str(v, TIME_FORMAT)
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
        });
    match parsed {
        Ok(t) => Ok(Some(t.and_utc().timestamp_millis())),
        Err(_) => Err(format!(
            "'{field}' is not a time: give it as 2026-12-06T14:30 (UTC) or 2026-12-06"
        )),
    }
}

/// Names the people (`person:<id>`) of a line by their usernames.
fn label(line: &mut EventLine, names: &HashMap<String, String>) {
    let name = |party: &str| names.get(party).cloned().unwrap_or_default();
    line.actor_name = name(&line.actor);
    line.subject_name = name(&line.subject);
}

pub async fn show(
    req: HttpRequest,
    query: web::Query<AuditQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let _a = gate!(req, state, "/admin/audit");
    let q = query.into_inner();
    let mut filter = AuditFilter {
        limit: SHOWN,
        ..Default::default()
    };
    let mut error = None;
    match (time_ms(q.since(), "From"), time_ms(q.until(), "Until")) {
        (Ok(s), Ok(u)) => (filter.since_ms, filter.until_ms) = (s, u),
        (Err(e), _) | (_, Err(e)) => error = Some(e),
    }
    if !q.kind().is_empty() {
        match AuditType::parse(q.kind()) {
            Some(t) => filter.kind = Some(t),
            None => error = Some(format!("There is no event type '{}'.", q.kind())),
        }
    }
    if !q.client().is_empty() {
        filter.client_id = Some(q.client().to_string());
    }
    let fields = [q.person(), q.client(), q.kind(), q.since(), q.until()];
    if fields
        .iter()
        .any(|f| f.len() > 300 || f.chars().any(char::is_control))
    {
        // PostgreSQL refuses a NUL in text; nothing is that long.
        error = Some("A filter has control characters or is too long.".to_string());
    }
    let person = q.person().to_string();
    let events = if error.is_some() {
        vec![]
    } else {
        let found = if person.is_empty() {
            None
        } else {
            let key = person.clone();
            state
                .store
                .run(move |c| match c.find_user(&key)? {
                    Some(u) => Ok(Some(u)),
                    None => c.find_user_by_username(&key),
                })
                .await?
        };
        if !person.is_empty() {
            // A deleted person is still in the trail by id.
            let id = found.map(|u| u.id).unwrap_or_else(|| person.clone());
            filter.party = Some(subject::person(&id));
        }
        let rows = state
            .store
            .run(move |c| {
                let mut rows = c.audit_events(&filter)?;
                rows.reverse();
                // Who the people in these rows are, while they exist: one
                // query for all of them.
                let mut ids: Vec<String> = rows
                    .iter()
                    .flat_map(|r| [Some(&r.actor), r.subject.as_ref()])
                    .flatten()
                    .filter_map(|p| p.strip_prefix("person:").map(str::to_string))
                    .collect();
                ids.sort();
                ids.dedup();
                let names: HashMap<String, String> = c
                    .usernames(&ids)?
                    .into_iter()
                    .map(|(id, name)| (subject::person(&id), name))
                    .collect();
                Ok::<_, crate::store::StoreError>((rows, names))
            })
            .await?;
        let (rows, names) = rows;
        rows.iter()
            .map(|r| {
                let mut line = EventLine::of(r);
                label(&mut line, &names);
                line
            })
            .collect()
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(render(
        &state,
        status,
        &AuditPage {
            section: "audit",
            query: &q,
            types: AuditType::ALL.iter().map(|t| t.as_str()).collect(),
            full: events.len() as i64 >= SHOWN,
            events,
            error,
            shown: SHOWN,
        },
    ))
}
