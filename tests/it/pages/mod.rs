//! The HTML pages a person uses, over HTTP and in a real browser:
//! `/authorize` and consent, sign-in and sign-out, `/account`, the
//! application pages (`/apps`), sign-up, and what keeps them safe.

mod account;
pub mod apps;
mod apps_browser;
mod authorize;
mod browser;
mod login;
mod names;
mod safety;
mod signup;
pub mod webdriver;
