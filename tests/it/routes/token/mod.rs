//! `POST /token`, one file per grant (RFC 6749 §4–6, RFC 7636 §4.6), and
//! refresh-token rotation under concurrency.

mod authorization_code;
mod client_credentials;
mod device_code;
pub mod id_token;
mod password;
mod refresh;
mod refresh_races;
