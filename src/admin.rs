//! Operations behind the admin CLI (and the tests' set-up): registering
//! clients and users with every rule checked before anything is written.

use crate::crypto::random_token;
use crate::hasher::hash_password_blocking;
use crate::oauth::scope::parse_scope;
use crate::oauth::GrantType;
use crate::store::models::client::{
    AUTH_METHOD_ANY, AUTH_METHOD_BASIC, AUTH_METHOD_NONE, AUTH_METHOD_POST,
};
use crate::store::models::{Client, User};
use crate::store::{Store, StoreError};

pub const MIN_PASSWORD_LEN: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub name: String,
    pub website: Option<String>,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scope: String,
    pub public: bool,
    /// `basic`, `post`, or `None` for both.
    pub auth_method: Option<String>,
    pub can_introspect: bool,
    pub owner: Option<String>,
}

#[derive(Debug)]
pub struct CreatedClient {
    pub client: Client,
    /// The plain secret, shown once; `None` for public clients.
    pub secret: Option<String>,
}

/// RFC 6749 §3.1.2: a redirection URI is absolute and has no fragment.
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let parsed = url::Url::parse(uri)
        .map_err(|e| format!("redirect URI '{uri}' is not an absolute URI: {e}"))?;
    if parsed.fragment().is_some() {
        return Err(format!("redirect URI '{uri}' must not contain a fragment"));
    }
    if uri.contains(char::is_whitespace) {
        return Err(format!("redirect URI '{uri}' must not contain spaces"));
    }
    Ok(())
}

/// Checks a registration and returns the client row plus its plain secret.
/// Shared by the CLI and `POST /register`.
pub fn build_client(spec: NewClient, now: i64) -> Result<CreatedClient, AdminError> {
    let name = spec.name.trim().to_string();
    if name.is_empty() {
        return Err(AdminError::Invalid("a client needs a name".into()));
    }
    // Parsed once, here; stored by name.
    let mut grants: Vec<GrantType> = Vec::new();
    for name in &spec.grant_types {
        let Some(g) = GrantType::parse(name) else {
            let known: Vec<&str> = GrantType::ALL.map(GrantType::as_str).to_vec();
            return Err(AdminError::Invalid(format!(
                "unknown grant type '{name}' (known: {})",
                known.join(", ")
            )));
        };
        if !grants.contains(&g) {
            grants.push(g);
        }
    }
    if grants.is_empty() {
        return Err(AdminError::Invalid(
            "a client needs at least one grant type".into(),
        ));
    }
    for uri in &spec.redirect_uris {
        check_redirect_uri(uri).map_err(AdminError::Invalid)?;
    }
    let needs_redirect = grants
        .iter()
        .any(|g| matches!(g, GrantType::AuthorizationCode | GrantType::Implicit));
    if needs_redirect && spec.redirect_uris.is_empty() {
        return Err(AdminError::Invalid(
            "authorization_code and implicit clients need at least one redirect URI".into(),
        ));
    }
    if spec.public && grants.contains(&GrantType::ClientCredentials) {
        return Err(AdminError::Invalid(
            "a public client cannot use client_credentials (RFC 6749 §4.4)".into(),
        ));
    }
    let scope = parse_scope(&spec.scope)
        .map_err(|e| AdminError::Invalid(e.description()))?
        .join(" ");
    let auth_method = if spec.public {
        if spec.auth_method.is_some() {
            return Err(AdminError::Invalid(
                "a public client has no secret, so no auth method".into(),
            ));
        }
        AUTH_METHOD_NONE
    } else {
        match spec.auth_method.as_deref() {
            None => AUTH_METHOD_ANY,
            Some("basic") | Some("client_secret_basic") => AUTH_METHOD_BASIC,
            Some("post") | Some("client_secret_post") => AUTH_METHOD_POST,
            Some(other) => {
                return Err(AdminError::Invalid(format!(
                    "unknown auth method '{other}' (basic or post)"
                )))
            }
        }
    };
    if let Some(site) = &spec.website {
        url::Url::parse(site).map_err(|e| AdminError::Invalid(format!("website '{site}': {e}")))?;
    }
    let secret = (!spec.public).then(|| random_token(32));
    let secret_hash = secret
        .as_deref()
        .map(hash_password_blocking)
        .transpose()
        .map_err(AdminError::Invalid)?;
    let client = Client {
        id: uuid::Uuid::new_v4().to_string(),
        secret_hash,
        name,
        website: spec.website,
        redirect_uris: spec.redirect_uris.join(" "),
        grant_types: grants
            .iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        scope,
        is_public: spec.public,
        auth_method: auth_method.to_string(),
        can_introspect: spec.can_introspect,
        owner: spec.owner,
        created_at: now,
        updated_at: now,
    };
    Ok(CreatedClient { client, secret })
}

pub fn create_client(
    store: &Store,
    spec: NewClient,
    now: i64,
) -> Result<CreatedClient, AdminError> {
    let created = build_client(spec, now)?;
    store.conn()?.insert_client(&created.client)?;
    Ok(created)
}

/// Replaces a confidential client's secret; returns the new one, shown once.
pub fn rotate_client_secret(
    store: &Store,
    client_id: &str,
    now: i64,
) -> Result<String, AdminError> {
    let mut conn = store.conn()?;
    let client = conn
        .find_client(client_id)?
        .ok_or_else(|| AdminError::Invalid(format!("no client with id '{client_id}'")))?;
    if client.is_public {
        return Err(AdminError::Invalid(
            "a public client has no secret to rotate".into(),
        ));
    }
    let secret = random_token(32);
    let hash = hash_password_blocking(&secret).map_err(AdminError::Invalid)?;
    conn.set_client_secret_hash(client_id, &hash, now)?;
    Ok(secret)
}

pub fn create_user(
    store: &Store,
    username: &str,
    email: Option<String>,
    password: &str,
    now: i64,
) -> Result<User, AdminError> {
    let username = username.trim();
    if username.is_empty() || username.len() > 128 || username.chars().any(char::is_control) {
        return Err(AdminError::Invalid(
            "a username is 1 to 128 printable characters".into(),
        ));
    }
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AdminError::Invalid(format!(
            "the password is too short: use at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    let user = User {
        id: uuid::Uuid::new_v4().to_string(),
        username: username.to_string(),
        email,
        password_hash: hash_password_blocking(password).map_err(AdminError::Invalid)?,
        is_admin: false,
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    store.conn()?.insert_user(&user).map_err(|e| match e {
        StoreError::Conflict(_) => {
            AdminError::Invalid(format!("a user named '{username}' already exists"))
        }
        other => other.into(),
    })?;
    Ok(user)
}
