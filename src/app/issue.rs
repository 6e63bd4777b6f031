//! Issuing tokens: the one place every grant and page gets an access token,
//! a refresh token family, the OpenID Connect ID token and the token
//! response from.

use super::AppState;
use crate::oauth::amr::Amr;
use crate::oauth::OAuthError;
use crate::store::models::browser_session::BrowserSession;
use crate::store::models::refresh_token::{IssuedAccess, NewFamily};
use crate::store::models::{split_list, User};
use crate::tokens::claims::at_hash;
use crate::tokens::{AccessTokenClaims, Audience, IdTokenClaims, UserClaims};
use serde::Serialize;

/// RFC 6749 §5.1 successful response, with OpenID Connect Core §3.1.3.3's
/// `id_token` when the granted scope has `openid`.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// The sign-in a user's grant rests on: what an ID token says about the
/// person and their authentication (OIDC Core §2).
#[derive(Debug, Clone, Copy)]
pub struct SignIn<'a> {
    pub user: &'a User,
    /// When the person signed in.
    pub auth_time: i64,
    /// The authorization request's `nonce` (never on refresh, §12.2).
    pub nonce: Option<&'a str>,
    /// The browser session's `sid` (`session_sid`), when there was one.
    pub sid: Option<&'a str>,
    /// How the person signed in: the ID token's `amr` and `acr`.
    pub amr: &'a Amr,
}

impl TokenResponse {
    /// The response for a signed access token and, where one was issued,
    /// its refresh token. `expires_in` and `scope` come from the token.
    /// When the token's scope has `openid` and the grant rests on a
    /// person's sign-in, an ID token for the same client, person and scope
    /// comes with it: every grant gets it through here.
    pub async fn new(
        state: &AppState,
        access_token: String,
        claims: &AccessTokenClaims,
        refresh_token: Option<String>,
        sign_in: Option<SignIn<'_>>,
    ) -> Result<TokenResponse, OAuthError> {
        let id_token = match sign_in {
            Some(s) if has_scope(&claims.scope, "openid") => {
                Some(sign_id_token(state, &access_token, claims, s).await?)
            }
            _ => None,
        };
        Ok(TokenResponse {
            expires_in: claims.exp - claims.iat,
            scope: claims.scope.clone(),
            access_token,
            token_type: "Bearer",
            refresh_token,
            id_token,
        })
    }
}

/// Whether a space-separated scope has `wanted`.
pub fn has_scope(scope: &str, wanted: &str) -> bool {
    split_list(scope).any(|s| s == wanted)
}

/// Every claim an ID token or `/userinfo` can carry (Discovery
/// `claims_supported`).
pub const CLAIMS_SUPPORTED: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "sid",
    "azp",
    "acr",
    "amr",
    "name",
    "preferred_username",
    "updated_at",
    "email",
    "email_verified",
];

/// The standard claims about `user` that `scope` grants (OIDC Core §5.4):
/// `profile` gives `name`, `preferred_username`, `updated_at`; `email`
/// gives `email` and `email_verified`. What the person has not got is left
/// out.
pub fn user_claims(user: &User, scope: &str) -> UserClaims {
    let mut c = UserClaims::default();
    if has_scope(scope, "profile") {
        c.name = user.name.clone();
        c.preferred_username = Some(user.username.clone());
        c.updated_at = Some(user.updated_at);
    }
    if has_scope(scope, "email") {
        if let Some(email) = &user.email {
            c.email = Some(email.clone());
            c.email_verified = Some(user.email_verified);
        }
    }
    c
}

/// The `sid` of a browser session: an HMAC of its stored hash under the
/// server secret, so it names the session without revealing its cookie
/// and cannot be computed from the database alone.
pub fn session_sid(state: &AppState, session: &BrowserSession) -> String {
    let mac = state
        .server_secret
        .mac(&[b"gatehouse-sid-v1", session.id_hash.as_bytes()]);
    crate::crypto::b64url(&mac[..16])
}

/// Signs the ID token issued with `access_token` (OIDC Core §2,
/// §3.1.3.6): same keys and `kid` as access tokens, `aud` and `azp` the
/// client, `sub` the access token's, `at_hash` of the access token.
/// Signed on a signing thread (`app::signing`).
async fn sign_id_token(
    state: &AppState,
    access_token: &str,
    access: &AccessTokenClaims,
    s: SignIn<'_>,
) -> Result<String, OAuthError> {
    let now = state.clock.now();
    let claims = IdTokenClaims {
        iss: state.issuer.clone(),
        sub: access.sub.clone(),
        aud: access.client_id.clone(),
        exp: now + state.config.id_token_ttl,
        iat: now,
        auth_time: s.auth_time,
        nonce: s.nonce.map(str::to_string),
        at_hash: Some(at_hash(access_token)),
        sid: s.sid.map(str::to_string),
        azp: access.client_id.clone(),
        acr: Some(s.amr.acr().to_string()),
        amr: Some(amr_claim(s.amr)),
        user: user_claims(s.user, &access.scope),
    };
    let signer = state.keys.current().signer.clone();
    state
        .signing
        .run(move || Ok(signer.sign_id_token(&claims)?))
        .await
}

/// The `amr` claim's values (RFC 8176).
fn amr_claim(amr: &Amr) -> Vec<String> {
    amr.values().into_iter().map(str::to_string).collect()
}

/// The identity of an access token about to be issued: chosen before the
/// grant's transaction so the refresh token stored in it can name the
/// access token issued alongside (and revocation can deny-list it).
#[derive(Debug, Clone)]
pub struct AccessTokenId {
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    /// RFC 8707: the resources the token is for (its `aud`); empty for the
    /// default audience.
    pub resource: Vec<String>,
}

impl AccessTokenId {
    pub fn new(state: &AppState) -> AccessTokenId {
        let now = state.clock.now();
        AccessTokenId {
            jti: crate::crypto::record_id(),
            iat: now,
            exp: now + state.config.access_token_ttl,
            resource: Vec::new(),
        }
    }

    /// The same token, for these RFC 8707 resources.
    pub fn for_resources(self, resource: Vec<String>) -> AccessTokenId {
        AccessTokenId { resource, ..self }
    }

    pub fn as_issued(&self) -> IssuedAccess<'_> {
        IssuedAccess {
            jti: &self.jti,
            expires_at: self.exp,
        }
    }
}

/// Signs an RFC 9068 access token. `sub` is the user's id, or the client's
/// for client_credentials.
pub async fn issue_access_token(
    state: &AppState,
    sub: &str,
    client_id: &str,
    scope: &str,
    auth_time: Option<i64>,
    amr: Option<&Amr>,
) -> Result<(String, AccessTokenClaims), OAuthError> {
    sign_access_token(
        state,
        AccessTokenId::new(state),
        sub,
        client_id,
        scope,
        auth_time,
        amr,
    )
    .await
}

/// Signs an access token whose id was chosen beforehand, on a signing
/// thread (`app::signing`). A user's token says how they signed in
/// (`amr`): `auth_time`, `acr` and `amr`, the authentication claims of
/// RFC 9068 §2.2.1, so a resource server (or introspection, RFC 9470
/// §6.2) can ask for a step-up without an ID token.
pub async fn sign_access_token(
    state: &AppState,
    id: AccessTokenId,
    sub: &str,
    client_id: &str,
    scope: &str,
    auth_time: Option<i64>,
    amr: Option<&Amr>,
) -> Result<(String, AccessTokenClaims), OAuthError> {
    let claims = AccessTokenClaims {
        iss: state.issuer.clone(),
        sub: sub.to_string(),
        aud: Audience::for_resources(&id.resource, &state.audience),
        exp: id.exp,
        iat: id.iat,
        jti: id.jti,
        client_id: client_id.to_string(),
        scope: scope.to_string(),
        auth_time,
        acr: amr.map(|a| a.acr().to_string()),
        amr: amr.map(amr_claim),
    };
    let signer = state.keys.current().signer.clone();
    state
        .signing
        .run(move || {
            let jwt = signer.sign(&claims)?;
            Ok((jwt, claims))
        })
        .await
}

/// The lifetimes a new refresh token family gets from the settings.
#[derive(Debug, Clone, Copy)]
pub struct FamilyLifetimes {
    pub now: i64,
    pub idle_ttl: i64,
    pub max_ttl: i64,
}

impl FamilyLifetimes {
    pub fn new(state: &AppState) -> FamilyLifetimes {
        FamilyLifetimes {
            now: state.clock.now(),
            idle_ttl: state.config.refresh_idle_ttl,
            max_ttl: state.config.refresh_max_ttl,
        }
    }

    /// A new family for a user's grant, carrying the access token issued
    /// with its first refresh token.
    pub fn family<'a>(
        &self,
        client_id: &'a str,
        user_id: &'a str,
        scope: &'a str,
        auth_code_hash: Option<&'a str>,
        access: &'a AccessTokenId,
    ) -> NewFamily<'a> {
        NewFamily {
            client_id,
            user_id: Some(user_id),
            scope,
            auth_code_hash,
            now: self.now,
            idle_ttl: self.idle_ttl,
            max_ttl: self.max_ttl,
            access: access.as_issued(),
            resource: crate::oauth::resource::join(&access.resource),
        }
    }
}
