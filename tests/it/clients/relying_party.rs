//! A stock relying party: the `openidconnect` crate, configured only by
//! discovery (issuer URL, client id and secret), signs a person in with
//! the code flow and PKCE, validates the ID token (signature, iss, aud,
//! nonce, at_hash), calls userinfo and refreshes; and it catches what it
//! must: a wrong nonce, another client's ID token, an expired one. It
//! reads `amr` and `acr` (OIDC Core §2, RFC 8176) of a password sign-in
//! and of one with a second factor, asked for with `acr_values`.

use crate::harness::oidc::{alice_profile, oidc_client};
use crate::harness::{signed_in, url_params, TestApp, REDIRECT};
use gatehouse::registry::CreatedClient;
use openidconnect::core::{
    CoreClient, CoreIdToken, CoreIdTokenVerifier, CoreProviderMetadata, CoreResponseType,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AuthenticationContextClass, AuthenticationFlow,
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

backend_tests!(
    openidconnect_crate_signs_in_validates_the_id_token_calls_userinfo_and_refreshes,
    openidconnect_crate_refuses_a_wrong_nonce_another_clients_and_an_expired_id_token,
    openidconnect_crate_reads_amr_and_acr_of_password_and_second_factor_sign_ins_kept_on_refresh,
);

fn http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// What the relying party keeps between the redirect and the callback.
struct Login {
    code: String,
    nonce: Nonce,
    verifier: openidconnect::PkceCodeVerifier,
}

/// The crate's client as `from_provider_metadata` makes it, with a
/// redirect URI.
type RelyingParty = openidconnect::Client<
    openidconnect::EmptyAdditionalClaims,
    openidconnect::core::CoreAuthDisplay,
    openidconnect::core::CoreGenderClaim,
    openidconnect::core::CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJsonWebKey,
    openidconnect::core::CoreAuthPrompt,
    openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    openidconnect::core::CoreTokenResponse,
    openidconnect::core::CoreTokenIntrospectionResponse,
    openidconnect::core::CoreRevocableToken,
    openidconnect::core::CoreRevocationErrorResponse,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The relying party for `c`, from discovery alone.
async fn relying_party(app: &TestApp, c: &CreatedClient) -> RelyingParty {
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.base.clone()).unwrap(), &http())
            .await
            .expect("gatehouse's discovery document and JWKS satisfy the crate");
    CoreClient::from_provider_metadata(
        meta,
        ClientId::new(c.client.id.clone()),
        c.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap())
}

/// The person's part over HTTP (already signed in): the crate's
/// authorization URL, the consent page, back with a code.
async fn log_in(app: &TestApp, url: &url::Url, state: &CsrfToken) -> String {
    let query = url.query().unwrap();
    let loc = app.authorize_and_allow(query).await;
    let p = url_params(&loc, false);
    assert_eq!(&p["state"], state.secret());
    p["code"].clone()
}

/// A verifier whose clock is gatehouse's (the tests move it).
fn verifier<'a>(
    client_verifier: CoreIdTokenVerifier<'a>,
    app: &'a TestApp,
) -> CoreIdTokenVerifier<'a> {
    let clock = app.clock().clone();
    client_verifier.set_time_fn(move || chrono::DateTime::from_timestamp(clock.now(), 0).unwrap())
}

/// at_hash as the crate's documentation checks it.
fn at_hash_matches(
    id_token: &CoreIdToken,
    claims_at_hash: Option<&AccessTokenHash>,
    access: &AccessToken,
    v: &CoreIdTokenVerifier<'_>,
) -> bool {
    let expected = claims_at_hash.expect("at_hash in the ID token");
    let actual = AccessTokenHash::from_token(
        access,
        id_token.signing_alg().unwrap(),
        id_token.signing_key(v).unwrap(),
    )
    .unwrap();
    &actual == expected
}

async fn openidconnect_crate_signs_in_validates_the_id_token_calls_userinfo_and_refreshes(
    app: TestApp,
) {
    let c = oidc_client(&app);
    signed_in(&app).await;
    let alice = alice_profile(&app);
    let client = relying_party(&app, &c).await;
    let (challenge, pkce) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let login = Login {
        code: log_in(&app, &url, &state).await,
        nonce,
        verifier: pkce,
    };
    let tokens = client
        .exchange_code(AuthorizationCode::new(login.code))
        .unwrap()
        .set_pkce_verifier(login.verifier)
        .request_async(&http())
        .await
        .expect("the crate accepts gatehouse's token response");
    let id_token = tokens.id_token().expect("an ID token");
    let v = verifier(client.id_token_verifier(), &app);
    let claims = id_token
        .claims(&v, &login.nonce)
        .expect("signature, iss, aud, exp and nonce verify");
    assert_eq!(claims.subject().as_str(), alice.id);
    assert_eq!(claims.issuer().as_str(), app.base);
    assert!(claims.auth_time().is_some());
    assert!(at_hash_matches(
        id_token,
        claims.access_token_hash(),
        tokens.access_token(),
        &v
    ));
    assert_eq!(
        claims
            .preferred_username()
            .map(|u| u.as_str().to_string())
            .as_deref(),
        Some("alice")
    );
    assert_eq!(
        claims.email().map(|e| e.as_str().to_string()).as_deref(),
        Some("alice@example.com")
    );

    // Userinfo, bound to the ID token's subject.
    let info: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http())
        .await
        .expect("userinfo answers for the ID token's subject");
    assert_eq!(info.email_verified(), Some(true));
    assert_eq!(
        info.name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_string())
            .as_deref(),
        Some("Alice Liddell")
    );

    // Refresh: a new ID token for the same person and sign-in, no nonce.
    app.clock().advance(60);
    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().expect("a refresh token"))
        .unwrap()
        .request_async(&http())
        .await
        .expect("refresh through the crate");
    let again = refreshed.id_token().expect("an ID token on refresh");
    let no_nonce = |n: Option<&Nonce>| match n {
        None => Ok(()),
        Some(_) => Err("a refreshed ID token carries no nonce".to_string()),
    };
    let second = again
        .claims(&v, no_nonce)
        .expect("the refreshed ID token verifies");
    assert_eq!(second.subject(), claims.subject());
    assert_eq!(second.auth_time(), claims.auth_time());
    assert!(at_hash_matches(
        again,
        second.access_token_hash(),
        refreshed.access_token(),
        &v
    ));
    // The first ID token's at_hash is not the new access token's.
    assert!(!at_hash_matches(
        id_token,
        claims.access_token_hash(),
        refreshed.access_token(),
        &v
    ));
}

async fn openidconnect_crate_refuses_a_wrong_nonce_another_clients_and_an_expired_id_token(
    app: TestApp,
) {
    let c = oidc_client(&app);
    let other = oidc_client(&app);
    signed_in(&app).await;
    let mine = relying_party(&app, &c).await;
    let theirs = relying_party(&app, &other).await;
    let mut id_tokens = Vec::new();
    let mut nonces = Vec::new();
    for client in [&mine, &theirs] {
        let (challenge, pkce) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .url();
        let code = log_in(&app, &url, &state).await;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(pkce)
            .request_async(&http())
            .await
            .unwrap();
        id_tokens.push(tokens.id_token().unwrap().clone());
        nonces.push(nonce);
    }
    let v = verifier(mine.id_token_verifier(), &app);
    assert!(id_tokens[0].claims(&v, &nonces[0]).is_ok());

    // A wrong nonce (a replayed or injected response).
    let wrong = Nonce::new_random();
    assert!(matches!(
        id_tokens[0].claims(&v, &wrong),
        Err(ClaimsVerificationError::InvalidNonce(_))
    ));
    // Another client's ID token, with its own right nonce.
    assert!(matches!(
        id_tokens[1].claims(&v, &nonces[1]),
        Err(ClaimsVerificationError::InvalidAudience(_))
    ));
    // Expired: gatehouse's clock (and so the verifier's) moves past exp.
    app.clock().advance(601);
    assert!(matches!(
        id_tokens[0].claims(&v, &nonces[0]),
        Err(ClaimsVerificationError::Expired(_))
    ));
}

/// The `amr` values and `acr` of a verified ID token's claims.
fn amr_acr(
    claims: &openidconnect::IdTokenClaims<
        openidconnect::EmptyAdditionalClaims,
        openidconnect::core::CoreGenderClaim,
    >,
) -> (Vec<String>, Option<String>) {
    let amr = claims
        .auth_method_refs()
        .map(|v| v.iter().map(|m| m.as_str().to_string()).collect())
        .unwrap_or_default();
    let acr = claims.auth_context_ref().map(|a| a.as_str().to_string());
    (amr, acr)
}

async fn openidconnect_crate_reads_amr_and_acr_of_password_and_second_factor_sign_ins_kept_on_refresh(
    app: TestApp,
) {
    let c = oidc_client(&app);
    signed_in(&app).await;
    let client = relying_party(&app, &c).await;
    let v = verifier(client.id_token_verifier(), &app);
    let mut seen = Vec::new();
    for acr_values in [None, Some("urn:gatehouse:acr:mfa")] {
        let (challenge, pkce) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        if let Some(acr) = acr_values {
            // Setting up an authenticator app (confirmed by a code) makes
            // this browser's sign-in a two-factor one.
            app.state.clock.freeze();
            app.enrol_totp().await;
            request = request.add_auth_context_value(AuthenticationContextClass::new(acr.into()));
        }
        let (url, state, nonce) = request.url();
        let code = log_in(&app, &url, &state).await;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(pkce)
            .request_async(&http())
            .await
            .unwrap();
        let claims = tokens.id_token().unwrap().claims(&v, &nonce).unwrap();
        let first = amr_acr(claims);
        // OIDC Core §12.2: the refreshed ID token says the same sign-in.
        let refreshed = client
            .exchange_refresh_token(tokens.refresh_token().unwrap())
            .unwrap()
            .request_async(&http())
            .await
            .unwrap();
        let no_nonce = |_: Option<&Nonce>| Ok::<(), String>(());
        let again = refreshed.id_token().unwrap().claims(&v, no_nonce).unwrap();
        assert_eq!(amr_acr(again), first);
        seen.push(first);
    }
    assert_eq!(
        seen[0],
        (
            vec!["pwd".to_string()],
            Some("urn:gatehouse:acr:pwd".into())
        )
    );
    assert_eq!(
        seen[1],
        (
            vec!["pwd".to_string(), "otp".into(), "mfa".into()],
            Some("urn:gatehouse:acr:mfa".into())
        )
    );
}
