//! One file per grant type. Each `grant` function receives the
//! authenticated client and the parsed form and returns the token response.

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod password;
pub mod refresh_token;
