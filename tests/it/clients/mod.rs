mod browser;
mod browser_apps;
mod device_login;
mod guard;
mod oauth2_crate;
mod relying_party;
