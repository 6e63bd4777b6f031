//! One file per table: the row type beside the `DbConn` methods that read
//! it and the `Tx` methods that write it (only inside `DbConn::transaction`
//! or `DbConn::write`).

pub mod account_token;
pub mod audit_event;
pub mod authorization_code;
pub mod browser_session;
pub mod client;
pub mod columns;
pub mod consent;
pub mod device_code;
pub mod factors;
pub mod housekeeping;
pub mod mail_outbox;
pub mod passkey;
pub mod recovery_code;
pub mod refresh_token;
pub mod registration_token;
pub mod revoked_access_token;
pub mod signing_key;
pub mod throttle;
pub mod totp_factor;
pub mod user;
pub mod webauthn_ceremony;

pub use client::Client;
pub use signing_key::SigningKeyRow;
pub use user::User;

/// Splits a space-separated list column.
pub fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(' ').filter(|p| !p.is_empty())
}
