//! HTML pages a person sees: sign-in, sign-out, consent, the device page,
//! the account page. Askama templates in `templates/`, one CSS file served
//! by gatehouse itself, no JavaScript needed. Every form carries a CSRF
//! token (`csrf.rs`); every page is `Cache-Control: no-store`.

pub mod account;
pub mod authorize;
pub mod consent;
pub mod csrf;
pub mod device;
pub mod login;
pub mod session;

use crate::http::AppState;
use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use askama::Template;

pub const STYLESHEET: &str = include_str!("../../static/gatehouse.css");

/// Routes for pages and their assets.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/authorize", web::get().to(authorize::get))
        .route("/authorize", web::post().to(authorize::post))
        .route("/consent", web::get().to(consent::show))
        .route("/consent", web::post().to(consent::submit))
        .route("/account", web::get().to(account::show))
        .route("/account/revoke", web::post().to(account::revoke))
        .route("/login", web::get().to(login::show))
        .route("/login", web::post().to(login::submit))
        .route("/logout", web::get().to(login::show_logout))
        .route("/logout", web::post().to(login::submit_logout))
        .route("/device", web::get().to(device::show))
        .route("/device", web::post().to(device::submit))
        .route("/static/gatehouse.css", web::get().to(stylesheet));
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(STYLESHEET)
}

/// Renders a template as an HTML response that is never cached.
pub fn render(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .body(body),
        Err(e) => PageError::Internal(format!("template: {e}")).error_response(),
    }
}

/// Renders a page that carries a form: `build` receives this browser's CSRF
/// token, and the CSRF cookie is set when the browser had none.
pub fn render_form<T: Template>(
    req: &actix_web::HttpRequest,
    state: &AppState,
    status: StatusCode,
    build: impl FnOnce(String) -> T,
) -> HttpResponse {
    let (token, new_cookie) = csrf::token(req, state_secure(state));
    let mut resp = render(status, &build(token));
    if let Some(c) = new_cookie {
        let _ = resp.add_cookie(&c);
    }
    resp
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

/// A page-level error: shown to the person as a page, never redirected.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("{0}")]
    BadRequest(String),
    /// A form posted without a valid CSRF token.
    #[error("the form expired or did not come from this site")]
    Csrf,
    #[error("{0}")]
    NotFound(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        PageError::Internal(e.to_string())
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (title, message) = match self {
            PageError::BadRequest(m) => ("This request can't be completed", m.as_str()),
            PageError::Csrf => (
                "Please try again",
                "The form expired or did not come from this site. Go back, reload the page and submit it again.",
            ),
            PageError::NotFound(m) => ("Not found", m.as_str()),
            PageError::Internal(cause) => {
                tracing::error!(error = %cause, "internal error on a page");
                ("Something went wrong", "An internal error occurred. Please try again later.")
            }
        };
        let page = ErrorPage { title, message };
        let body = page.render().unwrap_or_else(|_| message.to_string());
        HttpResponse::build(self.status_code())
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .body(body)
    }
}

/// A local path to continue to after sign-in: must start with one '/' so it
/// can never send the browser to another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/account".to_string(),
    }
}

/// `303 See Other` to `location`.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", location))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

/// Reads a posted form: refuses repeated fields, and answers 403 (before
/// anything else happens) when its CSRF token is missing or wrong.
pub fn parse_form(
    req: &actix_web::HttpRequest,
    body: &[u8],
) -> Result<crate::oauth::wire::Form, PageError> {
    let form = crate::oauth::wire::Form::parse_pairs(body)
        .map_err(|e| PageError::BadRequest(e.description()))?;
    if !csrf::verify(req, form.get(csrf::FIELD)) {
        return Err(PageError::Csrf);
    }
    Ok(form)
}

pub fn state_secure(state: &AppState) -> bool {
    state.issuer.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/authorize?x=1")), "/authorize?x=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/account");
        assert_eq!(safe_next(Some("https://evil.example/")), "/account");
        assert_eq!(safe_next(Some("/\\evil.example")), "/account");
        assert_eq!(safe_next(None), "/account");
    }
}
