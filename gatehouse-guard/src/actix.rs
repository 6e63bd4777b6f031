//! actix-web: the [`Authenticated`] and [`Introspected`] extractors and
//! their RFC 6750 §3 answers.
//!
//! ```ignore
//! gatehouse_guard::scopes!(pub Write = "write");
//!
//! async fn create(auth: Authenticated<Write>) -> HttpResponse { … }   // needs `write`
//! async fn me(auth: Authenticated) -> HttpResponse { … }              // any valid token
//!
//! let guard = Guard::discover("https://auth.example", "https://api.example").await?;
//! App::new().app_data(web::Data::new(guard))
//! ```
//!
//! The [`Guard`] is found in the app data, as `web::Data<Guard>` or `Guard`.
//!
//! A guard with RFC 9728 metadata on ([`GuardBuilder::scopes_supported`](crate::GuardBuilder::scopes_supported))
//! names the document in every challenge; mount it with
//! [`protected_resource_metadata`]:
//!
//! ```ignore
//! let guard = Guard::builder("https://auth.example", "https://mcp.example.com/mcp")
//!     .scopes_supported(["mcp"])
//!     .build().await?;
//! App::new()
//!     .app_data(web::Data::new(guard.clone()))
//!     .configure(|cfg| gatehouse_guard::actix::protected_resource_metadata(cfg, &guard))
//! ```

use crate::{ChallengeParams, Guard, GuardError, Principal};
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

/// The scopes a route needs; see [`scopes!`](crate::scopes).
pub trait RequiredScopes {
    const SCOPES: &'static [&'static str];
}

/// Any valid token, whatever its scopes.
#[derive(Debug, Clone, Copy)]
pub struct AnyScope;

impl RequiredScopes for AnyScope {
    const SCOPES: &'static [&'static str] = &[];
}

/// Declares a type naming the scopes a route needs, for
/// `Authenticated<Name>`: `scopes!(pub ReadWrite = "read", "write");`
#[macro_export]
macro_rules! scopes {
    ($vis:vis $name:ident = $($scope:literal),+ $(,)?) => {
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;
        impl $crate::actix::RequiredScopes for $name {
            const SCOPES: &'static [&'static str] = &[$($scope),+];
        }
    };
}

/// A request whose bearer token passed [`Guard::validate`] (offline) and
/// has every scope `S` names. Derefs to the [`Principal`].
pub struct Authenticated<S = AnyScope> {
    principal: Principal,
    challenge: Arc<ChallengeParams>,
    _scopes: PhantomData<S>,
}

/// Like [`Authenticated`], and the issuer confirmed by introspection
/// ([`Guard::introspect`]) that the token is still active: for routes that
/// must see a revocation at once. Costs a request to the issuer each time.
pub struct Introspected<S = AnyScope>(Authenticated<S>);

impl<S> Authenticated<S> {
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn into_principal(self) -> Principal {
        self.principal
    }

    /// Checks scopes decided in the handler; the error answers 403
    /// `insufficient_scope`.
    pub fn require_scopes(&self, scopes: &[&str]) -> Result<(), Rejection> {
        self.principal
            .require_scopes(scopes)
            .map_err(|e| Rejection::new(e, self.challenge.clone(), 0, &[]))
    }
}

impl<S> Deref for Authenticated<S> {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.principal
    }
}

impl<S> Deref for Introspected<S> {
    type Target = Authenticated<S>;
    fn deref(&self) -> &Authenticated<S> {
        &self.0
    }
}

/// A refused request: renders as RFC 6750 §3 (401 / 400 / 403 with
/// `WWW-Authenticate`), or 503 with `Retry-After` when the issuer could not
/// be reached, or 500 when no [`Guard`] is in the app data.
#[derive(Debug)]
pub struct Rejection {
    error: Option<GuardError>,
    challenge: Arc<ChallengeParams>,
    retry_after: i64,
    /// The scopes the route needs, named in a 401's challenge.
    needed: Vec<String>,
}

impl Rejection {
    fn new(
        error: GuardError,
        challenge: Arc<ChallengeParams>,
        retry_after: i64,
        needed: &[&str],
    ) -> Rejection {
        Rejection {
            error: Some(error),
            challenge,
            retry_after,
            needed: needed.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Names `scopes` as what the resource needs in the challenge of a 401
    /// (RFC 6750 §3 `scope`), for a route whose scopes are decided at run
    /// time rather than by `Authenticated<S>`: take
    /// `Result<Authenticated, Rejection>` and answer
    /// `Err(rejection.needing(&scopes))`.
    pub fn needing(mut self, scopes: &[&str]) -> Rejection {
        self.needed = scopes.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Why, unless the app is misconfigured (no guard).
    pub fn error(&self) -> Option<&GuardError> {
        self.error.as_ref()
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.error {
            Some(e) => e.fmt(f),
            None => f.write_str("no gatehouse_guard::Guard in the app data"),
        }
    }
}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        let status = self.error.as_ref().map_or(500, GuardError::status);
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status_code());
        resp.insert_header((header::CACHE_CONTROL, "no-store"));
        let Some(error) = &self.error else {
            return resp.json(serde_json::json!({
                "error": "server_error",
                "error_description": "the API is misconfigured",
            }));
        };
        let needed: Vec<&str> = self.needed.iter().map(String::as_str).collect();
        if let Some(challenge) = error.challenge_with(
            &self.challenge.realm,
            self.challenge.resource_metadata.as_deref(),
            &needed,
        ) {
            resp.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        let code = match error {
            GuardError::IssuerUnavailable(_) => {
                resp.insert_header((header::RETRY_AFTER, self.retry_after.to_string()));
                "temporarily_unavailable"
            }
            GuardError::MissingToken => "unauthorized",
            other => other.code().map_or("server_error", |c| c.as_str()),
        };
        resp.json(serde_json::json!({
            "error": code,
            "error_description": error.description(),
        }))
    }
}

fn find_guard(req: &HttpRequest) -> Option<Guard> {
    req.app_data::<web::Data<Guard>>()
        .map(|d| d.get_ref().clone())
        .or_else(|| req.app_data::<Guard>().cloned())
}

/// Reads the bearer token, checks it with `check`, then the scopes.
fn extract<S, F, Fut>(
    req: &HttpRequest,
    check: F,
) -> Pin<Box<dyn Future<Output = Result<Authenticated<S>, Rejection>>>>
where
    S: RequiredScopes + 'static,
    F: FnOnce(Guard, String) -> Fut + 'static,
    Fut: Future<Output = Result<Principal, GuardError>> + 'static,
{
    let guard = find_guard(req);
    let token = crate::bearer_token(
        req.headers()
            .get_all(header::AUTHORIZATION)
            .map(|v| v.as_bytes()),
    );
    Box::pin(async move {
        let Some(guard) = guard else {
            tracing::error!("no gatehouse_guard::Guard in the app data; refusing every request");
            return Err(Rejection {
                error: None,
                challenge: Arc::new(ChallengeParams {
                    realm: String::new(),
                    resource_metadata: None,
                }),
                retry_after: 0,
                needed: Vec::new(),
            });
        };
        let challenge = guard.challenge_params();
        let retry_after = guard.retry_after();
        let reject = |e| Rejection::new(e, challenge.clone(), retry_after, S::SCOPES);
        let token = token.map_err(reject)?;
        let principal = check(guard, token).await.map_err(reject)?;
        principal.require_scopes(S::SCOPES).map_err(reject)?;
        Ok(Authenticated {
            principal,
            challenge,
            _scopes: PhantomData,
        })
    })
}

impl<S: RequiredScopes + 'static> FromRequest for Authenticated<S> {
    type Error = Rejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Rejection>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(
            req,
            |guard, token| async move { guard.validate(&token).await },
        )
    }
}

impl<S: RequiredScopes + 'static> FromRequest for Introspected<S> {
    type Error = Rejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Rejection>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let inner = extract(
            req,
            |guard, token| async move { guard.introspect(&token).await },
        );
        Box::pin(async move { inner.await.map(Introspected) })
    }
}

/// Serves the guard's RFC 9728 protected-resource metadata
/// ([`Guard::protected_resource_metadata`]) at [`Guard::metadata_path`],
/// e.g. `/.well-known/oauth-protected-resource/mcp` for resource
/// `https://mcp.example.com/mcp`: `GET` answers the JSON document (with
/// `Access-Control-Allow-Origin: *`, so browser-based clients can read it),
/// other methods 405. Mount it at the root of the app. Without metadata on
/// (see [`GuardBuilder::resource_metadata`](crate::GuardBuilder::resource_metadata))
/// it mounts nothing and logs an error.
pub fn protected_resource_metadata(cfg: &mut web::ServiceConfig, guard: &Guard) {
    match metadata_resource(guard) {
        Some(resource) => {
            cfg.service(resource);
        }
        None => tracing::error!(
            "gatehouse_guard::actix::protected_resource_metadata: the guard has no RFC 9728 \
             metadata (GuardBuilder::resource_metadata / scopes_supported); nothing mounted"
        ),
    }
}

/// The `web::resource` that [`protected_resource_metadata`] mounts, or
/// `None` when the guard has no metadata.
pub fn metadata_resource(guard: &Guard) -> Option<actix_web::Resource> {
    let path = guard.metadata_path()?;
    let body = web::Bytes::from(guard.protected_resource_metadata()?.to_string());
    Some(web::resource(path).route(web::get().to(move || {
        let body = body.clone();
        async move {
            HttpResponse::Ok()
                .content_type("application/json")
                .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
                .body(body)
        }
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn params(resource_metadata: Option<&str>) -> Arc<ChallengeParams> {
        Arc::new(ChallengeParams {
            realm: "api".into(),
            resource_metadata: resource_metadata.map(str::to_string),
        })
    }

    fn render(e: GuardError) -> (u16, Option<String>, serde_json::Value) {
        let r = Rejection::new(e, params(None), 10, &[]).error_response();
        let status = r.status().as_u16();
        let www = r
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_string());
        let body = r.into_body().try_into_bytes().unwrap();
        (status, www, serde_json::from_slice(&body).unwrap())
    }

    #[test]
    fn rfc6750_3_1_missing_token_is_401_with_only_the_realm() {
        let (status, www, _) = render(GuardError::MissingToken);
        assert_eq!(status, 401);
        assert_eq!(www.as_deref(), Some(r#"Bearer realm="api""#));
    }

    #[test]
    fn rfc6750_3_1_invalid_token_is_401() {
        let (status, www, body) = render(GuardError::InvalidToken("the access token expired"));
        assert_eq!(status, 401);
        assert_eq!(
            www.as_deref(),
            Some(
                r#"Bearer realm="api", error="invalid_token", error_description="the access token expired""#
            )
        );
        assert_eq!(body["error"], "invalid_token");
    }

    #[test]
    fn rfc6750_3_1_insufficient_scope_is_403() {
        let (status, www, _) = render(GuardError::InsufficientScope(vec!["write".into()]));
        assert_eq!(status, 403);
        let www = www.unwrap();
        assert!(www.contains(r#"error="insufficient_scope""#), "{www}");
        assert!(www.ends_with(r#"scope="write""#), "{www}");
    }

    #[test]
    fn rfc6750_3_1_invalid_request_is_400() {
        let (status, www, _) = render(GuardError::InvalidRequest("empty bearer token"));
        assert_eq!(status, 400);
        assert!(www.unwrap().contains(r#"error="invalid_request""#));
    }

    #[test]
    fn rfc6750_3_a_401_names_the_scopes_a_route_decides_at_run_time() {
        let url = "https://api.example/.well-known/oauth-protected-resource";
        let r = Rejection::new(GuardError::MissingToken, params(Some(url)), 10, &[])
            .needing(&["mcp", "read"])
            .error_response();
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            &format!(r#"Bearer realm="api", resource_metadata="{url}", scope="mcp read""#)
        );
    }

    #[test]
    fn issuer_unreachable_is_503_with_retry_after() {
        let r = Rejection::new(
            GuardError::IssuerUnavailable("down"),
            params(Some(
                "https://api.example/.well-known/oauth-protected-resource",
            )),
            10,
            &["read"],
        )
        .error_response();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers().get(header::RETRY_AFTER).unwrap(), "10");
        assert!(r.headers().get(header::WWW_AUTHENTICATE).is_none());
    }

    scopes!(ReadWrite = "read", "write");
    scopes!(Mcp = "mcp");

    const ISSUER: &str = "https://auth.example";
    const RESOURCE: &str = "http://127.0.0.1:8080/mcp";
    const METADATA_URL: &str = "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp";

    fn mcp_guard() -> Guard {
        Guard::builder(ISSUER, RESOURCE)
            .scopes_supported(["mcp"])
            .resource_name("Test MCP server")
            .build_offline(crate::testkey::keys())
            .unwrap()
    }

    async fn whoami(auth: Authenticated<Mcp>) -> HttpResponse {
        HttpResponse::Ok().body(auth.sub.clone())
    }

    /// An app with `POST /mcp` (needs `mcp`) and the metadata mounted.
    macro_rules! mcp_app {
        ($guard:expr) => {{
            let guard: Guard = $guard;
            actix_web::test::init_service(
                actix_web::App::new()
                    .app_data(web::Data::new(guard.clone()))
                    .configure(|cfg| protected_resource_metadata(cfg, &guard))
                    .route("/mcp", web::post().to(whoami)),
            )
            .await
        }};
    }

    /// `POST /mcp` with this bearer token: the status and the challenge.
    macro_rules! post_mcp {
        ($app:expr, $token:expr) => {{
            let token: Option<&str> = $token;
            let mut req = actix_web::test::TestRequest::post().uri("/mcp");
            if let Some(t) = token {
                req = req.insert_header((header::AUTHORIZATION, format!("Bearer {t}")));
            }
            let resp = actix_web::test::call_service(&$app, req.to_request()).await;
            let www = resp
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .map(|v| v.to_str().unwrap().to_string());
            (resp.status().as_u16(), www)
        }};
    }

    #[actix_web::test]
    async fn rfc9728_5_1_a_request_without_a_token_is_pointed_at_the_metadata() {
        let app = mcp_app!(mcp_guard());
        let (status, www) = post_mcp!(app, None);
        assert_eq!(status, 401);
        assert_eq!(
            www.as_deref(),
            Some(
                format!(
                    r#"Bearer realm="{RESOURCE}", resource_metadata="{METADATA_URL}", scope="mcp""#
                )
                .as_str()
            )
        );
    }

    #[actix_web::test]
    async fn rfc9728_3_1_metadata_is_served_under_the_resource_path() {
        let app = mcp_app!(mcp_guard());
        let req = actix_web::test::TestRequest::get()
            .uri("/.well-known/oauth-protected-resource/mcp")
            .to_request();
        let resp = actix_web::test::call_service(&app, req).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        assert_eq!(
            resp.headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .unwrap(),
            "*"
        );
        let doc: serde_json::Value = actix_web::test::read_body_json(resp).await;
        assert_eq!(
            doc,
            serde_json::json!({
                "resource": RESOURCE,
                "authorization_servers": [ISSUER],
                "scopes_supported": ["mcp"],
                "bearer_methods_supported": ["header"],
                "resource_name": "Test MCP server",
            })
        );
        let req = actix_web::test::TestRequest::post()
            .uri("/.well-known/oauth-protected-resource/mcp")
            .to_request();
        assert_eq!(actix_web::test::call_service(&app, req).await.status(), 405);
        // Not at the host's root: that is another resource's document.
        let req = actix_web::test::TestRequest::get()
            .uri("/.well-known/oauth-protected-resource")
            .to_request();
        assert_eq!(actix_web::test::call_service(&app, req).await.status(), 404);
    }

    #[actix_web::test]
    async fn rfc8707_a_token_for_another_resource_is_invalid_token() {
        let app = mcp_app!(mcp_guard());
        let other = crate::testkey::token(
            ISSUER,
            serde_json::json!("http://127.0.0.1:8080/other"),
            "mcp",
        );
        let (status, www) = post_mcp!(app, Some(other.as_str()));
        assert_eq!(status, 401);
        let www = www.unwrap();
        assert!(www.contains(r#"error="invalid_token""#), "{www}");
        assert!(
            www.contains(r#"error_description="wrong audience""#),
            "{www}"
        );
        assert!(
            www.contains(&format!(r#"resource_metadata="{METADATA_URL}""#)),
            "{www}"
        );
        // A token for the issuer's default audience is not for this resource either.
        let default = crate::testkey::token(ISSUER, serde_json::json!(ISSUER), "mcp");
        assert_eq!(post_mcp!(app, Some(default.as_str())).0, 401);
        // Ours, alone or among others, passes.
        let ours = crate::testkey::token(ISSUER, serde_json::json!(RESOURCE), "mcp");
        assert_eq!(post_mcp!(app, Some(ours.as_str())), (200, None));
        let both = crate::testkey::token(
            ISSUER,
            serde_json::json!(["http://127.0.0.1:8080/other", RESOURCE]),
            "mcp",
        );
        assert_eq!(post_mcp!(app, Some(both.as_str())).0, 200);
    }

    #[actix_web::test]
    async fn rfc6750_3_insufficient_scope_names_the_scope_and_the_metadata() {
        let app = mcp_app!(mcp_guard());
        let token = crate::testkey::token(ISSUER, serde_json::json!(RESOURCE), "read");
        let (status, www) = post_mcp!(app, Some(token.as_str()));
        assert_eq!(status, 403);
        assert_eq!(
            www.as_deref(),
            Some(
                format!(
                    r#"Bearer realm="{RESOURCE}", resource_metadata="{METADATA_URL}", error="insufficient_scope", error_description="the access token lacks a required scope", scope="mcp""#
                )
                .as_str()
            )
        );
    }

    #[actix_web::test]
    async fn without_metadata_challenges_stay_as_they_were() {
        let guard = Guard::builder(ISSUER, ISSUER)
            .build_offline(crate::testkey::keys())
            .unwrap();
        assert_eq!(guard.metadata_path(), None);
        assert_eq!(guard.protected_resource_metadata(), None);
        let app = mcp_app!(guard);
        let (status, www) = post_mcp!(app, None);
        assert_eq!(status, 401);
        assert_eq!(
            www.as_deref(),
            Some(r#"Bearer realm="https://auth.example", scope="mcp""#)
        );
    }

    #[actix_web::test]
    async fn rfc9728_metadata_needs_a_resource_uri_audience() {
        // Refused before the issuer is asked (nothing listens on port 9).
        let e = Guard::builder("http://127.0.0.1:9", "api")
            .scopes_supported(["mcp"])
            .build()
            .await
            .err()
            .unwrap();
        assert!(matches!(e, crate::SetupError::BadResource(a) if a == "api"));
    }

    #[test]
    fn scopes_macro_names_the_scopes() {
        assert_eq!(ReadWrite::SCOPES, &["read", "write"]);
        assert!(AnyScope::SCOPES.is_empty());
    }
}
