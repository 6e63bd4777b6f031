//! The registration and edit form of the application pages: what a person
//! typed, the grant type checkboxes offered, and turning the form into a
//! registration by the page's own rules (the type, the grant types
//! offered, the scopes a person who is not an admin may ask for).

use crate::app::AppState;
use crate::oauth::wire::Form;
use crate::oauth::GrantType;
use crate::registry::clients::{self_registrable_scopes, self_registration_scope};
use crate::registry::NewClient;
use crate::store::models::{Client, User};

/// The grant types offered as checkboxes. The legacy implicit and password
/// grants are not: an operator can still give them with the CLI, and an app
/// that has one keeps it when edited here.
pub(super) const OFFERED: [GrantType; 4] = [
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::ClientCredentials,
    GrantType::DeviceCode,
];

/// The fields of the form, by their RFC 7591 names (the input names).
pub(super) const FIELDS: [&str; 6] = [
    "client_name",
    "client_uri",
    "redirect_uris",
    "client_type",
    "grant_types",
    "scope",
];

/// Fields that may repeat in a post: the grant type checkboxes.
pub(super) const LISTS: &[&str] = &["grant_types"];

/// The form's element id, label and one-line hint for a grant type.
pub(super) fn describe_grant(g: GrantType) -> (&'static str, &'static str, &'static str) {
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
    pub(super) fn fresh() -> AppForm {
        AppForm {
            client_type: "confidential".into(),
            grant_types: vec![
                GrantType::AuthorizationCode.as_str().into(),
                GrantType::RefreshToken.as_str().into(),
            ],
            ..AppForm::default()
        }
    }

    pub(super) fn from_post(form: &Form) -> AppForm {
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

    pub(super) fn from_client(c: &Client) -> AppForm {
        AppForm {
            client_name: c.name.clone(),
            client_uri: c.website.clone().unwrap_or_default(),
            redirect_uris: c.redirect_uri_list().join("\n"),
            client_type: kind(c).into(),
            grant_types: c.grant_type_list().into_iter().map(String::from).collect(),
            scope: c.scope.to_string(),
        }
    }

    pub(super) fn redirect_uri_list(&self) -> Vec<String> {
        self.redirect_uris
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    }
}

pub(super) fn kind(c: &Client) -> &'static str {
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
    pub(super) fn new(field: &str, message: impl Into<String>) -> FieldError {
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
pub(super) fn grant_choices(current: Option<&Client>) -> Vec<GrantType> {
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
pub(super) fn current_scopes(current: Option<&Client>) -> Vec<&str> {
    current.map(|c| c.scope_list()).unwrap_or_default()
}

pub(super) fn form_view(
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
/// the registry (names, redirect URIs, `client_uri`, grant type combinations).
pub(super) fn spec_from(
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
