//! OAuth 2.0 rules with no HTTP and no database: errors, request parsing,
//! scopes. Handlers in `http/` load rows, call these, and save.

pub mod authorize;
pub mod device;
pub mod error;
pub mod pkce;
pub mod refresh;
pub mod scope;
pub mod wire;

pub use error::OAuthError;
