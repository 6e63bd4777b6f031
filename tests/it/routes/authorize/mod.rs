mod oauth;
mod oidc;
mod reauthentication;
