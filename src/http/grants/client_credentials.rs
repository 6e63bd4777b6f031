//! RFC 6749 §4.4: the client credentials grant.

use crate::app::issue::{sign_access_token, AccessTokenId, TokenResponse};
use crate::app::AppState;
use crate::oauth::scope::resolve_scope;
use crate::oauth::wire::Form;
use crate::oauth::OAuthError;
use crate::store::models::Client;

/// RFC 6749 §4.4: a confidential client acting on its own behalf.
pub async fn grant(
    state: &AppState,
    client: &Client,
    form: &Form,
) -> Result<TokenResponse, OAuthError> {
    // Only confidential clients with the grant get here (`http/token.rs`,
    // §4.4: "MUST only be used by confidential clients").
    let scope = resolve_scope(form.get("scope"), &client.scope_list())?.join(" ");
    let access =
        AccessTokenId::new(state).for_resources(super::new_resources(state, client, form)?);
    let (jwt, claims) =
        sign_access_token(state, access, &client.id, &client.id, &scope, None, None).await?;
    // §4.4.3: a refresh token SHOULD NOT be included.
    TokenResponse::new(state, jwt, &claims, None, None).await
}
