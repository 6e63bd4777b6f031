//! Passkeys (WebAuthn Level 2/3, verified by `webauthn-rs`): registering
//! one, proving one as the second factor after the password (the person's
//! own credentials allowed), and signing in with one alone (a
//! discoverable credential: the browser says whose it is).
//!
//! The relying party is the issuer: its host is the RP id, its origin the
//! only origin accepted, the site name the RP name. A credential made for
//! another RP id is refused by the verifier (the `rpIdHash` in its
//! authenticator data does not match), so is an answer from another
//! origin. An issuer whose host is an IP address cannot have passkeys (an
//! RP id is a domain): then `Passkeys::available` is false and the pages
//! offer none.
//!
//! Every ceremony's state is stored (`webauthn_ceremonies`), named by a
//! random id the browser holds, and taken once whatever the answer; it
//! lives `CEREMONY_TTL` seconds. User verification is required in every
//! ceremony (the verifier refuses an answer without it), so a passkey
//! alone is two factors: `hwk`/`swk`, `user` and `mfa` (RFC 8176). Each use
//! updates the stored record (counter, backup state) by a conditional
//! `UPDATE` on the record checked, so a removed passkey, or a cloned one
//! racing the original, is refused.

use super::factors::FactorChange;
use super::throttle::{self, ThrottleKey};
use super::AppState;
use crate::crypto::{b64url, random_token, record_id, token_hash};
use crate::oauth::amr::Method;
use crate::store::models::audit_event::NewAuditEvent;
use crate::store::models::passkey::PasskeyRow;
use crate::store::models::webauthn_ceremony::WebauthnCeremony;
use crate::store::models::User;
use crate::store::StoreError;
use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

/// Seconds a ceremony may take (the browser's own timeout is the same).
pub const CEREMONY_TTL: i64 = 300;
/// The longest name a passkey may have, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// What a ceremony is for, stored as its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Register,
    SecondFactor,
    Passwordless,
}

impl Kind {
    pub fn as_stored(self) -> &'static str {
        match self {
            Kind::Register => "register",
            Kind::SecondFactor => "second_factor",
            Kind::Passwordless => "passwordless",
        }
    }
}

/// The relying party, built once from the issuer.
pub struct Passkeys {
    webauthn: Option<Webauthn>,
}

impl Passkeys {
    /// The relying party of `issuer`: none when its host is not a domain
    /// name (an IP address), which WebAuthn does not allow as an RP id.
    pub fn new(issuer: &str, site_name: &str) -> Passkeys {
        let webauthn = Url::parse(issuer).ok().and_then(|origin| {
            let rp_id = origin.domain()?.to_string();
            let mut origin_only = origin.clone();
            origin_only.set_path("");
            WebauthnBuilder::new(&rp_id, &origin_only)
                .ok()?
                .rp_name(site_name)
                .build()
                .ok()
        });
        if webauthn.is_none() {
            tracing::info!(
                issuer,
                "passkeys are off: the issuer's host is not a domain name (WebAuthn needs one)"
            );
        }
        Passkeys { webauthn }
    }

    /// Whether this server offers passkeys.
    pub fn available(&self) -> bool {
        self.webauthn.is_some()
    }

    fn webauthn(&self) -> Result<&Webauthn, PasskeyError> {
        self.webauthn.as_ref().ok_or(PasskeyError::Unavailable)
    }
}

/// Why a passkey ceremony was refused. All but `Store` are the client's
/// doing (4xx).
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error("passkeys are not available on this site: it has no domain name")]
    Unavailable,
    #[error("this passkey request expired or was used already; start again")]
    Ceremony,
    #[error("the passkey's answer was refused: {0}")]
    Refused(String),
    #[error("this passkey is not registered here (it may have been removed)")]
    UnknownCredential,
    #[error("this passkey is registered already")]
    Duplicate,
    #[error("you have no passkey")]
    NoPasskeys,
    #[error("{0}")]
    BadName(String),
    #[error("too many failed attempts; try again in {0} seconds")]
    Throttled(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// The user handle a person's credentials carry: their id as a UUID (it
/// is one; any other id is hashed into one, the same every time).
pub fn user_handle(user_id: &str) -> Uuid {
    Uuid::parse_str(user_id).unwrap_or_else(|_| {
        let h = crate::crypto::sha256(user_id.as_bytes());
        let mut b = [0u8; 16];
        b.copy_from_slice(&h[..16]);
        uuid::Builder::from_random_bytes(b).into_uuid()
    })
}

/// A passkey's name as kept: trimmed, "Passkey" when empty, at most
/// `MAX_NAME_CHARS` characters, no control, direction or invisible
/// characters (`text::shown_name_problem`).
pub fn check_name(name: &str) -> Result<String, PasskeyError> {
    let name = name.trim();
    if name.is_empty() {
        return Ok("Passkey".to_string());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(PasskeyError::BadName(format!(
            "a passkey's name is at most {MAX_NAME_CHARS} characters"
        )));
    }
    if let Some(problem) = crate::text::shown_name_problem(name) {
        return Err(PasskeyError::BadName(problem));
    }
    Ok(name.to_string())
}

/// The RFC 8176 methods a passkey proves: `swk` for one that may be
/// synced (backup-eligible), else `hwk`; and `user` (presence, verified).
fn methods(backup_eligible: bool) -> Vec<Method> {
    let key = if backup_eligible {
        Method::Swk
    } else {
        Method::Hwk
    };
    vec![key, Method::User]
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, PasskeyError> {
    serde_json::to_string(v).map_err(|e| PasskeyError::Internal(format!("passkey JSON: {e}")))
}

fn refused(e: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Refused(e.to_string())
}

/// Stores a ceremony's state and returns the id the browser keeps.
async fn store_ceremony(
    state: &AppState,
    kind: Kind,
    user_id: Option<String>,
    ceremony_state: String,
) -> Result<String, PasskeyError> {
    let id = random_token(32);
    let now = state.clock.now();
    let row = WebauthnCeremony {
        id_hash: token_hash(&id),
        user_id,
        kind: kind.as_stored().to_string(),
        state: ceremony_state,
        created_at: now,
        expires_at: now + CEREMONY_TTL,
    };
    state
        .store
        .run(move |c| c.transaction(|t| t.insert_webauthn_ceremony(&row)))
        .await?;
    Ok(id)
}

/// Takes the ceremony `id` of `kind` (once), checking it belongs to
/// `user_id`.
async fn take_ceremony(
    state: &AppState,
    kind: Kind,
    id: &str,
    user_id: Option<&str>,
) -> Result<String, PasskeyError> {
    let hash = token_hash(id);
    let now = state.clock.now();
    let row = state
        .store
        .run(move |c| c.transaction(|t| t.take_webauthn_ceremony(&hash, kind.as_stored(), now)))
        .await?
        .ok_or(PasskeyError::Ceremony)?;
    if row.user_id.as_deref() != user_id {
        return Err(PasskeyError::Ceremony);
    }
    Ok(row.state)
}

/// Begins registering a passkey for `user`: the options for
/// `navigator.credentials.create()` (a discoverable credential, user
/// verification required, their other passkeys excluded) and the
/// ceremony id.
pub async fn start_registration(
    state: &AppState,
    user: &User,
) -> Result<(String, Value), PasskeyError> {
    let webauthn = state.passkeys.webauthn()?;
    let uid = user.id.clone();
    let existing = state.store.run(move |c| c.user_passkeys(&uid)).await?;
    let exclude = existing
        .iter()
        .filter_map(|p| serde_json::from_str::<Passkey>(&p.credential).ok())
        .map(|p| p.cred_id().clone())
        .collect::<Vec<_>>();
    let shown = user.name.as_deref().unwrap_or(&user.username);
    let (ccr, reg) = webauthn
        .start_passkey_registration(user_handle(&user.id), &user.username, shown, Some(exclude))
        .map_err(refused)?;
    let mut options = serde_json::to_value(&ccr)
        .map_err(|e| PasskeyError::Internal(format!("passkey JSON: {e}")))?;
    // A passkey that signs in without a username must be discoverable.
    if let Some(sel) = options
        .get_mut("publicKey")
        .and_then(|p| p.get_mut("authenticatorSelection"))
        .and_then(Value::as_object_mut)
    {
        sel.insert("residentKey".into(), Value::from("required"));
        sel.insert("requireResidentKey".into(), Value::from(true));
    }
    let id = store_ceremony(state, Kind::Register, Some(user.id.clone()), json(&reg)?).await?;
    Ok((id, options))
}

/// Finishes registering: checks the browser's answer against the ceremony
/// and saves the passkey under `name`, in one transaction with its audit
/// event and the notice mailed to the person. The same credential cannot
/// be registered twice (to anyone).
pub async fn finish_registration(
    state: &actix_web::web::Data<AppState>,
    user: &User,
    ceremony: &str,
    name: &str,
    credential: &RegisterPublicKeyCredential,
    enrolled: NewAuditEvent,
) -> Result<PasskeyRow, PasskeyError> {
    let webauthn = state.passkeys.webauthn()?;
    let name = check_name(name)?;
    let saved = take_ceremony(state, Kind::Register, ceremony, Some(&user.id)).await?;
    let reg: PasskeyRegistration =
        serde_json::from_str(&saved).map_err(|_| PasskeyError::Ceremony)?;
    let passkey = webauthn
        .finish_passkey_registration(credential, &reg)
        .map_err(refused)?;
    let row = PasskeyRow {
        id: record_id(),
        user_id: user.id.clone(),
        credential_id: b64url(passkey.cred_id().as_ref()),
        name,
        credential: json(&passkey)?,
        created_at: state.clock.now(),
        last_used_at: None,
    };
    let saved = row.clone();
    let enrolled = enrolled.detail("passkey_id", row.id.clone());
    let at_ms = state.clock.now_millis();
    let notice = super::factors::factor_notice(state, user, FactorChange::PasskeyAdded)?;
    let (st, now) = (state.clone(), state.clock.now());
    match state
        .store
        .run(move |c| {
            c.transaction(|t| {
                t.insert_passkey(&saved)?;
                if let Some(mail) = &notice {
                    st.outbox.queue(t, mail, now)?;
                }
                t.record_audit(at_ms, &enrolled)
            })
        })
        .await
    {
        Ok(()) => {
            state.outbox.wake();
            Ok(row)
        }
        Err(StoreError::Conflict(_)) => Err(PasskeyError::Duplicate),
        Err(e) => Err(e.into()),
    }
}

/// Begins proving a passkey as `user_id`'s second factor: the options for
/// `navigator.credentials.get()` allowing their passkeys only.
pub async fn start_second_factor(
    state: &AppState,
    user_id: &str,
) -> Result<(String, Value), PasskeyError> {
    let webauthn = state.passkeys.webauthn()?;
    let uid = user_id.to_string();
    let rows = state.store.run(move |c| c.user_passkeys(&uid)).await?;
    let creds: Vec<Passkey> = rows
        .iter()
        .filter_map(|p| serde_json::from_str(&p.credential).ok())
        .collect();
    if creds.is_empty() {
        return Err(PasskeyError::NoPasskeys);
    }
    let (rcr, auth) = webauthn
        .start_passkey_authentication(&creds)
        .map_err(refused)?;
    let options = serde_json::to_value(&rcr)
        .map_err(|e| PasskeyError::Internal(format!("passkey JSON: {e}")))?;
    let id = store_ceremony(
        state,
        Kind::SecondFactor,
        Some(user_id.to_string()),
        json(&auth)?,
    )
    .await?;
    Ok((id, options))
}

/// Begins a password-less sign-in: options with no credentials listed
/// (the browser offers the discoverable ones it has for this site),
/// user verification required.
pub async fn start_passwordless(state: &AppState) -> Result<(String, Value), PasskeyError> {
    let webauthn = state.passkeys.webauthn()?;
    let (rcr, auth) = webauthn
        .start_discoverable_authentication()
        .map_err(refused)?;
    let options = serde_json::to_value(&rcr)
        .map_err(|e| PasskeyError::Internal(format!("passkey JSON: {e}")))?;
    let id = store_ceremony(state, Kind::Passwordless, None, json(&auth)?).await?;
    Ok((id, options))
}

/// Counts an assertion about to be checked against the client address
/// (as a failure until it checks out): the reservation to give back.
async fn reserve(
    state: &AppState,
    addr: &str,
) -> Result<crate::store::models::throttle::Reservation, PasskeyError> {
    let keys = [ThrottleKey::PasskeyAddress(addr.to_string())];
    let now_ms = state.clock.now_millis();
    match state
        .store
        .run(move |c| throttle::reserve(c, &keys, now_ms))
        .await?
    {
        Ok(r) => Ok(r),
        Err(wait) => Err(PasskeyError::Throttled(wait)),
    }
}

/// Saves a use of `row` (its updated record, `last_used_at`); refuses when
/// the row changed or went since it was read.
async fn record_use(
    state: &AppState,
    row: &PasskeyRow,
    result: &webauthn_rs::prelude::AuthenticationResult,
) -> Result<(), PasskeyError> {
    let mut passkey: Passkey =
        serde_json::from_str(&row.credential).map_err(|_| PasskeyError::UnknownCredential)?;
    passkey.update_credential(result);
    let updated = json(&passkey)?;
    let (id, checked, now) = (row.id.clone(), row.credential.clone(), state.clock.now());
    let ok = state
        .store
        .run(move |c| c.transaction(|t| t.record_passkey_use(&id, &checked, &updated, now)))
        .await?;
    if ok {
        Ok(())
    } else {
        Err(PasskeyError::UnknownCredential)
    }
}

/// Finishes a second-factor ceremony of `user_id`: the RFC 8176 methods
/// the passkey proved (`pending::finish` adds `mfa`).
pub async fn finish_second_factor(
    state: &AppState,
    user_id: &str,
    ceremony: &str,
    credential: &PublicKeyCredential,
    addr: &str,
) -> Result<Vec<Method>, PasskeyError> {
    let webauthn = state.passkeys.webauthn()?;
    let saved = take_ceremony(state, Kind::SecondFactor, ceremony, Some(user_id)).await?;
    let auth: PasskeyAuthentication =
        serde_json::from_str(&saved).map_err(|_| PasskeyError::Ceremony)?;
    let reservation = reserve(state, addr).await?;
    let cred_id = b64url(credential.get_credential_id());
    let row = state
        .store
        .run(move |c| c.find_passkey_by_credential_id(&cred_id))
        .await?
        .filter(|r| r.user_id == user_id)
        .ok_or(PasskeyError::UnknownCredential)?;
    let result = webauthn
        .finish_passkey_authentication(credential, &auth)
        .map_err(refused)?;
    if !result.user_verified() {
        return Err(PasskeyError::Refused(
            "the passkey did not verify you".into(),
        ));
    }
    record_use(state, &row, &result).await?;
    state
        .store
        .run(move |c| throttle::release(c, &reservation, None))
        .await?;
    Ok(methods(result.backup_eligible()))
}

/// Finishes a password-less sign-in: whose passkey it is (the credential
/// and its user handle must both be theirs), and the RFC 8176 methods it
/// proved, `mfa` included (user verification is required).
pub async fn finish_passwordless(
    state: &AppState,
    ceremony: &str,
    credential: &PublicKeyCredential,
    addr: &str,
) -> Result<(User, Vec<Method>), PasskeyError> {
    let webauthn = state.passkeys.webauthn()?;
    let saved = take_ceremony(state, Kind::Passwordless, ceremony, None).await?;
    let auth: DiscoverableAuthentication =
        serde_json::from_str(&saved).map_err(|_| PasskeyError::Ceremony)?;
    let reservation = reserve(state, addr).await?;
    let (handle, raw_id) = webauthn
        .identify_discoverable_authentication(credential)
        .map_err(refused)?;
    let cred_id = b64url(raw_id);
    let found = state
        .store
        .run(move |c| -> Result<_, StoreError> {
            let Some(row) = c.find_passkey_by_credential_id(&cred_id)? else {
                return Ok(None);
            };
            Ok(c.find_user(&row.user_id)?.map(|u| (row, u)))
        })
        .await?;
    let (row, user) = found
        .filter(|(_, u)| user_handle(&u.id) == handle)
        .ok_or(PasskeyError::UnknownCredential)?;
    let passkey: Passkey =
        serde_json::from_str(&row.credential).map_err(|_| PasskeyError::UnknownCredential)?;
    let result = webauthn
        .finish_discoverable_authentication_v2(credential, auth, &passkey)
        .map_err(refused)?;
    if !result.user_verified() {
        return Err(PasskeyError::Refused(
            "the passkey did not verify you".into(),
        ));
    }
    record_use(state, &row, &result).await?;
    if user.disabled {
        return Err(PasskeyError::Refused("this account is disabled".into()));
    }
    state
        .store
        .run(move |c| throttle::release(c, &reservation, None))
        .await?;
    let mut m = methods(result.backup_eligible());
    m.push(Method::Mfa);
    Ok((user, m))
}
