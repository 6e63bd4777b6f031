//! `GET/POST /authorize`: the OAuth request (`oauth.rs`), OpenID Connect's
//! parameters (`oidc.rs`), and the re-authentication they ask for, which no
//! link can skip (`reauthentication.rs`).

mod oauth;
mod oidc;
mod reauthentication;
mod resource;
