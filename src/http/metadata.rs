//! RFC 8414 authorization server metadata and the RFC 7517 JWKS.

use super::AppState;
use actix_web::{web, HttpResponse};

/// RFC 8414 §2. Only endpoints and features that exist are listed.
pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let doc = serde_json::json!({
        "issuer": state.issuer,
        "token_endpoint": state.url("/token"),
        "jwks_uri": state.url("/jwks.json"),
        "device_authorization_endpoint": state.url("/device_authorization"),
        "grant_types_supported": ["client_credentials", crate::oauth::device::GRANT_TYPE],
        "response_types_supported": [],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": scopes_supported(&state).await,
    });
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(doc)
}

/// Every scope some registered client may ask for.
async fn scopes_supported(state: &AppState) -> Vec<String> {
    let clients = state
        .store
        .run(|c| c.list_clients())
        .await
        .unwrap_or_default();
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
