//! `gatehouse config check`: the effective settings, each with where it
//! came from (flag, env, file, default), secrets and database passwords
//! redacted; then every problem found, one line each on stderr, and exit
//! 1 when there is any: an unknown `GATEHOUSE_*` variable or file key, a
//! bad value, a missing or unreachable database, a keys folder that lacks
//! the database's keys.

use super::SettingsArgs;
use crate::config::{self, Config, Origin, Sources};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective settings and where each came from (flag, env,
    /// file, default); exit 1 on any problem.
    Check,
}

pub fn run(cmd: &ConfigCommand, settings: &SettingsArgs) -> i32 {
    match cmd {
        ConfigCommand::Check => check(settings),
    }
}

fn check(settings: &SettingsArgs) -> i32 {
    let env = |k: &str| std::env::var(k).ok();
    let src = Sources {
        flags: settings.flags.clone(),
        config_path: settings.config.clone(),
        env: &env,
    };
    let mut problems = Vec::new();
    let file = config::config_file(settings.config.as_deref());
    let (values, scopes) = match config::read_file(settings.config.as_deref()) {
        Ok(v) => v,
        Err(e) => {
            problems.push(e.to_string());
            Default::default()
        }
    };
    problems.extend(config::unknown_env_vars(super::env_names()));

    match &file {
        Some(p) => println!("config file: {}", p.display()),
        None => println!("config file: none (no gatehouse.toml here)"),
    }
    let effective = config::effective(&src, &values);
    let width = effective
        .iter()
        .map(|e| e.setting.key.len())
        .max()
        .unwrap_or(0);
    for e in &effective {
        let s = e.setting;
        let from = match e.origin {
            Origin::Default => "default".to_string(),
            Origin::File => format!(
                "file {}",
                file.as_ref()
                    .map_or(String::new(), |p| p.display().to_string())
            ),
            Origin::Env => format!("env {}", s.env),
            Origin::Flag => format!("flag --{}", s.flag),
        };
        let value = config::redacted(s.key, &e.value);
        let value = if value.is_empty() { "(unset)" } else { &value };
        println!("{:width$} = {value}  [{from}]", s.key);
    }
    if !scopes.is_empty() {
        println!(
            "scope_descriptions: {} scope(s) described [file]",
            scopes.len()
        );
    }

    match Config::from_values(&src, &values, scopes) {
        Ok(c) => problems.extend(check_files(&c)),
        Err(e) => problems.push(e.to_string()),
    }

    if problems.is_empty() {
        println!("no problems found");
        return 0;
    }
    for p in &problems {
        eprintln!("gatehouse: {p}");
    }
    1
}

/// The database and the keys folder, as `serve` would find them; creates
/// nothing and applies no migration.
fn check_files(c: &Config) -> Vec<String> {
    if let Some(why) = super::missing_database(&c.database_url) {
        return vec![why];
    }
    let clock = crate::Clock::default();
    let store = match crate::store::Store::open(&c.database_url, 1, clock.clone()) {
        Ok(s) => s,
        Err(e) => return vec![format!("GATEHOUSE_DATABASE_URL (database_url): {e}")],
    };
    let pending = match store.conn().and_then(|mut conn| conn.pending_migrations()) {
        Ok(p) => p,
        Err(e) => return vec![format!("GATEHOUSE_DATABASE_URL (database_url): {e}")],
    };
    let kind = store.kind();
    if pending.is_empty() {
        println!("database: {}, up to date", kind.name());
    } else {
        println!(
            "database: {}, {} migration(s) pending (`gatehouse serve` or `gatehouse migrate` applies them)",
            kind.name(),
            pending.len()
        );
    }
    // A database never migrated has no keys table yet: nothing to compare.
    if pending.len() == super::serve::all_migrations(kind).len() {
        return Vec::new();
    }
    let mut problems = Vec::new();
    match crate::tokens::keystore::lacking(&store, &c.keys_dir, clock.now()) {
        Ok(lost) if !lost.is_empty() && !c.new_keys => problems.push(format!(
            "GATEHOUSE_KEYS_DIR (keys_dir): {}",
            lost.refusal(&c.keys_dir)
        )),
        Ok(lost) if !lost.is_empty() => println!(
            "keys: {} lacks {}; --new-keys makes new ones",
            c.keys_dir.display(),
            lost.what()
        ),
        Ok(_) => println!("keys: {}", c.keys_dir.display()),
        Err(e) => problems.push(format!("GATEHOUSE_KEYS_DIR (keys_dir): {e}")),
    }
    problems
}
