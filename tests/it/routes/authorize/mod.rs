//! `GET/POST /authorize`: the OAuth request (`oauth.rs`), OpenID Connect's
//! parameters (`oidc.rs`), and the re-authentication they ask for, which no
//! link can skip (`reauthentication.rs`); a second factor asked for by
//! `acr_values`, owed by the factor policy or owned by the person
//! (`acr.rs`).

mod acr;
mod oauth;
mod oidc;
mod reauthentication;
