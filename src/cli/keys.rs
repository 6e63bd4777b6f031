//! `gatehouse keys …`: the signing keys, as the `signing_keys` table and
//! `tokens::keyset`'s rule see them.

use super::{open_store, Failure};
use crate::config::Config;
use crate::store::models::audit_event::AuditType;
use crate::tokens::keyset::{states, KeyState};
use crate::Clock;
use clap::Subcommand;
use std::path::Path;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the signing keys: which one signs, which are published at
    /// /jwks.json and until when, which are retired.
    List {
        /// Print one JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a new signing key: published at once, it signs after
    /// GATEHOUSE_KEY_ROTATION_DELAY (so cached key sets learn it first);
    /// older keys stay published until their last token expires.
    Rotate {
        /// Switch at once (a compromised key), without the delay.
        #[arg(long)]
        now: bool,
    },
}

/// A Unix time as people read it, in UTC.
pub(super) fn when(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| t.to_string())
}

fn list(config: &Config, json: bool) -> Result<(), Failure> {
    let store = open_store(config)?;
    let rows = store
        .conn()
        .and_then(|mut c| c.list_signing_keys())
        .map_err(Failure::other)?;
    let now = Clock::default().now();
    let states = states(&rows, now);
    let has_file = |kid: &str| key_file(&config.keys_dir, kid);
    if json {
        let v: Vec<_> = rows
            .iter()
            .zip(&states)
            .map(|(r, s)| {
                serde_json::json!({
                    "kid": r.kid,
                    "created_at": r.created_at,
                    "state": s.name(),
                    "retired_at": r.retired_at,
                    "published_until": r.not_after,
                    "key_file": has_file(&r.kid),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    if rows.is_empty() {
        println!("no signing keys yet (gatehouse serve makes the first)");
        return Ok(());
    }
    let width = rows.iter().map(|r| r.kid.len()).max().unwrap_or(3).max(3);
    println!(
        "{:width$}  {:20}  {:9}  PUBLISHED UNTIL",
        "KID", "CREATED", "STATE"
    );
    for (r, s) in rows.iter().zip(&states) {
        let until = match (s, r.not_after) {
            (_, Some(t)) => when(t),
            (KeyState::Retired, None) => "-".to_string(),
            (_, None) => "while it signs".to_string(),
        };
        let mut line = format!(
            "{:width$}  {:20}  {:9}  {until}",
            r.kid,
            when(r.created_at),
            s.name()
        );
        if r.created_at > now {
            line.push_str(&format!("  (signs from {})", when(r.created_at)));
        }
        if *s != KeyState::Retired && !has_file(&r.kid) {
            line.push_str(&format!("  (no {}.pem in the keys folder)", r.kid));
        }
        println!("{line}");
    }
    Ok(())
}

/// Whether the keys folder has this key's file (`<kid>.pem`).
fn key_file(dir: &Path, kid: &str) -> bool {
    dir.join(format!("{kid}.pem")).is_file()
}

pub fn run(cmd: KeysCommand, config: &Config) -> Result<(), Failure> {
    match cmd {
        KeysCommand::List { json } => list(config, json),
        KeysCommand::Rotate { now } => {
            let store = open_store(config)?;
            let delay = if now { 0 } else { config.key_rotation_delay };
            let (kid, from) = crate::tokens::keystore::rotate(
                &store,
                &config.keys_dir,
                Clock::default().now(),
                // ID tokens may outlive access tokens; a retired key stays
                // published until the longer-lived of them has expired.
                config.access_token_ttl.max(config.id_token_ttl),
                delay,
                Some(crate::registry::Acting::operator().event(AuditType::KeyRotated)),
            )
            .map_err(Failure::other)?;
            if delay == 0 {
                println!("new signing key {kid}, signing now");
            } else {
                println!("new signing key {kid}, published now, signing in {delay} s (at {from})");
            }
            Ok(())
        }
    }
}
