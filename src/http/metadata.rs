//! RFC 8414 authorization server metadata, OpenID Connect Discovery 1.0
//! §3 provider metadata (built once from the settings, never from the
//! database), and the RFC 7517 JWKS.

use crate::app::issue::CLAIMS_SUPPORTED;
use crate::app::AppState;
use crate::config::Registration;
use crate::oauth::amr::ACR_VALUES_SUPPORTED;
use crate::oauth::GrantType;
use crate::registry::clients::IDENTITY_SCOPES;
use actix_web::web::Bytes;
use actix_web::{web, HttpResponse};
use std::sync::OnceLock;

/// The two addresses of the one document.
pub const PATHS: [&str; 2] = [
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
];

/// The document, serialized once: it depends only on the settings, which
/// do not change while the server runs.
#[derive(Default)]
pub struct Discovery(OnceLock<Bytes>);

/// Both addresses, sharing one `Discovery` (one per HTTP worker, each
/// built from the same settings on its first request).
pub fn configure(cfg: &mut web::ServiceConfig) {
    let cache = web::Data::new(Discovery::default());
    for path in PATHS {
        cfg.service(
            web::resource(path)
                .app_data(cache.clone())
                .route(web::get().to(metadata)),
        );
    }
}

/// RFC 8414 §2 and OpenID Connect Discovery §3: one document at both
/// addresses, built from the settings alone, so it is the same on every
/// instance, needs no database (it answers through an outage) and is never
/// partial. The OpenID Connect fields are registered for RFC 8414 too
/// (§7.1.2), and every one of them is true of this server whichever
/// address was asked. Only endpoints and features that exist are listed.
pub async fn metadata(state: web::Data<AppState>, cache: web::Data<Discovery>) -> HttpResponse {
    let body = cache.0.get_or_init(|| document(&state)).clone();
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "public, max-age=300"))
        .body(body)
}

/// The document's JSON.
fn document(state: &AppState) -> Bytes {
    // The legacy grants (RFC 9700 §2.4: password MUST NOT be used; §2.1.2:
    // implicit SHOULD NOT) are never advertised: only an operator can give
    // them to a client, which then knows it has them.
    let grant_types = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::DeviceCode,
    ]
    .map(GrantType::as_str);
    // RFC 8414 §2 `scopes_supported` (a server "MAY choose not to advertise
    // some supported scope values"): OpenID Connect's (OIDC Core §5.4),
    // what any app may register with, and those the operator describes.
    let mut scopes: Vec<&str> = IDENTITY_SCOPES.to_vec();
    scopes.extend(state.config.registration_scopes.iter().map(String::as_str));
    scopes.extend(state.config.scope_descriptions.keys().map(String::as_str));
    scopes.sort_unstable();
    scopes.dedup();
    let mut doc = serde_json::json!({
        "issuer": state.issuer,
        "authorization_endpoint": state.url("/authorize"),
        "token_endpoint": state.url("/token"),
        "device_authorization_endpoint": state.url("/device_authorization"),
        "jwks_uri": state.url("/jwks.json"),
        "revocation_endpoint": state.url("/revoke"),
        "introspection_endpoint": state.url("/introspect"),
        "grant_types_supported": grant_types,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        // RFC 7009 §2.1: public clients may revoke their own tokens.
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        // RFC 7662 §2.1: introspection needs real client authentication.
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": scopes,
        // RFC 9207: authorization responses carry `iss`.
        "authorization_response_iss_parameter_supported": true,
        // OpenID Connect Discovery §3.
        "userinfo_endpoint": state.url("/userinfo"),
        // OpenID Connect RP-Initiated Logout §2.1.
        "end_session_endpoint": state.url("/logout"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["public"],
        "claims_supported": CLAIMS_SUPPORTED,
        // OpenID Connect Discovery §3: what `acr_values` may ask for
        // (a password alone; a second factor).
        "acr_values_supported": ACR_VALUES_SUPPORTED,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    });
    // draft-ietf-oauth-client-id-metadata-document §5.
    if state.config.client_documents != crate::config::ClientDocuments::Off {
        doc["client_id_metadata_document_supported"] = true.into();
    }
    if state.config.registration != Registration::Off {
        doc["registration_endpoint"] = state.url("/register").into();
    }
    Bytes::from(doc.to_string())
}

pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    state.metrics.jwks_requested();
    HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .insert_header(("Cache-Control", "public, max-age=60"))
        .body(state.keys.current().jwks.clone())
}
