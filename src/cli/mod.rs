//! The command line: one clap tree, one file per command group. Every
//! command takes the same settings as `serve` and fails with one line.
//! `--help` shows each command's own options and the few settings every
//! command reads; the server's settings are listed by `serve --help`
//! (every command still accepts them).

mod audit;
mod backup;
mod client;
mod config;
mod healthcheck;
mod keys;
mod registration_token;
mod serve;
mod user;

use crate::config::{Config, ConfigError, LogFormat, Setting, Sources, SETTINGS};
use clap::{Arg, Parser, Subcommand};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "A standalone OAuth 2.0 authorization server",
    after_help = "The server's settings (--bind, --issuer, --keys-dir, the token lifetimes, ...) are listed by `gatehouse serve --help`; every command accepts them."
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The settings as flags, built from `config::SETTINGS` (each also reads
/// its `GATEHOUSE_*` variable and `gatehouse.toml`), under their own
/// heading in `--help`, valid before or after the command.
#[derive(Debug, Default, Clone)]
pub struct SettingsArgs {
    /// `--config PATH`.
    pub config: Option<PathBuf>,
    /// Values given as flags, by setting key.
    pub flags: BTreeMap<&'static str, String>,
}

const SETTINGS_HEADING: &str = "Settings (flag > environment > gatehouse.toml > default)";
const SERVER_HEADING: &str = "Server settings (flag > environment > gatehouse.toml > default)";

/// The settings every command reads, shown in every command's `--help`.
/// The others are the server's: accepted everywhere, shown by the
/// commands that use them (`serve_settings`, `keys_settings`, ...).
const COMMON_SETTINGS: &[&str] = &["database_url", "log", "log_format"];

/// A setting as a flag. A `BOOL` setting is a switch (`--new-keys`) that
/// also takes `--new-keys=false`.
fn setting_arg(s: &Setting) -> Arg {
    let arg = Arg::new(s.key)
        .long(s.flag)
        .value_name(s.value_name)
        .help(format!("{} [env: {}]", s.help, s.env));
    if s.value_name == "BOOL" {
        arg.num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
    } else {
        arg
    }
}

/// Flags of a command's own for the settings it uses: shown in its
/// `--help` under the server settings' heading. The values reach
/// `SettingsArgs` as the global flags' would (clap matches by id).
fn shown_settings(keep: impl Fn(&Setting) -> bool, global: bool) -> Vec<Arg> {
    SETTINGS
        .iter()
        .filter(|s| keep(s))
        .map(|s| setting_arg(s).global(global).help_heading(SERVER_HEADING))
        .collect()
}

fn serve_settings() -> Vec<Arg> {
    shown_settings(|s| !COMMON_SETTINGS.contains(&s.key), false)
}

fn keys_settings() -> Vec<Arg> {
    shown_settings(|s| matches!(s.key, "keys_dir" | "key_rotation_delay"), true)
}

fn healthcheck_settings() -> Vec<Arg> {
    shown_settings(|s| s.key == "bind", false)
}

impl clap::Args for SettingsArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let cmd = cmd.arg(
            Arg::new("config")
                .long("config")
                .value_name("PATH")
                .global(true)
                .help_heading(SETTINGS_HEADING)
                .value_parser(clap::value_parser!(PathBuf))
                .help("Config file (default: gatehouse.toml when present)"),
        );
        SETTINGS.iter().fold(cmd, |cmd, s| {
            cmd.arg(
                setting_arg(s)
                    .global(true)
                    .help_heading(SETTINGS_HEADING)
                    .hide(!COMMON_SETTINGS.contains(&s.key)),
            )
        })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl clap::FromArgMatches for SettingsArgs {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut out = SettingsArgs::default();
        out.update_from_arg_matches(m)?;
        Ok(out)
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        if let Some(p) = m.get_one::<PathBuf>("config") {
            self.config = Some(p.clone());
        }
        for s in SETTINGS {
            if let Some(v) = m.get_one::<String>(s.key) {
                self.flags.insert(s.key, v.clone());
            }
        }
        Ok(())
    }
}

impl SettingsArgs {
    pub fn load(&self) -> Result<Config, ConfigError> {
        let env = |k: &str| std::env::var(k).ok();
        Config::load(&Sources {
            flags: self.flags.clone(),
            config_path: self.config.clone(),
            env: &env,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies migrations and creates keys on first start).
    #[command(args = serve_settings())]
    Serve,
    /// Apply pending database migrations and exit.
    Migrate {
        /// List the pending migrations without applying them; exit 1 when
        /// there are any.
        #[arg(long)]
        check: bool,
    },
    /// Ask the running server's /healthz (for container health checks);
    /// exits 0 when it answers 200.
    #[command(args = healthcheck_settings())]
    Healthcheck {
        /// The path to ask, e.g. /readyz to include the database.
        #[arg(long, default_value = "/healthz")]
        path: String,
    },
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Manage users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Make initial access tokens for POST /register (RFC 7591).
    #[command(subcommand)]
    RegistrationToken(registration_token::RegistrationTokenCommand),
    /// Manage signing keys.
    #[command(subcommand, args = keys_settings())]
    Keys(keys::KeysCommand),
    /// Check the settings: print each one's value and where it came from.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Read the audit trail: sign-ins, account and factor changes,
    /// consents, admin actions, client and key changes.
    Audit(audit::AuditArgs),
    /// Copy the SQLite database to FILE while the server runs (online and
    /// consistent, then integrity-checked); back up the keys folder too.
    Backup {
        /// The new file to write (an existing one is refused).
        file: PathBuf,
    },
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
    use std::io::IsTerminal;
    use tracing_subscriber::filter::LevelFilter;
    let level = if default_quiet && std::env::var("GATEHOUSE_LOG").is_err() {
        "warn".to_string()
    } else {
        config.log.clone()
    };
    let mut filter = tracing_subscriber::EnvFilter::try_new(&level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // The framework's own lines ("starting 4 workers", ...) only when asked
    // for: by name, or at debug and below.
    if !level.contains("actix")
        && filter
            .max_level_hint()
            .is_none_or(|l| l <= LevelFilter::INFO)
    {
        for quiet in ["actix_server=warn", "actix_web=warn", "actix_http=warn"] {
            if let Ok(d) = quiet.parse() {
                filter = filter.add_directive(d);
            }
        }
    }
    // Colour only for a person at a terminal, and never with NO_COLOR
    // (no-color.org: set and not empty).
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
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
    if let Command::Config(cmd) = &cli.command {
        // Reports every problem itself, a bad value included.
        return config::run(cmd, &cli.settings);
    }
    let config = match cli.settings.load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gatehouse: {e}");
            return 2;
        }
    };
    init_logging(&config, !matches!(cli.command, Command::Serve));
    for warning in crate::config::unknown_env_vars(env_names()) {
        tracing::warn!("{warning}");
    }
    let result = match cli.command {
        Command::Serve => serve::serve(config),
        Command::Migrate { check: false } => serve::migrate(&config),
        Command::Migrate { check: true } => serve::check_migrations(&config),
        Command::Healthcheck { path } => healthcheck::run(&config, &path),
        Command::Client(cmd) => client::run(cmd, &config),
        Command::User(cmd) => user::run(cmd, &config),
        Command::RegistrationToken(cmd) => registration_token::run(cmd, &config),
        Command::Keys(cmd) => keys::run(cmd, &config),
        Command::Audit(a) => audit::run(a, &config),
        Command::Backup { file } => backup::run(&file, &config),
        Command::Config(_) => Ok(()),
    };
    match result {
        Ok(()) => 0,
        Err(f) => {
            eprintln!("gatehouse: {}", f.message.lines().next().unwrap_or(""));
            f.code
        }
    }
}

/// What the CLI's commands change the registry with: the store, a hasher
/// of one thread and the clock. The commands run the registry's futures
/// (the same code the server's pages and endpoints run) to completion on
/// a runtime of this thread (`block_on`).
struct Operator {
    store: crate::store::Store,
    hasher: crate::hasher::Hasher,
    clock: crate::Clock,
    /// The audit trail's actor of every change a command makes.
    acting: crate::registry::Acting,
}

impl Operator {
    fn open(config: &Config) -> Result<Operator, Failure> {
        Ok(Operator {
            store: open_store(config)?,
            hasher: crate::hasher::Hasher::start(1),
            clock: crate::Clock::default(),
            acting: crate::registry::Acting::operator(),
        })
    }

    fn registry(&self) -> crate::registry::Registry<'_> {
        crate::registry::Registry::new(&self.store, &self.hasher, &self.clock).acting(&self.acting)
    }
}

/// Runs `f` to completion on a runtime of the calling thread.
fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, Failure> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::other(format!("starting the runtime: {e}")))?;
    Ok(rt.block_on(f))
}

/// The names of this process's environment variables.
fn env_names() -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .collect()
}

/// Why a command that must not create a database cannot run: the SQLite
/// file the settings name does not exist. `None` when it does, and for
/// PostgreSQL (whose database someone made on purpose).
fn missing_database(url: &str) -> Option<String> {
    let file = crate::store::sqlite_file(url)?;
    if file.exists() {
        return None;
    }
    let shown = std::env::current_dir()
        .map(|d| d.join(&file))
        .unwrap_or(file);
    Some(format!(
        "GATEHOUSE_DATABASE_URL (database_url): no database at {}; point GATEHOUSE_DATABASE_URL or --database-url at the server's database (only `gatehouse serve` and `gatehouse migrate` create one)",
        shown.display()
    ))
}

/// Opens the database the settings name for a command other than `serve`
/// and `migrate`: an existing one only (it never creates a SQLite file),
/// with pending migrations applied.
fn open_store(config: &Config) -> Result<crate::store::Store, Failure> {
    if let Some(why) = missing_database(&config.database_url) {
        return Err(Failure::usage(why));
    }
    let store = crate::store::Store::open(&config.database_url, 2, crate::Clock::default())
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

    /// `--help` is read by operators: every flag and argument of every
    /// command says what it is.
    #[test]
    fn every_argument_has_a_help_line() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let builtin = matches!(a.get_id().as_str(), "help" | "version");
                if !builtin && a.get_help().is_none() {
                    missing.push(format!("{path} {}", a.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "gatehouse", &mut missing);
        assert!(missing.is_empty(), "no help line: {missing:?}");
    }

    #[test]
    fn settings_are_global_flags_read_from_the_table() {
        let cli = Cli::try_parse_from([
            "gatehouse",
            "--bind",
            "127.0.0.1:9",
            "migrate",
            "--access-token-ttl",
            "30",
        ])
        .unwrap();
        assert_eq!(cli.settings.flags.get("bind").unwrap(), "127.0.0.1:9");
        assert_eq!(cli.settings.flags.get("access_token_ttl").unwrap(), "30");
        let config = cli.settings.load().unwrap();
        assert_eq!(config.bind, "127.0.0.1:9");
        assert_eq!(config.access_token_ttl, 30);
    }

    /// The flags `serve --help` shows are the serve command's own; their
    /// values reach the settings as the global flags' do.
    #[test]
    fn serve_settings_and_the_new_keys_switch_reach_the_settings() {
        let cli =
            Cli::try_parse_from(["gatehouse", "serve", "--bind", "127.0.0.1:9", "--new-keys"])
                .unwrap();
        assert_eq!(cli.settings.flags.get("bind").unwrap(), "127.0.0.1:9");
        assert!(cli.settings.load().unwrap().new_keys);
        let cli = Cli::try_parse_from(["gatehouse", "--new-keys", "serve"]).unwrap();
        assert!(matches!(cli.command, Command::Serve));
        assert!(cli.settings.load().unwrap().new_keys);
        let cli = Cli::try_parse_from(["gatehouse", "keys", "rotate", "--keys-dir", "k"]).unwrap();
        assert_eq!(cli.settings.flags.get("keys_dir").unwrap(), "k");
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
