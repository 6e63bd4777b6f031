//! OAuth 2.0 rules with no HTTP and no database: errors, request parsing,
//! scopes. Handlers in `http/` load rows, call these, and save.

pub mod authorize;
pub mod client;
pub mod code;
pub mod device;
pub mod error;
pub mod grant_type;
pub mod logout;
pub mod pkce;
pub mod redirect_uri;
pub mod refresh;
pub mod scope;
pub mod wire;

pub use client::{ClientId, ClientPolicy, RedirectUris};
pub use error::OAuthError;
pub use grant_type::GrantType;
