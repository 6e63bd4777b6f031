//! The admin console at `/admin`, for admins only: people (`people.rs`),
//! RFC 7591 initial access tokens (`registration_tokens.rs`), the signing
//! keys (`keys.rs`) and the audit trail (`audit.rs`); every app, with its
//! owner, is the application pages' (`/apps`, which list and manage every
//! app for an admin).
//!
//! Anyone else gets 404, as for another person's app (someone not signed
//! in is sent to sign in first). A sign-in older than `GATEHOUSE_ADMIN_REAUTH`
//! seconds is sent to sign in again before any console page or action
//! (sudo mode): the sign-in page asks for the password and, for a person
//! who has one, the second factor, and starts a fresh session. While the
//! factor policy (`GATEHOUSE_MFA`) asks admins for a second factor, an
//! admin without one is sent to set one up first.
//!
//! Pages are plain HTML forms, no script; every post carries the CSRF
//! token, goes through the registry (or the key store) acting as the admin
//! (`app::audit::person`), so each action is in the audit trail with the
//! admin as its actor, then answers `303` to the page it came from.

pub mod audit;
pub mod keys;
pub mod people;
pub mod registration_tokens;

use super::filters;
use super::session::SignedIn;
use super::{render, see_other, session, sign_in_first, PageError};
use crate::app::AppState;
use crate::registry::Acting;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

/// The console's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(home))
        .route("/admin/people", web::get().to(people::list))
        .route("/admin/people/{id}", web::get().to(people::show))
        .route("/admin/people/{id}", web::post().to(people::act))
        .route(
            "/admin/registration-tokens",
            web::get().to(registration_tokens::show),
        )
        .route(
            "/admin/registration-tokens",
            web::post().to(registration_tokens::act),
        )
        .route("/admin/keys", web::get().to(keys::show))
        .route("/admin/keys", web::post().to(keys::act))
        .route("/admin/audit", web::get().to(audit::show));
}

/// The answer to anyone who is not an admin, whatever they asked for.
fn not_found() -> PageError {
    PageError::NotFound("There is no such page.".into())
}

/// An admin signed in recently enough, acting through this request.
pub struct Admin {
    pub me: SignedIn,
    pub acting: Acting,
}

/// Lets an admin through to `here` (the console page asked for, or the
/// one a form was posted from), or answers for everyone else: not signed
/// in, the sign-in page; not an admin, 404; signed in too long ago, the
/// sign-in page again; owing a second factor by the policy, the account
/// page to set one up.
pub async fn admin(
    req: &HttpRequest,
    state: &AppState,
    here: &str,
) -> Result<Result<Admin, HttpResponse>, PageError> {
    let Some(me) = session::current(req, state).await? else {
        return Ok(Err(sign_in_first(here)));
    };
    if !me.user.is_admin || me.user.disabled {
        return Err(not_found());
    }
    if state.clock.now() - me.session.auth_time >= state.config.admin_reauth {
        return Ok(Err(sign_in_first(here)));
    }
    if state.config.mfa.requires(true) {
        let uid = me.user.id.clone();
        let factors = state.store.run(move |c| c.user_factors(&uid)).await?;
        if !factors.any() {
            return Ok(Err(see_other("/account?enrol=policy")));
        }
    }
    let acting = crate::app::audit::person(req, &me.user.id);
    Ok(Ok(Admin { me, acting }))
}

/// Runs `admin`, answering for non-admins: `let a = gate!(req, state, here);`.
macro_rules! gate {
    ($req:expr, $state:expr, $here:expr) => {
        match $crate::pages::admin::admin(&$req, &$state, $here).await? {
            Ok(a) => a,
            Err(answer) => return Ok(answer),
        }
    };
}
pub(crate) use gate;

/// A Unix time as the console shows it, in UTC.
pub fn when(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// A `303` back to `page` with `note` (a fixed word the page words).
fn done(page: &str, note: &str) -> HttpResponse {
    let q = serde_urlencoded::to_string([("done", note)]).unwrap_or_default();
    see_other(&format!("{page}?{q}"))
}

#[derive(Template)]
#[template(path = "admin/home.html")]
struct HomePage<'a> {
    section: &'a str,
    username: &'a str,
    people: i64,
    admins: i64,
    apps: i64,
    keys: usize,
    reauth_minutes: i64,
}

/// `GET /admin`: what there is, and the console's sections.
pub async fn home(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let a = gate!(req, state, "/admin");
    let (people, admins, apps, keys) = state
        .store
        .run(|c| {
            let people = c.count_users()?;
            let admins = c.count_active_admins()?;
            let apps = c.count_clients()?;
            let keys = c.list_signing_keys()?.len();
            Ok::<_, crate::store::StoreError>((people, admins, apps, keys))
        })
        .await?;
    Ok(render(
        &state,
        StatusCode::OK,
        &HomePage {
            section: "home",
            username: &a.me.user.username,
            people,
            admins,
            apps,
            keys,
            reauth_minutes: (state.config.admin_reauth / 60).max(1),
        },
    ))
}
