//! Who is signed in: the session cookie and its server-side row.

use super::PageError;
use crate::app::AppState;
use crate::store::models::browser_session::{BrowserSession, SESSION_MAX_TTL};
use crate::store::models::User;
use actix_web::cookie::{time::Duration, Cookie, SameSite};
use actix_web::HttpRequest;

pub const COOKIE: &str = "gatehouse_session";

pub struct SignedIn {
    pub session: BrowserSession,
    pub user: User,
}

/// The signed-in user of this request, if any.
pub async fn current(req: &HttpRequest, state: &AppState) -> Result<Option<SignedIn>, PageError> {
    let Some(cookie) = req.cookie(COOKIE) else {
        return Ok(None);
    };
    let value = cookie.value().to_string();
    let now = state.clock.now();
    let found = state
        .store
        .run(move |c| c.find_session(&value, now))
        .await?;
    Ok(found.map(|(session, user)| SignedIn { session, user }))
}

/// The cookie that carries a new session id.
pub fn cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build(COOKIE, value)
        .path("/")
        .http_only(true)
        .secure(super::state_secure(state))
        .same_site(SameSite::Lax)
        .max_age(Duration::seconds(SESSION_MAX_TTL))
        .finish()
}

/// A cookie that removes the session cookie.
pub fn removal(state: &AppState) -> Cookie<'static> {
    let mut c = cookie(state, String::new());
    c.make_removal();
    c
}
