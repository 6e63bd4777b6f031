//! `GET /.well-known/oauth-authorization-server` (RFC 8414) and
//! `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0
//! §3): one document, naming the issuer and every endpoint, and advertising
//! each feature (the device flow, introspection, revocation) exactly while
//! it is on; built from the settings alone, never from the clients.

use crate::harness::device::GRANT;
use crate::harness::oidc::{alice_profile, code_flow, oidc_client, verify_id_token};
use crate::harness::{signed_in, str_of, TestApp};

backend_tests!(
    rfc8414_metadata_names_issuer_and_endpoints,
    rfc8414_openid_configuration_is_the_same_document,
    oidc_discovery_3_openid_configuration_has_the_provider_metadata,
    oidc_discovery_3_claims_supported_is_exactly_what_can_be_returned,
    oidc_discovery_3_acr_values_supported_lists_the_classes_acr_can_take,
    rfc8414_metadata_advertises_the_device_flow,
    rfc8414_metadata_advertises_introspection,
    rfc8414_metadata_advertises_revocation,
    rfc8414_2_the_document_comes_from_the_settings_never_from_the_clients,
    rfc8414_3_1_an_issuer_without_a_path_has_no_path_addresses,
);

/// An issuer with a path, `http://127.0.0.1:PORT/tenant`, on a port free a
/// moment ago (the issuer names the port the server binds).
fn tenant_issuer(c: &mut gatehouse::Config) {
    let port = crate::harness::free_port();
    c.bind = format!("127.0.0.1:{port}");
    c.issuer = Some(format!("http://127.0.0.1:{port}/tenant"));
}

mod path_issuer {
    use super::*;
    backend_tests!(with super::tenant_issuer;
        rfc8414_3_1_oidc_discovery_4_an_issuer_with_a_path_has_the_document_at_every_address,
    );
}

mod described_scopes {
    use super::*;
    backend_tests!(with |c| { c.scope_descriptions.insert("photos.print".into(), "Print your photos".into()); };
        rfc8414_2_scopes_supported_has_the_scopes_the_operator_describes,
    );
}

mod client_documents {
    use super::*;
    backend_tests!(with |c| c.client_documents = gatehouse::config::ClientDocuments::Open;
        cimd_metadata_advertises_client_id_metadata_documents_when_on,
    );
}

/// draft-ietf-oauth-client-id-metadata-document: the metadata says so
/// while documents are on, and not while off (the default).
async fn cimd_metadata_advertises_client_id_metadata_documents_when_on(app: TestApp) {
    let doc = discovery(&app, "/.well-known/oauth-authorization-server").await;
    assert_eq!(doc["client_id_metadata_document_supported"], true, "{doc}");
    let off = TestApp::spawn(crate::harness::Backend::Sqlite).await;
    let doc = discovery(&off, "/.well-known/oauth-authorization-server").await;
    assert!(
        doc.get("client_id_metadata_document_supported").is_none(),
        "{doc}"
    );
}

mod no_registration {
    use super::*;
    backend_tests!(with |c| c.registration = gatehouse::config::Registration::Off;
        oidc_discovery_3_without_registration_no_registration_endpoint,
    );
}

async fn rfc8414_metadata_names_issuer_and_endpoints(app: TestApp) {
    let resp = app.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(resp.status(), 200);
    let doc: serde_json::Value = resp.json().await.unwrap();
    // RFC 8414 §3.3: the issuer in the document is the issuer itself.
    assert_eq!(doc["issuer"], app.base);
    assert_eq!(doc["token_endpoint"], app.url("/token"));
    assert_eq!(doc["jwks_uri"], app.url("/jwks.json"));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    let grants = doc["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&"client_credentials".into()));
    // Legacy grants are never advertised unless a client has them.
    assert!(!grants.contains(&"password".into()));
    assert!(!grants.contains(&"implicit".into()));
    let methods = doc["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(methods.contains(&"client_secret_basic".into()));
    assert!(methods.contains(&"client_secret_post".into()));
}

async fn rfc8414_openid_configuration_is_the_same_document(app: TestApp) {
    app.service_client();
    let a = app.metadata().await;
    let b = discovery(&app, "/.well-known/openid-configuration").await;
    // The same document, every field (RFC 8414 §7.1.2 registers OpenID
    // Connect's fields for it too).
    assert_eq!(a, b);
    // OpenID Connect's scopes and the registration scopes (from the
    // settings, never the clients').
    assert_eq!(
        a["scopes_supported"],
        serde_json::json!(["email", "openid", "profile", "read"])
    );
}

async fn discovery(app: &TestApp, path: &str) -> serde_json::Value {
    let r = app.get(path).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn oidc_discovery_3_openid_configuration_has_the_provider_metadata(app: TestApp) {
    app.service_client();
    let doc = discovery(&app, "/.well-known/openid-configuration").await;
    // §4.3: the issuer is exactly the one the document was fetched for.
    assert_eq!(doc["issuer"], app.base.as_str());
    assert_eq!(doc["authorization_endpoint"], app.url("/authorize"));
    assert_eq!(doc["token_endpoint"], app.url("/token"));
    assert_eq!(doc["userinfo_endpoint"], app.url("/userinfo"));
    assert_eq!(doc["jwks_uri"], app.url("/jwks.json"));
    assert_eq!(doc["end_session_endpoint"], app.url("/logout"));
    assert_eq!(doc["registration_endpoint"], app.url("/register"));
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    let scopes = doc["scopes_supported"].as_array().unwrap();
    for s in ["openid", "profile", "email", "read"] {
        assert!(scopes.contains(&s.into()), "{s} in {scopes:?}");
    }
    for flag in [
        "claims_parameter_supported",
        "request_parameter_supported",
        "request_uri_parameter_supported",
    ] {
        assert_eq!(doc[flag], false, "{flag}");
    }
    assert!(doc["claims_supported"].is_array());
    // RFC 8414's document is the same one (the fields are registered for
    // it too, RFC 8414 §7.1.2).
    let oauth = discovery(&app, "/.well-known/oauth-authorization-server").await;
    assert_eq!(oauth, doc);
}

async fn oidc_discovery_3_claims_supported_is_exactly_what_can_be_returned(app: TestApp) {
    let c = oidc_client(&app);
    signed_in(&app).await;
    alice_profile(&app);
    let doc = discovery(&app, "/.well-known/openid-configuration").await;
    let supported: std::collections::BTreeSet<String> = doc["claims_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let body = code_flow(
        &app,
        &c,
        &[("scope", "openid profile email"), ("nonce", "n")],
    )
    .await;
    let (_, id) = verify_id_token(&app, str_of(&body, "id_token"), &c.client.id).await;
    let info: serde_json::Value = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(str_of(&body, "access_token"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut returned = std::collections::BTreeSet::new();
    for v in [&id, &info] {
        returned.extend(v.as_object().unwrap().keys().cloned());
    }
    assert_eq!(returned, supported);
}

async fn oidc_discovery_3_acr_values_supported_lists_the_classes_acr_can_take(app: TestApp) {
    let doc = discovery(&app, "/.well-known/openid-configuration").await;
    // A password alone, and a second factor (the value `acr_values` asks
    // for, CONTRACT.md).
    assert_eq!(
        doc["acr_values_supported"],
        serde_json::json!(["urn:gatehouse:acr:pwd", "urn:gatehouse:acr:mfa"])
    );
}

async fn oidc_discovery_3_without_registration_no_registration_endpoint(app: TestApp) {
    let doc = discovery(&app, "/.well-known/openid-configuration").await;
    assert!(doc.get("registration_endpoint").is_none(), "{doc}");
    assert_eq!(doc["userinfo_endpoint"], app.url("/userinfo"));
}

async fn rfc8414_metadata_advertises_the_device_flow(app: TestApp) {
    let doc = app.metadata().await;
    assert_eq!(
        doc["device_authorization_endpoint"],
        app.url("/device_authorization")
    );
    let grants = doc["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&GRANT.into()), "{grants:?}");
}

async fn rfc8414_metadata_advertises_introspection(app: TestApp) {
    let doc = app.metadata().await;
    assert_eq!(doc["introspection_endpoint"], app.url("/introspect"));
    assert_eq!(
        doc["introspection_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
}

async fn rfc8414_metadata_advertises_revocation(app: TestApp) {
    let doc = app.metadata().await;
    assert_eq!(doc["revocation_endpoint"], app.url("/revoke"));
    let methods = doc["revocation_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(methods.contains(&"client_secret_basic".into()));
    assert!(methods.contains(&"client_secret_post".into()));
    assert!(methods.contains(&"none".into()));
}

/// RFC 8414 §2: the document is the server's, from its settings: the same
/// whichever clients exist (none of their rows is read to answer it). The
/// legacy grants, which only an operator can give a client, are never
/// advertised (RFC 9700 §2.4: password MUST NOT be used; §2.1.2: implicit
/// SHOULD NOT), nor a scope only some client has (§2 `scopes_supported`:
/// a server "MAY choose not to advertise some supported scope values").
async fn rfc8414_2_the_document_comes_from_the_settings_never_from_the_clients(app: TestApp) {
    let before = app.metadata().await;
    let g = before["grant_types_supported"].as_array().unwrap();
    assert!(g.contains(&"refresh_token".into()));
    assert!(!g.contains(&"password".into()));
    app.password_client();
    app.client(gatehouse::registry::NewClient {
        name: "Legacy SPA".into(),
        grant_types: vec!["implicit".into()],
        redirect_uris: vec![crate::harness::REDIRECT.into()],
        scope: "read admin".into(),
        public: true,
        ..Default::default()
    });
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        assert_eq!(discovery(&app, path).await, before, "{path}");
    }
    // Served as JSON, cacheable.
    let r = app.get("/.well-known/openid-configuration").await;
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.headers()["cache-control"], "public, max-age=300");
}

async fn rfc8414_2_scopes_supported_has_the_scopes_the_operator_describes(app: TestApp) {
    let doc = app.metadata().await;
    assert_eq!(
        doc["scopes_supported"],
        serde_json::json!(["email", "openid", "photos.print", "profile", "read"])
    );
}

/// RFC 8414 §3.1 (the well-known path inserted before the issuer's path),
/// OpenID Connect Discovery §4.1 (appended after it), and the mixed forms
/// MCP clients also try: with `GATEHOUSE_ISSUER=http://127.0.0.1:PORT/tenant`
/// the one document answers at each, and at the two root addresses (where
/// a proxy that strips `/tenant` sends `/tenant/.well-known/…`). Each has
/// `issuer` exactly the configured issuer (RFC 8414 §3.3, OpenID Connect
/// Discovery §4.3) and `code_challenge_methods_supported`; another tenant's
/// addresses are 404.
async fn rfc8414_3_1_oidc_discovery_4_an_issuer_with_a_path_has_the_document_at_every_address(
    app: TestApp,
) {
    let issuer = format!("{}/tenant", app.base);
    assert_eq!(app.state.issuer, issuer);
    let root = discovery(&app, "/.well-known/oauth-authorization-server").await;
    assert_eq!(root["issuer"], issuer.as_str());
    assert_eq!(
        root["authorization_endpoint"],
        format!("{issuer}/authorize")
    );
    assert_eq!(root["token_endpoint"], format!("{issuer}/token"));
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/tenant",
        "/.well-known/openid-configuration/tenant",
        "/tenant/.well-known/openid-configuration",
        "/tenant/.well-known/oauth-authorization-server",
    ] {
        let doc = discovery(&app, path).await;
        assert_eq!(doc["issuer"], issuer.as_str(), "{path}");
        assert_eq!(
            doc["code_challenge_methods_supported"],
            serde_json::json!(["S256"]),
            "{path}"
        );
        assert_eq!(doc, root, "{path}: the same document");
    }
    for other in [
        "/.well-known/oauth-authorization-server/other",
        "/.well-known/openid-configuration/other",
        "/other/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/tenant/x",
        "/.well-known/openid-configuration/tenan",
    ] {
        assert_eq!(app.get(other).await.status(), 404, "{other}");
    }
}

/// RFC 8414 §3.1: an issuer without a path (the default) has its document
/// at the two root addresses only.
async fn rfc8414_3_1_an_issuer_without_a_path_has_no_path_addresses(app: TestApp) {
    for path in [
        "/.well-known/oauth-authorization-server/tenant",
        "/tenant/.well-known/openid-configuration",
    ] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
}
