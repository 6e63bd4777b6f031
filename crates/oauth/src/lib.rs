//! OAuth 2.0 and OpenID Connect rules with no HTTP, no database and no
//! key material: errors, request parsing, scopes, PKCE, redirect URIs,
//! the authorization request and the token-endpoint decisions. The
//! server's handlers load rows, call these, and save. A crate of its own
//! (the server sees it as `gatehouse::oauth`), so the compiler keeps
//! actix, diesel and jsonwebtoken out of it.

use gatehouse_crypto as crypto;

pub mod amr;
pub mod application_type;
pub mod authorize;
pub mod client;
pub mod client_document;
pub mod code;
pub mod device;
pub mod error;
pub mod grant_type;
pub mod logout;
pub mod pkce;
pub mod redirect_uri;
pub mod refresh;
pub mod resource;
pub mod scope;
#[cfg(test)]
mod testing;
pub mod wire;

pub use application_type::ApplicationType;
pub use client::{ClientId, ClientPolicy, RedirectUris};
pub use error::OAuthError;
pub use grant_type::GrantType;
