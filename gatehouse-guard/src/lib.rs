//! Validating gatehouse access tokens in a resource server.
//!
//! A [`Guard`] is made from the issuer URL and the audience the API
//! expects. It reads the issuer's RFC 8414 metadata, fetches and caches the
//! JWKS, and checks RFC 9068 access tokens offline: `typ` `at+jwt`, RS256
//! only, `iss` exact, `aud`, `exp` / `nbf` / `iat` with a small leeway,
//! `jti`, `sub` and `client_id` present. Optionally it asks the issuer's
//! RFC 7662 introspection endpoint, for routes that must see a revocation
//! at once.
//!
//! Keys: an unknown `kid` refetches the JWKS at most once per
//! `unknown_kid_interval` (default 10 s), so a flood of made-up kids costs
//! the issuer one request per interval; a rotation is picked up by the
//! first token signed with the new key. The set is also refreshed in the
//! background once four fifths of its `Cache-Control` max-age have passed.
//! When the issuer cannot be reached, cached keys keep working and a token
//! with an unknown `kid` is refused with [`GuardError::IssuerUnavailable`]
//! (503), never accepted unchecked.
//!
//! Protected-resource metadata (RFC 9728): a guard built for one resource
//! (its audience is the resource server's canonical resource URI, e.g.
//! `https://mcp.example.com/mcp`) with [`GuardBuilder::scopes_supported`] or
//! [`GuardBuilder::resource_metadata`] publishes
//! [`Guard::protected_resource_metadata`] at [`Guard::metadata_path`] and
//! names its absolute URL in every `WWW-Authenticate` challenge, so a client
//! (an MCP client, say) that meets a 401 finds the authorization server.
//!
//! With the default `actix-web` feature, [`actix`] has the extractors and
//! the handler that serves the metadata.
//!
//! This crate must not depend on the gatehouse server, nor the server on it.

#![forbid(unsafe_code)]

#[cfg(feature = "actix-web")]
pub mod actix;
pub mod bearer;
pub mod clock;
mod error;
mod jwks;
mod resource;
pub mod rfc6750;
mod validate;

pub use bearer::bearer_token;
pub use clock::{Clock, SystemClock};
pub use error::{GuardError, SetupError};
pub use validate::{Expected, Principal};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use jwks::{KeySet, RefetchLimiter};
use resource::{MetadataSettings, ResourceMetadata};
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The largest metadata or JWKS document read (1 MiB).
const MAX_DOCUMENT: usize = 1 << 20;

/// Validates gatehouse access tokens. Cheap to clone; clones share the key
/// cache.
#[derive(Clone)]
pub struct Guard {
    inner: Arc<Inner>,
}

struct Inner {
    expected: Expected,
    challenge: Arc<ChallengeParams>,
    metadata: Option<ResourceMetadata>,
    jwks_uri: String,
    introspection: Option<Introspection>,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    unknown_kid_interval: i64,
    cache: Mutex<Cache>,
    /// Held while an unknown `kid` is looked up, so concurrent requests
    /// with the same new kid wait for one fetch instead of starting more.
    lookup: tokio::sync::Mutex<()>,
}

struct Cache {
    keys: KeySet,
    /// Fetches caused by unknown kids.
    unknown_kid: RefetchLimiter,
    /// Whether the last of those reached the issuer.
    unknown_kid_fetch_ok: bool,
    /// Background refreshes (also bounded, for an issuer that is down).
    scheduled: RefetchLimiter,
    refreshing: bool,
}

/// What every challenge of a guard names besides the error.
#[derive(Debug)]
pub(crate) struct ChallengeParams {
    pub realm: String,
    /// RFC 9728 §5.1: the absolute URL of the metadata document, when on.
    #[cfg_attr(not(feature = "actix-web"), allow(dead_code))] // read by the actix glue
    pub resource_metadata: Option<String>,
}

struct Introspection {
    endpoint: String,
    client_id: String,
    client_secret: String,
}

/// Settings of a [`Guard`]; [`GuardBuilder::build`] contacts the issuer.
pub struct GuardBuilder {
    issuer: String,
    audience: String,
    leeway: Duration,
    unknown_kid_interval: Duration,
    realm: Option<String>,
    clock: Arc<dyn Clock>,
    http: Option<reqwest::Client>,
    introspection: Option<(String, String)>,
    metadata: MetadataSettings,
    /// Extra CA certificates (PEM) for the default HTTP client.
    #[cfg_attr(
        not(any(feature = "rustls-tls", feature = "rustls-tls-native-roots")),
        allow(dead_code)
    )]
    roots: Vec<Vec<u8>>,
}

impl GuardBuilder {
    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 10 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The least time between two JWKS fetches caused by unknown kids
    /// (default 10 s).
    pub fn unknown_kid_interval(mut self, interval: Duration) -> Self {
        self.unknown_kid_interval = interval;
        self
    }

    /// The `realm` of `WWW-Authenticate` challenges (default: the audience).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Where time comes from (tests move it).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The HTTP client for metadata, JWKS and introspection. The default
    /// has 5 s timeouts and follows no redirects.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Trusts one more CA (a PEM certificate, or several) for an https
    /// issuer, besides the feature's roots: a private or test CA. Applies
    /// to the default HTTP client, not to one given with `http_client`.
    #[cfg(any(feature = "rustls-tls", feature = "rustls-tls-native-roots"))]
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots.push(pem.into());
        self
    }

    /// Enables [`Guard::introspect`] with the credentials of a gatehouse
    /// client allowed to introspect (`gatehouse client create … --introspect`).
    pub fn introspection(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.introspection = Some((client_id.into(), client_secret.into()));
        self
    }

    /// Publishes RFC 9728 protected-resource metadata for the audience,
    /// which must then be the resource server's canonical resource URI (an
    /// absolute http(s) URL, e.g. `https://mcp.example.com/mcp`): see
    /// [`Guard::protected_resource_metadata`]. Every challenge then carries
    /// `resource_metadata="<its absolute URL>"` (RFC 9728 §5.1). The other
    /// metadata options below turn this on too.
    pub fn resource_metadata(mut self) -> Self {
        self.metadata.enabled = true;
        self
    }

    /// RFC 9728 §2 `scopes_supported`: the scopes a client may ask for to
    /// use this resource (an MCP client asks for these when a 401 names
    /// none). Turns on [`GuardBuilder::resource_metadata`].
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.metadata.enabled = true;
        self.metadata.scopes_supported = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// RFC 9728 §2 `resource_name`, shown to people. Turns on
    /// [`GuardBuilder::resource_metadata`].
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.metadata.enabled = true;
        self.metadata.resource_name = Some(name.into());
        self
    }

    /// RFC 9728 §2 `resource_documentation`: a URL of human-readable
    /// documentation for developers. Turns on
    /// [`GuardBuilder::resource_metadata`].
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.metadata.enabled = true;
        self.metadata.resource_documentation = Some(url.into());
        self
    }

    /// Reads the issuer's metadata and JWKS. Fails when either cannot be
    /// fetched, or the metadata belongs to another issuer, or RFC 9728
    /// metadata is on and the audience is not a resource URI.
    pub async fn build(mut self) -> Result<Guard, SetupError> {
        let resource_metadata = self
            .metadata
            .resolve(&self.issuer, &self.audience)
            .map_err(|()| SetupError::BadResource(self.audience.clone()))?;
        let http = match self.http.take() {
            Some(c) => c,
            None => {
                #[allow(unused_mut)]
                let mut builder = reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .timeout(Duration::from_secs(5))
                    .redirect(reqwest::redirect::Policy::none());
                #[cfg(any(feature = "rustls-tls", feature = "rustls-tls-native-roots"))]
                for pem in &self.roots {
                    for cert in reqwest::Certificate::from_pem_bundle(pem)
                        .map_err(|e| SetupError::Client(format!("a root certificate: {e}")))?
                    {
                        builder = builder.add_root_certificate(cert);
                    }
                }
                builder
                    .build()
                    .map_err(|e| SetupError::Client(e.to_string()))?
            }
        };
        let metadata_url = metadata_url(&self.issuer)?;
        let (body, _) = fetch(&http, &metadata_url)
            .await
            .map_err(|reason| SetupError::Fetch {
                url: metadata_url.clone(),
                reason,
            })?;
        let metadata: Map<String, Value> =
            serde_json::from_slice(&body).map_err(|e| SetupError::Fetch {
                url: metadata_url.clone(),
                reason: format!("not a JSON object: {e}"),
            })?;
        let found = metadata.get("issuer").and_then(Value::as_str).unwrap_or("");
        if found != self.issuer {
            return Err(SetupError::IssuerMismatch {
                url: metadata_url,
                expected: self.issuer,
                found: found.to_string(),
            });
        }
        let endpoint = |name: &str| {
            metadata
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let jwks_uri = endpoint("jwks_uri").ok_or(SetupError::NoJwksUri(metadata_url))?;
        let introspection = match self.introspection.take() {
            None => None,
            Some((client_id, client_secret)) => Some(Introspection {
                endpoint: endpoint("introspection_endpoint")
                    .ok_or(SetupError::NoIntrospectionEndpoint)?,
                client_id,
                client_secret,
            }),
        };
        let now = self.clock.now();
        let keys = fetch_keys(&http, &jwks_uri, now)
            .await
            .map_err(|reason| SetupError::Fetch {
                url: jwks_uri.clone(),
                reason,
            })?;
        Ok(self.assemble(http, jwks_uri, introspection, keys, resource_metadata))
    }

    /// The guard, once everything has been fetched.
    fn assemble(
        self,
        http: reqwest::Client,
        jwks_uri: String,
        introspection: Option<Introspection>,
        keys: KeySet,
        metadata: Option<ResourceMetadata>,
    ) -> Guard {
        let interval = secs(self.unknown_kid_interval);
        Guard {
            inner: Arc::new(Inner {
                challenge: Arc::new(ChallengeParams {
                    realm: self.realm.unwrap_or_else(|| self.audience.clone()),
                    resource_metadata: metadata.as_ref().map(|m| m.url.clone()),
                }),
                metadata,
                expected: Expected {
                    issuer: self.issuer,
                    audience: self.audience,
                    leeway: secs(self.leeway),
                },
                jwks_uri,
                introspection,
                http,
                clock: self.clock,
                unknown_kid_interval: interval,
                cache: Mutex::new(Cache {
                    keys,
                    unknown_kid: RefetchLimiter::new(interval),
                    unknown_kid_fetch_ok: true,
                    scheduled: RefetchLimiter::new(interval),
                    refreshing: false,
                }),
                lookup: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// A guard that knows `keys` and asks no issuer (its JWKS address
    /// answers nothing): for unit tests.
    #[cfg(test)]
    pub(crate) fn build_offline(
        self,
        keys: std::collections::HashMap<String, Arc<DecodingKey>>,
    ) -> Result<Guard, SetupError> {
        let metadata = self
            .metadata
            .resolve(&self.issuer, &self.audience)
            .map_err(|()| SetupError::BadResource(self.audience.clone()))?;
        let now = self.clock.now();
        Ok(self.assemble(
            reqwest::Client::new(),
            "http://127.0.0.1:9/jwks.json".into(),
            None,
            KeySet::new(keys, now, 86_400),
            metadata,
        ))
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// RFC 8414 §3.1: the well-known path goes between the host and the
/// issuer's path.
fn metadata_url(issuer: &str) -> Result<String, SetupError> {
    let bad = || SetupError::BadIssuer(issuer.to_string());
    let mut url = url::Url::parse(issuer).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(bad());
    }
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    Ok(url.to_string())
}

/// GET `url`, expecting 200; the body (at most [`MAX_DOCUMENT`]) and the
/// `Cache-Control` value.
async fn fetch(http: &reqwest::Client, url: &str) -> Result<(Vec<u8>, Option<String>), String> {
    let mut resp = http
        .get(url)
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status() != reqwest::StatusCode::OK {
        return Err(format!("answered {}", resp.status()));
    }
    let cache_control = resp
        .headers()
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_DOCUMENT {
            return Err("document larger than 1 MiB".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, cache_control))
}

async fn fetch_keys(http: &reqwest::Client, jwks_uri: &str, now: i64) -> Result<KeySet, String> {
    let (body, cache_control) = fetch(http, jwks_uri).await?;
    let keys = jwks::parse_jwks(&body)?;
    Ok(KeySet::new(
        keys,
        now,
        jwks::max_age(cache_control.as_deref()),
    ))
}

fn invalid(why: &'static str) -> GuardError {
    GuardError::InvalidToken(why)
}

impl Guard {
    /// A guard for tokens from `issuer` (exactly as in its metadata and
    /// the tokens' `iss`) meant for `audience`.
    pub fn builder(issuer: impl Into<String>, audience: impl Into<String>) -> GuardBuilder {
        GuardBuilder {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: Duration::from_secs(10),
            unknown_kid_interval: Duration::from_secs(10),
            realm: None,
            clock: Arc::new(SystemClock),
            http: None,
            introspection: None,
            metadata: MetadataSettings::default(),
            roots: Vec::new(),
        }
    }

    /// `Guard::builder(issuer, audience).build()`.
    pub async fn discover(
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Guard, SetupError> {
        Guard::builder(issuer, audience).build().await
    }

    /// The realm of this guard's `WWW-Authenticate` challenges.
    pub fn realm(&self) -> &str {
        &self.inner.challenge.realm
    }

    /// The issuer whose tokens are accepted.
    pub fn issuer(&self) -> &str {
        &self.inner.expected.issuer
    }

    /// The audience tokens must name: the resource URI (RFC 8707) when
    /// the guard protects one resource. A token whose `aud` does not
    /// contain it is refused (`invalid_token`).
    pub fn resource(&self) -> &str {
        &self.inner.expected.audience
    }

    /// RFC 9728 protected-resource metadata, when
    /// [`GuardBuilder::resource_metadata`] (or one of its options) is on:
    /// `resource` (the audience), `authorization_servers` (the issuer),
    /// `scopes_supported`, `bearer_methods_supported` (`["header"]`),
    /// `resource_name`, `resource_documentation`. Serve it as JSON at
    /// [`Guard::metadata_path`] (`actix::protected_resource_metadata`
    /// does).
    pub fn protected_resource_metadata(&self) -> Option<Value> {
        self.inner.metadata.as_ref().map(|m| m.document.clone())
    }

    /// The path to serve [`Guard::protected_resource_metadata`] at: RFC
    /// 9728 §3.1 puts `/.well-known/oauth-protected-resource` between the
    /// host and the resource's path, so resource `http://127.0.0.1:8080/mcp`
    /// has `/.well-known/oauth-protected-resource/mcp`.
    pub fn metadata_path(&self) -> Option<&str> {
        self.inner.metadata.as_ref().map(|m| m.path.as_str())
    }

    /// The absolute URL of that document, as challenges name it.
    pub fn metadata_url(&self) -> Option<&str> {
        self.inner.metadata.as_ref().map(|m| m.url.as_str())
    }

    #[cfg(feature = "actix-web")]
    pub(crate) fn challenge_params(&self) -> Arc<ChallengeParams> {
        self.inner.challenge.clone()
    }

    /// Seconds a client should wait after [`GuardError::IssuerUnavailable`].
    pub fn retry_after(&self) -> i64 {
        self.inner.unknown_kid_interval.max(1)
    }

    /// Checks an access token offline (RFC 9068 §4) and returns who it is
    /// for. Scopes are not checked here: see [`Principal::require_scopes`].
    pub async fn validate(&self, token: &str) -> Result<Principal, GuardError> {
        let header = validate::check_header(token)?;
        let key = self.key(&header.kid).await?;
        let claims = verify_signature(token, &key)?;
        validate::check_claims(claims, &self.inner.expected, self.inner.clock.now())
    }

    /// [`Guard::validate`], then asks the issuer (RFC 7662) whether the
    /// token is still active, so a revoked token is refused at once. Needs
    /// [`GuardBuilder::introspection`]; without it, or when the issuer does
    /// not answer, the token is refused with 503.
    pub async fn introspect(&self, token: &str) -> Result<Principal, GuardError> {
        let principal = self.validate(token).await?;
        let Some(cfg) = &self.inner.introspection else {
            tracing::error!("Guard::introspect called without GuardBuilder::introspection");
            return Err(GuardError::IssuerUnavailable(
                "introspection is not configured",
            ));
        };
        let unavailable = GuardError::IssuerUnavailable("the token issuer could not be asked");
        let resp = self
            .inner
            .http
            .post(&cfg.endpoint)
            .basic_auth(&cfg.client_id, Some(&cfg.client_secret))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "introspection request failed");
                unavailable.clone()
            })?;
        if resp.status() != reqwest::StatusCode::OK {
            tracing::warn!(status = %resp.status(), "introspection refused");
            return Err(unavailable);
        }
        let body: Value = resp.json().await.map_err(|e| {
            tracing::warn!(error = %e, "introspection answer is not JSON");
            unavailable.clone()
        })?;
        // RFC 7662 §2.2: `active` is REQUIRED; anything but `true` is no.
        if body.get("active") != Some(&Value::Bool(true)) {
            return Err(invalid("the access token is no longer active"));
        }
        Ok(principal)
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.inner.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The verification key for `kid`, fetching the JWKS again if it is
    /// unknown and the limiter allows.
    async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, GuardError> {
        if let Some(key) = self.cached_key(kid) {
            return Ok(key);
        }
        let _one_lookup = self.inner.lookup.lock().await;
        let now = self.inner.clock.now();
        {
            let mut cache = self.cache();
            if let Some(key) = cache.keys.get(kid) {
                return Ok(key);
            }
            if !cache.unknown_kid.try_acquire(now) {
                return Err(if cache.unknown_kid_fetch_ok {
                    invalid("unknown key id")
                } else {
                    GuardError::IssuerUnavailable("the token issuer's keys could not be fetched")
                });
            }
        }
        let fetched = fetch_keys(&self.inner.http, &self.inner.jwks_uri, now).await;
        let mut cache = self.cache();
        match fetched {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "fetched the JWKS for an unknown kid");
                cache.keys = keys;
                cache.unknown_kid_fetch_ok = true;
                cache.keys.get(kid).ok_or_else(|| invalid("unknown key id"))
            }
            Err(e) => {
                tracing::warn!(error = %e, uri = %self.inner.jwks_uri, "JWKS fetch failed");
                cache.unknown_kid_fetch_ok = false;
                Err(GuardError::IssuerUnavailable(
                    "the token issuer's keys could not be fetched",
                ))
            }
        }
    }

    /// A cached key, starting a background refresh when one is due.
    fn cached_key(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        let now = self.inner.clock.now();
        let mut cache = self.cache();
        let key = cache.keys.get(kid)?;
        if cache.keys.refresh_due(now) && !cache.refreshing {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                if cache.scheduled.try_acquire(now) {
                    cache.refreshing = true;
                    let guard = self.clone();
                    rt.spawn(async move { guard.refresh().await });
                }
            }
        }
        Some(key)
    }

    /// Fetches the JWKS and replaces the cached keys; on failure the old
    /// keys stay (they still verify what they signed).
    async fn refresh(&self) {
        let now = self.inner.clock.now();
        let fetched = fetch_keys(&self.inner.http, &self.inner.jwks_uri, now).await;
        let mut cache = self.cache();
        match fetched {
            Ok(keys) => cache.keys = keys,
            Err(e) => {
                tracing::warn!(error = %e, uri = %self.inner.jwks_uri, "JWKS refresh failed; keeping the cached keys")
            }
        }
        cache.refreshing = false;
    }
}

/// The signature, checked as RS256 whatever the header says (the header
/// was already required to say RS256), and the claims it covers.
fn verify_signature(token: &str, key: &DecodingKey) -> Result<Map<String, Value>, GuardError> {
    let mut v = Validation::new(Algorithm::RS256);
    // Claims are checked by `validate::check_claims`, against our clock.
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    v.leeway = 0;
    jsonwebtoken::decode::<Map<String, Value>>(token, key, &v)
        .map(|d| d.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                invalid("the signature does not verify")
            }
            _ => invalid("malformed JWT"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8414_3_1_well_known_goes_between_host_and_path() {
        assert_eq!(
            metadata_url("https://issuer.example").unwrap(),
            "https://issuer.example/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            metadata_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            metadata_url("https://issuer.example/tenant1").unwrap(),
            "https://issuer.example/.well-known/oauth-authorization-server/tenant1"
        );
        for bad in [
            "issuer.example",
            "ftp://x",
            "https://x/?q=1",
            "https://x/#f",
        ] {
            assert!(
                matches!(metadata_url(bad), Err(SetupError::BadIssuer(_))),
                "{bad}"
            );
        }
    }
}

/// A test signing key (RSA 2048, made for these tests only and published
/// with them: never trust it) and tokens signed with it.
#[cfg(test)]
pub(crate) mod testkey {
    use base64::Engine;
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
    use serde_json::{json, Value};
    use std::collections::HashMap;
    use std::sync::Arc;

    pub const KID: &str = "guard-test-key";
    const DER_B64: &str = include_str!("../tests/data/test_rsa_pkcs1.der.b64");
    const N: &str = include_str!("../tests/data/test_rsa_n.txt");

    pub fn keys() -> HashMap<String, Arc<DecodingKey>> {
        let key = DecodingKey::from_rsa_components(N.trim(), "AQAB").unwrap();
        HashMap::from([(KID.to_string(), Arc::new(key))])
    }

    /// An RFC 9068 access token with these claims.
    pub fn sign(claims: &Value) -> String {
        let der = base64::engine::general_purpose::STANDARD
            .decode(DER_B64.split_whitespace().collect::<String>())
            .unwrap();
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(KID.into());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(&der)).unwrap()
    }

    /// Good claims for `aud` with `scope`, valid for ten minutes from now.
    pub fn token(iss: &str, aud: Value, scope: &str) -> String {
        let now = crate::Clock::now(&crate::SystemClock);
        sign(&json!({
            "iss": iss, "aud": aud, "sub": "user-1", "client_id": "app",
            "exp": now + 600, "iat": now, "jti": "j1", "scope": scope,
        }))
    }
}
