//! What the HTTP endpoints (`http/`) and the pages (`pages/`) share: the
//! application state every handler receives, signing people in, and
//! issuing tokens. Sits between them and the layers below (`tokens`,
//! `store`, `oauth`); never imports `http` or `pages`.

pub mod accounts;
pub mod audit;
pub mod background;
pub mod client_documents;
pub mod factors;
pub mod issue;
pub mod metrics;
pub mod outbox;
pub mod passkeys;
pub mod sign_in;
pub mod signing;
pub mod throttle;

use crate::clock::Clock;
use crate::config::Config;
use crate::hasher::Hasher;
use crate::store::Store;
use crate::tokens::Keys;

/// Everything a handler needs, shared by all workers.
pub struct AppState {
    pub config: Config,
    /// The issuer URL, without trailing slash.
    pub issuer: String,
    /// The `aud` of access tokens.
    pub audience: String,
    pub store: Store,
    pub keys: Keys,
    pub hasher: Hasher,
    /// The threads every token is signed on.
    pub signing: signing::Signing,
    pub clock: Clock,
    pub metrics: metrics::Metrics,
    /// The HMAC key of the CSRF form tokens (`pages::csrf`), from the keys
    /// folder.
    pub server_secret: crate::crypto::ServerSecret,
    /// Where mail is queued (`outbox.rs`).
    pub outbox: outbox::Outbox,
    /// Client ID Metadata Documents: the fetcher and its cache.
    pub client_documents: client_documents::ClientDocuments,
    /// The WebAuthn relying party (`passkeys.rs`), built from the issuer.
    pub passkeys: passkeys::Passkeys,
}

impl AppState {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// The registry of clients, users and initial access tokens over this
    /// state's store, hasher and clock.
    pub fn registry(&self) -> crate::registry::Registry<'_> {
        crate::registry::Registry::new(&self.store, &self.hasher, &self.clock)
    }
}

/// Who the mail is from, as the settings say (`mail::Site`): the site's
/// name and the operator's footer.
pub fn mail_site(config: &crate::config::Config) -> crate::mail::Site {
    let look = &config.look;
    crate::mail::Site {
        name: config.site_name.clone(),
        footer_text: look.footer_text.clone().unwrap_or_default(),
        privacy_url: look.privacy_url.clone().unwrap_or_default(),
        terms_url: look.terms_url.clone().unwrap_or_default(),
    }
}
