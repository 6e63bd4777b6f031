//! The outbox: mail is queued in the transaction of the change it
//! reports, and sent by a task of its own, so sending never holds up a
//! request.
//!
//! - **Queuing** (`Outbox::queue`): the text and HTML parts are sealed
//!   (XChaCha20-Poly1305 under a key derived from the server secret, the
//!   recipient and subject as associated data) before they reach the
//!   database: the links in them are secrets. Subject and recipient stay
//!   plain. `Outbox::new` needs only the settings and the server secret,
//!   so the CLI queues mail without a running server (a server's sender
//!   picks it up within `POLL_EVERY`).
//! - **Sending** (`spawn_sender`): one task per instance claims due mails
//!   (a lease, `claimed_until`; on PostgreSQL `FOR UPDATE SKIP LOCKED`, so
//!   several instances on one database send each mail once), sends them
//!   over SMTP (lettre), and marks each sent (its body emptied) or puts it
//!   back with exponential back-off. A mail not sent within `GIVE_UP_AFTER`
//!   of being queued, or refused permanently (a 5xx answer, an address
//!   lettre cannot parse), is given up (its body emptied, a warning logged).
//!
//! Delivery is at least once: an instance that crashes between the SMTP
//! server's acceptance and marking the row sent leaves the row leased;
//! once the lease ends another round sends it again. Nothing is lost, and
//! a duplicate needs a crash in that instant.

use crate::config::Config;
use crate::crypto::ServerSecret;
use crate::mail::Mail;
use crate::store::models::mail_outbox::{ClaimedMail, NewMail};
use crate::store::{StoreError, StoreResult, Tx};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The sender's SMTP client (lettre over tokio; TLS by rustls).
pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// How long a claim keeps other senders off a mail: longer than a whole
/// batch can take (each send gives up after `SEND_TIMEOUT`; a batch's
/// sends run at once).
pub const LEASE: i64 = 120;
/// One SMTP conversation's limit (lettre's per-command timeout).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Mails claimed at once by one instance.
pub const BATCH: i64 = 16;
/// How often the sender looks for due mail when nothing wakes it (mail
/// queued by another instance or by the CLI, a retry coming due).
pub const POLL_EVERY: Duration = Duration::from_secs(2);
/// The first retry's delay in seconds; each further one doubles, up to
/// `BACKOFF_MAX`, with up to a quarter more at random (jitter, so several
/// instances' retries spread out).
pub const BACKOFF_FIRST: i64 = 1;
pub const BACKOFF_MAX: i64 = 300;
/// A mail not sent this long (seconds) after it was queued is given up.
pub const GIVE_UP_AFTER: i64 = 24 * 3600;
/// Sent and given-up rows are deleted this long (seconds) after.
pub const KEEP_FINISHED: i64 = 7 * 24 * 3600;

/// The version prefix of a sealed body: `v1.` then base64url of the 24-byte
/// nonce and the ciphertext with its tag.
const SEALED_V1: &str = "v1.";
const NONCE_LEN: usize = 24;

/// What pages and commands queue mail through.
pub struct Outbox {
    /// Whether `GATEHOUSE_SMTP_URL` is set: without it nothing is queued
    /// and the pages that need mail say so.
    enabled: bool,
    /// Seals bodies before they are stored, opens them to send.
    seal: XChaCha20Poly1305,
    /// Wakes the sender after a commit that queued mail.
    wake: Arc<Notify>,
}

impl Outbox {
    /// The outbox of these settings: enabled when `GATEHOUSE_SMTP_URL` is
    /// set, sealing under a key derived from the server secret (every
    /// instance and the CLI derive the same one).
    pub fn new(config: &Config, server_secret: &ServerSecret) -> Outbox {
        let key = server_secret.mac(&[b"mail-outbox"]);
        Outbox {
            enabled: config.smtp_url.is_some(),
            seal: XChaCha20Poly1305::new(&key.into()),
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Queues `mail` inside the caller's transaction; call `wake` once the
    /// transaction has committed.
    pub fn queue(&self, tx: &mut Tx<'_>, mail: &Mail, now: i64) -> StoreResult<String> {
        let body = self.seal_body(mail)?;
        tx.enqueue_mail(
            &NewMail {
                recipient: &mail.to,
                subject: &mail.subject,
                body: &body,
            },
            now,
        )
    }

    /// Tells the sender there is mail due (after the queuing commit).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    fn seal_body(&self, mail: &Mail) -> StoreResult<String> {
        let plain = serde_json::to_vec(&(&mail.text, &mail.html))
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::Rng::fill(&mut rand::rng(), &mut nonce[..]);
        let aad = associated_data(&mail.to, &mail.subject);
        let sealed = self
            .seal
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::Invalid("sealing a mail failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{SEALED_V1}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// The text and HTML parts of a stored body; `None` when it does not
    /// open (another server secret, or a row changed in the database: a
    /// body moved to another recipient or subject does not open either).
    fn open_body(&self, recipient: &str, subject: &str, body: &str) -> Option<(String, String)> {
        let raw = URL_SAFE_NO_PAD.decode(body.strip_prefix(SEALED_V1)?).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let aad = associated_data(recipient, subject);
        let plain = self
            .seal
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .ok()?;
        serde_json::from_slice(&plain).ok()
    }
}

/// The recipient and subject, each prefixed by its length.
fn associated_data(recipient: &str, subject: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + recipient.len() + subject.len());
    for part in [recipient, subject] {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

/// The SMTP client for `GATEHOUSE_SMTP_URL` (checked when the settings
/// were read, so this fails only if that check was skipped).
pub fn transport(smtp_url: &str) -> Result<Transport, String> {
    Ok(Transport::from_url(smtp_url)
        .map_err(|e| e.to_string())?
        .timeout(Some(SEND_TIMEOUT))
        .build())
}

/// The delay (seconds) before the attempt after `attempts` failed ones.
pub fn backoff(attempts: i32) -> i64 {
    let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
    let base = BACKOFF_FIRST
        .saturating_mul(1i64 << doublings)
        .min(BACKOFF_MAX);
    let jitter = rand::Rng::random_range(&mut rand::rng(), 0..=base / 4);
    base + jitter
}

/// What became of one attempt.
enum Outcome {
    Sent,
    /// Try again later: a connection refused, a 4xx answer, a timeout.
    Retry(String),
    /// Never to be tried again: a 5xx answer, an unusable address or body.
    Permanent(String),
}

/// Starts the sender of this instance's share of the outbox, when
/// `GATEHOUSE_SMTP_URL` is set. It runs on a thread of its own (its own
/// small tokio runtime), so nothing else a thread does, a request or a
/// caller blocked on something, ever holds mail up, and it ends once the
/// server's state is gone.
pub fn spawn_sender(
    state: &actix_web::web::Data<super::AppState>,
    transport: Option<Transport>,
) -> Result<(), String> {
    let Some(transport) = transport else {
        return Ok(());
    };
    let from: Mailbox = state
        .config
        .mail_from
        .parse()
        .map_err(|e| format!("GATEHOUSE_MAIL_FROM: {e}"))?;
    let sender = Sender {
        state: Arc::downgrade(&state.clone().into_inner()),
        wake: state.outbox.wake.clone(),
        transport,
        from,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the mail sender: {e}"))?;
    std::thread::Builder::new()
        .name("mail-sender".into())
        .spawn(move || runtime.block_on(sender.run()))
        .map_err(|e| format!("cannot start the mail sender: {e}"))?;
    Ok(())
}

struct Sender {
    /// Weak: the sender ends when the server's state is dropped.
    state: std::sync::Weak<super::AppState>,
    wake: Arc<Notify>,
    transport: Transport,
    from: Mailbox,
}

impl Sender {
    async fn run(self) {
        loop {
            let Some(state) = self.state.upgrade() else {
                return;
            };
            let claimed = self.round(&state).await;
            count_unsent(&state).await;
            drop(state);
            // A full batch: there may be more due now.
            if claimed < BATCH as usize {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(POLL_EVERY) => {}
                }
            }
        }
    }

    /// Claims what is due and sends it; returns how many were claimed.
    async fn round(&self, state: &super::AppState) -> usize {
        let now = state.clock.now();
        let claimed = state
            .store
            .run(move |c| c.write(|tx| tx.claim_due_mail(now, now + LEASE, BATCH)))
            .await;
        let mails = match claimed {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "reading the mail outbox failed; trying again shortly");
                return 0;
            }
        };
        let n = mails.len();
        futures_util::future::join_all(mails.into_iter().map(|m| self.deliver(state, m))).await;
        n
    }

    async fn deliver(&self, state: &super::AppState, mail: ClaimedMail) {
        let outcome = self.attempt(state, &mail).await;
        let now = state.clock.now();
        let metrics = &state.metrics;
        let id = mail.id.clone();
        let result = match outcome {
            Outcome::Sent => {
                metrics.mail_sent();
                tracing::info!(mail = %id, attempts = mail.attempts, "mail sent");
                state
                    .store
                    .run(move |c| c.write(|tx| tx.mark_mail_sent(&id, now)))
                    .await
            }
            Outcome::Retry(error) if now < mail.created_at + GIVE_UP_AFTER => {
                metrics.mail_attempt_failed();
                let delay = backoff(mail.attempts);
                tracing::warn!(
                    mail = %id,
                    attempts = mail.attempts,
                    retry_in_seconds = delay,
                    error = %error,
                    "sending mail failed; will try again"
                );
                state
                    .store
                    .run(move |c| c.write(|tx| tx.retry_mail_later(&id, now + delay, &error)))
                    .await
            }
            Outcome::Retry(error) | Outcome::Permanent(error) => {
                metrics.mail_attempt_failed();
                metrics.mail_given_up();
                tracing::warn!(
                    mail = %id,
                    attempts = mail.attempts,
                    queued_at = mail.created_at,
                    error = %error,
                    "giving up on a mail: it will not be sent"
                );
                state
                    .store
                    .run(move |c| c.write(|tx| tx.give_up_mail(&id, now, &error)))
                    .await
            }
        };
        if let Err(e) = result {
            // The lease runs out and another round takes the mail again:
            // sent twice at worst, never lost.
            tracing::warn!(mail = %mail.id, error = %e, "recording a mail's outcome failed");
        }
    }

    async fn attempt(&self, state: &super::AppState, mail: &ClaimedMail) -> Outcome {
        let Some((text, html)) = state
            .outbox
            .open_body(&mail.recipient, &mail.subject, &mail.body)
        else {
            return Outcome::Permanent(
                "the stored body does not open under this server secret".into(),
            );
        };
        let to: Mailbox = match mail.recipient.parse() {
            Ok(to) => to,
            Err(e) => return Outcome::Permanent(format!("recipient address: {e}")),
        };
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.as_str())
            .multipart(MultiPart::alternative_plain_html(text, html));
        let message = match message {
            Ok(m) => m,
            Err(e) => return Outcome::Permanent(format!("building the message: {e}")),
        };
        match self.transport.send(message).await {
            Ok(_) => Outcome::Sent,
            Err(e) if e.is_permanent() => Outcome::Permanent(e.to_string()),
            Err(e) => Outcome::Retry(e.to_string()),
        }
    }
}

/// Sets the unsent gauge from the outbox as it is now.
async fn count_unsent(state: &super::AppState) {
    if let Ok(n) = state.store.run(|c| c.count_unsent_mail()).await {
        state.metrics.set_mail_unsent(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox(secret: &[u8]) -> Outbox {
        let mut config = Config::for_tests("sqlite://:memory:", std::path::Path::new("/k"));
        config.smtp_url = Some("smtp://127.0.0.1:25".into());
        Outbox::new(&config, &ServerSecret::new(secret))
    }

    fn mail() -> Mail {
        Mail {
            to: "ann@example.com".into(),
            subject: "Reset".into(),
            text: "https://id.example/password/reset?token=SECRET".into(),
            html: "<a href=\"https://id.example/password/reset?token=SECRET\">reset</a>".into(),
        }
    }

    #[test]
    fn a_sealed_body_hides_the_link_and_opens_only_as_stored() {
        let o = outbox(b"one secret");
        let m = mail();
        let sealed = o.seal_body(&m).unwrap();
        assert!(!sealed.contains("SECRET") && !sealed.contains("reset"));
        assert_eq!(
            o.open_body(&m.to, &m.subject, &sealed),
            Some((m.text.clone(), m.html.clone()))
        );
        // Moved to another recipient or subject, or under another secret:
        // it does not open.
        assert_eq!(o.open_body("eve@example.com", &m.subject, &sealed), None);
        assert_eq!(o.open_body(&m.to, "Other", &sealed), None);
        assert_eq!(
            outbox(b"another secret").open_body(&m.to, &m.subject, &sealed),
            None
        );
        assert_eq!(o.open_body(&m.to, &m.subject, ""), None);
        // A fresh nonce each time.
        assert_ne!(sealed, o.seal_body(&m).unwrap());
    }

    #[test]
    fn backoff_doubles_from_a_second_up_to_five_minutes() {
        for (attempts, base) in [
            (1, 1),
            (2, 2),
            (3, 4),
            (5, 16),
            (9, 256),
            (10, 300),
            (40, 300),
        ] {
            let d = backoff(attempts);
            assert!((base..=base + base / 4).contains(&d), "{attempts}: {d}");
        }
    }
}
