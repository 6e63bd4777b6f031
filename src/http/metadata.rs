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

/// The two root addresses of the one document.
pub const PATHS: [&str; 2] = [
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
];

/// Every address of the document for `issuer`: the two root ones and,
/// for an issuer with a path P (`https://host/tenant`), RFC 8414 §3.1's
/// `/.well-known/oauth-authorization-server` + P, OpenID Connect
/// Discovery §4.1's P + `/.well-known/openid-configuration`, and the two
/// mixed forms clients also try (the MCP authorization spec lists
/// `/.well-known/openid-configuration` + P). The root ones stay: a proxy
/// that strips P sends `P/.well-known/…` as `/.well-known/…`.
pub fn paths(issuer: &str) -> Vec<String> {
    let mut all: Vec<String> = PATHS.iter().map(|p| p.to_string()).collect();
    // The settings checked the issuer: a URL without query, fragment or
    // trailing slash; its path is percent-encoded, so it holds no `{`.
    let path = url::Url::parse(issuer)
        .map(|u| u.path().trim_end_matches('/').to_string())
        .unwrap_or_default();
    if !path.is_empty() {
        for well_known in PATHS {
            all.push(format!("{well_known}{path}"));
            all.push(format!("{path}{well_known}"));
        }
    }
    all
}

/// The document, serialized once: it depends only on the settings, which
/// do not change while the server runs.
#[derive(Default)]
pub struct Discovery(OnceLock<Bytes>);

/// Every address (`paths`), sharing one `Discovery` (one per HTTP worker,
/// each built from the same settings on its first request).
pub fn configure(cfg: &mut web::ServiceConfig, issuer: &str) {
    let cache = web::Data::new(Discovery::default());
    for path in paths(issuer) {
        cfg.service(
            web::resource(path)
                .app_data(cache.clone())
                .route(web::get().to(metadata)),
        );
    }
}

/// RFC 8414 §2 and OpenID Connect Discovery §3: one document at every
/// address, its `issuer` exactly the configured one (RFC 8414 §3.3,
/// OpenID Connect Discovery §4.3), built from the settings alone, so it is the same on every
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

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8414 §3.1, OpenID Connect Discovery §4.1: an issuer with a path
    /// has its document at the path-inserted and the path-appended
    /// addresses, beside the root ones; an issuer without one, at the
    /// root ones only.
    #[test]
    fn rfc8414_3_1_an_issuer_with_a_path_has_the_document_at_every_address() {
        assert_eq!(paths("http://127.0.0.1:8080"), PATHS.to_vec());
        assert_eq!(paths("https://id.example.com"), PATHS.to_vec());
        assert_eq!(
            paths("https://id.example.com/tenant"),
            [
                "/.well-known/oauth-authorization-server",
                "/.well-known/openid-configuration",
                "/.well-known/oauth-authorization-server/tenant",
                "/tenant/.well-known/oauth-authorization-server",
                "/.well-known/openid-configuration/tenant",
                "/tenant/.well-known/openid-configuration",
            ]
            .map(String::from)
            .to_vec()
        );
        let deep = paths("https://id.example.com/a/b");
        assert!(deep.contains(&"/.well-known/oauth-authorization-server/a/b".to_string()));
        assert!(deep.contains(&"/a/b/.well-known/openid-configuration".to_string()));
        // A path character actix would read as a pattern arrives encoded.
        assert!(paths("https://id.example.com/{x}")
            .iter()
            .all(|p| !p.contains('{')));
    }
}
