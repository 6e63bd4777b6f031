//! HTML pages a person sees: the landing page, sign-in, sign-out,
//! sign-up, consent, the device page, the account page, the application
//! pages. Askama templates in `templates/`; one CSS file, an icon and one
//! small script (copying a secret, a convenience: every page works without
//! it) served by gatehouse itself from `static/`. Every form carries a
//! CSRF token (`csrf.rs`); every page is `Cache-Control: no-store`. The
//! operator's site name (`GATEHOUSE_SITE_NAME`) reaches every template as
//! a runtime value, read with `{{ "site_name"|setting }}`.

pub mod account;
pub mod account_email;
pub mod account_totp;
pub mod admin;
pub mod apps;
pub mod authorize;
pub mod consent;
pub mod csrf;
pub mod device;
pub mod landing;
pub mod login;
pub mod login_factor;
pub mod logout;
pub mod passkeys;
pub mod password;
pub mod pending;
#[cfg(test)]
mod proptests;
pub mod session;
pub mod signup;
pub mod user_agent;
pub mod verify;

use crate::app::AppState;
use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use askama::Template;

pub const STYLESHEET: &str = include_str!("../../static/gatehouse.css");
pub const ICON: &str = include_str!("../../static/icon.svg");
pub const COPY_SCRIPT: &str = include_str!("../../static/copy.js");
pub const PASSKEYS_SCRIPT: &str = include_str!("../../static/passkeys.js");

/// Routes for pages and their assets.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(landing::show))
        .route("/authorize", web::get().to(authorize::get))
        .route("/authorize", web::post().to(authorize::post))
        .route("/consent", web::get().to(consent::show))
        .route("/consent", web::post().to(consent::submit))
        .route("/account", web::get().to(account::show))
        .route("/account", web::post().to(account::act))
        .route("/account/revoke", web::post().to(account::revoke))
        .route("/account/profile", web::post().to(account::profile))
        .route("/account/totp", web::get().to(account_totp::show))
        .route("/account/totp", web::post().to(account_totp::act))
        .route("/apps", web::get().to(apps::list))
        .route("/apps/new", web::get().to(apps::new_form))
        .route("/apps/new", web::post().to(apps::create))
        .route("/apps/{client_id}", web::get().to(apps::show))
        .route("/apps/{client_id}", web::post().to(apps::act))
        .route("/signup", web::get().to(signup::show))
        .route("/signup", web::post().to(signup::submit))
        .route("/login", web::get().to(login::show))
        .route("/login", web::post().to(login::submit))
        .route("/login/factor", web::get().to(login_factor::show))
        .route("/login/factor", web::post().to(login_factor::submit))
        .route("/logout", web::get().to(logout::show))
        .route("/logout", web::post().to(logout::submit))
        .route("/device", web::get().to(device::show))
        .route("/device", web::post().to(device::submit))
        .route("/password/forgot", web::get().to(password::forgot_show))
        .route("/password/forgot", web::post().to(password::forgot_submit))
        .route("/password/reset", web::get().to(password::reset_show))
        .route("/password/reset", web::post().to(password::reset_submit))
        .route("/email/verify", web::get().to(verify::show))
        .route("/email/verify", web::post().to(verify::confirm))
        .route("/account/email", web::get().to(account_email::show))
        .route("/account/email", web::post().to(account_email::submit))
        .route("/static/gatehouse.css", web::get().to(stylesheet))
        .route("/static/icon.svg", web::get().to(icon))
        .route("/favicon.ico", web::get().to(favicon))
        .route("/static/favicon", web::get().to(favicon))
        .route("/static/logo", web::get().to(logo))
        .route("/static/site.css", web::get().to(site_stylesheet))
        .route("/static/copy.js", web::get().to(copy_script))
        .route("/static/passkeys.js", web::get().to(passkeys_script))
        .route(
            "/account/passkeys/options",
            web::post().to(passkeys::register_options),
        )
        .route("/account/passkeys", web::post().to(passkeys::register))
        .route(
            "/account/passkeys/{id}/delete",
            web::post().to(passkeys::delete),
        )
        .route(
            "/login/passkey/options",
            web::post().to(passkeys::login_options),
        )
        .route("/login/passkey", web::post().to(passkeys::login))
        .route(
            "/login/factor/passkey/options",
            web::post().to(passkeys::factor_options),
        )
        .route("/login/factor/passkey", web::post().to(passkeys::factor))
        .configure(admin::configure);
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(body)
}

async fn stylesheet() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLESHEET)
}

/// gatehouse's own icon.
async fn icon() -> HttpResponse {
    asset("image/svg+xml", ICON)
}

/// The operator's favicon (`GATEHOUSE_FAVICON`), else gatehouse's icon;
/// also at `/favicon.ico` for the browsers and tools that ask there
/// without reading the page's `<link rel="icon">`.
async fn favicon(state: web::Data<AppState>) -> HttpResponse {
    match &state.config.look.favicon {
        Some(image) => operator_image(image),
        None => icon().await,
    }
}

/// The operator's logo (`GATEHOUSE_LOGO`); 404 without one.
async fn logo(state: web::Data<AppState>) -> HttpResponse {
    match &state.config.look.logo {
        Some(image) => operator_image(image),
        None => HttpResponse::NotFound().finish(),
    }
}

/// An image the operator gave. An SVG may hold scripts and links: opened
/// on its own it runs in no origin (CSP `sandbox`) and loads nothing.
fn operator_image(image: &crate::config::look::Image) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(image.content_type)
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        ))
        .body(image.bytes.as_ref().clone())
}

/// The operator's accent over the built-in stylesheet (empty without one).
async fn site_stylesheet(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(state.config.look.stylesheet())
}

async fn copy_script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", COPY_SCRIPT)
}

async fn passkeys_script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", PASSKEYS_SCRIPT)
}

/// The look's values every page gets (`"logo"|setting` is `yes` when
/// there is one; the footer's text and links as they are; `accent` is
/// `yes` when the operator's stylesheet applies).
const LOOK_KEYS: [&str; 5] = ["logo", "accent", "footer_text", "privacy_url", "terms_url"];

/// Template filters: `{{ "site_name"|setting }}` is the operator's site
/// name, given to every page by `render` as a runtime value; a page
/// rendered without it (an error page) says "gatehouse".
pub mod filters {
    pub fn setting<T: std::fmt::Display>(
        key: T,
        values: &dyn askama::Values,
    ) -> askama::Result<String> {
        let key = key.to_string();
        match askama::get_value::<String>(values, &key) {
            Ok(v) => Ok(v.clone()),
            Err(_) if key == "site_name" => Ok("gatehouse".to_string()),
            // The operator's look (`config::look`): none on a page
            // rendered without it.
            Err(_) if super::LOOK_KEYS.contains(&key.as_str()) => Ok(String::new()),
            Err(e) => Err(e),
        }
    }
}

/// Renders a template as an HTML response that is never cached.
pub fn render(state: &AppState, status: StatusCode, page: &impl Template) -> HttpResponse {
    let look = &state.config.look;
    let yes = |on: bool| if on { "yes".to_string() } else { String::new() };
    let (logo, accent) = (yes(look.logo.is_some()), yes(look.has_accent()));
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let (footer, privacy, terms) = (
        text(&look.footer_text),
        text(&look.privacy_url),
        text(&look.terms_url),
    );
    let values: [(&str, &dyn std::any::Any); 6] = [
        ("site_name", &state.config.site_name),
        ("logo", &logo),
        ("accent", &accent),
        ("footer_text", &footer),
        ("privacy_url", &privacy),
        ("terms_url", &terms),
    ];
    match page.render_with_values(&values) {
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
    let (token, new_cookie) = csrf::token(req, state);
    let mut resp = render(state, status, &build(token));
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

/// What an error page says, kept on its response so that
/// `in_the_sites_look` can render it again with the site's name and look
/// (`ResponseError::error_response` has no access to the settings).
#[derive(Clone)]
struct ErrorParts {
    title: String,
    message: String,
}

/// Renders an error page again in the site's name and look (the
/// operator's logo, accent and footer), keeping its status and headers.
pub async fn in_the_sites_look(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?;
    let parts = res.response().extensions().get::<ErrorParts>().cloned();
    let (Some(parts), Some(state)) = (parts, state) else {
        return Ok(res.map_into_boxed_body());
    };
    let (req, old) = res.into_parts();
    let page = ErrorPage {
        title: &parts.title,
        message: &parts.message,
    };
    let mut new = render(&state, old.status(), &page);
    for (name, value) in old.headers() {
        if !new.headers().contains_key(name) {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(actix_web::dev::ServiceResponse::new(req, new))
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
    /// The database cannot be reached: 503 with `Retry-After`.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => PageError::Unavailable(cause),
            other => PageError::Internal(other.to_string()),
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
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
            PageError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable for a page");
                (
                    "Please try again in a moment",
                    "The service is briefly unavailable. Reload this page in a few seconds.",
                )
            }
            PageError::Internal(cause) => {
                tracing::error!(error = %cause, "internal error on a page");
                ("Something went wrong", "An internal error occurred. Please try again later.")
            }
        };
        let page = ErrorPage { title, message };
        let body = page.render().unwrap_or_else(|_| message.to_string());
        let mut resp = HttpResponse::build(self.status_code());
        resp.content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"));
        if matches!(self, PageError::Unavailable(_)) {
            resp.insert_header(("Retry-After", "1"));
        }
        let mut resp = resp.body(body);
        // For `in_the_sites_look`, which has the settings this has not.
        resp.extensions_mut().insert(ErrorParts {
            title: title.to_string(),
            message: message.to_string(),
        });
        resp
    }
}

/// The pages a sign-in may continue to. `next` carries only gatehouse's own
/// continuations (an authorization request, the device page, …), never an
/// arbitrary URL.
const CONTINUATIONS: &[&str] = &[
    "/authorize",
    "/consent",
    "/device",
    "/account",
    "/apps",
    "/admin",
];

/// Where to continue after sign-in (RFC 9700 §4.11, RFC 6749 §10.15: no
/// open redirect). Accepted only when it is one of gatehouse's own pages
/// (`CONTINUATIONS`, optionally with a query) written in plain visible
/// ASCII: no tabs, newlines, spaces, backslashes or non-ASCII characters
/// (browsers drop or rewrite those, so `/\t/host` would become `//host`),
/// and it must still resolve to this origin. Anything else continues to
/// `/account`.
pub fn safe_next(next: Option<&str>) -> String {
    const FALLBACK: &str = "/account";
    let Some(n) = next else {
        return FALLBACK.to_string();
    };
    let plain = n.len() <= 8 * 1024 && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'\\');
    let path = n.split(['?', '#']).next().unwrap_or("");
    let known = CONTINUATIONS
        .iter()
        .any(|c| path == *c || path.strip_prefix(c).is_some_and(|r| r.starts_with('/')));
    let base = url::Url::parse("http://gatehouse.invalid/").ok();
    let same_origin = base
        .as_ref()
        .and_then(|b| b.join(n).ok())
        .is_some_and(|u| u.host_str() == Some("gatehouse.invalid") && u.port().is_none());
    if plain && known && same_origin && !path.contains("//") && !path.contains("/..") {
        n.to_string()
    } else {
        FALLBACK.to_string()
    }
}

/// `303 See Other` to the sign-in page, which continues to `next` (a path
/// of this site) afterwards.
pub fn sign_in_first(next: &str) -> HttpResponse {
    let q = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    see_other(&format!("/login?{q}"))
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
    state: &AppState,
    body: &[u8],
) -> Result<crate::oauth::wire::Form, PageError> {
    parse_form_with_lists(req, state, body, &[])
}

/// Like `parse_form`, for a form whose checkboxes in `lists` share a name
/// (read with `Form::get_all`).
pub fn parse_form_with_lists(
    req: &actix_web::HttpRequest,
    state: &AppState,
    body: &[u8],
    lists: &[&str],
) -> Result<crate::oauth::wire::Form, PageError> {
    let form = crate::oauth::wire::Form::parse_pairs_with_lists(body, lists)
        .map_err(|e| PageError::BadRequest(e.description()))?;
    if !csrf::verify(req, state, form.get(csrf::FIELD)) {
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
    fn rfc9700_4_11_next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/authorize?x=1")), "/authorize?x=1");
        assert_eq!(
            safe_next(Some("/device?user_code=AB")),
            "/device?user_code=AB"
        );
        assert_eq!(safe_next(Some("/account")), "/account");
        assert_eq!(safe_next(Some("/admin/people?q=a")), "/admin/people?q=a");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "/\t/127.0.0.1:3412/landed.html",
            "/\n",
            "/%09/evil.example",
            "/ /evil.example",
            "/authorize/../../evil",
            "/authorize//evil.example",
            "/evil",
            "/authorizex",
            "/authorize?\u{e9}",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/account", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/account");
    }
}
