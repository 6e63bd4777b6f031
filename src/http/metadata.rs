//! RFC 8414 authorization server metadata, OpenID Connect Discovery 1.0
//! §3 provider metadata, and the RFC 7517 JWKS.

use crate::app::issue::CLAIMS_SUPPORTED;
use crate::app::AppState;
use crate::oauth::GrantType;
use crate::store::models::Client;
use actix_web::{web, HttpResponse};

/// The scopes OpenID Connect defines that gatehouse answers (OIDC Core
/// §5.4), requestable by every client registered with them.
const OIDC_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// RFC 8414 §2 and OpenID Connect Discovery §3: one document at both
/// addresses. The OpenID Connect fields are registered for RFC 8414 too
/// (§7.1.2), and every one of them is true of this server whichever
/// address was asked. Only endpoints and features that exist are listed;
/// the legacy grants appear only while some client is registered with
/// them.
pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let clients = state
        .store
        .run(|c| c.list_clients())
        .await
        .unwrap_or_default();
    let any_has = |g: GrantType| clients.iter().any(|c| c.has_grant(g));
    let mut grant_types: Vec<&str> = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::DeviceCode,
    ]
    .map(GrantType::as_str)
    .to_vec();
    let mut response_types = vec!["code"];
    let mut response_modes = vec!["query"];
    if any_has(GrantType::Implicit) {
        grant_types.push(GrantType::Implicit.as_str());
        response_types.push("token");
        response_modes.push("fragment");
    }
    if any_has(GrantType::Password) {
        grant_types.push(GrantType::Password.as_str());
    }
    let mut scopes: Vec<&str> = clients.iter().flat_map(Client::scope_list).collect();
    scopes.extend(OIDC_SCOPES);
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
        "response_types_supported": response_types,
        "response_modes_supported": response_modes,
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
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    });
    if state.config.registration != crate::config::Registration::Off {
        doc["registration_endpoint"] = state.url("/register").into();
    }
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(doc)
}

pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    state.metrics.jwks_requested();
    HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .insert_header(("Cache-Control", "public, max-age=60"))
        .body(state.keys.current().jwks.clone())
}
