//! `gatehouse registration-token create|list|revoke`: initial access
//! tokens for `POST /register` (RFC 7591 §3) while
//! `GATEHOUSE_REGISTRATION=token`. A token is printed once, at `create`;
//! afterwards it is known by an id made from its hash.

use super::keys::when;
use super::{block_on, Failure, Operator};
use crate::config::Config;
use crate::registry::registration_tokens::{token_id, RegistrationTokenInfo};
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum RegistrationTokenCommand {
    /// Make an initial access token; prints it once.
    Create(CreateToken),
    /// List the initial access tokens by id (never the token): uses left,
    /// expiry, when made.
    List {
        /// Print one JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an initial access token: POST /register refuses it from now.
    Revoke {
        /// Its id as `list` shows it (or its first 6 or more digits).
        id: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct CreateToken {
    /// How many clients it may register.
    #[arg(long, default_value_t = 1)]
    pub uses: i64,
    /// Seconds until it expires (default: never).
    #[arg(long)]
    pub ttl: Option<i64>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: RegistrationTokenCommand, config: &Config) -> Result<(), Failure> {
    match cmd {
        RegistrationTokenCommand::Create(a) => create(a, config),
        RegistrationTokenCommand::List { json } => list(config, json),
        RegistrationTokenCommand::Revoke { id, json } => {
            let op = Operator::open(config)?;
            let gone =
                block_on(op.registry().revoke_registration_token(&id))?.map_err(Failure::other)?;
            if json {
                println!("{}", token_json(&gone, op.clock.now()));
            } else {
                println!("revoked registration token {}", gone.id);
            }
            Ok(())
        }
    }
}

fn token_json(t: &RegistrationTokenInfo, now: i64) -> serde_json::Value {
    serde_json::json!({
        "id": t.id,
        "uses_left": t.uses_left,
        "expires_at": t.expires_at,
        "created_at": t.created_at,
        "usable": t.usable_at(now),
    })
}

fn list(config: &Config, json: bool) -> Result<(), Failure> {
    let op = Operator::open(config)?;
    let now = op.clock.now();
    let tokens = block_on(op.registry().list_registration_tokens())?.map_err(Failure::other)?;
    if json {
        let v: Vec<_> = tokens.iter().map(|t| token_json(t, now)).collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    if tokens.is_empty() {
        println!("no registration tokens");
        return Ok(());
    }
    println!(
        "{:12}  {:9}  {:20}  {:20}  STATE",
        "ID", "USES LEFT", "EXPIRES", "CREATED"
    );
    for t in &tokens {
        let state = if t.uses_left < 1 {
            "used up"
        } else if !t.usable_at(now) {
            "expired"
        } else {
            "usable"
        };
        println!(
            "{:12}  {:9}  {:20}  {:20}  {state}",
            t.id,
            t.uses_left,
            t.expires_at.map(when).unwrap_or_else(|| "never".into()),
            when(t.created_at),
        );
    }
    Ok(())
}

fn create(a: CreateToken, config: &Config) -> Result<(), Failure> {
    let op = Operator::open(config)?;
    let now = op.clock.now();
    let token = block_on(op.registry().create_registration_token(a.uses, a.ttl))?
        .map_err(Failure::other)?;
    let expires_at = a.ttl.map(|t| now + t);
    // The id `list` and `revoke` know it by.
    let id = token_id(&crate::crypto::token_hash(&token));
    if a.json {
        println!(
            "{}",
            serde_json::json!({"token": token, "id": id, "uses": a.uses, "expires_at": expires_at})
        );
    } else {
        println!("registration token: {token}");
        println!("id: {id}");
        println!(
            "(good for {} registration{}{}; shown only now)",
            a.uses,
            if a.uses == 1 { "" } else { "s" },
            a.ttl
                .map(|t| format!(", for {t} seconds"))
                .unwrap_or_default()
        );
    }
    Ok(())
}
