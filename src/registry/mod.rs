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
use crate::store::models::audit_event::{actor, AuditType, NewAuditEvent};
use crate::store::{Store, StoreError, StoreResult, Tx};

/// Appends `event` (when there is one: someone is acting) to the audit
/// trail in `tx`, after `finish` has named its subject and details.
pub(crate) fn record(
    tx: &mut Tx<'_>,
    at_ms: i64,
    event: &Option<NewAuditEvent>,
    finish: impl FnOnce(NewAuditEvent) -> NewAuditEvent,
) -> StoreResult<()> {
    match event {
        Some(e) => tx.record_audit(at_ms, &finish(e.clone())),
        None => Ok(()),
    }
}

/// The registry over one store, hasher and clock (borrowed: an
/// `AppState`'s, or the CLI's), and who is acting through it: with
/// `acting`, each change it makes appends its audit event in the change's
/// own transaction.
#[derive(Clone, Copy)]
pub struct Registry<'a> {
    store: &'a Store,
    hasher: &'a Hasher,
    clock: &'a Clock,
    acting: Option<&'a Acting>,
}

/// Who makes a registry change, for the audit trail: the actor
/// (`store::models::audit_event::actor`) and where the request came from.
#[derive(Debug, Clone)]
pub struct Acting {
    pub actor: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Acting {
    /// The command line.
    pub fn operator() -> Acting {
        Acting {
            actor: actor::OPERATOR.to_string(),
            ip: None,
            user_agent: None,
        }
    }

    /// A `kind` event by this actor, from where it came.
    pub fn event(&self, kind: AuditType) -> NewAuditEvent {
        NewAuditEvent::new(kind, self.actor.clone()).from(self.ip.clone(), self.user_agent.clone())
    }
}

impl<'a> Registry<'a> {
    pub fn new(store: &'a Store, hasher: &'a Hasher, clock: &'a Clock) -> Registry<'a> {
        Registry {
            store,
            hasher,
            clock,
            acting: None,
        }
    }

    /// This registry, recording its changes in the audit trail as `who`'s.
    pub fn acting<'b>(self, who: &'b Acting) -> Registry<'b>
    where
        'a: 'b,
    {
        Registry {
            acting: Some(who),
            ..self
        }
    }

    /// The audit event a change of `kind` appends, when someone is acting.
    fn audit(&self, kind: AuditType) -> Option<NewAuditEvent> {
        self.acting.map(|who| who.event(kind))
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
