//! `gatehouse user …`: the people who sign in. Disabling or deleting one
//! ends their sessions and revokes their tokens at once.

use super::{block_on, open_store, Failure, Operator};
use crate::app::accounts::{Accounts, Issued};
use crate::app::outbox::Outbox;
use crate::config::Config;
use crate::registry::{NewUser, UserChange};
use crate::store::models::account_token::Purpose;
use crate::store::models::User;
use clap::{Args, Subcommand};
use std::io::{BufRead, IsTerminal};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is asked for at a terminal, or read
    /// from standard input with --password-stdin.
    Create(CreateUser),
    /// List users.
    List {
        /// Print one JSON array instead of a table.
        #[arg(long)]
        json: bool,
        /// List only the users whose usernames are the same, or look the
        /// same, as another's (stored before gatehouse refused such names),
        /// in groups, oldest first.
        #[arg(long)]
        collisions: bool,
    },
    /// Show one user.
    Show(UserRef),
    /// Stop a user from signing in; ends their sessions and revokes their
    /// refresh tokens and live access tokens.
    Disable(UserRef),
    /// Let a disabled user sign in again.
    Enable(UserRef),
    /// Delete a user with their sessions, consents and tokens; the apps
    /// they registered pass to the operator.
    Delete(UserRef),
    /// Set a new password (asked for at a terminal, or read from standard
    /// input with --password-stdin); ends their sessions.
    SetPassword(SetPassword),
    /// Change a user's display name, e-mail address or whether it is
    /// verified (what OpenID Connect apps see), their username, or whether
    /// they are an admin.
    Update(UpdateUser),
    /// Create a user and invite them: a link, mailed to them (or printed
    /// with --print-link), that sets their password and confirms their
    /// address. Until they use it nobody can sign in as them.
    Invite(InviteUser),
    /// Print a single-use link that sets a new password, to hand over
    /// yourself; it works for GATEHOUSE_PASSWORD_RESET_TTL seconds, and
    /// using it signs the user out everywhere.
    ResetLink(UserRef),
    /// Remove a user's second factors (authenticator app, recovery codes,
    /// passkeys), for a person who lost theirs; ends their sessions and
    /// revokes their tokens, and mails them when mail is configured. They
    /// sign in with their password alone again.
    ResetFactors(UserRef),
}

#[derive(Debug, Args)]
pub struct InviteUser {
    /// The address the invitation goes to; it becomes the user's.
    #[arg(long)]
    pub email: String,
    /// The user's display name (OpenID Connect `name`).
    #[arg(long)]
    pub name: Option<String>,
    /// An admin sees and manages every app on the application pages.
    #[arg(long)]
    pub admin: bool,
    /// The name to sign in with (default: the address's part before `@`).
    #[arg(long)]
    pub username: Option<String>,
    /// Print the invitation link instead of mailing it (needed when
    /// GATEHOUSE_SMTP_URL is unset).
    #[arg(long)]
    pub print_link: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CreateUser {
    /// The name to sign in with.
    #[arg(long)]
    pub username: String,
    /// The user's e-mail address.
    #[arg(long)]
    pub email: Option<String>,
    /// The user's display name (OpenID Connect `name`).
    #[arg(long)]
    pub name: Option<String>,
    /// An admin sees and manages every app on the application pages.
    #[arg(long)]
    pub admin: bool,
    /// Read the password from the first line of standard input (for
    /// scripts); without it, a terminal asks for it twice.
    #[arg(long)]
    pub password_stdin: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UserRef {
    /// The user's id or username.
    pub user: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SetPassword {
    /// The user's id or username.
    pub user: String,
    /// Read the password from the first line of standard input (for
    /// scripts); without it, a terminal asks for it twice.
    #[arg(long)]
    pub password_stdin: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UpdateUser {
    /// The user's id or username.
    pub user: String,
    /// A new username, by the same rules as a new user's (sessions and
    /// tokens stay).
    #[arg(long)]
    pub username: Option<String>,
    /// The display name; an empty value removes it.
    #[arg(long)]
    pub name: Option<String>,
    /// The e-mail address; an empty value removes it. A new address is
    /// unverified unless --email-verified true is given too.
    #[arg(long)]
    pub email: Option<String>,
    /// Whether the e-mail address is known to be the user's.
    #[arg(long, value_name = "true|false", action = clap::ArgAction::Set)]
    pub email_verified: Option<bool>,
    /// Make the user an admin: they see and manage every app on the
    /// application pages.
    #[arg(long, overrides_with = "no_admin")]
    pub admin: bool,
    /// Make the user an admin no longer (allowed for the last admin too,
    /// with a warning: the operator keeps this command line).
    #[arg(long, overrides_with = "admin")]
    pub no_admin: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

fn user_json(u: &User) -> serde_json::Value {
    serde_json::json!({
        "id": u.id,
        "username": u.username,
        "name": u.name,
        "email": u.email,
        "email_verified": u.email_verified,
        "admin": u.is_admin,
        "disabled": u.disabled,
        "created_at": u.created_at,
    })
}

fn print_user(u: &User, json: bool) {
    if json {
        println!("{}", user_json(u));
    } else {
        println!("id:        {}", u.id);
        println!("username:  {}", u.username);
        println!("name:      {}", u.name.as_deref().unwrap_or("-"));
        println!(
            "email:     {}{}",
            u.email.as_deref().unwrap_or("-"),
            match (&u.email, u.email_verified) {
                (None, _) => "",
                (Some(_), true) => " (verified)",
                (Some(_), false) => " (not verified)",
            }
        );
        println!("admin:     {}", if u.is_admin { "yes" } else { "no" });
        println!("disabled:  {}", if u.disabled { "yes" } else { "no" });
    }
}

/// Where a new password comes from.
#[derive(Clone, Copy)]
enum PasswordSource {
    /// The first line of standard input (`--password-stdin`, scripts).
    Stdin,
    /// Asked twice, without echo, at the terminal on standard input.
    Terminal,
}

/// `--password-stdin`, or else the terminal; neither (a pipe or nothing
/// on standard input, and no flag) is refused at once rather than
/// waiting on input nobody will type.
fn password_source(password_stdin: bool) -> Result<PasswordSource, Failure> {
    if password_stdin {
        Ok(PasswordSource::Stdin)
    } else if std::io::stdin().is_terminal() {
        Ok(PasswordSource::Terminal)
    } else {
        Err(Failure::usage(
            "no password: standard input is not a terminal; pipe the password in with --password-stdin",
        ))
    }
}

fn read_password(source: PasswordSource) -> Result<String, Failure> {
    if let PasswordSource::Stdin = source {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::other(format!("reading the password from stdin: {e}")))?;
        let password = line.trim_end_matches(['\n', '\r']).to_string();
        if password.is_empty() {
            return Err(Failure::other("no password on standard input"));
        }
        return Ok(password);
    }
    let first = prompt::hidden("New password: ")?;
    if first.is_empty() {
        return Err(Failure::other("no password given"));
    }
    let again = prompt::hidden("The same password again: ")?;
    if first != again {
        return Err(Failure::other(
            "the two passwords differ; nothing was changed",
        ));
    }
    Ok(first)
}

/// Asking for a password at a terminal with echo off (termios through
/// `rustix`, already a dependency: no new crate for about twenty lines).
mod prompt {
    use super::Failure;
    use std::io::{BufRead, Write};

    fn failed(e: impl std::fmt::Display) -> Failure {
        Failure::other(format!("reading the password from the terminal: {e}"))
    }

    /// Puts the terminal's settings back when dropped (an error or a
    /// panic between turning echo off and on leaves it usable).
    #[cfg(unix)]
    struct Restore(rustix::termios::Termios);

    #[cfg(unix)]
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                &self.0,
            );
        }
    }

    /// Prints `label` on stderr and reads one line from the terminal on
    /// standard input without echoing it.
    #[cfg(unix)]
    pub fn hidden(label: &str) -> Result<String, Failure> {
        use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
        let mut err = std::io::stderr();
        write!(err, "{label}")
            .and_then(|()| err.flush())
            .map_err(failed)?;
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).map_err(failed)?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(LocalModes::ECHO);
        // Still echo the newline, so the next prompt starts on its own line.
        quiet.local_modes.insert(LocalModes::ECHONL);
        let restore = Restore(saved);
        tcsetattr(&stdin, OptionalActions::Flush, &quiet).map_err(failed)?;
        let mut line = String::new();
        let read = stdin.lock().read_line(&mut line);
        drop(restore);
        read.map_err(failed)?;
        Ok(line.trim_end_matches(['\n', '\r']).to_string())
    }

    #[cfg(not(unix))]
    pub fn hidden(_label: &str) -> Result<String, Failure> {
        Err(Failure::usage(
            "asking for a password is not supported here; use --password-stdin",
        ))
    }
}

pub fn run(cmd: UserCommand, config: &Config) -> Result<(), Failure> {
    match cmd {
        UserCommand::Create(args) => {
            // Refused at once without a way to read it; asked for only
            // once the database is known to open.
            let ask = password_source(args.password_stdin)?;
            let op = Operator::open(config)?;
            let password = read_password(ask)?;
            let new = NewUser {
                username: args.username,
                email: args.email,
                name: args.name,
                password,
                admin: args.admin,
            };
            let user = block_on(op.registry().create_user(new))?.map_err(Failure::other)?;
            if args.json {
                println!("{}", user_json(&user));
            } else {
                println!("created user {} ({})", user.username, user.id);
            }
        }
        UserCommand::List {
            json,
            collisions: true,
        } => {
            let op = Operator::open(config)?;
            let groups = block_on(op.registry().username_collisions())?.map_err(Failure::other)?;
            print_collisions(&groups, json);
        }
        UserCommand::List { json, .. } => {
            let store = open_store(config)?;
            let users = store
                .conn()
                .and_then(|mut c| c.list_users())
                .map_err(Failure::other)?;
            if json {
                let v: Vec<_> = users.iter().map(user_json).collect();
                println!("{}", serde_json::Value::Array(v));
            } else if users.is_empty() {
                println!("no users");
            } else {
                for u in users {
                    let mut flags = Vec::new();
                    if u.is_admin {
                        flags.push("admin");
                    }
                    if u.disabled {
                        flags.push("disabled");
                    }
                    println!("{}  {}  {}", u.id, u.username, flags.join(" "));
                }
            }
        }
        UserCommand::Show(r) => {
            let op = Operator::open(config)?;
            let user = block_on(op.registry().find_user(&r.user))?.map_err(Failure::other)?;
            print_user(&user, r.json);
        }
        UserCommand::Disable(r) => {
            let op = Operator::open(config)?;
            let user = block_on(op.registry().set_user_disabled(&r.user, true))?
                .map_err(Failure::other)?;
            report(&user, r.json, "disabled user");
        }
        UserCommand::Enable(r) => {
            let op = Operator::open(config)?;
            let user = block_on(op.registry().set_user_disabled(&r.user, false))?
                .map_err(Failure::other)?;
            report(&user, r.json, "enabled user");
        }
        UserCommand::Delete(r) => {
            let op = Operator::open(config)?;
            let user = block_on(op.registry().delete_user(&r.user))?.map_err(Failure::other)?;
            report(&user, r.json, "deleted user");
        }
        UserCommand::SetPassword(a) => {
            let ask = password_source(a.password_stdin)?;
            let op = Operator::open(config)?;
            let password = read_password(ask)?;
            let user = block_on(op.registry().set_user_password(&a.user, &password))?
                .map_err(Failure::other)?;
            report(&user, a.json, "set the password of user");
        }
        UserCommand::Update(a) => {
            let change = UserChange {
                username: a.username,
                name: a.name,
                email: a.email,
                email_verified: a.email_verified,
                admin: match (a.admin, a.no_admin) {
                    (true, _) => Some(true),
                    (false, true) => Some(false),
                    (false, false) => None,
                },
            };
            if change.is_empty() {
                return Err(Failure::usage(
                    "nothing to change: give --username, --name, --email, --email-verified, \
                     --admin or --no-admin",
                ));
            }
            let removes_admin = change.admin == Some(false);
            let op = Operator::open(config)?;
            let user =
                block_on(op.registry().update_user(&a.user, change))?.map_err(Failure::other)?;
            if removes_admin
                && block_on(op.registry().active_admins())?.map_err(Failure::other)? == 0
            {
                eprintln!(
                    "gatehouse: warning: no admin who can sign in is left; make one with \
                     `gatehouse user update NAME --admin`"
                );
            }
            report(&user, a.json, "updated user");
        }
        UserCommand::Invite(a) => invite(a, config)?,
        UserCommand::ResetFactors(r) => reset_factors(r, config)?,
        UserCommand::ResetLink(r) => {
            let op = Operator::open(config)?;
            let user = block_on(op.registry().find_user(&r.user))?.map_err(Failure::other)?;
            let links = accounts(&op, config, false)?;
            let issued = block_on(links.hand_link(&user, Purpose::ResetPassword))?
                .map_err(Failure::other)?;
            print_link(
                &user,
                &issued,
                r.json,
                "a single-use link that sets a new password",
            );
        }
    }
    Ok(())
}

/// The issuer links start with: `GATEHOUSE_ISSUER`, or what the server
/// would take from its bind address.
fn issuer(config: &Config) -> String {
    config
        .issuer
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.bind))
}

/// Account links over the command's store and clock; mail is queued in
/// the database's outbox, sealed under the server secret of the keys
/// folder (`mail`: refused when the folder has none, since the server
/// could not open it), and the running server sends it. Without `mail`
/// nothing is queued, and no secret is read.
fn accounts<'a>(op: &'a Operator, config: &Config, mail: bool) -> Result<Accounts<'a>, Failure> {
    let outbox = outbox(config, mail)?;
    Ok(Accounts::new(
        &op.store,
        &op.clock,
        &issuer(config),
        crate::app::mail_site(config),
        config.password_reset_ttl,
        std::sync::Arc::new(outbox),
    )
    .acting(&op.acting))
}

fn print_link(user: &User, issued: &Issued, json: bool, what: &str) {
    let expires = chrono::DateTime::from_timestamp(issued.expires_at, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    if json {
        let mut v = user_json(user);
        v["link"] = issued.link.clone().into();
        v["link_expires_at"] = issued.expires_at.into();
        println!("{v}");
    } else {
        println!("{}", issued.link);
        eprintln!(
            "{what} for {} ({}), until {expires}; hand it over privately: whoever opens it can use it",
            user.username, user.id
        );
    }
}

/// `user invite`: the user, with a password nobody knows, and the link
/// that sets theirs, mailed or printed.
fn invite(a: InviteUser, config: &Config) -> Result<(), Failure> {
    if !a.print_link && config.smtp_url.is_none() {
        return Err(Failure::usage(
            "no mail is sent: GATEHOUSE_SMTP_URL is unset; give --print-link to print the \
             invitation link and hand it over yourself",
        ));
    }
    let username = match a.username {
        Some(u) => u,
        None => {
            let local = a.email.split('@').next().unwrap_or("").to_string();
            if crate::registry::users::check_username(&local).is_err() {
                return Err(Failure::usage(format!(
                    "the part of the address before @ ('{local}') is not a username gatehouse \
                     accepts; give one with --username"
                )));
            }
            local
        }
    };
    let op = Operator::open(config)?;
    let links = accounts(&op, config, !a.print_link)?;
    let new = NewUser {
        username,
        email: Some(a.email),
        name: a.name,
        // Nobody knows it: the person sets theirs through the link.
        password: crate::crypto::random_token(32),
        admin: a.admin,
    };
    let user = block_on(op.registry().create_user(new))?.map_err(Failure::other)?;
    if a.print_link {
        let issued = block_on(links.hand_link(&user, Purpose::Invite))?.map_err(Failure::other)?;
        print_link(&user, &issued, a.json, "the invitation link");
    } else {
        let issued = block_on(links.send_invitation(&user))?.map_err(Failure::other)?;
        if a.json {
            let mut v = user_json(&user);
            v["link_expires_at"] = issued.expires_at.into();
            println!("{v}");
        } else {
            println!(
                "invited user {} ({}); the invitation to {} is queued and the running server sends it",
                user.username,
                user.id,
                user.email.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(())
}

/// `user list --collisions`: each group of people whose usernames are the
/// same or look the same, oldest first. Only the oldest is found by a
/// variant of the name (`ALICE` for `alice`); the others sign in with
/// exactly their own.
fn print_collisions(groups: &[Vec<User>], json: bool) {
    if json {
        let v: Vec<_> = groups
            .iter()
            .map(|g| serde_json::Value::Array(g.iter().map(user_json).collect()))
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return;
    }
    if groups.is_empty() {
        println!("no usernames are the same as, or look like, another's");
        return;
    }
    println!(
        "{} group(s) of usernames that are the same or look alike; each person still signs in \
         with exactly their own username. Rename or delete the others \
         (gatehouse user update ID --username NEW):",
        groups.len()
    );
    for g in groups {
        println!();
        for (i, u) in g.iter().enumerate() {
            // Debug-escaped: invisible and direction characters show as
            // \u{…} instead of hiding or reordering the line.
            let shown = format!("{:?}", u.username);
            let role = if i == 0 { "  (oldest)" } else { "" };
            println!("{}  {shown}{role}", u.id);
        }
    }
}

fn report(user: &User, json: bool, done: &str) {
    if json {
        println!("{}", user_json(user));
    } else {
        println!("{done} {} ({})", user.username, user.id);
    }
}

/// The command's outbox: sealing under the server secret of the keys
/// folder when `mail` (refused when the folder has none, since the server
/// could not open it); without `mail` it queues nothing and no secret is
/// read.
fn outbox(config: &Config, mail: bool) -> Result<Outbox, Failure> {
    let secret_file = config
        .keys_dir
        .join(crate::private_files::SERVER_SECRET_FILE);
    let secret = if mail {
        if !secret_file.exists() {
            return Err(Failure::other(format!(
                "{} has no server secret to seal the mail with: give the server's \
                 GATEHOUSE_KEYS_DIR",
                config.keys_dir.display()
            )));
        }
        crate::private_files::load_or_create_server_secret(&config.keys_dir)
            .map_err(Failure::other)?
    } else {
        // Seals nothing: no mail is queued.
        crate::crypto::random_token(32).into_bytes()
    };
    Ok(Outbox::new(
        config,
        &crate::crypto::ServerSecret::new(&secret),
    ))
}

/// `user reset-factors`: every second factor removed and every sign-in
/// ended, in one transaction with the notice mail (when mail is
/// configured and the person has an address).
fn reset_factors(r: UserRef, config: &Config) -> Result<(), Failure> {
    let op = Operator::open(config)?;
    let user = block_on(op.registry().find_user(&r.user))?.map_err(Failure::other)?;
    let notice = match (&user.email, config.smtp_url.is_some()) {
        (Some(to), true) => Some(
            crate::mail::messages::factors_reset(
                &crate::app::mail_site(config),
                to,
                &user.username,
                &format!("{}/password/forgot", issuer(config)),
            )
            .map_err(Failure::other)?,
        ),
        _ => None,
    };
    let outbox = std::sync::Arc::new(outbox(config, notice.is_some())?);
    let mailed = notice.is_some();
    let now = op.clock.now();
    let removed = block_on(op.registry().reset_factors(&user, move |tx| {
        if let Some(mail) = &notice {
            outbox.queue(tx, mail, now)?;
        }
        Ok(())
    }))?
    .map_err(Failure::other)?;
    if r.json {
        let mut v = user_json(&user);
        v["removed"] = serde_json::json!({
            "totp": removed.totp,
            "recovery_codes": removed.recovery_codes,
            "passkeys": removed.passkeys,
        });
        v["mailed"] = mailed.into();
        println!("{v}");
    } else {
        println!(
            "reset the sign-in factors of user {} ({}): removed {}, {} recovery code{} and {} \
             passkey{}; ended their sessions and revoked their tokens{}",
            user.username,
            user.id,
            if removed.totp {
                "the authenticator app"
            } else {
                "no authenticator app"
            },
            removed.recovery_codes,
            if removed.recovery_codes == 1 { "" } else { "s" },
            removed.passkeys,
            if removed.passkeys == 1 { "" } else { "s" },
            if mailed { "; mailed them" } else { "" }
        );
    }
    Ok(())
}
