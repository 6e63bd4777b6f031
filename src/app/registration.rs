//! Registering and managing clients from requests (the application pages
//! and `POST /register`): the rules of `admin`, with argon2 on the
//! hasher's threads and the database on the store's.

use super::AppState;
use crate::admin::{prepare_client, AdminError, CreatedClient, NewClient};
use crate::crypto::random_token;
use crate::store::models::Client;
use crate::store::StoreError;

/// Checks `spec`, hashes the new secret, and stores the client; with
/// `registration_token_hash`, the client can be managed through RFC 7592.
/// `spend` (the hash of an RFC 7591 initial access token) is spent in the
/// same transaction, so a token of N uses registers at most N clients.
pub async fn register(
    state: &AppState,
    spec: NewClient,
    registration_token_hash: Option<String>,
    spend: Option<String>,
) -> Result<CreatedClient, RegistrationError> {
    let mut created = prepare_client(spec, state.clock.now())?;
    if let Some(secret) = &created.secret {
        let hash = state
            .hasher
            .hash(secret.clone())
            .await
            .map_err(|e| RegistrationError::Store(StoreError::Invalid(e)))?;
        created.client.secret_hash = Some(hash);
    }
    created.client.registration_token_hash = registration_token_hash;
    let row = created.client.clone();
    let now = state.clock.now();
    state
        .store
        .run(move |c| {
            c.transaction(|c| {
                if let Some(token) = &spend {
                    if !c.spend_registration_token(token, now)? {
                        return Err(RegistrationError::TokenRefused);
                    }
                }
                c.insert_client(&row)?;
                Ok(())
            })
        })
        .await?;
    Ok(created)
}

/// Gives a confidential client a new secret; returns it, shown once.
pub async fn rotate_secret(state: &AppState, client: &Client) -> Result<String, RegistrationError> {
    if client.is_public {
        return Err(AdminError::Invalid("a public client has no secret to rotate".into()).into());
    }
    let secret = random_token(32);
    let hash = state
        .hasher
        .hash(secret.clone())
        .await
        .map_err(|e| RegistrationError::Store(StoreError::Invalid(e)))?;
    let (id, now) = (client.id.clone(), state.clock.now());
    let changed = state
        .store
        .run(move |c| c.write(|c| c.set_client_secret_hash(&id, &hash, now)))
        .await?;
    if !changed {
        return Err(AdminError::NotFound("that client no longer exists".into()).into());
    }
    Ok(secret)
}

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// The initial access token is unknown, expired or used up.
    #[error("the initial access token is not valid")]
    TokenRefused,
    #[error(transparent)]
    Store(#[from] StoreError),
}
