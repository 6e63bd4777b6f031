//! OpenID Connect on top of the code flow, as its tests drive it: a
//! relying party client, the flow with `openid`, and checking an ID token
//! as a relying party does.

use super::{code_query, pkce_pair, url_params, TestApp, REDIRECT};
use gatehouse::registry::{CreatedClient, NewClient};

pub const OIDC_SCOPE: &str = "openid profile email read";

/// A confidential web app that may ask for `openid profile email read`.
pub fn oidc_client(app: &TestApp) -> CreatedClient {
    app.client(NewClient {
        name: "Relying Party".into(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        redirect_uris: vec![REDIRECT.into()],
        scope: OIDC_SCOPE.into(),
        website: Some("https://app.example".into()),
        ..Default::default()
    })
}

/// Signed in already: runs the code flow with `extra` authorization
/// parameters (allowing on the consent page if shown) and returns the token
/// response.
pub async fn code_flow(
    app: &TestApp,
    client: &CreatedClient,
    extra: &[(&str, &str)],
) -> serde_json::Value {
    let (verifier, challenge) = pkce_pair();
    let loc = app
        .authorize_and_allow(&code_query(client, &challenge, extra))
        .await;
    assert!(loc.starts_with(REDIRECT), "{loc}");
    let p = url_params(&loc, false);
    let code = p.get("code").unwrap_or_else(|| panic!("a code in {loc}"));
    let r = app
        .exchange(client, code, Some(&verifier), Some(REDIRECT))
        .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Verifies an ID token against `/jwks.json` as a relying party does:
/// RS256, a published `kid`, `iss` = the issuer, `aud` = `client_id`,
/// unexpired. Returns its header and claims.
pub async fn verify_id_token(
    app: &TestApp,
    token: &str,
    client_id: &str,
) -> (jsonwebtoken::Header, serde_json::Value) {
    let jwks: jsonwebtoken::jwk::JwkSet = app.get("/jwks.json").await.json().await.unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let kid = header.kid.clone().expect("kid in header");
    let jwk = jwks.find(&kid).expect("kid published in JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[client_id]);
    v.set_issuer(&[&app.state.issuer]);
    v.leeway = 0;
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &v)
        .expect("the ID token verifies")
        .claims;
    (header, claims)
}

/// OIDC Core §3.1.3.6: base64url of the left half of SHA-256.
pub fn expected_at_hash(access_token: &str) -> String {
    let digest = gatehouse::crypto::sha256(access_token.as_bytes());
    gatehouse::crypto::b64url(&digest[..16])
}

/// Gives `alice` a display name and a verified e-mail address.
pub fn alice_profile(app: &TestApp) -> gatehouse::store::models::User {
    let change = gatehouse::registry::UserChange {
        name: Some("Alice Liddell".into()),
        email: Some("alice@example.com".into()),
        email_verified: Some(true),
        ..Default::default()
    };
    crate::harness::wait(
        app.state
            .registry()
            .update_user(crate::harness::USERNAME, change),
    )
    .unwrap()
}
