//! `GET/POST /authorize`: the OAuth request (`oauth.rs`), OpenID Connect's
//! parameters (`oidc.rs`), and the re-authentication they ask for, which no
//! link can skip (`reauthentication.rs`), clients described by a Client
//! ID Metadata Document (`client_documents.rs`), and a second factor asked
//! for by `acr_values`, owed by the factor policy or owned by the person
//! (`acr.rs`).

mod acr;
mod client_documents;
mod oauth;
mod oidc;
mod reauthentication;
mod resource;
