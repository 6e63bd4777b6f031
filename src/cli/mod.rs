//! The command line: one clap tree, one file per command group. Every
//! command takes the same settings as `serve` and fails with one line.

mod client;
mod keys;
mod serve;
mod user;

use crate::config::{Config, ConfigError, LogFormat, Sources};
use clap::{Args, Parser, Subcommand};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "A standalone OAuth 2.0 authorization server"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings as flags; each also reads `GATEHOUSE_<NAME>` and `gatehouse.toml`.
#[derive(Debug, Args, Default)]
pub struct SettingsArgs {
    /// Config file (default: gatehouse.toml when present).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// sqlite://PATH or postgres://USER@HOST/DB [env: GATEHOUSE_DATABASE_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Listen address [env: GATEHOUSE_BIND]
    #[arg(long, global = true, value_name = "HOST:PORT")]
    pub bind: Option<String>,
    /// Issuer URL [env: GATEHOUSE_ISSUER]
    #[arg(long, global = true, value_name = "URL")]
    pub issuer: Option<String>,
    /// Signing keys folder [env: GATEHOUSE_KEYS_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    pub keys_dir: Option<String>,
    /// Access token `aud` [env: GATEHOUSE_AUDIENCE]
    #[arg(long, global = true)]
    pub audience: Option<String>,
    /// Seconds [env: GATEHOUSE_ACCESS_TOKEN_TTL]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub access_token_ttl: Option<String>,
    /// Seconds [env: GATEHOUSE_AUTH_CODE_TTL]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub auth_code_ttl: Option<String>,
    /// Seconds [env: GATEHOUSE_REFRESH_IDLE_TTL]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub refresh_idle_ttl: Option<String>,
    /// Seconds [env: GATEHOUSE_REFRESH_MAX_TTL]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub refresh_max_ttl: Option<String>,
    /// Seconds, 0 = off [env: GATEHOUSE_REFRESH_REUSE_GRACE]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub refresh_reuse_grace: Option<String>,
    /// Seconds [env: GATEHOUSE_DEVICE_CODE_TTL]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub device_code_ttl: Option<String>,
    /// Seconds [env: GATEHOUSE_DEVICE_INTERVAL]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub device_interval: Option<String>,
    /// Log level or filter [env: GATEHOUSE_LOG]
    #[arg(long, global = true)]
    pub log: Option<String>,
    /// text or json [env: GATEHOUSE_LOG_FORMAT]
    #[arg(long, global = true)]
    pub log_format: Option<String>,
    /// HTTP worker threads (default: 4 per core) [env: GATEHOUSE_WORKERS]
    #[arg(long, global = true)]
    pub workers: Option<String>,
}

impl SettingsArgs {
    pub fn load(&self) -> Result<Config, ConfigError> {
        let mut flags = BTreeMap::new();
        let mut put = |k: &'static str, v: &Option<String>| {
            if let Some(v) = v {
                flags.insert(k, v.clone());
            }
        };
        put("database_url", &self.database_url);
        put("bind", &self.bind);
        put("issuer", &self.issuer);
        put("keys_dir", &self.keys_dir);
        put("audience", &self.audience);
        put("access_token_ttl", &self.access_token_ttl);
        put("auth_code_ttl", &self.auth_code_ttl);
        put("refresh_idle_ttl", &self.refresh_idle_ttl);
        put("refresh_max_ttl", &self.refresh_max_ttl);
        put("refresh_reuse_grace", &self.refresh_reuse_grace);
        put("device_code_ttl", &self.device_code_ttl);
        put("device_interval", &self.device_interval);
        put("log", &self.log);
        put("log_format", &self.log_format);
        put("workers", &self.workers);
        let env = |k: &str| std::env::var(k).ok();
        Config::load(&Sources {
            flags,
            config_path: self.config.clone(),
            env: &env,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies migrations and creates keys on first start).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Manage users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
}

/// A failure to report: one line, and the exit code.
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl ToString) -> Failure {
        Failure {
            code: 2,
            message: message.to_string(),
        }
    }
    pub fn other(message: impl ToString) -> Failure {
        Failure {
            code: 1,
            message: message.to_string(),
        }
    }
}

fn init_logging(config: &Config, default_quiet: bool) {
    let level = if default_quiet && std::env::var("GATEHOUSE_LOG").is_err() {
        "warn".to_string()
    } else {
        config.log.clone()
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Runs the parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    // Files gatehouse creates (the SQLite database and its -wal/-shm, the
    // keys folder and keys) are for this user only: they hold password
    // hashes, e-mail addresses and private keys.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let config = match cli.settings.load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            return 2;
        }
    };
    init_logging(&config, !matches!(cli.command, Command::Serve));
    let result = match cli.command {
        Command::Serve => serve::serve(config),
        Command::Migrate => serve::migrate(&config),
        Command::Client(cmd) => client::run(cmd, &config),
        Command::User(cmd) => user::run(cmd, &config),
        Command::Keys(cmd) => keys::run(cmd, &config),
    };
    match result {
        Ok(()) => 0,
        Err(f) => {
            eprintln!("gatehouse: {}", f.message.lines().next().unwrap_or(""));
            f.code
        }
    }
}

fn open_store(config: &Config) -> Result<crate::store::Store, Failure> {
    let store = crate::store::Store::open(&config.database_url, 2)
        .map_err(|e| Failure::usage(format!("GATEHOUSE_DATABASE_URL (database_url): {e}")))?;
    store
        .migrate()
        .map_err(|e| Failure::usage(format!("GATEHOUSE_DATABASE_URL (database_url): {e}")))?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn client_create_takes_the_contract_flags() {
        let cli = Cli::try_parse_from([
            "gatehouse",
            "client",
            "create",
            "--name",
            "svc",
            "--redirect-uri",
            "http://a/cb",
            "http://b/cb",
            "--grant-type",
            "client_credentials",
            "--scope",
            "read write",
            "--json",
        ])
        .unwrap();
        match cli.command {
            Command::Client(client::ClientCommand::Create(args)) => {
                assert_eq!(args.redirect_uri, vec!["http://a/cb", "http://b/cb"]);
                assert!(args.json);
            }
            other => panic!("parsed as {other:?}"),
        }
    }
}
