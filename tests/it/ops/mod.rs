mod crash;
mod files;
mod housekeeping;
mod outage;
mod pg_tls;
mod proxies;
mod scale_out;
mod upgrade;
