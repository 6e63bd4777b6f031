//! Second factors that are codes: an authenticator app (RFC 6238 TOTP)
//! and recovery codes.
//!
//! - **The app's secret**: 160 random bits (RFC 4226 §4's recommendation),
//!   shown once as base32 and as a QR code of its `otpauth://` URL, stored
//!   sealed (XChaCha20-Poly1305 under a key derived from the server secret
//!   with its own label, the person's id as associated data), so a dump of
//!   the database alone does not give the codes, and a sealed secret moved
//!   to another person's row does not open.
//! - **Codes**: SHA-1, 6 digits, 30 s steps, one step either side
//!   (RFC 6238 §5.2), on `state.clock`. A code is accepted once: its step
//!   is spent by a conditional `UPDATE` (`Tx::spend_totp_step`).
//! - **Recovery codes**: `RECOVERY_CODES` codes of 60 random bits, shown
//!   once, stored as an HMAC under the server secret (label, person,
//!   code), never plain; typed in any case, with or without dashes and
//!   spaces; each spent once by a conditional `UPDATE`.
//! - **Attempts** are throttled per person like passwords
//!   (`ThrottleKey::SecondFactor`, in the database, so every instance
//!   counts the same failures): counted before the code is checked.

use super::metrics::Throttle;
use super::throttle::{self, ThrottleKey};
use super::AppState;
use crate::crypto::{b64url, ServerSecret};
use crate::mail::{messages, Mail};
use crate::store::models::audit_event::{subject, AuditType};
use crate::store::models::User;
use crate::store::{StoreError, StoreResult};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::Rng;
use std::sync::Arc;
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// How many recovery codes a person gets at once.
pub const RECOVERY_CODES: usize = 10;
/// The secret's length in bytes (160 bits).
const SECRET_BYTES: usize = 20;
/// Seconds per step, and steps accepted either side (RFC 6238 §5.2).
pub const STEP_SECONDS: i64 = 30;
const SKEW: u16 = 1;
const DIGITS: u8 = 6;

const SEAL_LABEL: &[u8] = b"gatehouse-totp-secret-v1";
const RECOVERY_LABEL: &[u8] = b"gatehouse-recovery-code-v1";
const SEALED_V1: &str = "v1.";
const NONCE_LEN: usize = 24;
/// The recovery codes' letters: Crockford's base32 (5 bits a letter),
/// without `i l o u`; a typed `o` reads as `0`, `i` and `l` as `1`.
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

fn cipher(secret: &ServerSecret) -> XChaCha20Poly1305 {
    let key = secret.mac(&[SEAL_LABEL]);
    XChaCha20Poly1305::new(&key.into())
}

/// Seals an app's secret for `user_id`'s row.
pub fn seal(server: &ServerSecret, user_id: &str, secret: &[u8]) -> StoreResult<String> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill(&mut nonce[..]);
    let sealed = cipher(server)
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: secret,
                aad: user_id.as_bytes(),
            },
        )
        .map_err(|_| StoreError::Invalid("sealing a TOTP secret failed".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(format!("{SEALED_V1}{}", URL_SAFE_NO_PAD.encode(out)))
}

/// Opens a sealed secret of `user_id`'s row; `None` when it does not open
/// (another server secret, another person's row).
pub fn open(server: &ServerSecret, user_id: &str, sealed: &str) -> Option<Vec<u8>> {
    let raw = URL_SAFE_NO_PAD
        .decode(sealed.strip_prefix(SEALED_V1)?)
        .ok()?;
    if raw.len() < NONCE_LEN {
        return None;
    }
    let (nonce, body) = raw.split_at(NONCE_LEN);
    cipher(server)
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: body,
                aad: user_id.as_bytes(),
            },
        )
        .ok()
}

/// A new app secret, as shown (base32) and as stored (sealed).
pub struct NewSecret {
    pub base32: String,
    pub sealed: String,
}

/// 160 fresh random bits for `user_id`'s app.
pub fn new_secret(server: &ServerSecret, user_id: &str) -> StoreResult<NewSecret> {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill(&mut bytes[..]);
    Ok(NewSecret {
        base32: Secret::from(bytes.to_vec()).to_base32(),
        sealed: seal(server, user_id, &bytes)?,
    })
}

/// The RFC 6238 generator of a secret, labelled for the `otpauth://` URL
/// (`:` is the label's separator, so it is left out of both names).
fn totp(secret: &[u8], issuer: &str, account: &str) -> Option<Totp> {
    let clean = |s: &str| s.replace(':', " ").trim().to_string();
    let issuer = clean(issuer);
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(SKEW)
        .with_step_duration(STEP_SECONDS as u64)
        .with_secret(secret.to_vec())
        .with_issuer((!issuer.is_empty()).then_some(issuer))
        .with_account_name(clean(account))
        .build()
        .ok()
}

/// The time step a six-digit `code` is of, within one step of `now`'s
/// (RFC 6238 §5.2); `None` for a wrong code.
pub fn check_code(secret: &[u8], code: &str, now: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let now = u64::try_from(now).ok()?;
    let step = totp(secret, "", "")?.check(&code, now)?;
    i64::try_from(step).ok()
}

/// The code of `secret` at `now` (what an app shows; for tests and
/// diagnostics).
pub fn code_at(secret: &[u8], now: i64) -> Option<String> {
    Some(
        totp(secret, "", "")?
            .generate(u64::try_from(now).ok()?)
            .to_string(),
    )
}

/// Whether typed text looks like an app's code (six digits, spaces
/// aside) rather than a recovery code.
pub fn looks_like_app_code(code: &str) -> bool {
    let digits: Vec<char> = code.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == usize::from(DIGITS) && digits.iter().all(char::is_ascii_digit)
}

/// The `otpauth://totp/…` URL of an app's secret, with the site as issuer
/// and the username as account (what the QR code carries).
pub fn otpauth_url(base32: &str, site: &str, username: &str) -> Option<String> {
    let secret = Secret::try_from_base32(base32).ok()?;
    totp(secret.as_bytes(), site, username)?.to_url().ok()
}

/// The QR code of `text` as an inline SVG element (black on white, with
/// the quiet zone), for the enrolment page; no script, no style attribute.
pub fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    let start = svg.find("<svg")?;
    Some(svg[start..].replacen(
        "<svg ",
        "<svg role=\"img\" aria-label=\"QR code for your authenticator app\" ",
        1,
    ))
}

/// `RECOVERY_CODES` fresh recovery codes, `xxxx-xxxx-xxxx` each (60 bits).
pub fn new_recovery_codes() -> Vec<String> {
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let letters: Vec<char> = (0..12)
                .map(|_| {
                    let i = rng.random_range(0..32usize);
                    char::from(RECOVERY_ALPHABET[i])
                })
                .collect();
            letters
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// A recovery code as compared: lower case, without dashes, spaces or
/// anything else that is not one of its letters, `o` as `0`, `i` and `l`
/// as `1` (Crockford's reading).
pub fn normalize_recovery_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            c => c,
        })
        .collect()
}

/// The keyed hash a recovery code is stored as (its normal form).
pub fn recovery_code_hash(server: &ServerSecret, user_id: &str, typed: &str) -> String {
    let code = normalize_recovery_code(typed);
    b64url(&server.mac(&[RECOVERY_LABEL, user_id.as_bytes(), code.as_bytes()]))
}

/// What a code typed at the second step turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeCheck {
    /// A fresh code of the person's app.
    App,
    /// One of their recovery codes, now spent; this many are left.
    Recovery { left: i64 },
    /// Neither (or a code already accepted once).
    Wrong,
    /// Too many failures: try again in this many seconds.
    Throttled(i64),
}

/// Checks `code` for `user`, throttled per person: an app's code (spent
/// by its step), else a recovery code (spent; the person is mailed that
/// one was used, when mail is configured and they have an address).
///
/// For the audit trail (`who`: the person, from where): a spent recovery
/// code is recorded with the spending, a wrong code as a failed sign-in
/// (a throttled one is only counted on /metrics).
pub async fn check_second_factor(
    state: &Arc<AppState>,
    user: &User,
    code: &str,
    who: &crate::registry::Acting,
) -> StoreResult<CodeCheck> {
    let failed = |reason: &str| {
        who.event(AuditType::SignIn)
            .failed()
            .subject(subject::person(&user.id))
            .detail("via", "second_step")
            .detail("reason", reason)
    };
    let now_ms = state.clock.now_millis();
    let now = state.clock.now();
    let key = ThrottleKey::SecondFactor(user.id.clone());
    let keys = [key.clone()];
    let uid = user.id.clone();
    let reserved = state
        .store
        .run(move |c| -> StoreResult<_> {
            Ok(match throttle::reserve(c, &keys, now_ms)? {
                Ok(r) => Ok((r, c.find_totp_factor(&uid)?)),
                Err(wait) => Err(wait),
            })
        })
        .await?;
    let (reservation, factor) = match reserved {
        Ok(found) => found,
        Err(wait) => {
            state.metrics.throttled(Throttle::SignIn);
            // Not in the audit trail (see `sign_in::authenticate`).
            tracing::info!(user = %user.id, outcome = "throttled", "second factor refused unchecked");
            return Ok(CodeCheck::Throttled(wait));
        }
    };
    let mut outcome = CodeCheck::Wrong;
    if looks_like_app_code(code) {
        let step = factor
            .filter(|f| f.confirmed_at.is_some())
            .and_then(|f| open(&state.server_secret, &user.id, &f.secret_sealed))
            .and_then(|secret| check_code(&secret, code, now));
        if let Some(step) = step {
            let uid = user.id.clone();
            let spent = state
                .store
                .run(move |c| c.transaction(|tx| tx.spend_totp_step(&uid, step)))
                .await?;
            if spent {
                outcome = CodeCheck::App;
            }
        }
    } else {
        let hash = recovery_code_hash(&state.server_secret, &user.id, code);
        let notice = match (&user.email, state.outbox.enabled()) {
            (Some(to), true) => Some(
                recovery_code_used_mail(state, to, &user.username)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?,
            ),
            _ => None,
        };
        let (uid, st) = (user.id.clone(), state.clone());
        let used = who
            .event(AuditType::RecoveryCodeUsed)
            .subject(subject::person(&user.id));
        let spent = state
            .store
            .run(move |c| {
                c.transaction(|tx| -> StoreResult<Option<i64>> {
                    if !tx.spend_recovery_code(&uid, &hash, now)? {
                        return Ok(None);
                    }
                    if let Some(mail) = &notice {
                        st.outbox.queue(tx, mail, now)?;
                    }
                    let left = tx.recovery_codes_left(&uid)?;
                    tx.record_audit(now_ms, &used.detail("left", left))?;
                    Ok(Some(left))
                })
            })
            .await?;
        if let Some(left) = spent {
            state.outbox.wake();
            outcome = CodeCheck::Recovery { left };
        }
    }
    if outcome == CodeCheck::Wrong {
        tracing::info!(user = %user.id, outcome = "failure", "second factor");
        super::audit::record(state, failed("wrong_code")).await?;
    } else {
        state
            .store
            .run(move |c| throttle::release(c, &reservation, Some(&key)))
            .await?;
        tracing::info!(user = %user.id, outcome = "success", "second factor");
    }
    Ok(outcome)
}

/// A change to a person's own second factors, as its notice words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorChange {
    AppAdded,
    AppRemoved,
    RecoveryCodesRenewed,
    PasskeyAdded,
    PasskeyRemoved,
}

impl FactorChange {
    fn words(self) -> &'static str {
        match self {
            FactorChange::AppAdded => "an authenticator app was set up",
            FactorChange::AppRemoved => "the authenticator app was removed",
            FactorChange::RecoveryCodesRenewed => {
                "new recovery codes were made (the old ones no longer work)"
            }
            FactorChange::PasskeyAdded => "a passkey was added",
            FactorChange::PasskeyRemoved => "a passkey was removed",
        }
    }
}

/// The notice of `change` mailed to `user` (queued in the change's own
/// transaction), so a change they did not make is noticed; none without
/// mail or an address.
pub fn factor_notice(
    state: &AppState,
    user: &User,
    change: FactorChange,
) -> StoreResult<Option<Mail>> {
    let Some(to) = user.email.as_deref().filter(|_| state.outbox.enabled()) else {
        return Ok(None);
    };
    messages::factor_changed(
        &super::mail_site(&state.config),
        to,
        &user.username,
        change.words(),
        &format!("{}/password/forgot", state.issuer),
    )
    .map(Some)
    .map_err(|e| StoreError::Invalid(e.to_string()))
}

fn recovery_code_used_mail(
    state: &AppState,
    to: &str,
    username: &str,
) -> Result<Mail, messages::RenderError> {
    messages::recovery_code_used(
        &super::mail_site(&state.config),
        to,
        username,
        &format!("{}/password/forgot", state.issuer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> ServerSecret {
        ServerSecret::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_person_and_server() {
        let s = server();
        let sealed = seal(&s, "u-1", b"twenty bytes secret!").unwrap();
        assert_eq!(open(&s, "u-1", &sealed).unwrap(), b"twenty bytes secret!");
        assert!(open(&s, "u-2", &sealed).is_none());
        let other = ServerSecret::new(b"another secret, 32 bytes long!!!");
        assert!(open(&other, "u-1", &sealed).is_none());
    }

    #[test]
    fn rfc_6238_appendix_b_sha1_vectors() {
        // RFC 6238 Appendix B: the SHA-1 seed "12345678901234567890"; the
        // table's 8-digit codes end in these 6 digits.
        let secret = b"12345678901234567890";
        assert_eq!(code_at(secret, 59).unwrap(), "287082");
        assert_eq!(code_at(secret, 1111111109).unwrap(), "081804");
        assert_eq!(code_at(secret, 1234567890).unwrap(), "005924");
    }

    #[test]
    fn codes_are_accepted_one_step_either_side_only() {
        // RFC 6238 §5.2: one step of skew.
        let secret = b"12345678901234567890";
        let now = 1_000_000_020; // step 33333334
        let at = |t| code_at(secret, t).unwrap();
        assert_eq!(check_code(secret, &at(now), now), Some(now / 30));
        assert_eq!(check_code(secret, &at(now - 30), now), Some(now / 30 - 1));
        assert_eq!(check_code(secret, &at(now + 30), now), Some(now / 30 + 1));
        assert_eq!(check_code(secret, &at(now - 60), now), None);
        assert_eq!(check_code(secret, &at(now + 60), now), None);
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_compare_loosely() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODES);
        for c in &codes {
            assert_eq!(c.len(), 14);
            assert!(!looks_like_app_code(c));
        }
        let s = server();
        let h = recovery_code_hash(&s, "u-1", &codes[0]);
        let shouted = codes[0].to_uppercase().replace('-', " ");
        assert_eq!(recovery_code_hash(&s, "u-1", &shouted), h);
        assert_ne!(recovery_code_hash(&s, "u-2", &codes[0]), h);
    }

    #[test]
    fn the_qr_code_is_an_svg_element() {
        let url = otpauth_url("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "Site: Name", "alice").unwrap();
        assert!(url.starts_with("otpauth://totp/"));
        let svg = qr_svg(&url).unwrap();
        assert!(svg.starts_with("<svg "));
        assert!(!svg.contains("<?xml"));
    }
}
