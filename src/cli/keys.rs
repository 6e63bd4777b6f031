use super::{open_store, Failure};
use crate::config::Config;
use crate::Clock;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new signing key the signer; older keys stay published until
    /// their last token expires.
    Rotate,
}

pub fn run(cmd: KeysCommand, config: &Config) -> Result<(), Failure> {
    match cmd {
        KeysCommand::Rotate => {
            let store = open_store(config)?;
            let kid = crate::tokens::keys::rotate(
                &store,
                &config.keys_dir,
                Clock::default().now(),
                // ID tokens may outlive access tokens; a retired key stays
                // published until the longer-lived of them has expired.
                config.access_token_ttl.max(config.id_token_ttl),
            )
            .map_err(Failure::other)?;
            println!("new signing key {kid}");
            Ok(())
        }
    }
}
