//! One file (or folder) per URL path the server answers, named after the
//! path: `/token` is `token/` (one file per grant, and the ID token its
//! answers carry), `/authorize` is `authorize/`, `/.well-known/…` is
//! `well_known.rs`, `/jwks.json` is `jwks.rs`. A test lives with the path
//! whose answer it asserts; one that walks several pages (sign in, then
//! consent) lives with the page it is about.

mod account;
mod account_totp;
mod admin;
mod apps;
mod authorize;
mod consent;
mod device;
mod device_authorization;
mod email_verify;
mod healthz;
mod introspect;
mod jwks;
mod login;
mod login_factor;
mod logout;
mod metrics;
mod passkeys;
mod password;
mod register;
mod revoke;
mod root;
mod signup;
mod token;
mod userinfo;
mod well_known;
