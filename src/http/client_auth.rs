//! Client authentication at the token, revocation, introspection and device
//! authorization endpoints (RFC 6749 §2.3): `client_secret_basic`,
//! `client_secret_post`, or `client_id` alone for public clients.

use crate::app::AppState;
use crate::oauth::wire::{self, max_len, Form};
use crate::oauth::OAuthError;
use crate::store::models::client::AuthMethod;
use crate::store::models::Client;
use actix_web::HttpRequest;

fn bad_client() -> OAuthError {
    OAuthError::InvalidClient("client authentication failed".into())
}

/// Reads `Authorization: Basic` (`oauth::wire::basic_credentials`).
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get("Authorization") else {
        return Ok(None);
    };
    wire::basic_credentials(value.as_bytes())
        .map(Some)
        .ok_or_else(bad_client)
}

/// RFC 6749 §2.3.1: credentials never travel in the request URI.
pub fn refuse_query_credentials(req: &HttpRequest) -> Result<(), OAuthError> {
    let q = req.query_string();
    if q.split('&')
        .any(|p| p.starts_with("client_secret=") || p.starts_with("client_id="))
    {
        return Err(OAuthError::InvalidRequest(
            "client credentials must not be sent in the request URI".into(),
        ));
    }
    Ok(())
}

/// Authenticates the calling client. Unknown clients, wrong secrets and
/// disallowed methods all answer the same `invalid_client`, after the same
/// argon2 work, so neither existence nor secret can be probed.
pub async fn authenticate_client(
    req: &HttpRequest,
    form: &Form,
    state: &AppState,
) -> Result<Client, OAuthError> {
    refuse_query_credentials(req)?;
    let basic = basic_credentials(req)?;
    let (client_id, secret, method) = match basic {
        Some((id, secret)) => {
            if form.contains("client_secret") {
                return Err(OAuthError::InvalidRequest(
                    "use only one client authentication method".into(),
                ));
            }
            if form.get("client_id").is_some_and(|f| f != id) {
                return Err(OAuthError::InvalidRequest(
                    "client_id does not match the Authorization header".into(),
                ));
            }
            (id, Some(secret), AuthMethod::SecretBasic)
        }
        None => match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => (
                id.to_string(),
                Some(secret.to_string()),
                AuthMethod::SecretPost,
            ),
            (Some(id), None) => (id.to_string(), None, AuthMethod::None),
            (None, Some(_)) => {
                return Err(OAuthError::InvalidRequest(
                    "missing parameter 'client_id'".into(),
                ))
            }
            (None, None) => {
                return Err(OAuthError::InvalidClient(
                    "client authentication required".into(),
                ))
            }
        },
    };

    // What the form parser refuses in a body is refused in the header too:
    // a NUL can't be looked up, and no client id is that long.
    if client_id.len() > max_len("client_id") || client_id.contains('\0') {
        return Err(bad_client());
    }
    // A Client ID Metadata Document's client exists as a row once
    // `/authorize` fetched it; it is used only while the settings admit it.
    if crate::oauth::client_document::is_document_id(&client_id)
        && crate::app::client_documents::ClientDocuments::admits(&state.config, &client_id).is_err()
    {
        return Err(bad_client());
    }
    let lookup = client_id.clone();
    let client = state.store.run(move |c| c.find_client(&lookup)).await?;
    let Some(client) = client else {
        if let Some(secret) = secret {
            state.hasher.verify_dummy(secret).await;
        }
        return Err(bad_client());
    };

    if client.is_public {
        // A public client has no secret; one that sends a secret is confused
        // or an attacker guessing. It costs the same argon2 work as an
        // unknown client with a secret, so timing can't tell public client
        // ids from unknown ones.
        return match secret {
            None => Ok(client),
            Some(secret) => {
                state.hasher.verify_dummy(secret).await;
                Err(bad_client())
            }
        };
    }
    let Some(secret) = secret else {
        return Err(bad_client());
    };
    let method_ok = client.auth_method.accepts(method);
    let Some(stored) = client.secret_hash.clone() else {
        return Err(bad_client());
    };
    let verified = state
        .hasher
        .verify_client_secret(&client.id, &stored, &secret)
        .await;
    if verified && method_ok {
        Ok(client)
    } else {
        Err(bad_client())
    }
}
