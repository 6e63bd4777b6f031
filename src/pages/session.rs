//! Who is signed in: the session cookie and its server-side row.

use super::PageError;
use crate::app::AppState;
use crate::oauth::amr::Amr;
use crate::store::models::audit_event::{actor, subject, AuditType, NewAuditEvent};
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

/// Starts a new session for `user_id` (the sign-in page, sign-up, the
/// second step), noting how they signed in (`amr`), the browser's
/// `User-Agent` and the client address, and
/// continues to `next` (already checked with `safe_next`). The browser's
/// old session, if any, ends: a fresh id on every sign-in, so no session
/// fixation.
pub async fn start(
    req: &HttpRequest,
    state: &AppState,
    user_id: String,
    amr: &Amr,
    next: &str,
) -> Result<actix_web::HttpResponse, PageError> {
    let now = state.clock.now();
    // For the person's sessions list: the browser, and the client address
    // as the throttle reads it (behind trusted proxies, the one they name).
    let user_agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let ip = crate::app::sign_in::client_addr(req);
    let amr = amr.clone();
    // The audit trail's sign-in: in the transaction that starts the session.
    let event = NewAuditEvent::new(AuditType::SignIn, actor::person(&user_id))
        .subject(subject::person(&user_id))
        .from(Some(ip.clone()), user_agent.clone())
        .detail("via", "browser")
        .detail("amr", amr.as_text());
    let at_ms = state.clock.now_millis();
    let sid = state
        .store
        .run(move |c| {
            c.transaction(|tx| {
                let sid =
                    tx.create_session(&user_id, now, &amr, user_agent.as_deref(), Some(&ip))?;
                tx.record_audit(at_ms, &event)?;
                Ok::<_, crate::store::StoreError>(sid)
            })
        })
        .await?;
    if let Some(old) = req.cookie(COOKIE) {
        let old = old.value().to_string();
        state.store.run(move |c| c.delete_session(&old)).await?;
    }
    let mut resp = super::see_other(next);
    let _ = resp.add_cookie(&cookie(state, sid));
    Ok(resp)
}
