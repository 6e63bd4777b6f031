//! Running gatehouse: surviving a crash, upgrading a database, a database
//! outage, several instances on one database, TLS to PostgreSQL, the files
//! it keeps, the periodic clean-up, and trusted reverse proxies.

mod crash;
mod files;
mod housekeeping;
mod mail;
mod outage;
mod pg_tls;
mod pgbouncer;
mod proxies;
mod scale_out;
mod upgrade;
