//! RFC 7591 §2 client metadata as JSON: what `POST /register` and RFC 7592
//! read and answer, and what `gatehouse client … --json` prints. One
//! serde type, so a field is named, typed and documented once.

use super::clients::response_types_of;
use crate::store::models::Client;
use serde::{Deserialize, Serialize};

/// A client's metadata. Every field is optional on the way in (a field
/// of the wrong JSON type is refused as a whole; unknown fields are
/// ignored, RFC 7591 §2); on the way out a field is left out rather than
/// null.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientMetadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Out: a new secret, this once. In (RFC 7592 §2.2): the current one,
    /// when the client repeats it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// RFC 7591 §3.2.1: when the client id was issued (seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id_issued_at: Option<i64>,
    /// RFC 7591 §3.2.1: 0, secrets do not expire; confidential clients only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    /// RFC 7592 §3: the token to manage the client with, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<String>,
    /// RFC 7592 §3: where the client is managed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// The app's home page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_types: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// Space-separated (RFC 6749 §3.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// OpenID Connect RP-Initiated Logout §3.1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// OpenID Connect Dynamic Client Registration §2: `web` or `native`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
}

impl ClientMetadata {
    /// What is registered for `c`, without its secret (only its hash is
    /// kept) or management URI (the caller's to add).
    pub fn of(c: &Client) -> ClientMetadata {
        let list = |v: Vec<&str>| v.into_iter().map(String::from).collect::<Vec<_>>();
        let some_list = |v: Vec<&str>| Some(list(v)).filter(|l| !l.is_empty());
        ClientMetadata {
            client_id: Some(c.id.clone()),
            client_id_issued_at: Some(c.created_at),
            client_secret_expires_at: (!c.is_public).then_some(0),
            client_name: Some(c.name.clone()),
            client_uri: c.website.clone(),
            logo_uri: c.logo_uri.clone(),
            contacts: some_list(c.contacts.iter().collect()),
            redirect_uris: Some(list(c.redirect_uri_list())),
            grant_types: Some(list(c.grant_type_list())),
            response_types: Some(list(response_types_of(c))),
            token_endpoint_auth_method: Some(c.auth_method_name().to_string()),
            scope: Some(c.scope.to_string()),
            post_logout_redirect_uris: some_list(c.post_logout_redirect_uri_list()),
            application_type: Some(c.application_type.as_str().to_string()),
            ..ClientMetadata::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7591 §2: unknown fields are ignored, null is absent, and a
    /// field of the wrong type is an error rather than a guess.
    #[test]
    fn rfc7591_2_metadata_reads_known_fields_and_refuses_wrong_types() {
        let m: ClientMetadata = serde_json::from_str(
            r#"{"client_name":"Tool","scope":null,"software_id":"x","redirect_uris":["https://a.example/cb"]}"#,
        )
        .unwrap();
        assert_eq!(m.client_name.as_deref(), Some("Tool"));
        assert_eq!(m.scope, None);
        assert_eq!(
            m.redirect_uris,
            Some(vec!["https://a.example/cb".to_string()])
        );
        assert!(serde_json::from_str::<ClientMetadata>(r#"{"scope":["read"]}"#).is_err());
        assert!(
            serde_json::from_str::<ClientMetadata>(r#"{"redirect_uris":"https://a"}"#).is_err()
        );
        let out = serde_json::to_value(ClientMetadata {
            client_name: Some("Tool".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            out,
            serde_json::json!({"client_name": "Tool"}),
            "absent, not null"
        );
    }
}
