//! `gatehouse registration-token create`: initial access tokens for
//! `POST /register` (RFC 7591 §3) while `GATEHOUSE_REGISTRATION=token`.

use super::{block_on, Failure, Operator};
use crate::config::Config;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum RegistrationTokenCommand {
    /// Make an initial access token; prints it once.
    Create(CreateToken),
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
    let RegistrationTokenCommand::Create(a) = cmd;
    let op = Operator::open(config)?;
    let now = op.clock.now();
    let token = block_on(op.registry().create_registration_token(a.uses, a.ttl))?
        .map_err(Failure::other)?;
    let expires_at = a.ttl.map(|t| now + t);
    if a.json {
        println!(
            "{}",
            serde_json::json!({"token": token, "uses": a.uses, "expires_at": expires_at})
        );
    } else {
        println!("registration token: {token}");
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
