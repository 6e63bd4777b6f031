//! Clients: what a registration must satisfy (RFC 7591 §2 metadata, the
//! redirect-URI rules, grant and response types, auth methods), the one
//! rule for the scopes of a self-registered app, and registering, editing,
//! deleting a client and giving it a new secret.

use super::{Registry, RegistryError};
use crate::crypto::random_token;
use crate::oauth::redirect_uri::{check_redirect_uris, check_web_uri};
use crate::oauth::scope::parse_scope;
use crate::oauth::{ApplicationType, GrantType};
use crate::store::models::audit_event::{actor, subject, AuditType, NewAuditEvent};
use crate::store::models::client::{
    AuthMethod, Contacts, GrantTypes, Scopes, StoredApplicationType, UriList,
};
use crate::store::models::Client;
use crate::text;

/// At most this many characters in an app's name.
pub const MAX_CLIENT_NAME: usize = 200;
/// At most this many RFC 7591 `contacts`.
pub const MAX_CONTACTS: usize = 10;

/// What a client is registered with: by the operator (CLI), a person on
/// the application pages, or a platform through `POST /register`.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub name: String,
    /// RFC 7591 `client_uri`: the app's home page.
    pub website: Option<String>,
    pub logo_uri: Option<String>,
    pub contacts: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    /// RFC 7591 `response_types`, when the registration named them; they
    /// must agree with the grant types (§2.1).
    pub response_types: Option<Vec<String>>,
    pub scope: String,
    pub public: bool,
    /// `basic`, `post`, or `None` for both.
    pub auth_method: Option<String>,
    pub can_introspect: bool,
    pub owner: Option<String>,
    /// OpenID Connect RP-Initiated Logout §3.1: where the app may send
    /// people after they sign out, matched exactly.
    pub post_logout_redirect_uris: Vec<String>,
    /// RFC 8707: resources (URIs, or prefixes ending in `/`) this client
    /// may name beyond the operator's `GATEHOUSE_RESOURCES`. Set by the
    /// operator only (a client that registers itself cannot widen where
    /// its tokens are accepted).
    pub resources: Vec<String>,
    /// OpenID Connect DCR §2 `application_type`, when the registration
    /// named it (`POST /register`, RFC 7592); `None`: what the redirect
    /// URIs make it (`ApplicationType::of_redirect_uris`).
    pub application_type: Option<ApplicationType>,
}

/// The operator's change to a client (`gatehouse client update`): `None`
/// leaves a field as it is. Unlike `Registry::update_client` (the
/// application pages and RFC 7592, which replace the metadata a developer
/// may change), it may also change what only the operator sets: the
/// introspection right and the post-logout redirect URIs.
#[derive(Debug, Clone, Default)]
pub struct ClientChange {
    pub name: Option<String>,
    /// `Some(None)` removes the home page.
    pub website: Option<Option<String>>,
    pub redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    pub scope: Option<String>,
    /// `Some(None)`: a confidential client accepts both secret methods.
    pub auth_method: Option<Option<String>>,
    pub can_introspect: Option<bool>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub resources: Option<Vec<String>>,
}

impl ClientChange {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.website.is_none()
            && self.redirect_uris.is_none()
            && self.grant_types.is_none()
            && self.scope.is_none()
            && self.auth_method.is_none()
            && self.can_introspect.is_none()
            && self.post_logout_redirect_uris.is_none()
            && self.resources.is_none()
    }

    /// `client`'s registration with this change laid over it.
    fn over(self, client: &Client) -> NewClient {
        let auth_method = match client.auth_method {
            AuthMethod::SecretBasic => Some("basic".to_string()),
            AuthMethod::SecretPost => Some("post".to_string()),
            AuthMethod::SecretBasicOrPost | AuthMethod::None => None,
        };
        // The type stays while the redirect URIs do (and fit it: a row an
        // older instance wrote is `web` whatever they are); new ones decide
        // it anew.
        let application_type = self
            .redirect_uris
            .is_none()
            .then_some(*client.application_type)
            .filter(|t| {
                t.check_redirect_uris(&client.redirect_uris.to_vec())
                    .is_ok()
            });
        NewClient {
            name: self.name.unwrap_or_else(|| client.name.clone()),
            website: self.website.unwrap_or_else(|| client.website.clone()),
            logo_uri: client.logo_uri.clone(),
            contacts: client.contacts.to_vec(),
            redirect_uris: self
                .redirect_uris
                .unwrap_or_else(|| client.redirect_uris.to_vec()),
            grant_types: self.grant_types.unwrap_or_else(|| {
                client
                    .grant_type_list()
                    .into_iter()
                    .map(String::from)
                    .collect()
            }),
            response_types: None,
            scope: self.scope.unwrap_or_else(|| client.scope.to_string()),
            public: client.is_public,
            auth_method: self.auth_method.unwrap_or(auth_method),
            can_introspect: self.can_introspect.unwrap_or(client.can_introspect),
            owner: client.owner.clone(),
            post_logout_redirect_uris: self
                .post_logout_redirect_uris
                .unwrap_or_else(|| client.post_logout_redirect_uris.to_vec()),
            application_type,
            resources: self.resources.unwrap_or_else(|| client.resources.to_vec()),
        }
    }
}

#[derive(Debug)]
pub struct CreatedClient {
    pub client: Client,
    /// The plain secret, shown once; `None` for public clients.
    pub secret: Option<String>,
}

/// The metadata of a registration, checked: everything of a `Client` row
/// but its id, secret, owner and times.
struct Checked {
    name: String,
    website: Option<String>,
    logo_uri: Option<String>,
    contacts: Contacts,
    redirect_uris: UriList,
    grant_types: GrantTypes,
    scope: Scopes,
    auth_method: AuthMethod,
    post_logout_redirect_uris: UriList,
    resources: UriList,
    application_type: ApplicationType,
}

fn check(spec: &NewClient) -> Result<Checked, RegistryError> {
    let name = spec.name.trim().to_string();
    if name.is_empty() {
        return Err(RegistryError::field("client_name", "an app needs a name"));
    }
    if name.chars().count() > MAX_CLIENT_NAME || name.chars().any(char::is_control) {
        return Err(RegistryError::field(
            "client_name",
            format!("a name is 1 to {MAX_CLIENT_NAME} printable characters"),
        ));
    }
    // People read it on the consent, sign-in and sign-out pages: nothing
    // that reorders or hides what they read.
    if let Some(why) = text::shown_name_problem(&name) {
        return Err(RegistryError::field("client_name", why));
    }
    // Parsed once, here; stored by name.
    let mut grants: Vec<GrantType> = Vec::new();
    for name in &spec.grant_types {
        let Some(g) = GrantType::parse(name) else {
            let known: Vec<&str> = GrantType::ALL.map(GrantType::as_str).to_vec();
            return Err(RegistryError::field(
                "grant_types",
                format!("unknown grant type '{name}' (known: {})", known.join(", ")),
            ));
        };
        if !grants.contains(&g) {
            grants.push(g);
        }
    }
    if grants.is_empty() {
        return Err(RegistryError::field(
            "grant_types",
            "an app needs at least one grant type",
        ));
    }
    check_redirect_uris(&spec.redirect_uris)
        .map_err(|m| RegistryError::field("redirect_uris", m))?;
    let application_type = spec
        .application_type
        .unwrap_or_else(|| ApplicationType::of_redirect_uris(&spec.redirect_uris));
    application_type
        .check_redirect_uris(&spec.redirect_uris)
        .map_err(|m| RegistryError::field("redirect_uris", m))?;
    // The same rules as redirect URIs: people land there.
    check_redirect_uris(&spec.post_logout_redirect_uris)
        .map_err(|m| RegistryError::field("post_logout_redirect_uris", m))?;
    let needs_redirect = grants
        .iter()
        .any(|g| matches!(g, GrantType::AuthorizationCode | GrantType::Implicit));
    if needs_redirect && spec.redirect_uris.is_empty() {
        return Err(RegistryError::field(
            "redirect_uris",
            "authorization_code and implicit apps need at least one redirect URI",
        ));
    }
    if let Some(types) = &spec.response_types {
        check_response_types(types, &grants)?;
    }
    if spec.public && grants.contains(&GrantType::ClientCredentials) {
        return Err(RegistryError::field(
            "grant_types",
            "a public client cannot use client_credentials (RFC 6749 §4.4)",
        ));
    }
    let scope: Scopes = parse_scope(&spec.scope)
        .map_err(|e| RegistryError::field("scope", e.description()))?
        .into_iter()
        .collect();
    let auth_method = if spec.public {
        match spec.auth_method.as_deref() {
            None | Some("none") => AuthMethod::None,
            Some(_) => {
                return Err(RegistryError::field(
                    "token_endpoint_auth_method",
                    "a public client has no secret, so its auth method is none",
                ))
            }
        }
    } else {
        match spec.auth_method.as_deref() {
            None => AuthMethod::SecretBasicOrPost,
            Some("basic") | Some("client_secret_basic") => AuthMethod::SecretBasic,
            Some("post") | Some("client_secret_post") => AuthMethod::SecretPost,
            Some(other) => {
                return Err(RegistryError::field(
                    "token_endpoint_auth_method",
                    format!("unknown auth method '{other}' (client_secret_basic, client_secret_post or none)"),
                ))
            }
        }
    };
    if let Some(site) = &spec.website {
        check_web_uri(site, "client_uri").map_err(|m| RegistryError::field("client_uri", m))?;
    }
    if let Some(logo) = &spec.logo_uri {
        check_web_uri(logo, "logo_uri").map_err(|m| RegistryError::field("logo_uri", m))?;
    }
    if spec.contacts.len() > MAX_CONTACTS {
        return Err(RegistryError::field(
            "contacts",
            format!("at most {MAX_CONTACTS} contacts"),
        ));
    }
    for c in &spec.contacts {
        if c.is_empty()
            || c.len() > 320
            || c.chars().any(|ch| ch.is_whitespace() || ch.is_control())
        {
            return Err(RegistryError::field(
                "contacts",
                "each contact is one e-mail address without spaces",
            ));
        }
    }
    for r in &spec.resources {
        crate::oauth::resource::check_allow_entry(r)
            .map_err(|why| RegistryError::field("resources", why))?;
    }
    Ok(Checked {
        name,
        website: spec.website.clone(),
        logo_uri: spec.logo_uri.clone(),
        contacts: spec.contacts.iter().cloned().collect(),
        redirect_uris: spec.redirect_uris.iter().cloned().collect(),
        grant_types: grants.into_iter().collect(),
        scope,
        auth_method,
        post_logout_redirect_uris: spec.post_logout_redirect_uris.iter().cloned().collect(),
        resources: spec.resources.iter().cloned().collect(),
        application_type,
    })
}

/// RFC 7591 §2.1: `code` goes with `authorization_code` and `token` with
/// `implicit`, both ways.
fn check_response_types(types: &[String], grants: &[GrantType]) -> Result<(), RegistryError> {
    for t in types {
        let needs = match t.as_str() {
            "code" => GrantType::AuthorizationCode,
            "token" => GrantType::Implicit,
            other => {
                return Err(RegistryError::field(
                    "response_types",
                    format!("unsupported response type '{other}' (code, or token with implicit)"),
                ))
            }
        };
        if !grants.contains(&needs) {
            return Err(RegistryError::field(
                "response_types",
                format!(
                    "response type '{t}' needs the grant type {}",
                    needs.as_str()
                ),
            ));
        }
    }
    for (g, t) in [
        (GrantType::AuthorizationCode, "code"),
        (GrantType::Implicit, "token"),
    ] {
        if grants.contains(&g) && !types.iter().any(|x| x == t) {
            return Err(RegistryError::field(
                "response_types",
                format!(
                    "the grant type {} needs the response type '{t}'",
                    g.as_str()
                ),
            ));
        }
    }
    Ok(())
}

/// A scope a self-registered app may not ask for, and what it may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeNotAllowed {
    pub scope: String,
    pub allowed: Vec<String>,
}

/// The scopes OpenID Connect defines that gatehouse answers (OIDC Core
/// §5.4, and `openid` itself, §3.1.2.1). Each person grants them on the
/// consent page, so any app may be registered with them; the operator's
/// `registration_scopes` bound only the API scopes. (`offline_access`
/// is not among them: gatehouse gives it no meaning, refresh tokens
/// follow the `refresh_token` grant.)
pub const IDENTITY_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// The one rule for the scopes of a self-registered app (through
/// `POST /register`, or by a person who is not an admin on the application
/// pages): it may ask for the operator's `registration_scopes` (`allowed`),
/// for the identity scopes (`IDENTITY_SCOPES`), and for those it already
/// has (`current`, when it is being edited: an operator may have given it
/// more). Asking for none means `allowed`.
/// Returns the scope to register, space-separated.
pub fn self_registration_scope(
    requested: Option<&str>,
    allowed: &[String],
    current: &[&str],
) -> Result<String, ScopeNotAllowed> {
    let words: Vec<&str> = requested.unwrap_or("").split_whitespace().collect();
    if words.is_empty() {
        return Ok(allowed.join(" "));
    }
    let may = self_registrable_scopes(allowed, current);
    if let Some(bad) = words.iter().find(|w| !may.iter().any(|m| m == *w)) {
        return Err(ScopeNotAllowed {
            scope: bad.to_string(),
            allowed: may,
        });
    }
    Ok(words.join(" "))
}

/// What `self_registration_scope` lets an app ask for: `allowed`, then
/// the identity scopes and the scopes in `current` it does not list.
pub fn self_registrable_scopes(allowed: &[String], current: &[&str]) -> Vec<String> {
    let mut all = allowed.to_vec();
    for c in IDENTITY_SCOPES.iter().chain(current) {
        if !all.iter().any(|a| a == c) {
            all.push(c.to_string());
        }
    }
    all
}

/// The response types that go with a client's grant types (RFC 7591 §2.1).
pub fn response_types_of(client: &Client) -> Vec<&'static str> {
    let mut out = Vec::new();
    if client.has_grant(GrantType::AuthorizationCode) {
        out.push("code");
    }
    if client.has_grant(GrantType::Implicit) {
        out.push("token");
    }
    out
}

/// How a client registered through `POST /register` is managed and paid
/// for: the hash of its RFC 7592 registration access token, and the hash of
/// the RFC 7591 initial access token it spends.
#[derive(Debug, Clone, Default)]
pub struct RegistrationTokens {
    pub management_token_hash: Option<String>,
    pub spend_token_hash: Option<String>,
}

/// Puts the checked metadata a developer may change on a client's row
/// (what `update_client_metadata` saves); not the post-logout redirect
/// URIs, which only `change_client` sets.
fn set_metadata(client: &mut Client, checked: Checked, now: i64) {
    client.name = checked.name;
    client.website = checked.website;
    client.logo_uri = checked.logo_uri;
    client.contacts = checked.contacts;
    client.redirect_uris = checked.redirect_uris;
    client.grant_types = checked.grant_types;
    client.scope = checked.scope;
    client.auth_method = checked.auth_method;
    client.application_type = StoredApplicationType(checked.application_type);
    client.updated_at = now;
}

fn not_found(client_id: &str) -> RegistryError {
    RegistryError::NotFound(format!("no client with id '{client_id}'"))
}

impl Registry<'_> {
    /// Checks `spec`, hashes the new secret, and stores the client in one
    /// transaction; `registration` says how it is managed (RFC 7592) and
    /// which initial access token it spends, so a token of N uses
    /// registers at most N clients. Returns the row and the plain secret,
    /// shown once.
    pub async fn register_client(
        &self,
        spec: NewClient,
        registration: RegistrationTokens,
    ) -> Result<CreatedClient, RegistryError> {
        let id = uuid::Uuid::new_v4().to_string();
        self.register_client_as(id, spec, registration).await
    }

    /// `register_client` under a client id the caller chose (the
    /// application pages derive it from their form, so a form submitted
    /// twice registers one app): when the id is taken, the insert fails
    /// with `StoreError::Conflict` and nothing is written.
    pub async fn register_client_as(
        &self,
        id: String,
        spec: NewClient,
        registration: RegistrationTokens,
    ) -> Result<CreatedClient, RegistryError> {
        let now = self.clock.now();
        let checked = check(&spec)?;
        let secret = (!spec.public).then(|| random_token(32));
        let secret_hash = match &secret {
            Some(s) => Some(self.hash(s.clone()).await?),
            None => None,
        };
        // Through RFC 7591 (a management token is made): the client
        // registered itself; otherwise someone created it.
        let self_registered = registration.management_token_hash.is_some();
        let client = Client {
            id,
            secret_hash,
            name: checked.name,
            website: checked.website,
            redirect_uris: checked.redirect_uris,
            grant_types: checked.grant_types,
            scope: checked.scope,
            is_public: spec.public,
            auth_method: checked.auth_method,
            can_introspect: spec.can_introspect,
            owner: spec.owner,
            created_at: now,
            updated_at: now,
            logo_uri: checked.logo_uri,
            contacts: checked.contacts,
            registration_token_hash: registration.management_token_hash,
            post_logout_redirect_uris: checked.post_logout_redirect_uris,
            resources: checked.resources,
            application_type: StoredApplicationType(checked.application_type),
        };
        let row = client.clone();
        let spend = registration.spend_token_hash;
        let audit = self
            .audit(AuditType::ClientCreated)
            .map(|e| match self_registered {
                true => NewAuditEvent {
                    kind: AuditType::ClientRegistered,
                    actor: if e.actor == actor::ANONYMOUS {
                        actor::client(&client.id)
                    } else {
                        e.actor.clone()
                    },
                    ..e
                },
                false => e,
            });
        let at_ms = self.clock.now_millis();
        self.store
            .run(move |c| {
                c.transaction(|c| {
                    if let Some(token) = &spend {
                        if !c.spend_registration_token(token, now)? {
                            return Err(RegistryError::TokenRefused);
                        }
                    }
                    c.insert_client(&row)?;
                    super::record(c, at_ms, &audit, |e| {
                        e.subject(subject::client(&row.id))
                            .client(row.id.clone())
                            .detail("name", row.name.clone())
                            .detail("public", row.is_public)
                    })?;
                    Ok(())
                })
            })
            .await?;
        Ok(CreatedClient { client, secret })
    }

    /// Replaces a client's metadata with `spec`, checked by the same rules
    /// as a registration, in one transaction. Whether it is public stays as
    /// it was (a secret cannot appear or vanish by an edit); so do its id,
    /// secret, owner, introspection right and post-logout redirect URIs
    /// (set by the operator).
    pub async fn update_client(
        &self,
        client_id: &str,
        spec: NewClient,
    ) -> Result<Client, RegistryError> {
        let (id, now) = (client_id.to_string(), self.clock.now());
        let (audit, at_ms) = (
            self.audit(AuditType::ClientUpdated),
            self.clock.now_millis(),
        );
        self.store
            .run(move |c| {
                c.transaction(|c| {
                    let mut client = c.find_client(&id)?.ok_or_else(|| not_found(&id))?;
                    let checked = check(&NewClient {
                        public: client.is_public,
                        ..spec
                    })?;
                    set_metadata(&mut client, checked, now);
                    c.update_client_metadata(&client)?;
                    super::record(c, at_ms, &audit, |e| {
                        e.subject(subject::client(&client.id))
                            .client(client.id.clone())
                    })?;
                    Ok(client)
                })
            })
            .await
    }

    /// The operator's change to a client (`gatehouse client update`): the
    /// client as it is, with the fields `change` gives laid over it,
    /// checked as a whole by the same rules as a registration, and written
    /// in one transaction; a refused change writes nothing. Whether it is
    /// public stays as it was (a secret cannot appear or vanish by an
    /// edit); so do its id, secret, owner, logo and contacts.
    pub async fn change_client(
        &self,
        client_id: &str,
        change: ClientChange,
    ) -> Result<Client, RegistryError> {
        let (id, now) = (client_id.to_string(), self.clock.now());
        let (audit, at_ms) = (
            self.audit(AuditType::ClientUpdated),
            self.clock.now_millis(),
        );
        self.store
            .run(move |c| {
                c.transaction(|c| {
                    let mut client = c.find_client(&id)?.ok_or_else(|| not_found(&id))?;
                    super::record(c, at_ms, &audit, |e| {
                        e.subject(subject::client(&client.id))
                            .client(client.id.clone())
                    })?;
                    let spec = change.over(&client);
                    let mut checked = check(&spec)?;
                    client.post_logout_redirect_uris =
                        std::mem::take(&mut checked.post_logout_redirect_uris);
                    client.can_introspect = spec.can_introspect;
                    client.resources = std::mem::take(&mut checked.resources);
                    set_metadata(&mut client, checked, now);
                    c.update_client_metadata(&client)?;
                    c.set_client_operator_fields(&client)?;
                    Ok(client)
                })
            })
            .await
    }

    /// Deletes a client with everything issued to it (refresh token
    /// families, consents, codes), in one transaction.
    pub async fn delete_client(&self, client_id: &str) -> Result<(), RegistryError> {
        let id = client_id.to_string();
        let (audit, at_ms) = (
            self.audit(AuditType::ClientDeleted),
            self.clock.now_millis(),
        );
        self.store
            .run(move |c| {
                let deleted = c.transaction(|c| -> Result<bool, RegistryError> {
                    let name = c.find_client(&id)?.map(|found| found.name);
                    if !c.delete_client(&id)? {
                        return Ok(false);
                    }
                    super::record(c, at_ms, &audit, |e| {
                        e.subject(subject::client(&id))
                            .client(id.clone())
                            .detail("name", name.unwrap_or_default())
                    })?;
                    Ok(true)
                })?;
                if deleted {
                    Ok(())
                } else {
                    Err(not_found(&id))
                }
            })
            .await
    }

    /// Gives a confidential client a new secret; returns it, shown once.
    /// The old one stops working at once.
    pub async fn rotate_client_secret(&self, client_id: &str) -> Result<String, RegistryError> {
        let id = client_id.to_string();
        let client = self
            .store
            .run(move |c| c.find_client(&id))
            .await?
            .ok_or_else(|| not_found(client_id))?;
        if client.is_public {
            return Err(RegistryError::Invalid(
                "a public client has no secret to rotate".into(),
            ));
        }
        let secret = random_token(32);
        let hash = self.hash(secret.clone()).await?;
        let (id, now) = (client_id.to_string(), self.clock.now());
        let (audit, at_ms) = (
            self.audit(AuditType::ClientSecretRotated),
            self.clock.now_millis(),
        );
        let changed = self
            .store
            .run(move |c| {
                c.transaction(|c| {
                    let changed = c.set_client_secret_hash(&id, &hash, now)?;
                    if changed {
                        super::record(c, at_ms, &audit, |e| {
                            e.subject(subject::client(&id)).client(id.clone())
                        })?;
                    }
                    Ok::<_, crate::store::StoreError>(changed)
                })
            })
            .await?;
        if !changed {
            return Err(not_found(client_id));
        }
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7591 §2 `scope`: a self-registered app asks within the
    /// operator's registration scopes (and, when edited, those it has);
    /// none asked means all of them.
    #[test]
    fn rfc7591_2_self_registered_apps_ask_within_the_registration_scopes() {
        let allowed = vec!["read".to_string(), "write".to_string()];
        assert_eq!(
            self_registration_scope(None, &allowed, &[]),
            Ok("read write".into())
        );
        assert_eq!(
            self_registration_scope(Some("  write\tread "), &allowed, &[]),
            Ok("write read".into())
        );
        assert_eq!(
            self_registration_scope(Some("read admin"), &allowed, &[]),
            Err(ScopeNotAllowed {
                scope: "admin".into(),
                allowed: ["read", "write", "openid", "profile", "email"]
                    .map(String::from)
                    .to_vec()
            })
        );
        assert_eq!(
            self_registration_scope(Some("read admin"), &allowed, &["admin"]),
            Ok("read admin".into()),
            "an edited app keeps what an operator gave it"
        );
    }

    /// OIDC Core §5.4 (and §3.1.2.1 for `openid`): the identity scopes are
    /// each person's to grant on the consent page, so a self-registered
    /// app (RFC 7591 §2 `scope`) may always ask for them, whatever the
    /// operator's registration scopes; asking for none still means those.
    #[test]
    fn oidc_core_5_4_identity_scopes_are_always_self_registrable() {
        let allowed = vec!["read".to_string()];
        assert_eq!(
            self_registration_scope(Some("openid profile email read"), &allowed, &[]),
            Ok("openid profile email read".into())
        );
        assert_eq!(
            self_registration_scope(Some("openid"), &[], &[]),
            Ok("openid".into())
        );
        assert_eq!(
            self_registration_scope(None, &allowed, &[]),
            Ok("read".into())
        );
        assert!(self_registration_scope(Some("openid offline_access"), &allowed, &[]).is_err());
        assert_eq!(
            self_registrable_scopes(&allowed, &["email", "admin"]),
            ["read", "openid", "profile", "email", "admin"]
                .map(String::from)
                .to_vec(),
            "no scope twice"
        );
    }
}
