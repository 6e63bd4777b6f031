//! CSRF tokens for every form (RFC 6749 §10.12, RFC 6819 §4.4.1.8): a
//! random value in an `HttpOnly`, `SameSite=Lax` cookie, and in each form a
//! token derived from it with an HMAC keyed by a server secret (kept in the
//! keys folder, shared by every instance) and bound to the browser's
//! session cookie when it has one. Another site can neither read the cookie
//! nor compute the token; one that manages to plant a cookie (a sibling
//! subdomain, plain http on the same host) still can't, since it knows
//! neither the secret nor the victim's session. The cookie must be a
//! full-length random value, and is named `__Host-…` when the issuer is
//! https, so a sibling subdomain cannot set it at all. A post without a
//! valid token gets 403 and changes nothing.

use super::session;
use crate::app::AppState;
use crate::crypto::{b64url, constant_time_eq, random_token};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;

/// The cookie's name over plain http.
pub const COOKIE: &str = "gatehouse_csrf";
/// The cookie's name when the issuer is https: the browser accepts it only
/// from this host, with `Secure` and `Path=/` (RFC 6265bis §4.1.3.2).
pub const HOST_COOKIE: &str = "__Host-gatehouse_csrf";
pub const FIELD: &str = "csrf_token";

/// Random bytes in the cookie value (base64url: 43 characters).
const COOKIE_BYTES: usize = 32;
const COOKIE_LEN: usize = 43;

pub fn cookie_name(state: &AppState) -> &'static str {
    if super::state_secure(state) {
        HOST_COOKIE
    } else {
        COOKIE
    }
}

/// Only a value gatehouse could have made: 43 base64url characters.
fn well_formed(value: &str) -> bool {
    value.len() == COOKIE_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// This browser's CSRF cookie value, when it has a well-formed one.
pub fn browser_value(req: &HttpRequest, state: &AppState) -> Option<String> {
    req.cookie(cookie_name(state))
        .map(|c| c.value().to_string())
        .filter(|v| well_formed(v))
}

fn derive(state: &AppState, cookie_value: &str, session: Option<&str>) -> String {
    b64url(&state.server_secret.mac(&[
        b"gatehouse-csrf-v2",
        cookie_value.as_bytes(),
        session.unwrap_or("").as_bytes(),
    ]))
}

fn session_value(req: &HttpRequest) -> Option<String> {
    req.cookie(session::COOKIE).map(|c| c.value().to_string())
}

/// The form token for this browser and its current session cookie, and the
/// cookie to set when it has no valid one.
pub fn token(req: &HttpRequest, state: &AppState) -> (String, Option<Cookie<'static>>) {
    token_for_session(req, state, session_value(req).as_deref())
}

/// Like `token`, for a response that changes the session cookie (sign-out
/// ends it: pass `None`).
pub fn token_for_session(
    req: &HttpRequest,
    state: &AppState,
    session: Option<&str>,
) -> (String, Option<Cookie<'static>>) {
    if let Some(value) = browser_value(req, state) {
        return (derive(state, &value, session), None);
    }
    let value = random_token(COOKIE_BYTES);
    let cookie = Cookie::build(cookie_name(state), value.clone())
        .path("/")
        .http_only(true)
        .secure(super::state_secure(state))
        .same_site(SameSite::Lax)
        .finish();
    (derive(state, &value, session), Some(cookie))
}

/// True when the posted token was made for this browser's cookie and its
/// current session cookie, with this server's secret.
pub fn verify(req: &HttpRequest, state: &AppState, posted: Option<&str>) -> bool {
    match (browser_value(req, state), posted) {
        (Some(value), Some(p)) => constant_time_eq(
            derive(state, &value, session_value(req).as_deref()).as_bytes(),
            p.as_bytes(),
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::well_formed;

    #[test]
    fn rfc6819_4_4_1_8_only_full_length_random_cookies_count() {
        assert!(well_formed(&crate::crypto::random_token(32)));
        assert!(!well_formed("a"));
        assert!(!well_formed(&"a".repeat(42)));
        assert!(!well_formed(&"a".repeat(44)));
        assert!(!well_formed(&format!("{}=", "a".repeat(42))));
    }
}
