pub mod serve;
mod user;
