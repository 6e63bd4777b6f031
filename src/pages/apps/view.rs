//! An app as the application pages show it: its summary, whose it is,
//! and ready-made examples to copy.

use super::super::PageError;
use crate::app::AppState;
use crate::oauth::GrantType;
use crate::store::models::{Client, User};
use std::collections::HashMap;

pub(super) fn app_href(id: &str) -> String {
    format!(
        "/apps/{}",
        url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    )
}

pub(super) fn date(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

pub(super) fn date_iso(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// An app as the pages show it.
pub struct AppView {
    pub id: String,
    pub href: String,
    pub name: String,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub created: String,
    pub created_iso: String,
    /// Whose app it is, shown to admins: a username, or "operator" for
    /// the CLI's and `POST /register`'s apps.
    pub owner: Option<String>,
}

impl AppView {
    pub(super) fn of(c: &Client, owner: Option<String>) -> AppView {
        AppView {
            id: c.id.clone(),
            href: app_href(&c.id),
            name: c.name.clone(),
            public: c.is_public,
            redirect_uris: c
                .redirect_uri_list()
                .into_iter()
                .map(String::from)
                .collect(),
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

pub(super) fn owner_label(owner: Option<&str>, names: &HashMap<String, String>) -> String {
    match owner {
        None => "operator".into(),
        Some(id) => names
            .get(id)
            .cloned()
            .unwrap_or_else(|| "a deleted person".into()),
    }
}

/// Whose `client` is, for an admin; `None` for its owner (it is theirs).
pub(super) async fn owner_for(
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
    /// OpenID Connect Discovery 1.0 §4, for an app that asks for `openid`:
    /// what its OpenID Connect library wants.
    pub discovery_url: Option<String>,
    pub issuer: String,
    pub authorize_url: Option<String>,
    pub exchange_curl: Option<String>,
    pub client_credentials_curl: Option<String>,
}

/// `s` as one single-quoted shell word.
pub(super) fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

pub(super) fn examples(state: &AppState, c: &Client) -> Examples {
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
            q.append_pair("scope", &c.scope.to_string());
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
                format!("  --data-urlencode scope={} \\\n", sh(&c.scope.to_string()))
            };
            format!("curl {auth} \\\n  -d grant_type=client_credentials \\\n{scope}  {token_url}")
        });
    Examples {
        metadata_url: state.url("/.well-known/oauth-authorization-server"),
        discovery_url: c
            .scope_list()
            .contains(&"openid")
            .then(|| state.url("/.well-known/openid-configuration")),
        issuer: state.issuer.clone(),
        authorize_url,
        exchange_curl,
        client_credentials_curl,
    }
}
