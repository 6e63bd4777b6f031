//! `GET/POST /login`, the sign-in page.

use super::filters;
use super::{parse_form, pending, render_form, safe_next, session, PageError};
use crate::app::metrics::SignInVia;
use crate::app::sign_in::{authenticate_user, client_addr, SignInError};
use crate::app::AppState;
use crate::oauth::amr::Amr;
use crate::oauth::authorize::unseal;
use crate::oauth::wire::max_len;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: String,
    next: &'a str,
    username: &'a str,
    error: Option<&'a str>,
    /// The app the sign-in continues to, when `next` names one.
    app_name: Option<String>,
    /// The request continued asks to sign in again (`prompt=login`,
    /// `max_age`), though someone may be signed in already.
    again: bool,
    /// The sign-up page (continuing to the same `next`), while sign-up is
    /// open.
    signup_href: Option<String>,
    /// Passkeys are offered (`app::passkeys`): the passkey button.
    passkeys: bool,
    /// The sign-in continues to the admin console, which asks for a
    /// recent one (`pages::admin`, sudo mode).
    admin_again: bool,
}

#[derive(serde::Deserialize)]
pub struct NextQuery {
    pub next: Option<String>,
}

async fn login_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    next: &str,
    username: &str,
    error: Option<&str>,
) -> HttpResponse {
    let continued = continued_request(state, next);
    let app_name = match &continued {
        Some(c) => continuing_to(state, &c.pairs).await,
        None => match device_app(state, next) {
            Some(pairs) => continuing_to(state, &pairs).await,
            None => None,
        },
    };
    let again = continued.as_ref().is_some_and(|c| c.sealed);
    let signup_href = state.config.signup_open.then(|| {
        let q = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
        format!("/signup?{q}")
    });
    render_form(req, state, status, |csrf| LoginPage {
        csrf,
        next,
        username,
        error,
        app_name,
        again,
        signup_href,
        passkeys: state.passkeys.available(),
        admin_again: next == "/admin" || next.starts_with("/admin/") || next.starts_with("/admin?"),
    })
}

/// The authorization request a sign-in continues to, when `next` (already
/// checked by `safe_next`) is `/authorize` or the consent page.
struct Continued {
    pairs: Vec<(String, String)>,
    /// It came sealed: it asks to sign in again.
    sealed: bool,
}

/// The app of the device code a sign-in continues to (`next` is the
/// device page's consent step), as `client_id` pairs, when the device page
/// vouched for it with its MAC (`device::app_mac`).
fn device_app(state: &AppState, next: &str) -> Option<Vec<(String, String)>> {
    let (path, query) = next.split_once('?')?;
    if path != "/device" {
        return None;
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| {
        let mut v = pairs.iter().filter(|(key, _)| key == k).map(|(_, v)| v);
        match (v.next(), v.next()) {
            (Some(one), None) => Some(one.as_str()),
            _ => None,
        }
    };
    let (code, id, mac) = (get("user_code")?, get("client_id")?, get("app_mac")?);
    let expected = super::device::app_mac(state, code, id);
    crate::crypto::constant_time_eq(expected.as_bytes(), mac.as_bytes())
        .then(|| vec![("client_id".to_string(), id.to_string())])
}

/// Reads the request in `next`, opening it when sealed (a seal that does
/// not open names nothing: the page says nothing of it).
fn continued_request(state: &AppState, next: &str) -> Option<Continued> {
    let (path, query) = next.split_once('?')?;
    if path != "/authorize" && path != "/consent" {
        return None;
    }
    let (query, sealed) = match unseal(query.as_bytes(), &state.server_secret) {
        Ok(Some((inner, _))) => (inner, true),
        Ok(None) => (query.to_string(), false),
        Err(_) => return None,
    };
    let pairs = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    Some(Continued { pairs, sealed })
}

/// The one `client_id` of a continued request, when it names one that
/// could be an id.
fn client_id_of(pairs: &[(String, String)]) -> Option<String> {
    let ids: Vec<&String> = pairs
        .iter()
        .filter(|(k, v)| k == "client_id" && !v.is_empty())
        .map(|(_, v)| v)
        .collect();
    match ids.as_slice() {
        [id] if !id.contains('\0') && id.len() <= max_len("client_id") => Some(id.to_string()),
        _ => None,
    }
}

/// The name of the app a sign-in continues to, when the request names a
/// known `client_id`. Anything else, or a failed look-up, names none: the
/// line is a courtesy, never a reason to fail the page.
async fn continuing_to(state: &AppState, pairs: &[(String, String)]) -> Option<String> {
    let id = client_id_of(pairs)?;
    match state.store.run(move |c| c.find_client(&id)).await {
        Ok(found) => found.map(|c| c.name),
        Err(e) => {
            tracing::warn!(error = %e, "looking up the app a sign-in continues to");
            None
        }
    }
}

/// OpenID Connect `login_hint` (Core §3.1.2.1) of the authorization
/// request a sign-in continues to, when it looks like a username: it fills
/// in the username field. A hint is only a hint; anything odd is ignored.
fn login_hint(pairs: &[(String, String)]) -> Option<String> {
    let hint = pairs
        .iter()
        .find(|(k, _)| k == "login_hint")?
        .1
        .trim()
        .to_string();
    let plausible = !hint.is_empty()
        && hint.chars().count() <= 128
        && !hint.chars().any(|c| c.is_control() || c.is_whitespace());
    plausible.then_some(hint)
}

/// The sign-in form. `?next=` is where to continue afterwards (a local
/// path); the username is pre-filled from its `login_hint`.
pub async fn show(
    req: HttpRequest,
    query: web::Query<NextQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let next = safe_next(query.next.as_deref());
    let username = continued_request(&state, &next)
        .and_then(|c| login_hint(&c.pairs))
        .unwrap_or_default();
    login_page(&req, &state, StatusCode::OK, &next, &username, None).await
}

pub async fn submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = parse_form(&req, &state, &body)?;
    let next = safe_next(form.get("next"));
    let username = form.get("username").unwrap_or("");
    let password = form.get("password").unwrap_or("");
    if username.is_empty() || password.is_empty() {
        return Ok(login_page(
            &req,
            &state,
            StatusCode::BAD_REQUEST,
            &next,
            username,
            Some("Enter your username and password."),
        )
        .await);
    }
    let client_id = continued_request(&state, &next).and_then(|c| client_id_of(&c.pairs));
    match authenticate_user(
        &state,
        username,
        password,
        &client_addr(&req),
        SignInVia::LoginPage,
        client_id.as_deref(),
    )
    .await
    {
        Ok(user) => {
            // A person with a second factor signs in with it too: no
            // session until the second step (`pending`).
            let id = user.id.clone();
            let factors = state.store.run(move |c| c.user_factors(&id)).await?;
            if factors.any() {
                Ok(pending::begin(&state, &user, &Amr::password(), &next))
            } else {
                session::start(&req, &state, user.id, &Amr::password(), &next).await
            }
        }
        Err(SignInError::Invalid) => Ok(login_page(
            &req,
            &state,
            StatusCode::UNAUTHORIZED,
            &next,
            username,
            Some("Wrong username or password."),
        )
        .await),
        // The same status as a wrong password: only the words differ.
        Err(SignInError::Disabled) => Ok(login_page(
            &req,
            &state,
            StatusCode::UNAUTHORIZED,
            &next,
            username,
            Some("This account is disabled. Ask the people who run this site to enable it again."),
        )
        .await),
        Err(SignInError::Throttled(secs)) => Ok(login_page(
            &req,
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            username,
            Some(&format!(
                "Too many failed attempts. Wait {secs} second{} and try again.",
                if secs == 1 { "" } else { "s" }
            )),
        )
        .await),
        Err(SignInError::Store(e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::login_hint;

    fn hint_of(query: &str) -> Option<String> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        login_hint(&pairs)
    }

    #[test]
    fn oidc_core_3_1_2_1_login_hint_of_the_continued_request_prefills_the_username() {
        assert_eq!(
            hint_of("client_id=c&login_hint=alice").as_deref(),
            Some("alice")
        );
        assert_eq!(
            hint_of("login_hint=alice%40example.com").as_deref(),
            Some("alice@example.com")
        );
        assert_eq!(hint_of("login_hint=a%0Ab"), None);
        assert_eq!(hint_of("login_hint=a%20b"), None);
        assert_eq!(hint_of("client_id=c"), None);
    }
}
