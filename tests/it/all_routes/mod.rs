//! The rules every route keeps, checked across all of them at once: bad
//! input never a 5xx, the security headers on every answer, the
//! operator's look on every page.

mod look;
mod malformed;
mod responses;
