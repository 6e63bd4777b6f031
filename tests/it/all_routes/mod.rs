//! The rules every route keeps, checked across all of them at once: bad
//! input never a 5xx, the security headers on every answer.

mod malformed;
mod responses;
