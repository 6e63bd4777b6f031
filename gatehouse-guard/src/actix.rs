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

use crate::{Guard, GuardError, Principal};
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
    realm: Arc<str>,
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
            .map_err(|e| Rejection::new(e, self.realm.clone(), 0))
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
    realm: Arc<str>,
    retry_after: i64,
}

impl Rejection {
    fn new(error: GuardError, realm: Arc<str>, retry_after: i64) -> Rejection {
        Rejection {
            error: Some(error),
            realm,
            retry_after,
        }
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
        if let Some(challenge) = error.challenge(&self.realm) {
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
                realm: Arc::from(""),
                retry_after: 0,
            });
        };
        let realm: Arc<str> = Arc::from(guard.realm());
        let retry_after = guard.retry_after();
        let reject = |e| Rejection::new(e, realm.clone(), retry_after);
        let token = token.map_err(reject)?;
        let principal = check(guard, token).await.map_err(reject)?;
        principal.require_scopes(S::SCOPES).map_err(reject)?;
        Ok(Authenticated {
            principal,
            realm,
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

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn render(e: GuardError) -> (u16, Option<String>, serde_json::Value) {
        let r = Rejection::new(e, Arc::from("api"), 10).error_response();
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
    fn issuer_unreachable_is_503_with_retry_after() {
        let r = Rejection::new(GuardError::IssuerUnavailable("down"), Arc::from("api"), 10)
            .error_response();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers().get(header::RETRY_AFTER).unwrap(), "10");
        assert!(r.headers().get(header::WWW_AUTHENTICATE).is_none());
    }

    scopes!(ReadWrite = "read", "write");

    #[test]
    fn scopes_macro_names_the_scopes() {
        assert_eq!(ReadWrite::SCOPES, &["read", "write"]);
        assert!(AnyScope::SCOPES.is_empty());
    }
}
