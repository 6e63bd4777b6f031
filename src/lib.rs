//! gatehouse: a standalone OAuth 2.0 authorization server.
//!
//! `Application::build` is the one app factory: `gatehouse serve` and the
//! integration tests both use it.

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod hasher;
pub mod http;
pub mod mail;
pub mod net;
pub mod pages;
pub mod private_files;
pub mod registry;
pub mod store;
pub mod text;
pub mod tokens;
pub mod workers;

/// The primitives (`crates/crypto`) and the protocol rules (`crates/oauth`),
/// crates of their own, under the names the rest of the server uses.
pub use gatehouse_crypto as crypto;
pub use gatehouse_oauth as oauth;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{middleware, web, App, HttpServer};
use std::net::TcpListener;

pub use clock::Clock;
pub use config::Config;

/// Why the server could not start. Each message is one line naming what to
/// fix; `main` prints it and exits 2.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("GATEHOUSE_DATABASE_URL (database_url): {0}")]
    Database(#[from] store::StoreError),
    #[error("GATEHOUSE_KEYS_DIR (keys_dir): {0}")]
    Keys(#[from] tokens::TokenError),
    #[error("GATEHOUSE_KEYS_DIR (keys_dir): the server secret {0}")]
    Secret(#[from] private_files::FileError),
    /// The keys folder is not the one the database was used with.
    #[error("GATEHOUSE_KEYS_DIR (keys_dir): {0}")]
    LostKeys(String),
    #[error("GATEHOUSE_SMTP_URL (smtp_url): {0}")]
    Smtp(String),
    #[error("GATEHOUSE_CLIENT_ID_DOCUMENTS (client_id_documents): {0}")]
    ClientDocuments(String),
    #[error("GATEHOUSE_BIND (bind): cannot listen on {addr}: {reason}")]
    Bind { addr: String, reason: String },
}

pub struct Application {
    server: Server,
    port: u16,
    state: web::Data<app::AppState>,
}

impl Application {
    /// Connects to the database, applies migrations, loads (or creates) the
    /// signing keys and binds the listener. Must run inside an actix system.
    pub fn build(config: Config, clock: Clock) -> Result<Application, StartError> {
        let listener = TcpListener::bind(&config.bind).map_err(|e| StartError::Bind {
            addr: config.bind.clone(),
            reason: e.to_string(),
        })?;
        let local = listener.local_addr().map_err(|e| StartError::Bind {
            addr: config.bind.clone(),
            reason: e.to_string(),
        })?;
        let issuer = config.issuer.clone().unwrap_or_else(|| {
            if config.bind.ends_with(":0") {
                format!("http://{local}")
            } else {
                format!("http://{}", config.bind)
            }
        });
        let audience = config.audience.clone().unwrap_or_else(|| issuer.clone());
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());

        let store = store::Store::open(
            &config.database_url,
            (cores as u32 * 4).max(8),
            clock.clone(),
        )?;
        store.migrate()?;
        store.check_writable()?;
        private_files::warn_if_readable_by_others(&config.keys_dir, "signing keys folder");
        // A database that has signed with keys the folder lacks was used
        // with another folder: refuse rather than quietly make new keys,
        // unless asked to.
        let keys_err = |e| match e {
            // The keys folder was fine; the database refused.
            tokens::TokenError::Store(e) => StartError::Database(e),
            other => StartError::Keys(other),
        };
        let lost =
            tokens::keystore::lacking(&store, &config.keys_dir, clock.now()).map_err(keys_err)?;
        if !lost.is_empty() {
            if !config.new_keys {
                return Err(StartError::LostKeys(lost.refusal(&config.keys_dir)));
            }
            tracing::warn!(
                keys_dir = %config.keys_dir.display(),
                "--new-keys: making new {} in place of the lost ones; tokens they signed no longer validate",
                if lost.kids.is_empty() { "server secret" } else { "keys" },
            );
            tokens::keystore::forget_lost_keys(&store, &lost.kids, clock.now())
                .map_err(keys_err)?;
        }
        let keys = tokens::Keys::load(&store, &config.keys_dir, clock.now()).map_err(keys_err)?;
        let server_secret = crypto::ServerSecret::new(
            &private_files::load_or_create_server_secret(&config.keys_dir)?,
        );
        let signer = keys.current().signer.kid.clone();

        if !lost.recorded {
            // A first start: say what to do next.
            tracing::info!(
                "first start: create an admin with `gatehouse user create --username admin --admin --password-stdin`, then open {issuer}/apps"
            );
        }
        if plain_http_off_loopback(&issuer) {
            tracing::warn!(
                issuer = %issuer,
                "the issuer is plain http on a network address: cookies are Secure only over https, so sessions and CSRF cookies travel in the clear; put gatehouse behind a TLS proxy and set an https issuer (README: Behind a reverse proxy)"
            );
        }
        tracing::info!(
            listen = %local,
            issuer = %issuer,
            database = store.kind().name(),
            kid = %signer,
            signup = if config.signup_open { "open" } else { "off" },
            registration = config.registration.name(),
            mail = if config.smtp_url.is_some() { "smtp" } else { "off" },
            access_token_ttl = config.access_token_ttl,
            id_token_ttl = config.id_token_ttl,
            auth_code_ttl = config.auth_code_ttl,
            refresh_idle_ttl = config.refresh_idle_ttl,
            refresh_max_ttl = config.refresh_max_ttl,
            device_code_ttl = config.device_code_ttl,
            "gatehouse listening"
        );

        if config.client_documents_loopback {
            tracing::warn!(
                "GATEHOUSE_CLIENT_ID_DOCUMENTS_LOOPBACK is on: client metadata documents may be fetched from loopback addresses and over http from localhost (development only)"
            );
        }
        let client_documents = app::client_documents::ClientDocuments::new(&config)
            .map_err(StartError::ClientDocuments)?;
        let outbox = app::outbox::Outbox::new(&config, &server_secret);
        let smtp = config
            .smtp_url
            .as_deref()
            .map(app::outbox::transport)
            .transpose()
            .map_err(StartError::Smtp)?;
        let passkeys = app::passkeys::Passkeys::new(&issuer, &config.site_name);
        let state = web::Data::new(app::AppState {
            config,
            issuer,
            audience,
            store,
            keys,
            hasher: hasher::Hasher::start(cores),
            signing: app::signing::Signing::start(cores),
            clock,
            metrics: app::metrics::Metrics::default(),
            outbox,
            server_secret,
            client_documents,
            passkeys,
        });
        let app_state = state.clone();
        let registration = state.config.registration;
        let server = HttpServer::new(move || {
            // Runs on each HTTP worker thread as it starts.
            workers::batch_scheduling();
            App::new()
                .app_data(app_state.clone())
                .app_data(web::PayloadConfig::new(64 * 1024))
                .app_data(web::FormConfig::default().limit(64 * 1024))
                .wrap(middleware::from_fn(pages::in_the_sites_look))
                .wrap(middleware::from_fn(http::deadline::body_deadline))
                .wrap(http::security_headers())
                .wrap(middleware::from_fn(http::log_request))
                .configure(|cfg| http::configure(cfg, &app_state.issuer))
                .configure(|cfg| http::register::configure(cfg, registration))
                .configure(pages::configure)
        })
        .workers(state.config.workers)
        .listen(listener)
        .map_err(|e| StartError::Bind {
            addr: local.to_string(),
            reason: e.to_string(),
        })?
        .shutdown_timeout(10)
        .run();

        app::background::start(state.clone());
        app::outbox::spawn_sender(&state, smtp).map_err(StartError::Smtp)?;

        Ok(Application {
            server,
            port: local.port(),
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<app::AppState> {
        self.state.clone()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM or Ctrl-C, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// An `http://` issuer whose host is not a loopback address: only for
/// trying gatehouse on one machine, never on a network.
fn plain_http_off_loopback(issuer: &str) -> bool {
    let Ok(url) = url::Url::parse(issuer) else {
        return false;
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    url.scheme() == "http" && !loopback
}
