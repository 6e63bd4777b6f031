//! One file per grant type. Each `grant` function receives the
//! authenticated client and the parsed form and returns the token response.

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod password;
pub mod refresh_token;

use crate::app::AppState;
use crate::oauth::resource::{check_allowed, narrow, parse_resources, split};
use crate::oauth::wire::Form;
use crate::oauth::OAuthError;
use crate::store::models::Client;

/// RFC 8707 §2 for a grant that starts here (client credentials,
/// password): the `resource`s asked for, each one the client may name
/// (`GATEHOUSE_RESOURCES` or its own list), else `invalid_target`.
pub fn new_resources(
    state: &AppState,
    client: &Client,
    form: &Form,
) -> Result<Vec<String>, OAuthError> {
    let requested = parse_resources(&form.get_all("resource"))?;
    check_allowed(&requested, &state.config.resources, &client.resource_list())?;
    Ok(requested)
}

/// RFC 8707 §2.2 for a grant made earlier (a code, a device code, a
/// refresh family): what the token request asks for, with what the client
/// may name, to judge against what was granted (`judge`), inside the
/// grant's transaction.
#[derive(Debug, Clone)]
pub struct ResourceRequest {
    requested: Vec<String>,
    operator: Vec<String>,
    client: Vec<String>,
}

impl ResourceRequest {
    pub fn new(state: &AppState, client: &Client, form: &Form) -> Result<Self, OAuthError> {
        Ok(ResourceRequest {
            requested: parse_resources(&form.get_all("resource"))?,
            operator: state.config.resources.clone(),
            client: client.resource_list(),
        })
    }

    /// The resources the token is for: those asked for, all of them
    /// `granted` (none asked: all granted), and still ones the client may
    /// name (the operator may have withdrawn one since), else
    /// `invalid_target`.
    pub fn judge(&self, granted: Option<&str>) -> Result<Vec<String>, OAuthError> {
        let narrowed = narrow(&self.requested, &split(granted))?;
        check_allowed(&narrowed, &self.operator, &self.client)?;
        Ok(narrowed)
    }
}
