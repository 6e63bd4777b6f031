//! One file per grant type. Each `grant` function receives the
//! authenticated client and the parsed form and returns the token response.

pub mod client_credentials;
pub mod password;
pub mod refresh_token;
