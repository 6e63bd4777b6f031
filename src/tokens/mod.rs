//! Access tokens (RS256 JWTs per RFC 9068), OpenID Connect ID tokens,
//! signing keys and the JWKS.

pub mod claims;
pub mod jws;
pub mod keyset;
pub mod keystore;

pub use claims::{AccessTokenClaims, Audience, IdTokenClaims, UserClaims};
pub use jws::SigningKey;
pub use keyset::KeySet;
pub use keystore::Keys;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("signing key folder {path}: {reason}")]
    KeyFolder { path: String, reason: String },
    #[error("signing key {path} is not a usable RSA private key: {reason}")]
    BadKey { path: String, reason: String },
    #[error("signing failed")]
    Signing,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A signing failure is the server's fault: `server_error`.
impl From<TokenError> for crate::oauth::OAuthError {
    fn from(e: TokenError) -> Self {
        crate::oauth::OAuthError::Server(e.to_string())
    }
}
