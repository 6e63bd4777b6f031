//! The registry: clients, users and RFC 7591 initial access tokens, with
//! every rule checked before anything is written. One implementation for
//! the CLI, the application and account pages, sign-up and
//! `POST /register`: the rules are pure functions (unit-tested beside
//! them); the writes go through `Store::run` (the database threads, one
//! transaction each) and password and secret hashing through the `Hasher`'s
//! threads, so nothing here blocks an async worker. The CLI starts a small
//! hasher of its own and drives the same futures.
//!
//! - `clients.rs`: registering, editing, deleting a client, a new secret;
//!   the self-registration scope rule.
//! - `users.rs`: the accounts people sign in with: creating, changing,
//!   disabling, deleting, a new password, look-alike usernames.
//! - `registration_tokens.rs`: initial access tokens for `POST /register`.

pub mod clients;
pub mod metadata;
pub mod registration_tokens;
pub mod users;

pub use clients::{CreatedClient, NewClient};
pub use metadata::ClientMetadata;
pub use users::{NewUser, UserChange};

use crate::clock::Clock;
use crate::hasher::Hasher;
use crate::store::{Store, StoreError};

/// The registry over one store, hasher and clock (borrowed: an
/// `AppState`'s, or the CLI's).
#[derive(Clone, Copy)]
pub struct Registry<'a> {
    store: &'a Store,
    hasher: &'a Hasher,
    clock: &'a Clock,
}

impl<'a> Registry<'a> {
    pub fn new(store: &'a Store, hasher: &'a Hasher, clock: &'a Clock) -> Registry<'a> {
        Registry {
            store,
            hasher,
            clock,
        }
    }

    /// An argon2id hash of `secret`, on the hasher's threads.
    async fn hash(&self, secret: String) -> Result<String, RegistryError> {
        self.hasher
            .hash(secret)
            .await
            .map_err(|e| RegistryError::Store(StoreError::Invalid(e)))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A value given for one field is wrong. `field` is the RFC 7591
    /// metadata name or the form input's name (they are the same).
    #[error("{message}")]
    Field {
        field: &'static str,
        message: String,
    },
    /// A request that cannot be done as asked (a secret for a public
    /// client, a bad count of uses).
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// An RFC 7591 initial access token that is unknown, expired or used up.
    #[error("the initial access token is not valid")]
    TokenRefused,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RegistryError {
    pub(crate) fn field(field: &'static str, message: impl Into<String>) -> Self {
        RegistryError::Field {
            field,
            message: message.into(),
        }
    }

    /// The field a `Field` error is about.
    pub fn field_name(&self) -> Option<&'static str> {
        match self {
            RegistryError::Field { field, .. } => Some(field),
            _ => None,
        }
    }
}
