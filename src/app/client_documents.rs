//! Client ID Metadata Documents: fetching a client's metadata from the
//! https URL that is its `client_id`, built as the SSRF risk it is, and
//! keeping the client's row in `clients` in step with it (codes, refresh
//! families and consents name `clients(id)`).
//!
//! The fetch: the URL passes `oauth::client_document::check_document_url`
//! (https, a path, no fragment, user info, query or dot segments) and, under
//! `allowlist`, the operator's host list; the host name is resolved ONCE
//! here and every address it gives must pass `fetchable_address` (no
//! loopback, private, link-local, unique-local, multicast, unspecified or
//! IPv4-mapped forms of them), and the connection is made to those
//! addresses only (`resolve_to_addrs`), so a second DNS answer cannot move
//! it; no redirects, no proxy, a connect and a total timeout, and reading
//! stops past `MAX_DOCUMENT_BYTES`. A result is kept for the document's
//! `Cache-Control` max-age within [`MIN_CACHE`, `MAX_CACHE`], a failure for
//! `FAILURE_CACHE`; concurrent first requests for one URL share one fetch
//! (single-flight), and each host is fetched from at most
//! `HOST_FETCHES_PER_MINUTE` times a minute.

use crate::config::{ClientDocuments as Mode, Config};
use crate::oauth::client_document::{
    cache_seconds, check_document_url, fetchable_address, host_allowed, parse_document,
    ClientDocument, MAX_DOCUMENT_BYTES,
};
use crate::store::models::client::{AuthMethod, Client};
use crate::store::models::housekeeping::DOCUMENT_CLIENT_TOUCH;
use crate::store::{DbConn, StoreError};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The shortest and longest a fetched document is kept, in seconds.
pub const MIN_CACHE: i64 = 60;
pub const MAX_CACHE: i64 = 24 * 3600;
/// How long a failed fetch is remembered, in seconds.
pub const FAILURE_CACHE: i64 = 30;
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The whole fetch: resolving, connecting, the answer and its body.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(5);
pub const HOST_FETCHES_PER_MINUTE: u32 = 10;
/// Past this many cached URLs, expired ones are dropped.
const CACHE_ENTRIES: usize = 1000;

#[derive(Clone)]
struct Fetched {
    result: Result<Arc<ClientDocument>, String>,
    until: i64,
}

#[derive(Default)]
struct Slot {
    cell: tokio::sync::OnceCell<Fetched>,
}

/// The fetcher and its cache; one per server, in `AppState`.
pub struct ClientDocuments {
    tls: rustls::ClientConfig,
    cache: Mutex<HashMap<String, Arc<Slot>>>,
    /// Per host: the minute a window started, and fetches in it.
    hosts: Mutex<HashMap<String, (i64, u32)>>,
    /// Requests sent (tests and metrics read it).
    pub fetches: AtomicU64,
}

/// The TLS settings of every fetch: rustls on aws-lc-rs, the system's
/// roots and the configured extra ones, HTTP/1.1.
fn tls_config(config: &Config) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::warn!(error = %e, "reading the system's CA certificates");
    }
    roots.add_parsable_certificates(native.certs);
    for pem in &config.client_documents_roots {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| format!("a trusted certificate: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("a trusted certificate: {e}"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

impl ClientDocuments {
    pub fn new(config: &Config) -> Result<ClientDocuments, String> {
        Ok(ClientDocuments {
            tls: tls_config(config)?,
            cache: Mutex::new(HashMap::new()),
            hosts: Mutex::new(HashMap::new()),
            fetches: AtomicU64::new(0),
        })
    }

    /// Whether the settings let `client_id` be used as a document's URL:
    /// on, a URL by the draft's rules, and a host the allow-list admits.
    pub fn admits(config: &Config, client_id: &str) -> Result<url::Url, String> {
        if config.client_documents == Mode::Off {
            return Err("client metadata documents are not enabled on this server".into());
        }
        let url = check_document_url(client_id, config.client_documents_loopback)?;
        let host = url.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if config.client_documents == Mode::Allowlist
            && !host_allowed(host, &config.client_document_hosts)
        {
            return Err(format!(
                "documents from {host} are not allowed on this server"
            ));
        }
        Ok(url)
    }

    /// The document at `client_id`, from the cache or fetched once.
    pub async fn get(
        &self,
        config: &Config,
        now: i64,
        client_id: &str,
    ) -> Result<Arc<ClientDocument>, String> {
        let url = Self::admits(config, client_id)?;
        let slot = {
            let mut cache = self
                .cache
                .lock()
                .map_err(|_| "cache poisoned".to_string())?;
            if cache.len() > CACHE_ENTRIES {
                cache.retain(|_, s| s.cell.get().is_none_or(|f| f.until > now));
            }
            let fresh = cache
                .get(client_id)
                .filter(|s| s.cell.get().is_none_or(|f| f.until > now))
                .cloned();
            match fresh {
                Some(s) => s,
                None => {
                    let s = Arc::new(Slot::default());
                    cache.insert(client_id.to_string(), s.clone());
                    s
                }
            }
        };
        let fetched = slot
            .cell
            .get_or_init(|| async {
                let result = match tokio::time::timeout(
                    TOTAL_TIMEOUT,
                    self.fetch(config, now, &url),
                )
                .await
                {
                    Ok(r) => r,
                    Err(_) => Err("fetching the document timed out".to_string()),
                };
                let result = result.and_then(|(body, cache_control)| {
                    let doc = parse_document(client_id, &body)?;
                    Ok((doc, cache_control))
                });
                match result {
                    Ok((doc, cc)) => Fetched {
                        until: now + cache_seconds(cc.as_deref(), MIN_CACHE, MAX_CACHE),
                        result: Ok(Arc::new(doc)),
                    },
                    Err(e) => {
                        tracing::info!(client_id, error = %e, "client metadata document refused");
                        Fetched {
                            until: now + FAILURE_CACHE,
                            result: Err(e),
                        }
                    }
                }
            })
            .await;
        fetched.result.clone()
    }

    fn rate_limited(&self, host: &str, now: i64) -> bool {
        let Ok(mut hosts) = self.hosts.lock() else {
            return true;
        };
        let minute = now.div_euclid(60);
        if hosts.len() > CACHE_ENTRIES {
            hosts.retain(|_, (m, _)| *m == minute);
        }
        let entry = hosts.entry(host.to_string()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 += 1;
        entry.1 > HOST_FETCHES_PER_MINUTE
    }

    /// One GET: the body (at most `MAX_DOCUMENT_BYTES`) and its
    /// `Cache-Control`.
    async fn fetch(
        &self,
        config: &Config,
        now: i64,
        url: &url::Url,
    ) -> Result<(Vec<u8>, Option<String>), String> {
        let host = url.host_str().unwrap_or_default().to_string();
        let port = url.port_or_known_default().unwrap_or(443);
        let loopback = config.client_documents_loopback;
        if self.rate_limited(&host, now) {
            return Err(format!(
                "too many document fetches from {host}; try again in a minute"
            ));
        }
        // Resolved once; every address must be one we may fetch from, and
        // the connection goes to these addresses and no others.
        let addrs: Vec<SocketAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            _ => tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|_| format!("the host {host} does not resolve"))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(format!("the host {host} does not resolve"));
        }
        if let Some(bad) = addrs.iter().find(|a| !fetchable_address(a.ip(), loopback)) {
            return Err(format!(
                "the host {host} resolves to {}, an address documents are not fetched from",
                bad.ip()
            ));
        }
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(self.tls.clone())
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .pool_max_idle_per_host(0)
            .https_only(url.scheme() == "https")
            .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")));
        if matches!(url.host(), Some(url::Host::Domain(_))) {
            builder = builder.resolve_to_addrs(&host, &addrs);
        }
        let http = builder.build().map_err(|e| e.to_string())?;
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let mut resp = http
            .get(url.as_str())
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "fetching the document timed out".to_string()
                } else {
                    format!("the document could not be fetched from {host}")
                }
            })?;
        let status = resp.status();
        if status.is_redirection() {
            return Err("the document's URL redirects; redirects are not followed".into());
        }
        if status != reqwest::StatusCode::OK {
            return Err(format!("the document's URL answered {}", status.as_u16()));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(format!(
                "the document is larger than {MAX_DOCUMENT_BYTES} bytes"
            ));
        }
        let cache_control = resp
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| {
            if e.is_timeout() {
                "fetching the document timed out".to_string()
            } else {
                "reading the document failed".to_string()
            }
        })? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_DOCUMENT_BYTES {
                return Err(format!(
                    "the document is larger than {MAX_DOCUMENT_BYTES} bytes"
                ));
            }
        }
        Ok((body, cache_control))
    }
}

/// The `clients` row of a document client: public, `none`, the document's
/// redirect URIs and grant types; the scopes any self-registered app may
/// ask for (the operator's registration scopes and the identity scopes),
/// narrowed to the document's `scope` when it has one.
pub fn client_row(config: &Config, doc: &ClientDocument, now: i64) -> Client {
    let mut allowed: Vec<String> = Vec::new();
    let names = crate::registry::clients::IDENTITY_SCOPES
        .iter()
        .copied()
        .chain(config.registration_scopes.iter().map(String::as_str));
    for s in names {
        if !allowed.iter().any(|a| a == s) {
            allowed.push(s.to_string());
        }
    }
    if let Some(wanted) = &doc.scope {
        allowed.retain(|s| wanted.contains(s));
    }
    let host = url::Url::parse(&doc.client_id)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    Client {
        id: doc.client_id.clone(),
        secret_hash: None,
        name: doc.client_name.clone().unwrap_or(host),
        website: doc.client_uri.clone(),
        redirect_uris: doc.redirect_uris.iter().cloned().collect(),
        grant_types: doc.grant_types.iter().copied().collect(),
        scope: allowed.into_iter().collect(),
        is_public: true,
        auth_method: AuthMethod::None,
        can_introspect: false,
        owner: None,
        created_at: now,
        updated_at: now,
        logo_uri: doc.logo_uri.clone(),
        contacts: std::iter::empty::<String>().collect(),
        registration_token_hash: None,
        post_logout_redirect_uris: std::iter::empty::<String>().collect(),
        // A document cannot widen where its tokens work: only the
        // operator's `GATEHOUSE_RESOURCES`.
        resources: std::iter::empty::<String>().collect(),
        application_type: crate::store::models::client::StoredApplicationType(
            crate::oauth::ApplicationType::of_redirect_uris(&doc.redirect_uris),
        ),
    }
}

fn same_metadata(a: &Client, b: &Client) -> bool {
    a.name == b.name
        && a.website == b.website
        && a.logo_uri == b.logo_uri
        && a.redirect_uris.to_vec() == b.redirect_uris.to_vec()
        && a.grant_types.names() == b.grant_types.names()
        && a.scope.to_vec() == b.scope.to_vec()
}

/// Stores the document client's row, or brings it in step with the
/// document; writes only when something changed, or at most once a day to
/// note the row is in use (housekeeping prunes rows unused for a week).
/// Returns the row.
pub fn upsert_client(c: &mut DbConn, row: Client) -> Result<Client, StoreError> {
    if let Some(existing) = c.find_client(&row.id)? {
        if same_metadata(&existing, &row) {
            let now = row.updated_at;
            if existing.updated_at < now - DOCUMENT_CLIENT_TOUCH {
                c.write(|tx| tx.touch_client(&existing.id, now))?;
            }
            return Ok(existing);
        }
    }
    let written = c.transaction(|c| {
        match c.find_client(&row.id)? {
            Some(_) => {
                c.update_client_metadata(&row)?;
            }
            None => c.insert_client(&row)?,
        }
        Ok(row.clone())
    });
    match written {
        Ok(r) => Ok(r),
        // Another request inserted the same client first (PostgreSQL runs
        // concurrent transactions side by side): use its row.
        Err(e) => c.find_client(&row.id)?.ok_or(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::GrantType;

    fn config() -> Config {
        Config::for_tests("sqlite://unused.db", std::path::Path::new("unused-keys"))
    }

    #[test]
    fn ssrf_per_host_rate_limit() {
        let docs = ClientDocuments::new(&config()).unwrap();
        let now = 6_000_000;
        for _ in 0..HOST_FETCHES_PER_MINUTE {
            assert!(!docs.rate_limited("a.example", now));
        }
        assert!(docs.rate_limited("a.example", now + 1));
        assert!(!docs.rate_limited("b.example", now + 1), "per host");
        assert!(!docs.rate_limited("a.example", now + 60), "the next minute");
    }

    #[test]
    fn cimd_document_client_row() {
        let doc = ClientDocument {
            client_id: "https://app.example.com/c.json".into(),
            redirect_uris: vec!["http://127.0.0.1/cb".into()],
            grant_types: vec![GrantType::AuthorizationCode],
            client_name: None,
            client_uri: None,
            logo_uri: None,
            scope: None,
        };
        let row = client_row(&config(), &doc, 100);
        assert_eq!(row.name, "app.example.com", "no client_name: the host");
        assert!(row.is_public && row.secret_hash.is_none());
        assert_eq!(row.auth_method_name(), "none");
        assert_eq!(row.scope.to_vec(), ["openid", "profile", "email", "read"]);
        let narrowed = ClientDocument {
            scope: Some(vec!["read".into(), "admin".into()]),
            ..doc
        };
        let row = client_row(&config(), &narrowed, 100);
        assert_eq!(row.scope.to_vec(), ["read"], "never more than allowed");
    }

    #[test]
    fn cimd_admits_by_the_settings() {
        let mut c = config();
        let id = "https://app.example.com/c.json";
        assert!(ClientDocuments::admits(&c, id).is_err(), "off by default");
        c.client_documents = Mode::Open;
        assert!(ClientDocuments::admits(&c, id).is_ok());
        c.client_documents = Mode::Allowlist;
        c.client_document_hosts = vec!["*.example.com".into()];
        assert!(ClientDocuments::admits(&c, id).is_ok());
        c.client_document_hosts = vec!["other.example".into()];
        assert!(ClientDocuments::admits(&c, id).is_err());
    }
}
