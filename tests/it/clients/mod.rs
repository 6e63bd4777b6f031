//! Stock clients against a live gatehouse, end to end: a real browser
//! (Chromium through WebDriver), the `oauth2` and `openidconnect` crates,
//! resource servers (the `gatehouse-guard` crate and the Node and Python
//! recipes), the sample device client, and the MCP TypeScript SDK's client
//! against MCP servers gatehouse protects.

mod browser;
mod browser_account;
mod browser_admin;
mod browser_apps;
mod browser_factors;
mod browser_passkeys;
mod browser_password;
mod device_login;
mod guard;
mod mcp;
mod oauth2_crate;
mod relying_party;
