//! The one integration test binary: every test starts the real server on a
//! random port and talks HTTP to it, on SQLite and (when
//! GATEHOUSE_TEST_POSTGRES_URL is set) on PostgreSQL.

// Tests may panic on the unexpected and sleep in their set-up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

#[macro_use]
mod harness;

mod apps_browser;
mod apps_pages;
mod authorize;
mod browser;
mod cli;
mod device;
mod files;
mod guard;
mod housekeeping;
mod introspect;
mod keys;
mod login;
mod logout_rp;
mod malformed;
mod metadata;
mod oauth2_client;
mod oidc;
mod oidc_authorize;
mod oidc_cli;
mod oidc_rp;
mod pages_safety;
mod people;
mod refresh_races;
mod register;
mod revoke;
mod scale_out;
mod signup;
mod token_client_credentials;
mod token_password;
mod token_refresh;
mod userinfo;
mod webdriver;
