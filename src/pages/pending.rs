//! A sign-in half made: the first factor (the password) was right and a
//! second factor is due, because the person has one. No session exists
//! yet: the browser holds a short-lived cookie, MAC'd under the server
//! secret, naming the person, when, how (`amr`) and which password it was
//! (a hash of the stored hash, so a new password ends it). The second-step
//! page (`/login/factor`) reads it with `first_factor` and, once a factor
//! checks out, starts the session with `finish`.
//!
//! The same page serves a step-up: a person already signed in with a
//! password alone whom an app (`acr_values`) or the factor policy asks for
//! a second factor. Then the first factor is the current session.

use super::{see_other, session, PageError};
use crate::app::AppState;
use crate::crypto::{b64url, constant_time_eq};
use crate::oauth::amr::{Amr, Method};
use crate::store::models::browser_session::BrowserSession;
use crate::store::models::User;
use actix_web::cookie::{time::Duration, Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse};

pub const COOKIE: &str = "gatehouse_pending";
/// Seconds the second step may take.
pub const PENDING_TTL: i64 = 300;
const LABEL: &[u8] = b"gatehouse-pending-sign-in-v1";

/// Who the second step is for, and how they got this far.
pub struct FirstFactor {
    pub user: User,
    /// The methods of the first step (`pwd`, or the session's).
    pub amr: Amr,
    /// The session, when this is a step-up of one.
    pub session: Option<BrowserSession>,
}

fn mac(state: &AppState, user: &str, issued: &str, amr: &str, password_hash: &str) -> String {
    let pw = crate::crypto::sha256(password_hash.as_bytes());
    b64url(&state.server_secret.mac(&[
        LABEL,
        user.as_bytes(),
        issued.as_bytes(),
        amr.as_bytes(),
        &pw,
    ]))
}

fn cookie(state: &AppState, value: String, max_age: i64) -> Cookie<'static> {
    Cookie::build(COOKIE, value)
        .path("/")
        .http_only(true)
        .secure(super::state_secure(state))
        .same_site(SameSite::Lax)
        .max_age(Duration::seconds(max_age))
        .finish()
}

/// Ends the password step: `303` to the second-step page, continuing to
/// `next` (already checked by `safe_next`), with the pending cookie.
pub fn begin(state: &AppState, user: &User, amr: &Amr, next: &str) -> HttpResponse {
    let issued = state.clock.now().to_string();
    let amr_text = amr.values().join("+");
    let tag = mac(state, &user.id, &issued, &amr_text, &user.password_hash);
    let value = format!("{}.{issued}.{amr_text}.{tag}", user.id);
    let q = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    let mut resp = see_other(&format!("/login/factor?{q}"));
    let _ = resp.add_cookie(&cookie(state, value, PENDING_TTL));
    resp
}

/// The pending cookie's person, when it is genuine, fresh, of their
/// current password, and they are still enabled.
async fn pending(req: &HttpRequest, state: &AppState) -> Result<Option<(User, Amr)>, PageError> {
    let Some(c) = req.cookie(COOKIE) else {
        return Ok(None);
    };
    let value = c.value().to_string();
    let parts: Vec<&str> = value.split('.').collect();
    let [user_id, issued, amr_text, tag] = parts.as_slice() else {
        return Ok(None);
    };
    let Ok(at) = issued.parse::<i64>() else {
        return Ok(None);
    };
    let now = state.clock.now();
    if now < at || now - at > PENDING_TTL {
        return Ok(None);
    }
    let id = user_id.to_string();
    let Some(user) = state.store.run(move |c| c.find_user(&id)).await? else {
        return Ok(None);
    };
    let expected = mac(state, &user.id, issued, amr_text, &user.password_hash);
    if user.disabled || !constant_time_eq(expected.as_bytes(), tag.as_bytes()) {
        return Ok(None);
    }
    Ok(Some((user, Amr::from_text(&amr_text.replace('+', " ")))))
}

/// Who the second step is for: the pending sign-in, else the person
/// signed in (a step-up), else nobody (the page sends them to sign in).
pub async fn first_factor(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<FirstFactor>, PageError> {
    if let Some((user, amr)) = pending(req, state).await? {
        return Ok(Some(FirstFactor {
            user,
            amr,
            session: None,
        }));
    }
    Ok(session::current(req, state).await?.map(|s| FirstFactor {
        amr: s.session.amr(),
        user: s.user,
        session: Some(s.session),
    }))
}

/// The second factor checked out: starts the session (a new one, also
/// for a step-up) with the first step's methods, the factor's and `mfa`,
/// removes the pending cookie, and continues to `next`.
pub async fn finish(
    req: &HttpRequest,
    state: &AppState,
    first: &FirstFactor,
    factor: &[Method],
    next: &str,
) -> Result<HttpResponse, PageError> {
    let amr = first.amr.with_second_factor(factor);
    let mut resp = session::start(req, state, first.user.id.clone(), &amr, next).await?;
    let _ = resp.add_cookie(&removal(state));
    Ok(resp)
}

/// A cookie that removes the pending cookie.
pub fn removal(state: &AppState) -> Cookie<'static> {
    let mut c = cookie(state, String::new(), 0);
    c.make_removal();
    c
}
