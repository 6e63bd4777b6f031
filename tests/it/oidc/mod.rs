//! OpenID Connect on top of the OAuth flows: ID tokens, claims and
//! discovery (`id_token.rs`), the authorization request's parameters,
//! re-authentication that cannot be skipped (`prompt=login`, `max_age`),
//! `/userinfo`, RP-initiated logout at `/logout`, the CLI's user and client
//! additions, and a stock relying party (the `openidconnect` crate).

mod authorize;
mod cli;
pub mod id_token;
mod logout;
mod reauthentication;
mod relying_party;
mod userinfo;
