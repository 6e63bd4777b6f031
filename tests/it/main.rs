//! The one integration test binary: every test starts the real server on a
//! random port and talks HTTP to it, on SQLite and (when
//! GATEHOUSE_TEST_POSTGRES_URL is set) on PostgreSQL.

// Tests may panic on the unexpected and sleep in their set-up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

#[macro_use]
mod harness;

mod all_routes;
mod cli;
mod clients;
mod ops;
mod routes;
