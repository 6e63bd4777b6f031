//! `GET/POST /authorize`: the OAuth request (`oauth.rs`), OpenID Connect's
//! parameters (`oidc.rs`), and the re-authentication they ask for, which no
//! link can skip (`reauthentication.rs`), and clients described by a Client
//! ID Metadata Document (`client_documents.rs`).

mod client_documents;
mod oauth;
mod oidc;
mod reauthentication;
