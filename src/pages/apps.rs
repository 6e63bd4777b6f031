//! The application pages of a signed-in person: `GET /apps` lists their
//! apps; `GET/POST /apps/new` registers one; `GET/POST /apps/{client_id}`
//! shows and edits one (`action=save`), makes it a new secret
//! (`action=rotate`), and deletes it after a confirmation step
//! (`action=delete` asks, `action=confirm_delete` deletes).
//!
//! A person sees and changes only the apps they registered
//! (`Client.owner`); an admin sees and manages every app, and the list says
//! whose each is. Another person's app answers exactly like an unknown id
//! (404, the same page), so ids are not confirmed. A secret is shown once,
//! in the answer to the POST that made it, never in a URL. The rules of a
//! registration are `admin`'s, the same as for the CLI and `POST /register`;
//! this page adds only which scopes and grant types a person may pick.

use super::session::SignedIn;
use super::{
    parse_form_with_lists, render, render_form, see_other, session, sign_in_first, PageError,
};
use crate::admin::{
    delete_client, self_registrable_scopes, self_registration_scope, update_client, AdminError,
    NewClient,
};
use crate::app::registration::{register, rotate_secret, RegistrationError};
use crate::app::AppState;
use crate::oauth::wire::{max_len, Form};
use crate::oauth::GrantType;
use crate::store::models::{Client, User};
use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use std::collections::HashMap;

/// The grant types offered as checkboxes. The legacy implicit and password
/// grants are not: an operator can still give them with the CLI, and an app
/// that has one keeps it when edited here.
const OFFERED: [GrantType; 4] = [
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::ClientCredentials,
    GrantType::DeviceCode,
];

/// The fields of the form, by their RFC 7591 names (the input names).
const FIELDS: [&str; 6] = [
    "client_name",
    "client_uri",
    "redirect_uris",
    "client_type",
    "grant_types",
    "scope",
];

/// Fields that may repeat in a post: the grant type checkboxes.
const LISTS: &[&str] = &["grant_types"];

/// The form's element id, label and one-line hint for a grant type.
fn describe_grant(g: GrantType) -> (&'static str, &'static str, &'static str) {
    match g {
        GrantType::AuthorizationCode => (
            "grant_authorization_code",
            "Authorization code",
            "People sign in here and allow your app; with PKCE (RFC 6749 §4.1, RFC 7636).",
        ),
        GrantType::RefreshToken => (
            "grant_refresh_token",
            "Refresh token",
            "Your app stays connected without asking the person again (RFC 6749 §6).",
        ),
        GrantType::ClientCredentials => (
            "grant_client_credentials",
            "Client credentials",
            "Your server calls APIs as itself, no person involved; confidential apps only (RFC 6749 §4.4).",
        ),
        GrantType::DeviceCode => (
            "grant_device_code",
            "Device code",
            "A TV or command-line tool shows a code that the person enters at /device (RFC 8628).",
        ),
        GrantType::Implicit => (
            "grant_implicit",
            "Implicit (legacy)",
            "Kept because this app has it; not recommended (RFC 9700 §2.1.2).",
        ),
        GrantType::Password => (
            "grant_password",
            "Password (legacy)",
            "Kept because this app has it; not recommended (RFC 9700 §2.4).",
        ),
    }
}

/// What was typed into the registration or edit form, kept to show again.
#[derive(Debug, Clone, Default)]
pub struct AppForm {
    pub client_name: String,
    pub client_uri: String,
    /// The textarea as typed: one URI a line.
    pub redirect_uris: String,
    /// `confidential` or `public`.
    pub client_type: String,
    pub grant_types: Vec<String>,
    pub scope: String,
}

impl AppForm {
    /// A new app's form: confidential, authorization code with refresh
    /// tokens.
    fn fresh() -> AppForm {
        AppForm {
            client_type: "confidential".into(),
            grant_types: vec![
                GrantType::AuthorizationCode.as_str().into(),
                GrantType::RefreshToken.as_str().into(),
            ],
            ..AppForm::default()
        }
    }

    fn from_post(form: &Form) -> AppForm {
        let text = |k: &str| form.get(k).unwrap_or("").to_string();
        AppForm {
            client_name: text("client_name"),
            client_uri: text("client_uri"),
            redirect_uris: text("redirect_uris"),
            // The form checks confidential; a post without the field means
            // the same (RFC 7591's default is a client with a secret).
            client_type: form.get("client_type").unwrap_or("confidential").into(),
            grant_types: form
                .get_all("grant_types")
                .into_iter()
                .map(String::from)
                .collect(),
            scope: text("scope"),
        }
    }

    fn from_client(c: &Client) -> AppForm {
        AppForm {
            client_name: c.name.clone(),
            client_uri: c.website.clone().unwrap_or_default(),
            redirect_uris: c.redirect_uri_list().join("\n"),
            client_type: kind(c).into(),
            grant_types: c.grant_type_list().into_iter().map(String::from).collect(),
            scope: c.scope.clone(),
        }
    }

    fn redirect_uri_list(&self) -> Vec<String> {
        self.redirect_uris
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    }
}

fn kind(c: &Client) -> &'static str {
    if c.is_public {
        "public"
    } else {
        "confidential"
    }
}

/// A field's error, shown beside it; `field` is the RFC 7591 name (an
/// input name), or one not on the form, shown above it.
#[derive(Debug, Clone)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    fn new(field: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// One grant type checkbox.
pub struct GrantChoice {
    pub value: &'static str,
    pub id: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub checked: bool,
}

/// The form as the template shows it.
pub struct FormView {
    pub values: AppForm,
    pub grants: Vec<GrantChoice>,
    pub error: Option<FieldError>,
    /// Whether the type can be chosen (only when registering).
    pub choose_type: bool,
    pub scope_hint: String,
}

impl FormView {
    /// The error to show beside `field`.
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    pub fn has_error(&self, field: &str) -> bool {
        self.error_for(field).is_some()
    }

    /// An error about no field of the form, shown above it.
    pub fn general_error(&self) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|e| !FIELDS.contains(&e.field.as_str()))
            .map(|e| e.message.as_str())
    }

    pub fn is_public(&self) -> bool {
        self.values.client_type == "public"
    }
}

/// The grant types a person may pick for an app: the offered ones, plus a
/// legacy one the app already has.
fn grant_choices(current: Option<&Client>) -> Vec<GrantType> {
    let mut out = OFFERED.to_vec();
    if let Some(c) = current {
        for g in [GrantType::Implicit, GrantType::Password] {
            if c.has_grant(g) {
                out.push(g);
            }
        }
    }
    out
}

/// The scopes an app being edited has already.
fn current_scopes(current: Option<&Client>) -> Vec<&str> {
    current.map(|c| c.scope_list()).unwrap_or_default()
}

fn form_view(
    state: &AppState,
    me: &User,
    values: AppForm,
    error: Option<FieldError>,
    current: Option<&Client>,
) -> FormView {
    let grants = grant_choices(current)
        .into_iter()
        .map(|g| {
            let (id, label, hint) = describe_grant(g);
            GrantChoice {
                value: g.as_str(),
                id,
                label,
                hint,
                checked: values.grant_types.iter().any(|v| v == g.as_str()),
            }
        })
        .collect();
    let defaults = state.config.registration_scopes.join(" ");
    let scope_hint = if me.is_admin {
        format!("Space-separated. As an admin you may ask for any scope; empty means “{defaults}”.")
    } else {
        format!(
            "Space-separated; you may ask for: {}. Empty means “{defaults}”.",
            self_registrable_scopes(&state.config.registration_scopes, &current_scopes(current))
                .join(", ")
        )
    };
    FormView {
        values,
        grants,
        error,
        choose_type: current.is_none(),
        scope_hint,
    }
}

/// Turns what was typed into a registration, checking what this page
/// decides: the type, which grant types are offered, and which scopes a
/// person who is not an admin may ask for. Everything else is checked by
/// `admin` (names, redirect URIs, `client_uri`, grant type combinations).
fn spec_from(
    state: &AppState,
    me: &User,
    values: &AppForm,
    current: Option<&Client>,
) -> Result<NewClient, FieldError> {
    let public = match values.client_type.as_str() {
        "confidential" => false,
        "public" => true,
        _ => {
            return Err(FieldError::new(
                "client_type",
                "choose confidential (a server that keeps a secret) or public (a browser, mobile or desktop app)",
            ))
        }
    };
    let choices = grant_choices(current);
    for g in &values.grant_types {
        if !choices.iter().any(|c| c.as_str() == g) {
            let names: Vec<&str> = choices.iter().map(|c| c.as_str()).collect();
            return Err(FieldError::new(
                "grant_types",
                format!(
                    "'{g}' is not offered here; choose among {}",
                    names.join(", ")
                ),
            ));
        }
    }
    let scope = if me.is_admin {
        // An admin may give any scope; empty means the default.
        let typed: Vec<&str> = values.scope.split_whitespace().collect();
        match typed.is_empty() {
            true => state.config.registration_scopes.join(" "),
            false => typed.join(" "),
        }
    } else {
        self_registration_scope(
            Some(&values.scope),
            &state.config.registration_scopes,
            &current_scopes(current),
        )
        .map_err(|e| {
            FieldError::new(
                "scope",
                format!(
                    "you may not ask for the scope '{}'; you may ask for: {} (an admin can give more)",
                    e.scope,
                    e.allowed.join(", ")
                ),
            )
        })?
    };
    let website = values.client_uri.trim();
    Ok(NewClient {
        name: values.client_name.clone(),
        website: (!website.is_empty()).then(|| website.to_string()),
        redirect_uris: values.redirect_uri_list(),
        grant_types: values.grant_types.clone(),
        scope,
        public,
        owner: Some(me.id.clone()),
        ..NewClient::default()
    })
}

/// What a failed registration or edit shows: a field error beside its
/// field, anything else above the form; the database's failures are the
/// page's.
fn shown_error(e: AdminError) -> Result<FieldError, PageError> {
    match e {
        AdminError::Field { field, message } => Ok(FieldError::new(field, message)),
        AdminError::Invalid(message) => Ok(FieldError::new("", message)),
        AdminError::NotFound(_) => Err(no_such_app()),
        AdminError::Store(e) => Err(e.into()),
    }
}

fn registration_error(e: RegistrationError) -> Result<FieldError, PageError> {
    match e {
        RegistrationError::Admin(e) => shown_error(e),
        RegistrationError::Store(e) => Err(e.into()),
        RegistrationError::TokenRefused => Err(PageError::Internal(
            "an initial access token was asked of a page registration".into(),
        )),
    }
}

/// The same answer for an unknown id and for another person's app.
fn no_such_app() -> PageError {
    PageError::NotFound("There is no such app among yours. Your apps are listed at /apps.".into())
}

fn may_manage(me: &User, client: &Client) -> bool {
    me.is_admin || client.owner.as_deref() == Some(me.id.as_str())
}

/// The app `id`, when this person may see it.
async fn load_managed(state: &AppState, me: &SignedIn, id: String) -> Result<Client, PageError> {
    // A NUL or an over-long id names no client; it is never queried.
    if id.is_empty() || id.contains('\0') || id.len() > max_len("client_id") {
        return Err(no_such_app());
    }
    let found = state.store.run(move |c| c.find_client(&id)).await?;
    match found {
        Some(c) if may_manage(&me.user, &c) => Ok(c),
        _ => Err(no_such_app()),
    }
}

fn app_href(id: &str) -> String {
    format!(
        "/apps/{}",
        url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    )
}

fn date(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn date_iso(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// An app as the pages show it.
pub struct AppView {
    pub id: String,
    pub href: String,
    pub name: String,
    pub website: Option<String>,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scope: String,
    pub created: String,
    pub created_iso: String,
    /// Whose app it is, shown to admins: a username, or "operator" for
    /// the CLI's and `POST /register`'s apps.
    pub owner: Option<String>,
}

impl AppView {
    fn of(c: &Client, owner: Option<String>) -> AppView {
        AppView {
            id: c.id.clone(),
            href: app_href(&c.id),
            name: c.name.clone(),
            website: c.website.clone(),
            public: c.is_public,
            redirect_uris: c
                .redirect_uri_list()
                .into_iter()
                .map(String::from)
                .collect(),
            grant_types: c.grant_type_list().into_iter().map(String::from).collect(),
            scope: c.scope.clone(),
            created: date(c.created_at),
            created_iso: date_iso(c.created_at),
            owner,
        }
    }

    pub fn kind(&self) -> &'static str {
        if self.public {
            "public"
        } else {
            "confidential"
        }
    }
}

fn owner_label(owner: Option<&str>, names: &HashMap<String, String>) -> String {
    match owner {
        None => "operator".into(),
        Some(id) => names
            .get(id)
            .cloned()
            .unwrap_or_else(|| "a deleted person".into()),
    }
}

/// Whose `client` is, for an admin; `None` for its owner (it is theirs).
async fn owner_for(
    state: &AppState,
    me: &User,
    client: &Client,
) -> Result<Option<String>, PageError> {
    if !me.is_admin {
        return Ok(None);
    }
    let label = match client.owner.clone() {
        None => "operator".to_string(),
        Some(id) => state
            .store
            .run(move |c| c.find_user(&id))
            .await?
            .map_or_else(|| "a deleted person".into(), |u| u.username),
    };
    Ok(Some(label))
}

/// Ready-made examples for an app: the authorization request, the code
/// exchange, and `client_credentials`. The secret is never in them (it
/// comes from `$CLIENT_SECRET`), so they can be copied into a shell
/// without leaving it in the history.
pub struct Examples {
    pub metadata_url: String,
    pub authorize_url: Option<String>,
    pub exchange_curl: Option<String>,
    pub client_credentials_curl: Option<String>,
}

/// `s` as one single-quoted shell word.
fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn examples(state: &AppState, c: &Client) -> Examples {
    let token_url = sh(&state.url("/token"));
    let auth = if c.is_public {
        format!("-d client_id={}", sh(&c.id))
    } else {
        format!("-u {}\"$CLIENT_SECRET\"", sh(&format!("{}:", c.id)))
    };
    let redirect = c
        .redirect_uri_list()
        .first()
        .map(|r| r.to_string())
        .filter(|_| c.has_grant(GrantType::AuthorizationCode));
    let authorize_url = redirect.as_ref().map(|r| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("response_type", "code")
            .append_pair("client_id", &c.id)
            .append_pair("redirect_uri", r);
        if !c.scope.is_empty() {
            q.append_pair("scope", &c.scope);
        }
        q.append_pair("state", "STATE")
            .append_pair("code_challenge", "CODE_CHALLENGE")
            .append_pair("code_challenge_method", "S256");
        format!("{}?{}", state.url("/authorize"), q.finish())
    });
    let exchange_curl = redirect.as_ref().map(|r| {
        format!(
            "curl {auth} \\\n  -d grant_type=authorization_code \\\n  --data-urlencode code=CODE \\\n  --data-urlencode redirect_uri={} \\\n  -d code_verifier=CODE_VERIFIER \\\n  {token_url}",
            sh(r)
        )
    });
    let client_credentials_curl =
        (!c.is_public && c.has_grant(GrantType::ClientCredentials)).then(|| {
            let scope = if c.scope.is_empty() {
                String::new()
            } else {
                format!("  --data-urlencode scope={} \\\n", sh(&c.scope))
            };
            format!("curl {auth} \\\n  -d grant_type=client_credentials \\\n{scope}  {token_url}")
        });
    Examples {
        metadata_url: state.url("/.well-known/oauth-authorization-server"),
        authorize_url,
        exchange_curl,
        client_credentials_curl,
    }
}

#[derive(Template)]
#[template(path = "apps.html")]
struct ListPage<'a> {
    username: &'a str,
    admin: bool,
    apps: Vec<AppView>,
    deleted: bool,
}

#[derive(Template)]
#[template(path = "app_new.html")]
struct NewPage {
    csrf: String,
    fields: FormView,
}

#[derive(Template)]
#[template(path = "app_created.html")]
struct CreatedPage {
    app: AppView,
    secret: Option<String>,
    examples: Examples,
}

#[derive(Template)]
#[template(path = "app.html")]
struct AppPage {
    csrf: String,
    app: AppView,
    fields: FormView,
    /// A secret made just now, shown this once.
    new_secret: Option<String>,
    saved: bool,
    examples: Examples,
}

#[derive(Template)]
#[template(path = "app_delete.html")]
struct DeletePage {
    csrf: String,
    app: AppView,
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    deleted: Option<String>,
}

/// `GET /apps`: the apps this person registered; for an admin, every app
/// and whose it is.
pub async fn list(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(me) = session::current(&req, &state).await? else {
        return Ok(sign_in_first("/apps"));
    };
    let admin = me.user.is_admin;
    let uid = me.user.id.clone();
    let (clients, names) = state
        .store
        .run(move |c| -> Result<_, StoreError> {
            if admin {
                let names: HashMap<String, String> = c
                    .list_users()?
                    .into_iter()
                    .map(|u| (u.id, u.username))
                    .collect();
                Ok((c.list_clients()?, names))
            } else {
                Ok((c.list_clients_owned_by(&uid)?, HashMap::new()))
            }
        })
        .await?;
    let apps = clients
        .iter()
        .map(|c| {
            let owner = admin.then(|| owner_label(c.owner.as_deref(), &names));
            AppView::of(c, owner)
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &ListPage {
            username: &me.user.username,
            admin,
            apps,
            deleted: query.deleted.is_some(),
        },
    ))
}

fn new_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    fields: FormView,
) -> HttpResponse {
    render_form(req, state, status, |csrf| NewPage { csrf, fields })
}

/// `GET /apps/new`: the registration form.
pub async fn new_form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(me) = session::current(&req, &state).await? else {
        return Ok(sign_in_first("/apps/new"));
    };
    let fields = form_view(&state, &me.user, AppForm::fresh(), None, None);
    Ok(new_page(&req, &state, StatusCode::OK, fields))
}

/// `POST /apps/new`: registers the app and shows its id and (confidential
/// apps) its secret, once, in this answer (201, `no-store`).
pub async fn create(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = parse_form_with_lists(&req, &state, &body, LISTS)?;
    let Some(me) = session::current(&req, &state).await? else {
        return Ok(sign_in_first("/apps/new"));
    };
    let values = AppForm::from_post(&form);
    let refused = |values: AppForm, e: FieldError| {
        let fields = form_view(&state, &me.user, values, Some(e), None);
        Ok(new_page(&req, &state, StatusCode::BAD_REQUEST, fields))
    };
    let spec = match spec_from(&state, &me.user, &values, None) {
        Ok(spec) => spec,
        Err(e) => return refused(values, e),
    };
    match register(&state, spec, None, None).await {
        Ok(created) => {
            tracing::info!(client_id = %created.client.id, owner = %me.user.id, "app registered on the application pages");
            let owner = me.user.is_admin.then(|| me.user.username.clone());
            Ok(render(
                StatusCode::CREATED,
                &CreatedPage {
                    examples: examples(&state, &created.client),
                    app: AppView::of(&created.client, owner),
                    secret: created.secret,
                },
            ))
        }
        Err(e) => refused(values, registration_error(e)?),
    }
}

#[derive(serde::Deserialize)]
pub struct ShowQuery {
    saved: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn app_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    me: &User,
    client: &Client,
    owner: Option<String>,
    values: AppForm,
    error: Option<FieldError>,
    new_secret: Option<String>,
    saved: bool,
) -> HttpResponse {
    let fields = form_view(state, me, values, error, Some(client));
    render_form(req, state, status, |csrf| AppPage {
        csrf,
        app: AppView::of(client, owner),
        fields,
        new_secret,
        saved,
        examples: examples(state, client),
    })
}

/// `GET /apps/{client_id}`: the app, its edit form, and the buttons to make
/// a new secret and to delete it.
pub async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ShowQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(me) = session::current(&req, &state).await? else {
        return Ok(sign_in_first(req.path()));
    };
    let client = load_managed(&state, &me, path.into_inner()).await?;
    let owner = owner_for(&state, &me.user, &client).await?;
    Ok(app_page(
        &req,
        &state,
        StatusCode::OK,
        &me.user,
        &client,
        owner,
        AppForm::from_client(&client),
        None,
        None,
        query.saved.is_some(),
    ))
}

/// `POST /apps/{client_id}` with `action=save|rotate|delete|confirm_delete`.
pub async fn act(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let form = parse_form_with_lists(&req, &state, &body, LISTS)?;
    let Some(me) = session::current(&req, &state).await? else {
        return Ok(sign_in_first(req.path()));
    };
    let client = load_managed(&state, &me, path.into_inner()).await?;
    let owner = owner_for(&state, &me.user, &client).await?;
    match form.get("action") {
        Some("save") => save(&req, &state, &me.user, client, owner, &form).await,
        Some("rotate") => {
            if client.is_public {
                return Err(PageError::BadRequest(
                    "A public app has no secret to replace.".into(),
                ));
            }
            let secret = match rotate_secret(&state, &client).await {
                Ok(s) => s,
                Err(RegistrationError::Admin(AdminError::NotFound(_))) => return Err(no_such_app()),
                Err(e) => return Err(PageError::Internal(e.to_string())),
            };
            tracing::info!(client_id = %client.id, by = %me.user.id, "app secret replaced on the application pages");
            Ok(app_page(
                &req,
                &state,
                StatusCode::OK,
                &me.user,
                &client,
                owner,
                AppForm::from_client(&client),
                None,
                Some(secret),
                false,
            ))
        }
        Some("delete") => Ok(render_form(&req, &state, StatusCode::OK, |csrf| {
            DeletePage {
                csrf,
                app: AppView::of(&client, owner),
            }
        })),
        Some("confirm_delete") => {
            let id = client.id.clone();
            // One transaction: the app, and through foreign keys its
            // refresh token families, consents and codes.
            match state.store.run(move |c| delete_client(c, &id)).await {
                Ok(()) => {}
                Err(AdminError::NotFound(_)) => return Err(no_such_app()),
                Err(AdminError::Store(e)) => return Err(e.into()),
                Err(e) => return Err(PageError::Internal(e.to_string())),
            }
            tracing::info!(client_id = %client.id, by = %me.user.id, "app deleted on the application pages");
            Ok(see_other("/apps?deleted=1"))
        }
        _ => Err(PageError::BadRequest(
            "Choose what to do with the app: save, replace the secret or delete.".into(),
        )),
    }
}

/// `action=save`: the edit form, checked like a registration; the type,
/// id, secret and owner stay.
async fn save(
    req: &HttpRequest,
    state: &AppState,
    me: &User,
    client: Client,
    owner: Option<String>,
    form: &Form,
) -> Result<HttpResponse, PageError> {
    let values = AppForm {
        client_type: kind(&client).into(),
        ..AppForm::from_post(form)
    };
    let refused = |values: AppForm, e: FieldError| {
        Ok(app_page(
            req,
            state,
            StatusCode::BAD_REQUEST,
            me,
            &client,
            owner.clone(),
            values,
            Some(e),
            None,
            false,
        ))
    };
    let spec = match spec_from(state, me, &values, Some(&client)) {
        // The owner stays whoever it was (an admin editing another's app).
        Ok(spec) => NewClient {
            owner: client.owner.clone(),
            ..spec
        },
        Err(e) => return refused(values, e),
    };
    let (id, now) = (client.id.clone(), state.clock.now());
    match state
        .store
        .run(move |c| update_client(c, &id, spec, now))
        .await
    {
        Ok(_) => Ok(see_other(&format!("{}?saved=1", app_href(&client.id)))),
        Err(e) => refused(values, shown_error(e)?),
    }
}
