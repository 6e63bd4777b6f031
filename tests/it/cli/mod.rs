//! The `gatehouse` binary as an operator uses it, one file per command
//! group (`serve`, `migrate`, `client`, `user`, `keys`,
//! `registration-token`, `healthcheck`, `backup`, `audit`) and one for the settings they all
//! read. What a command does to a running server's people and tokens is
//! tested beside it, through the same `admin` functions.

mod audit;
mod backup;
mod client;
mod healthcheck;
mod keys;
mod migrate;
mod registration_token;
mod serve;
mod settings;
mod user;
