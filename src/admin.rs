//! Registering clients and people with every rule checked before anything
//! is written: one set of rules for the CLI, the application pages,
//! `POST /register` and the tests' set-up.

use crate::crypto::{random_token, token_hash};
use crate::hasher::hash_password_blocking;
use crate::oauth::redirect_uri::{check_redirect_uris, check_web_uri};
use crate::oauth::scope::parse_scope;
use crate::oauth::GrantType;
use crate::store::models::client::{
    AUTH_METHOD_ANY, AUTH_METHOD_BASIC, AUTH_METHOD_NONE, AUTH_METHOD_POST,
};
use crate::store::models::{Client, User};
use crate::store::{DbConn, Store, StoreError, Tx};
use crate::text::{self, Username};

pub const MIN_PASSWORD_LEN: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A value given for one field is wrong. `field` is the RFC 7591
    /// metadata name, which is also the form input's name.
    #[error("{message}")]
    Field {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AdminError {
    fn field(field: &'static str, message: impl Into<String>) -> Self {
        AdminError::Field {
            field,
            message: message.into(),
        }
    }

    /// The field a `Field` error is about.
    pub fn field_name(&self) -> Option<&'static str> {
        match self {
            AdminError::Field { field, .. } => Some(field),
            _ => None,
        }
    }
}

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
    contacts: String,
    redirect_uris: String,
    grant_types: String,
    scope: String,
    auth_method: &'static str,
    post_logout_redirect_uris: String,
}

fn check(spec: &NewClient) -> Result<Checked, AdminError> {
    let name = spec.name.trim().to_string();
    if name.is_empty() {
        return Err(AdminError::field("client_name", "an app needs a name"));
    }
    if name.chars().count() > MAX_CLIENT_NAME || name.chars().any(char::is_control) {
        return Err(AdminError::field(
            "client_name",
            format!("a name is 1 to {MAX_CLIENT_NAME} printable characters"),
        ));
    }
    // People read it on the consent, sign-in and sign-out pages: nothing
    // that reorders or hides what they read.
    if let Some(why) = text::shown_name_problem(&name) {
        return Err(AdminError::field("client_name", why));
    }
    // Parsed once, here; stored by name.
    let mut grants: Vec<GrantType> = Vec::new();
    for name in &spec.grant_types {
        let Some(g) = GrantType::parse(name) else {
            let known: Vec<&str> = GrantType::ALL.map(GrantType::as_str).to_vec();
            return Err(AdminError::field(
                "grant_types",
                format!("unknown grant type '{name}' (known: {})", known.join(", ")),
            ));
        };
        if !grants.contains(&g) {
            grants.push(g);
        }
    }
    if grants.is_empty() {
        return Err(AdminError::field(
            "grant_types",
            "an app needs at least one grant type",
        ));
    }
    check_redirect_uris(&spec.redirect_uris).map_err(|m| AdminError::field("redirect_uris", m))?;
    // The same rules as redirect URIs: people land there.
    check_redirect_uris(&spec.post_logout_redirect_uris)
        .map_err(|m| AdminError::field("post_logout_redirect_uris", m))?;
    let needs_redirect = grants
        .iter()
        .any(|g| matches!(g, GrantType::AuthorizationCode | GrantType::Implicit));
    if needs_redirect && spec.redirect_uris.is_empty() {
        return Err(AdminError::field(
            "redirect_uris",
            "authorization_code and implicit apps need at least one redirect URI",
        ));
    }
    if let Some(types) = &spec.response_types {
        check_response_types(types, &grants)?;
    }
    if spec.public && grants.contains(&GrantType::ClientCredentials) {
        return Err(AdminError::field(
            "grant_types",
            "a public client cannot use client_credentials (RFC 6749 §4.4)",
        ));
    }
    let scope = parse_scope(&spec.scope)
        .map_err(|e| AdminError::field("scope", e.description()))?
        .join(" ");
    let auth_method = if spec.public {
        match spec.auth_method.as_deref() {
            None | Some("none") => AUTH_METHOD_NONE,
            Some(_) => {
                return Err(AdminError::field(
                    "token_endpoint_auth_method",
                    "a public client has no secret, so its auth method is none",
                ))
            }
        }
    } else {
        match spec.auth_method.as_deref() {
            None => AUTH_METHOD_ANY,
            Some("basic") | Some("client_secret_basic") => AUTH_METHOD_BASIC,
            Some("post") | Some("client_secret_post") => AUTH_METHOD_POST,
            Some(other) => {
                return Err(AdminError::field(
                    "token_endpoint_auth_method",
                    format!("unknown auth method '{other}' (client_secret_basic, client_secret_post or none)"),
                ))
            }
        }
    };
    if let Some(site) = &spec.website {
        check_web_uri(site, "client_uri").map_err(|m| AdminError::field("client_uri", m))?;
    }
    if let Some(logo) = &spec.logo_uri {
        check_web_uri(logo, "logo_uri").map_err(|m| AdminError::field("logo_uri", m))?;
    }
    if spec.contacts.len() > MAX_CONTACTS {
        return Err(AdminError::field(
            "contacts",
            format!("at most {MAX_CONTACTS} contacts"),
        ));
    }
    for c in &spec.contacts {
        if c.is_empty()
            || c.len() > 320
            || c.chars().any(|ch| ch.is_whitespace() || ch.is_control())
        {
            return Err(AdminError::field(
                "contacts",
                "each contact is one e-mail address without spaces",
            ));
        }
    }
    Ok(Checked {
        name,
        website: spec.website.clone(),
        logo_uri: spec.logo_uri.clone(),
        contacts: spec.contacts.join(" "),
        redirect_uris: spec.redirect_uris.join(" "),
        grant_types: grants
            .iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        scope,
        auth_method,
        post_logout_redirect_uris: spec.post_logout_redirect_uris.join(" "),
    })
}

/// RFC 7591 §2.1: `code` goes with `authorization_code` and `token` with
/// `implicit`, both ways.
fn check_response_types(types: &[String], grants: &[GrantType]) -> Result<(), AdminError> {
    for t in types {
        let needs = match t.as_str() {
            "code" => GrantType::AuthorizationCode,
            "token" => GrantType::Implicit,
            other => {
                return Err(AdminError::field(
                    "response_types",
                    format!("unsupported response type '{other}' (code, or token with implicit)"),
                ))
            }
        };
        if !grants.contains(&needs) {
            return Err(AdminError::field(
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
            return Err(AdminError::field(
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

/// The one rule for the scopes of a self-registered app (through
/// `POST /register`, or by a person who is not an admin on the application
/// pages): it may ask for the operator's `registration_scopes` (`allowed`)
/// and for those it already has (`current`, when it is being edited: an
/// operator may have given it more). Asking for none means `allowed`.
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
/// the scopes in `current` it does not list.
pub fn self_registrable_scopes(allowed: &[String], current: &[&str]) -> Vec<String> {
    let mut all = allowed.to_vec();
    for c in current {
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

/// Checks a registration and returns the client row plus its plain secret,
/// the secret not yet hashed: `client.secret_hash` is `None` until the
/// caller sets it (`build_client` here; `app::registration` on the
/// hasher's threads for requests).
pub fn prepare_client(spec: NewClient, now: i64) -> Result<CreatedClient, AdminError> {
    let checked = check(&spec)?;
    let secret = (!spec.public).then(|| random_token(32));
    let client = Client {
        id: uuid::Uuid::new_v4().to_string(),
        secret_hash: None,
        name: checked.name,
        website: checked.website,
        redirect_uris: checked.redirect_uris,
        grant_types: checked.grant_types,
        scope: checked.scope,
        is_public: spec.public,
        auth_method: checked.auth_method.to_string(),
        can_introspect: spec.can_introspect,
        owner: spec.owner,
        created_at: now,
        updated_at: now,
        logo_uri: checked.logo_uri,
        contacts: checked.contacts,
        registration_token_hash: None,
        post_logout_redirect_uris: checked.post_logout_redirect_uris,
    };
    Ok(CreatedClient { client, secret })
}

/// Checks a registration and returns the client row, its secret hashed
/// on this thread, plus the plain secret. For the CLI and tests.
pub fn build_client(spec: NewClient, now: i64) -> Result<CreatedClient, AdminError> {
    let mut created = prepare_client(spec, now)?;
    created.client.secret_hash = created
        .secret
        .as_deref()
        .map(hash_password_blocking)
        .transpose()
        .map_err(AdminError::Invalid)?;
    Ok(created)
}

/// Replaces an existing client's metadata with `spec`, checked by the
/// same rules as a registration. Whether it is public stays as it was
/// (a secret cannot appear or vanish by an edit); so do its id, secret,
/// owner, introspection right and post-logout redirect URIs (set by the
/// operator).
pub fn update_client(
    conn: &mut DbConn,
    client_id: &str,
    spec: NewClient,
    now: i64,
) -> Result<Client, AdminError> {
    let mut client = conn
        .find_client(client_id)?
        .ok_or_else(|| AdminError::NotFound(format!("no client with id '{client_id}'")))?;
    let spec = NewClient {
        public: client.is_public,
        ..spec
    };
    let checked = check(&spec)?;
    client.name = checked.name;
    client.website = checked.website;
    client.logo_uri = checked.logo_uri;
    client.contacts = checked.contacts;
    client.redirect_uris = checked.redirect_uris;
    client.grant_types = checked.grant_types;
    client.scope = checked.scope;
    client.auth_method = checked.auth_method.to_string();
    client.updated_at = now;
    conn.write(|c| c.update_client_metadata(&client))?;
    Ok(client)
}

/// Deletes a client with everything issued to it (refresh token families,
/// consents, codes), in one transaction.
pub fn delete_client(conn: &mut DbConn, client_id: &str) -> Result<(), AdminError> {
    let deleted = conn.transaction(|c| c.delete_client(client_id))?;
    if deleted {
        Ok(())
    } else {
        Err(AdminError::NotFound(format!(
            "no client with id '{client_id}'"
        )))
    }
}

pub fn create_client(
    store: &Store,
    spec: NewClient,
    now: i64,
) -> Result<CreatedClient, AdminError> {
    let created = build_client(spec, now)?;
    store.conn()?.write(|c| c.insert_client(&created.client))?;
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
        .ok_or_else(|| AdminError::NotFound(format!("no client with id '{client_id}'")))?;
    if client.is_public {
        return Err(AdminError::Invalid(
            "a public client has no secret to rotate".into(),
        ));
    }
    let secret = random_token(32);
    let hash = hash_password_blocking(&secret).map_err(AdminError::Invalid)?;
    conn.write(|c| c.set_client_secret_hash(client_id, &hash, now))?;
    Ok(secret)
}

/// Checks what a new person gives (CLI or the sign-up page); returns the
/// username as it will be stored, with its comparison keys (`text`'s
/// rules: RFC 8265 PRECIS, one script, no invisible characters). Field
/// errors name the form inputs.
pub fn check_new_user(
    username: &str,
    email: Option<&str>,
    password: &str,
) -> Result<Username, AdminError> {
    let username = check_username(username)?;
    if let Some(e) = email {
        check_email(e)?;
    }
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AdminError::field(
            "password",
            format!("the password is too short: use at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if password.len() > 1024 {
        return Err(AdminError::field("password", "the password is too long"));
    }
    Ok(username)
}

/// A username by `text`'s rules, or a field error on `username`.
pub fn check_username(username: &str) -> Result<Username, AdminError> {
    text::username(username).map_err(|why| AdminError::field("username", why))
}

/// An e-mail address: one `@` between a local part and a domain, no
/// spaces, at most 320 bytes.
fn check_email(e: &str) -> Result<(), AdminError> {
    let parts = e.split_once('@');
    let plausible = e.len() <= 320
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && parts.is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'));
    if plausible {
        Ok(())
    } else {
        Err(AdminError::field(
            "email",
            "an e-mail address looks like name@example.com",
        ))
    }
}

/// At most this many characters in a person's display name.
pub const MAX_DISPLAY_NAME: usize = 200;

/// A display name (OpenID Connect `name`) as it will be stored: trimmed;
/// empty means none. Printable characters only, at most
/// `MAX_DISPLAY_NAME`, without direction controls or invisible characters
/// (`text::shown_name_problem`).
pub fn check_display_name(name: &str) -> Result<Option<String>, AdminError> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(None);
    }
    if name.chars().count() > MAX_DISPLAY_NAME || name.chars().any(char::is_control) {
        return Err(AdminError::field(
            "name",
            format!("a display name is at most {MAX_DISPLAY_NAME} printable characters"),
        ));
    }
    if let Some(why) = text::shown_name_problem(name) {
        return Err(AdminError::field("name", why));
    }
    Ok(Some(name.to_string()))
}

/// Stores a new person whose details passed `check_new_user`; a username
/// that is taken, or is the same as or looks like a taken one (the unique
/// comparison keys), is a field error. One transaction: every row's keys
/// are filled in first (`DbConn::fill_username_keys`), so rows from before
/// the keys count too.
pub fn insert_new_user(conn: &mut DbConn, user: &User) -> Result<(), AdminError> {
    conn.transaction(|c| {
        c.fill_username_keys()?;
        c.insert_user(user)
    })
    .map_err(|e| match e {
        StoreError::Conflict(_) => taken(&user.username),
        other => other.into(),
    })
}

fn taken(username: &str) -> AdminError {
    AdminError::field(
        "username",
        format!("the username '{username}' is taken, or looks like one that is"),
    )
}

/// A new person's row; `password_hash` from the hasher.
pub fn user_row(
    username: Username,
    email: Option<String>,
    password_hash: String,
    admin: bool,
    now: i64,
) -> User {
    User {
        id: uuid::Uuid::new_v4().to_string(),
        username: username.shown,
        email,
        password_hash,
        is_admin: admin,
        disabled: false,
        created_at: now,
        updated_at: now,
        name: None,
        email_verified: false,
        username_key: Some(username.key),
        username_skeleton: Some(username.skeleton),
    }
}

pub fn create_user(
    store: &Store,
    username: &str,
    email: Option<String>,
    password: &str,
    now: i64,
) -> Result<User, AdminError> {
    create_person(store, username, email, password, false, now)
}

/// Creates a person (an admin sees and manages every app on the
/// application pages).
pub fn create_person(
    store: &Store,
    username: &str,
    email: Option<String>,
    password: &str,
    admin: bool,
    now: i64,
) -> Result<User, AdminError> {
    create_named_person(store, username, email, None, password, admin, now)
}

/// Like `create_person`, with a display name (`gatehouse user create
/// --name`).
pub fn create_named_person(
    store: &Store,
    username: &str,
    email: Option<String>,
    name: Option<&str>,
    password: &str,
    admin: bool,
    now: i64,
) -> Result<User, AdminError> {
    let username = check_new_user(username, email.as_deref(), password)?;
    let name = name.map(check_display_name).transpose()?.flatten();
    let hash = hash_password_blocking(password).map_err(AdminError::Invalid)?;
    let user = User {
        name,
        ..user_row(username, email, hash, admin, now)
    };
    insert_new_user(&mut *store.conn()?, &user)?;
    Ok(user)
}

/// A change to what a person's OpenID Connect claims say: `None` leaves a
/// field as it is. An empty `name` or `email` removes it. A new e-mail
/// address is unverified unless `email_verified` says otherwise.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
}

impl ProfileChange {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.email.is_none() && self.email_verified.is_none()
    }
}

/// Changes a person's display name, e-mail address or whether it is
/// verified (`gatehouse user update`, the display name on `/account`), in
/// one transaction. A verified flag without an address is refused.
pub fn update_person(
    conn: &mut DbConn,
    id_or_username: &str,
    change: &ProfileChange,
    now: i64,
) -> Result<User, AdminError> {
    update_person_and_username(conn, id_or_username, None, change, now)
}

/// `update_person`, and a new username (`preferred_username`) when one is
/// given (`gatehouse user update --username`), by the rules of a new
/// person's: one that is taken, or is the same as or looks like a taken
/// one, is refused and nothing changes.
pub fn update_person_and_username(
    conn: &mut DbConn,
    id_or_username: &str,
    new_username: Option<&str>,
    change: &ProfileChange,
    now: i64,
) -> Result<User, AdminError> {
    let name = match &change.name {
        Some(n) => Some(check_display_name(n)?),
        None => None,
    };
    let username = new_username.map(check_username).transpose()?;
    let email = match change.email.as_deref().map(str::trim) {
        Some("") => Some(None),
        Some(e) => {
            check_email(e)?;
            Some(Some(e.to_string()))
        }
        None => None,
    };
    conn.transaction(|c| {
        let mut user = find_person(c, id_or_username)?;
        if let Some(new) = username {
            // Every row's keys first, so rows from before them count too.
            c.fill_username_keys()?;
            c.rename_user(&user.id, &new, now).map_err(|e| match e {
                StoreError::Conflict(_) => taken(&new.shown),
                other => other.into(),
            })?;
            user.username = new.shown;
            user.username_key = Some(new.key);
            user.username_skeleton = Some(new.skeleton);
        }
        if let Some(name) = name {
            user.name = name;
        }
        if let Some(email) = email {
            if email != user.email {
                user.email_verified = false;
            }
            user.email = email;
        }
        if let Some(v) = change.email_verified {
            user.email_verified = v;
        }
        if user.email.is_none() && user.email_verified {
            return Err(AdminError::field(
                "email_verified",
                "there is no e-mail address to verify",
            ));
        }
        user.updated_at = now;
        c.update_user_profile(&user)?;
        Ok(user)
    })
}

/// People whose usernames are the same, or look the same, by today's rules
/// (`text::fold_username`, `text::username_skeleton`): rows from before
/// the rules, or written by an older gatehouse. Each group has two or more
/// people, oldest first; the oldest holds the comparison keys (after
/// `DbConn::fill_username_keys`, run here first), the others sign in only
/// by their exact username until renamed or deleted.
pub fn username_collisions(conn: &mut DbConn) -> Result<Vec<Vec<User>>, AdminError> {
    conn.transaction(|c| c.fill_username_keys().map_err(AdminError::from))?;
    let mut users = conn.list_users()?;
    users.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    // Union-find over the people, joined by an equal key or skeleton.
    let mut parent: Vec<usize> = (0..users.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, u) in users.iter().enumerate() {
        let forms = [
            format!("k:{}", text::fold_username(&u.username)),
            format!("s:{}", text::username_skeleton(&u.username)),
        ];
        for form in forms {
            match seen.get(&form) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                }
                None => {
                    seen.insert(form, i);
                }
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<User>> = Default::default();
    for (i, u) in users.into_iter().enumerate() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(u);
    }
    Ok(groups.into_values().filter(|g| g.len() > 1).collect())
}

/// The person with this id or, failing that, this username.
pub fn find_person(conn: &mut DbConn, id_or_username: &str) -> Result<User, AdminError> {
    if let Some(u) = conn.find_user(id_or_username)? {
        return Ok(u);
    }
    conn.find_user_by_username(id_or_username)?
        .ok_or_else(|| AdminError::NotFound(format!("no user '{id_or_username}'")))
}

/// Disables (or enables) a person. Disabling ends their sessions, revokes
/// their refresh token families and deny-lists their live access tokens,
/// in one transaction.
pub fn set_person_disabled(
    store: &Store,
    id_or_username: &str,
    disabled: bool,
    now: i64,
) -> Result<User, AdminError> {
    store.conn()?.transaction(|c| {
        let user = find_person(c, id_or_username)?;
        c.set_user_disabled(&user.id, disabled, now)?;
        if disabled {
            end_everything_of(c, &user.id, now)?;
        }
        Ok(User { disabled, ..user })
    })
}

/// Deletes a person: their sessions, consents, codes and refresh tokens go
/// with them, their live access tokens are deny-listed, and the apps they
/// registered pass to the operator; one transaction.
pub fn delete_person(store: &Store, id_or_username: &str, now: i64) -> Result<User, AdminError> {
    store.conn()?.transaction(|c| {
        let user = find_person(c, id_or_username)?;
        end_everything_of(c, &user.id, now)?;
        c.disown_clients(&user.id)?;
        c.delete_user(&user.id)?;
        Ok(user)
    })
}

fn end_everything_of(c: &mut Tx<'_>, user_id: &str, now: i64) -> Result<(), AdminError> {
    c.delete_user_sessions(user_id)?;
    c.revoke_families_for_user(user_id, now)?;
    c.deny_user_access_tokens(user_id, None, now)?;
    Ok(())
}

/// Sets a new password and ends the person's browser sessions.
pub fn set_person_password(
    store: &Store,
    id_or_username: &str,
    password: &str,
    now: i64,
) -> Result<User, AdminError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AdminError::field(
            "password",
            format!("the password is too short: use at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    let hash = hash_password_blocking(password).map_err(AdminError::Invalid)?;
    store.conn()?.transaction(|c| {
        let user = find_person(c, id_or_username)?;
        c.set_user_password_hash(&user.id, &hash, now)?;
        c.delete_user_sessions(&user.id)?;
        Ok(user)
    })
}

/// An initial access token for `POST /register` (RFC 7591 §3): good for
/// `uses` registrations until `ttl` seconds from now (`None`: no expiry).
/// Returns the plain token, shown once; only its hash is stored.
pub fn create_registration_token(
    store: &Store,
    uses: i64,
    ttl: Option<i64>,
    now: i64,
) -> Result<String, AdminError> {
    if uses < 1 {
        return Err(AdminError::Invalid("--uses must be at least 1".into()));
    }
    if ttl.is_some_and(|t| t < 1) {
        return Err(AdminError::Invalid(
            "--ttl must be at least 1 second".into(),
        ));
    }
    let token = random_token(32);
    store.conn()?.write(|c| {
        c.insert_registration_token(&token_hash(&token), uses, ttl.map(|t| now + t), now)
    })?;
    Ok(token)
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
                allowed: allowed.clone()
            })
        );
        assert_eq!(
            self_registration_scope(Some("read admin"), &allowed, &["admin"]),
            Ok("read admin".into()),
            "an edited app keeps what an operator gave it"
        );
    }

    #[test]
    fn oidc_core_5_1_display_names_are_trimmed_printable_and_bounded() {
        assert_eq!(
            check_display_name("  Alice Liddell ").unwrap().as_deref(),
            Some("Alice Liddell")
        );
        assert_eq!(check_display_name("   ").unwrap(), None, "empty: none");
        assert!(check_display_name("a\u{7}b").is_err());
        assert!(check_display_name(&"é".repeat(MAX_DISPLAY_NAME)).is_ok());
        let e = check_display_name(&"x".repeat(MAX_DISPLAY_NAME + 1)).unwrap_err();
        assert_eq!(e.field_name(), Some("name"));
    }
}
