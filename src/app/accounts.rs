//! Account links: the single-use links a person gets by mail (verifying
//! an address, resetting a forgotten password) or from an operator (an
//! invitation, a reset link handed over). A link is a random token; only
//! its hash is stored (`account_tokens`). A newer link of the same purpose
//! voids the older ones; a link is spent by one conditional `UPDATE`
//! whose row count decides (`Tx::spend_account_token`), so it works once,
//! and not after it expired. Every change here is one transaction that
//! also queues its mail in the outbox (`outbox.rs`), so a mail goes out
//! exactly for the changes that committed.

use super::outbox::Outbox;
use super::AppState;
use crate::clock::Clock;
use crate::mail::Site;
use crate::mail::{messages, Mail};
use crate::registry::RegistryError;
use crate::store::models::account_token::{AccountToken, Purpose};
use crate::store::models::audit_event::{actor, subject, AuditType, NewAuditEvent};
use crate::store::models::User;
use crate::store::{Store, StoreError, StoreResult, Tx};
use std::sync::Arc;

/// How long a verification link works (seconds).
pub const VERIFY_TTL: i64 = 48 * 3600;
/// How long an invitation works (seconds).
pub const INVITE_TTL: i64 = 7 * 86_400;
/// Random bytes in a link's token (256 bits).
const TOKEN_BYTES: usize = 32;

/// The path a link of each purpose opens: verification on its own page,
/// a reset and an invitation on the page that sets a password.
pub fn link_path(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::VerifyEmail => "/email/verify",
        Purpose::ResetPassword | Purpose::Invite => "/password/reset",
    }
}

/// Why a link does not work. Pages say which, and how to get a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProblem {
    /// Never issued, mistyped, or voided (a newer link was sent, or the
    /// password changed since).
    Unknown,
    /// Already used once.
    Used,
    /// Past its lifetime.
    Expired,
}

/// What queues mail inside a transaction: the server's `AppState` (its
/// outbox) or a command's own `Outbox`. Shared into the closures that run
/// on the database threads.
pub trait HasOutbox: Send + Sync + 'static {
    fn outbox(&self) -> &Outbox;
}

impl HasOutbox for AppState {
    fn outbox(&self) -> &Outbox {
        &self.outbox
    }
}

impl HasOutbox for Outbox {
    fn outbox(&self) -> &Outbox {
        self
    }
}

/// A link as issued: the plain token (shown or mailed once, never stored)
/// and the URL that carries it.
#[derive(Debug, Clone)]
pub struct Issued {
    pub link: String,
    pub expires_at: i64,
}

/// Stores a new link for `user_id` inside the caller's transaction,
/// voiding the person's older unused links of the same purpose; returns
/// the plain token.
pub fn issue(
    tx: &mut Tx<'_>,
    user_id: &str,
    purpose: Purpose,
    email: Option<&str>,
    ttl: i64,
    now: i64,
) -> StoreResult<String> {
    let token = crate::crypto::random_token(TOKEN_BYTES);
    tx.void_account_tokens(user_id, purpose)?;
    tx.insert_account_token(&AccountToken {
        token_hash: crate::crypto::token_hash(&token),
        user_id: user_id.to_string(),
        purpose: purpose.as_stored().to_string(),
        email: email.map(str::to_string),
        created_at: now,
        expires_at: now + ttl,
        used_at: None,
    })?;
    Ok(token)
}

/// Why a token that could not be spent was refused (read after the
/// failed spend, in the same transaction).
fn problem_of(
    tx: &mut Tx<'_>,
    hash: &str,
    purposes: &[Purpose],
    now: i64,
) -> StoreResult<LinkProblem> {
    Ok(match tx.find_account_token(hash)? {
        None => LinkProblem::Unknown,
        Some(t) if !t.purpose().is_some_and(|p| purposes.contains(&p)) => LinkProblem::Unknown,
        Some(t) if t.used_at.is_some() => LinkProblem::Used,
        Some(t) if t.expires_at <= now => LinkProblem::Expired,
        Some(_) => LinkProblem::Unknown,
    })
}

fn rendered(r: Result<Mail, messages::RenderError>) -> StoreResult<Mail> {
    r.map_err(|e| StoreError::Invalid(e.to_string()))
}

/// Links and their mails over one store and clock: the server's
/// (`Accounts::of`) or a command's (`Accounts::new`).
pub struct Accounts<'a> {
    store: &'a Store,
    clock: &'a Clock,
    issuer: String,
    site: Site,
    reset_ttl: i64,
    mail: Arc<dyn HasOutbox>,
    /// Who hands out reset links through this (an operator, an admin):
    /// each is then in the audit trail (`ResetLinkIssued`), in the
    /// transaction that stores it.
    acting: Option<crate::registry::Acting>,
}

impl<'a> Accounts<'a> {
    pub fn new(
        store: &'a Store,
        clock: &'a Clock,
        issuer: &str,
        site: Site,
        reset_ttl: i64,
        mail: Arc<dyn HasOutbox>,
    ) -> Accounts<'a> {
        Accounts {
            store,
            clock,
            issuer: issuer.trim_end_matches('/').to_string(),
            site,
            reset_ttl,
            mail,
            acting: None,
        }
    }

    /// These links, handed out by `who` (recorded in the audit trail).
    pub fn acting(mut self, who: &crate::registry::Acting) -> Accounts<'a> {
        self.acting = Some(who.clone());
        self
    }

    /// The audit event of a reset link for `user_id`, when someone acts.
    fn reset_link_event(&self, user_id: &str, mailed: bool) -> Option<NewAuditEvent> {
        self.acting.as_ref().map(|who| {
            who.event(AuditType::ResetLinkIssued)
                .subject(subject::person(user_id))
                .detail("mailed", mailed)
        })
    }

    /// The server's: its store, clock, issuer, site name and outbox.
    pub fn of(state: &'a actix_web::web::Data<AppState>) -> Accounts<'a> {
        let shared: Arc<AppState> = state.clone().into_inner();
        Accounts::new(
            &state.store,
            &state.clock,
            &state.issuer,
            super::mail_site(&state.config),
            state.config.password_reset_ttl,
            shared,
        )
    }

    /// Whether mail can be sent (`GATEHOUSE_SMTP_URL` is set).
    pub fn mail_enabled(&self) -> bool {
        self.mail.outbox().enabled()
    }

    /// How long a reset link works (seconds).
    pub fn reset_ttl(&self) -> i64 {
        self.reset_ttl
    }

    /// The URL of a link.
    pub fn link(&self, purpose: Purpose, token: &str) -> String {
        format!("{}{}?token={token}", self.issuer, link_path(purpose))
    }

    /// The forgotten-password page, as the notices name it.
    fn help_link(&self) -> String {
        format!("{}/password/forgot", self.issuer)
    }

    /// Runs `f` in one transaction, then wakes the sender when it queued
    /// mail and committed.
    async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut Tx<'_>, &Outbox) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let mail = self.mail.clone();
        let out = self
            .store
            .run(move |c| c.transaction(|tx| f(tx, mail.outbox())))
            .await?;
        self.mail.outbox().wake();
        Ok(out)
    }

    /// A link that is live now (of one of `purposes`, unused, unexpired),
    /// without spending it: the pages show their form only for one.
    pub async fn check(
        &self,
        token: &str,
        purposes: &'static [Purpose],
    ) -> StoreResult<Result<AccountToken, LinkProblem>> {
        let hash = crate::crypto::token_hash(token);
        let now = self.clock.now();
        self.store
            .run(move |c| {
                Ok(match c.find_account_token(&hash)? {
                    None => Err(LinkProblem::Unknown),
                    Some(t) if !t.purpose().is_some_and(|p| purposes.contains(&p)) => {
                        Err(LinkProblem::Unknown)
                    }
                    Some(t) if t.used_at.is_some() => Err(LinkProblem::Used),
                    Some(t) if t.expires_at <= now => Err(LinkProblem::Expired),
                    Some(t) => Ok(t),
                })
            })
            .await
    }

    /// Mails `email` a verification link for `user` (voiding older ones);
    /// with `old_address`, an address change: the old address is told in
    /// the same transaction. Nothing is done without mail.
    pub async fn send_verification(
        &self,
        user: &User,
        email: &str,
        old_address: Option<&str>,
    ) -> StoreResult<()> {
        if !self.mail_enabled() {
            return Ok(());
        }
        let now = self.clock.now();
        let notice = match old_address {
            Some(old) if !old.eq_ignore_ascii_case(email) => {
                Some(rendered(messages::email_change_notice(
                    &self.site,
                    old,
                    &user.username,
                    email,
                    &self.help_link(),
                ))?)
            }
            _ => None,
        };
        let (issuer, site) = (self.issuer.clone(), self.site.clone());
        let (user_id, username, email) =
            (user.id.clone(), user.username.clone(), email.to_string());
        self.run(move |tx, outbox| {
            let token = issue(
                tx,
                &user_id,
                Purpose::VerifyEmail,
                Some(&email),
                VERIFY_TTL,
                now,
            )?;
            let link = format!("{issuer}{}?token={token}", link_path(Purpose::VerifyEmail));
            let mail = rendered(messages::verify_email(
                &site, &email, &username, &link, VERIFY_TTL,
            ))?;
            outbox.queue(tx, &mail, now)?;
            if let Some(notice) = notice {
                outbox.queue(tx, &notice, now)?;
            }
            Ok(())
        })
        .await
    }

    /// Spends a verification link: its address becomes the person's,
    /// verified (recorded in the audit trail as `who`'s, who holds the
    /// link). Returns the person's id and the address.
    pub async fn verify_email(
        &self,
        token: &str,
        who: &crate::registry::Acting,
    ) -> StoreResult<Result<(String, String), LinkProblem>> {
        const PURPOSES: &[Purpose] = &[Purpose::VerifyEmail];
        let hash = crate::crypto::token_hash(token);
        let now = self.clock.now();
        let event = who.event(AuditType::EmailVerified);
        self.run(move |tx, _| {
            let Some(spent) = tx.spend_account_token(&hash, PURPOSES, now)? else {
                return Ok(Err(problem_of(tx, &hash, PURPOSES, now)?));
            };
            let Some(email) = spent.email else {
                return Ok(Err(LinkProblem::Unknown));
            };
            tx.set_verified_email(&spent.user_id, &email, now)?;
            let event = NewAuditEvent {
                actor: actor::person(&spent.user_id),
                ..event
            }
            .subject(subject::person(&spent.user_id))
            .detail("email", email.clone());
            tx.record_audit(now.saturating_mul(1000), &event)?;
            Ok(Ok((spent.user_id, email)))
        })
        .await
    }

    /// Mails `user` a password-reset link (voiding older ones). `false`
    /// when the person has no address or there is no mail.
    pub async fn send_reset(&self, user: &User) -> StoreResult<bool> {
        let Some(email) = user.email.clone().filter(|_| self.mail_enabled()) else {
            return Ok(false);
        };
        let now = self.clock.now();
        let ttl = self.reset_ttl;
        let (issuer, site) = (self.issuer.clone(), self.site.clone());
        let (user_id, username) = (user.id.clone(), user.username.clone());
        let (event, at_ms) = (
            self.reset_link_event(&user.id, true),
            self.clock.now_millis(),
        );
        self.run(move |tx, outbox| {
            let token = issue(tx, &user_id, Purpose::ResetPassword, Some(&email), ttl, now)?;
            if let Some(e) = &event {
                tx.record_audit(at_ms, e)?;
            }
            let link = format!(
                "{issuer}{}?token={token}",
                link_path(Purpose::ResetPassword)
            );
            let mail = rendered(messages::password_reset(
                &site, &email, &username, &link, ttl,
            ))?;
            outbox.queue(tx, &mail, now)?;
            Ok(true)
        })
        .await
    }

    /// A link for an operator to hand over (`user reset-link`, `user
    /// invite --print-link`): not mailed, so spending it does not prove
    /// the address (a reset link), except that an invitation carries the
    /// operator's word for it.
    pub async fn hand_link(&self, user: &User, purpose: Purpose) -> StoreResult<Issued> {
        let now = self.clock.now();
        let ttl = match purpose {
            Purpose::Invite => INVITE_TTL,
            Purpose::ResetPassword => self.reset_ttl,
            Purpose::VerifyEmail => VERIFY_TTL,
        };
        let email = match purpose {
            Purpose::ResetPassword => None,
            _ => user.email.clone(),
        };
        let user_id = user.id.clone();
        let event = match purpose {
            Purpose::ResetPassword => self.reset_link_event(&user.id, false),
            _ => None,
        };
        let at_ms = self.clock.now_millis();
        let token = self
            .run(move |tx, _| {
                let token = issue(tx, &user_id, purpose, email.as_deref(), ttl, now)?;
                if let Some(e) = &event {
                    tx.record_audit(at_ms, e)?;
                }
                Ok(token)
            })
            .await?;
        Ok(Issued {
            link: self.link(purpose, &token),
            expires_at: now + ttl,
        })
    }

    /// Mails `user` an invitation (`user invite`): a link that sets their
    /// first password and confirms their address.
    pub async fn send_invitation(&self, user: &User) -> StoreResult<Issued> {
        let email = user
            .email
            .clone()
            .ok_or_else(|| StoreError::Invalid("an invitation needs an e-mail address".into()))?;
        let now = self.clock.now();
        let (issuer, site) = (self.issuer.clone(), self.site.clone());
        let (user_id, username) = (user.id.clone(), user.username.clone());
        let link = self
            .run(move |tx, outbox| {
                let token = issue(tx, &user_id, Purpose::Invite, Some(&email), INVITE_TTL, now)?;
                let link = format!("{issuer}{}?token={token}", link_path(Purpose::Invite));
                let mail = rendered(messages::invitation(
                    &site, &email, &username, &link, INVITE_TTL,
                ))?;
                outbox.queue(tx, &mail, now)?;
                Ok(link)
            })
            .await?;
        Ok(Issued {
            link,
            expires_at: now + INVITE_TTL,
        })
    }

    /// What `Registry::replace_password` runs in its transaction for a
    /// reset or an invitation: spends the link (refused, so nothing
    /// changes, when it was spent, voided or expired meanwhile, or is
    /// another person's: `RegistryError::TokenRefused`), confirms the
    /// address when the link was mailed to it (or is an invitation), and
    /// queues the "password changed" notice. Call `wake` after it commits.
    pub fn spend_for_new_password(
        &self,
        token: &str,
        user: &User,
    ) -> Result<impl FnOnce(&mut Tx<'_>) -> Result<(), RegistryError> + Send + 'static, StoreError>
    {
        const PURPOSES: &[Purpose] = &[Purpose::ResetPassword, Purpose::Invite];
        let hash = crate::crypto::token_hash(token);
        let now = self.clock.now();
        let notice = match (&user.email, self.mail_enabled()) {
            (Some(to), true) => Some(rendered(messages::password_changed(
                &self.site,
                to,
                &user.username,
                &self.help_link(),
            ))?),
            _ => None,
        };
        let (user_id, current) = (user.id.clone(), user.email.clone());
        let mail = self.mail.clone();
        Ok(move |tx: &mut Tx<'_>| -> Result<(), RegistryError> {
            let spent = tx
                .spend_account_token(&hash, PURPOSES, now)?
                .filter(|t| t.user_id == user_id)
                .ok_or(RegistryError::TokenRefused)?;
            let proves = match spent.purpose() {
                Some(Purpose::Invite) => true,
                _ => spent.email.is_some(),
            };
            if let (true, Some(sent_to), Some(current)) = (proves, &spent.email, &current) {
                if sent_to == current {
                    tx.set_verified_email(&user_id, current, now)?;
                }
            }
            if let Some(notice) = notice {
                mail.outbox().queue(tx, &notice, now)?;
            }
            Ok(())
        })
    }

    /// Tells the sender there is mail (after a commit made elsewhere, e.g.
    /// `Registry::replace_password`).
    pub fn wake(&self) {
        self.mail.outbox().wake();
    }
}
