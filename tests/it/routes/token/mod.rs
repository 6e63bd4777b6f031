//! `POST /token`, one file per grant (RFC 6749 §4–6, RFC 7636 §4.6, RFC
//! 8628 §3.4), refresh-token rotation under concurrency, and the OpenID
//! Connect ID token in its answers.

mod authorization_code;
mod client_credentials;
mod device_code;
mod id_token;
mod password;
mod password_factors;
mod refresh;
mod refresh_races;
mod resource;
