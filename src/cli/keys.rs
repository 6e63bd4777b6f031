use super::{open_store, Failure};
use crate::config::Config;
use crate::Clock;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key: published at once, it signs after
    /// GATEHOUSE_KEY_ROTATION_DELAY (so cached key sets learn it first);
    /// older keys stay published until their last token expires.
    Rotate {
        /// Switch at once (a compromised key), without the delay.
        #[arg(long)]
        now: bool,
    },
}

pub fn run(cmd: KeysCommand, config: &Config) -> Result<(), Failure> {
    match cmd {
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
