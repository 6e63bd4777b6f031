use super::{open_store, Failure};
use crate::config::Config;
use crate::Clock;
use clap::{Args, Subcommand};
use std::io::BufRead;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create(CreateUser),
}

#[derive(Debug, Args)]
pub struct CreateUser {
    /// The name to sign in with.
    #[arg(long)]
    pub username: String,
    /// The user's e-mail address.
    #[arg(long)]
    pub email: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long, required = true)]
    pub password_stdin: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: UserCommand, config: &Config) -> Result<(), Failure> {
    match cmd {
        UserCommand::Create(args) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| Failure::other(format!("reading the password from stdin: {e}")))?;
            let password = line.trim_end_matches(['\n', '\r']);
            if password.is_empty() {
                return Err(Failure::other("no password on standard input"));
            }
            let store = open_store(config)?;
            let user = crate::admin::create_user(
                &store,
                &args.username,
                args.email,
                password,
                Clock::default().now(),
            )
            .map_err(Failure::other)?;
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"id": user.id, "username": user.username, "email": user.email})
                );
            } else {
                println!("created user {} ({})", user.username, user.id);
            }
            Ok(())
        }
    }
}
