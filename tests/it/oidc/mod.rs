//! OpenID Connect on top of the OAuth flows: ID tokens, claims and
//! discovery (`id_token.rs`), the authorization request's parameters,
//! `/userinfo`, RP-initiated logout at `/logout`, the CLI's user and client
//! additions, and a stock relying party (the `openidconnect` crate).

mod authorize;
mod cli;
pub mod id_token;
mod logout;
mod relying_party;
mod userinfo;
