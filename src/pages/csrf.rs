//! CSRF tokens for every form (double submit): a random value in an
//! `HttpOnly`, `SameSite=Lax` cookie, and in each form a token derived from
//! it. Another site can neither read the cookie nor compute the token, so
//! it cannot forge a post. A post without a valid token gets 403 and
//! changes nothing.

use crate::crypto::{b64url, constant_time_eq, random_token, sha256};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;

pub const COOKIE: &str = "gatehouse_csrf";
pub const FIELD: &str = "csrf_token";

fn derive(cookie_value: &str) -> String {
    b64url(&sha256(
        format!("gatehouse-csrf-v1:{cookie_value}").as_bytes(),
    ))
}

/// The form token for this browser, and the cookie to set when it has none.
pub fn token(req: &HttpRequest, secure: bool) -> (String, Option<Cookie<'static>>) {
    if let Some(c) = req.cookie(COOKIE) {
        if c.value().len() >= 32 {
            return (derive(c.value()), None);
        }
    }
    let value = random_token(32);
    let cookie = Cookie::build(COOKIE, value.clone())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish();
    (derive(&value), Some(cookie))
}

/// True when the posted token matches this browser's cookie.
pub fn verify(req: &HttpRequest, posted: Option<&str>) -> bool {
    match (req.cookie(COOKIE), posted) {
        (Some(c), Some(p)) => constant_time_eq(derive(c.value()).as_bytes(), p.as_bytes()),
        _ => false,
    }
}
