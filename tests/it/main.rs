//! The one integration test binary: every test starts the real server on a
//! random port and talks HTTP to it, on SQLite and (when
//! GATEHOUSE_TEST_POSTGRES_URL is set) on PostgreSQL.

// Tests may panic on the unexpected and sleep in their set-up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

#[macro_use]
mod harness;

mod cli;
mod crash;
mod device;
mod files;
mod guard;
mod housekeeping;
mod introspect;
mod keys;
mod malformed;
mod metadata;
mod metrics;
mod oauth2_client;
mod oidc;
mod outage;
mod pages;
mod people;
mod pg_tls;
mod proxies;
mod register;
mod revoke;
mod scale_out;
mod token;
mod upgrade;
