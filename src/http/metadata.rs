//! RFC 8414 authorization server metadata and the RFC 7517 JWKS.

use super::AppState;
use crate::store::models::Client;
use actix_web::{web, HttpResponse};

/// RFC 8414 §2. Only endpoints and features that exist are listed.
pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let clients = state
        .store
        .run(|c| c.list_clients())
        .await
        .unwrap_or_default();
    let doc = serde_json::json!({
        "issuer": state.issuer,
        "token_endpoint": state.url("/token"),
        "jwks_uri": state.url("/jwks.json"),
        "revocation_endpoint": state.url("/revoke"),
        "introspection_endpoint": state.url("/introspect"),
        "grant_types_supported": grant_types_supported(&clients),
        "response_types_supported": [],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        // RFC 7009 §2.1: public clients may revoke their own tokens.
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        // RFC 7662 §2.1: introspection needs real client authentication.
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": scopes_supported(&clients),
    });
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(doc)
}

/// The grants gatehouse serves; the legacy `password` grant only while
/// some client is registered with it.
fn grant_types_supported(clients: &[Client]) -> Vec<&'static str> {
    let mut grants = vec!["client_credentials", "refresh_token"];
    if clients.iter().any(|c| c.has_grant("password")) {
        grants.push("password");
    }
    grants
}

/// Every scope some registered client may ask for.
fn scopes_supported(clients: &[Client]) -> Vec<String> {
    let mut scopes: Vec<String> = clients
        .iter()
        .flat_map(|c| {
            c.scope_list()
                .into_iter()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .insert_header(("Cache-Control", "public, max-age=60"))
        .body(state.keys.current().jwks.clone())
}
