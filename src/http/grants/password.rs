//! RFC 6749 §4.3: the resource owner password credentials grant. Legacy
//! (RFC 9700 §2.4 says it MUST NOT be used); only clients registered with
//! the `password` grant may use it.

use crate::app::issue::{sign_access_token, AccessTokenId, FamilyLifetimes, SignIn, TokenResponse};
use crate::app::metrics::SignInVia;
use crate::app::sign_in::{authenticate_password_alone, SignInError};
use crate::app::AppState;
use crate::oauth::amr::Amr;
use crate::oauth::scope::resolve_scope;
use crate::oauth::wire::Form;
use crate::oauth::{GrantType, OAuthError};
use crate::store::models::refresh_token::FamilySignIn;
use crate::store::models::Client;

/// RFC 6749 §4.3.2: checks the user's credentials and issues an access
/// token for them, plus a refresh token when the client has that grant.
/// `addr` is the caller's address, for sign-in throttling. A password
/// alone never gets tokens for a person who has a second factor or whom
/// the factor policy requires to have one: this grant cannot ask for it
/// (`authenticate_password_alone`), and the answer is the one a wrong
/// password gets, so it does not tell the password was right.
pub async fn grant(
    state: &AppState,
    client: &Client,
    form: &Form,
    addr: &str,
) -> Result<TokenResponse, OAuthError> {
    let username = form.require("username")?;
    let password = form.require("password")?;
    let scope = resolve_scope(form.get("scope"), &client.scope_list())?.join(" ");
    // RFC 8707 §2 as for client credentials: checked before the password.
    let resource = super::new_resources(state, client, form)?;
    // §4.3.2: "the authorization server MUST protect the endpoint against
    // brute force attacks (e.g., using rate-limitation ...)": the shared
    // sign-in check throttles per user and per address.
    let via = SignInVia::PasswordGrant;
    let user = authenticate_password_alone(state, username, password, addr, via, Some(&client.id))
        .await
        .map_err(|e| match e {
            // A disabled account, or one that signs in with a second
            // factor, is not told apart to the app.
            SignInError::Invalid | SignInError::Disabled => OAuthError::InvalidGrant(
                "wrong username or password (an account with two-step sign-in cannot use \
                 this grant: sign in through the browser)"
                    .into(),
            ),
            SignInError::Throttled(wait) => OAuthError::InvalidGrant(format!(
                "too many failed attempts; wait {wait} seconds before trying again"
            )),
            SignInError::Store(e) => e.into(),
        })?;
    let now = state.clock.now();
    let access = AccessTokenId::new(state).for_resources(resource);
    let refresh_token = if client.has_grant(GrantType::RefreshToken) {
        let lifetimes = FamilyLifetimes::new(state);
        let (client_id, user_id, family_scope) =
            (client.id.clone(), user.id.clone(), scope.clone());
        let id = access.clone();
        let token = state
            .store
            .run(move |c| {
                c.transaction(|c| {
                    c.issue_signed_in_refresh_token(
                        lifetimes.family(&client_id, &user_id, &family_scope, None, &id),
                        Some(FamilySignIn {
                            auth_time: now,
                            sid: None,
                            amr: Some("pwd"),
                        }),
                    )
                })
            })
            .await?;
        Some(token)
    } else {
        None
    };
    let amr = Amr::password();
    let (jwt, claims) = sign_access_token(
        state,
        access,
        &user.id,
        &client.id,
        &scope,
        Some(now),
        Some(&amr),
    )
    .await?;
    // The person authenticated just now, with no browser session.
    let sign_in = SignIn {
        user: &user,
        auth_time: now,
        nonce: None,
        sid: None,
        amr: &amr,
    };
    TokenResponse::new(state, jwt, &claims, refresh_token, Some(sign_in)).await
}
