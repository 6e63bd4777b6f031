//! Issuing tokens: the one place every grant and page gets an access token,
//! a refresh token family and the token response from. (OpenID Connect's
//! ID token will be added here, once, for all of them.)

use super::AppState;
use crate::oauth::OAuthError;
use crate::store::models::refresh_token::{IssuedAccess, NewFamily};
use crate::tokens::AccessTokenClaims;
use serde::Serialize;

/// RFC 6749 §5.1 successful response.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl TokenResponse {
    /// The response for a signed access token and, where one was issued,
    /// its refresh token. `expires_in` and `scope` come from the token.
    pub fn new(
        access_token: String,
        claims: &AccessTokenClaims,
        refresh_token: Option<String>,
    ) -> TokenResponse {
        TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: claims.exp - claims.iat,
            scope: claims.scope.clone(),
            refresh_token,
        }
    }
}

/// The identity of an access token about to be issued: chosen before the
/// grant's transaction so the refresh token stored in it can name the
/// access token issued alongside (and revocation can deny-list it).
#[derive(Debug, Clone)]
pub struct AccessTokenId {
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
}

impl AccessTokenId {
    pub fn new(state: &AppState) -> AccessTokenId {
        let now = state.clock.now();
        AccessTokenId {
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now,
            exp: now + state.config.access_token_ttl,
        }
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
pub fn issue_access_token(
    state: &AppState,
    sub: &str,
    client_id: &str,
    scope: &str,
    auth_time: Option<i64>,
) -> Result<(String, AccessTokenClaims), OAuthError> {
    sign_access_token(
        state,
        AccessTokenId::new(state),
        sub,
        client_id,
        scope,
        auth_time,
    )
}

/// Signs an access token whose id was chosen beforehand.
pub fn sign_access_token(
    state: &AppState,
    id: AccessTokenId,
    sub: &str,
    client_id: &str,
    scope: &str,
    auth_time: Option<i64>,
) -> Result<(String, AccessTokenClaims), OAuthError> {
    let claims = AccessTokenClaims {
        iss: state.issuer.clone(),
        sub: sub.to_string(),
        aud: state.audience.clone(),
        exp: id.exp,
        iat: id.iat,
        jti: id.jti,
        client_id: client_id.to_string(),
        scope: scope.to_string(),
        auth_time,
    };
    let jwt = state.keys.current().signer.sign(&claims)?;
    Ok((jwt, claims))
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
        }
    }
}
