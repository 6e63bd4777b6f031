//! A Rust app using the stock `oauth2` crate (PKCE on) against gatehouse,
//! configured only from the discovery document, a client id and secret.

use crate::harness::{form_field, TestApp, REDIRECT};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, RedirectUrl,
    Scope, TokenResponse, TokenUrl,
};

backend_tests!(oauth2_crate_completes_the_code_flow_with_pkce);

async fn oauth2_crate_completes_the_code_flow_with_pkce(app: TestApp) {
    let c = app.web_client(false);
    app.user("alice", "correct horse");
    let meta = app.metadata().await;
    let client = BasicClient::new(ClientId::new(c.client.id.clone()))
        .set_client_secret(ClientSecret::new(c.secret.clone().unwrap()))
        .set_auth_uri(
            AuthUrl::new(meta["authorization_endpoint"].as_str().unwrap().into()).unwrap(),
        )
        .set_token_uri(TokenUrl::new(meta["token_endpoint"].as_str().unwrap().into()).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf_state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("read".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The person's part, as a browser would do it.
    let r = app.http.get(auth_url.as_str()).send().await.unwrap();
    let login = r.headers()["location"].to_str().unwrap().to_string();
    let next: String = url::form_urlencoded::parse(login.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "next")
        .unwrap()
        .1
        .into_owned();
    let r = app.sign_in("alice", "correct horse", &next).await;
    let back = r.headers()["location"].to_str().unwrap().to_string();
    let (_, consent) = app.location(&back).await;
    let html = app.get(&consent).await.text().await.unwrap();
    let r = app
        .http
        .post(app.url("/consent"))
        .form(&[
            (
                "csrf_token",
                form_field(&html, "csrf_token").unwrap().as_str(),
            ),
            ("request", form_field(&html, "request").unwrap().as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    let redirect = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let params: std::collections::HashMap<String, String> =
        redirect.query_pairs().into_owned().collect();
    assert_eq!(&params["state"], csrf_state.secret());

    let http = oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = client
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the oauth2 crate accepts gatehouse's token response");
    assert!(token.refresh_token().is_some());
    assert_eq!(token.scopes().unwrap()[0].as_str(), "read");
    let claims = app.verify_jwt(token.access_token().secret()).await;
    assert_eq!(claims["client_id"], c.client.id.as_str());

    // Refreshing rotates the refresh token (RFC 6749 §6).
    let refreshed = client
        .exchange_refresh_token(token.refresh_token().unwrap())
        .request_async(&http)
        .await
        .expect("refresh works through the oauth2 crate");
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        token.refresh_token().unwrap().secret()
    );
    app.verify_jwt(refreshed.access_token().secret()).await;
}
