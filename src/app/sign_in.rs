//! Checking a username and password, shared by the sign-in page and the
//! password grant. Unknown users cost the same argon2 work as known ones
//! (a fixed dummy hash) and get the same answer, so usernames can't be
//! probed. Attempts are throttled per username and per client address, in
//! the database so every instance agrees: each is counted before its
//! password is checked (see `app::throttle` and `store::models::throttle`).
//!
//! Every attempt is logged at info: the outcome, the person's id (for an
//! unknown username, only a keyed hash of it, so repeated guesses at one
//! name can be told apart without the name, which may be a password typed
//! in the wrong field, ever reaching the log), the client address, the
//! app (when the sign-in is for one) and where it was tried. Never the
//! password.

use super::metrics::{SignInVia, Throttle};
use super::throttle::{self, ThrottleKey};
use super::AppState;
use crate::oauth::authorize::SecondFactor;
use crate::registry::users::normalize_password;
use crate::store::models::audit_event::{actor, subject, AuditType, NewAuditEvent};
use crate::store::models::User;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Wrong username or password: one message for both.
    #[error("wrong username or password")]
    Invalid,
    /// The right password of a disabled account. Said only once the
    /// password checks out, so it tells a guesser nothing.
    #[error("this account is disabled")]
    Disabled,
    /// Too many failures; try again after this many seconds.
    #[error("too many failed attempts; try again in {0} seconds")]
    Throttled(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The address a request came from: the TCP peer, or, when the peer is one
/// of `GATEHOUSE_TRUSTED_PROXIES`, the client named by the one header they
/// write (`GATEHOUSE_TRUSTED_PROXY_HEADER`), every line of it
/// (`net::client_ip`). Anyone else's forwarding headers, and the other
/// header from anyone, are ignored, since any client can set them.
pub fn client_addr(req: &actix_web::HttpRequest) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "unknown".into();
    };
    let Some(state) = req.app_data::<actix_web::web::Data<AppState>>() else {
        return peer.to_string();
    };
    let header = state.config.trusted_proxy_header;
    // A line that is not visible ASCII cannot name an address; as an
    // unparsable hop it stops the walk at the last trusted one.
    let lines = req
        .headers()
        .get_all(header.name())
        .map(|v| v.to_str().unwrap_or("unreadable"));
    crate::net::client_ip(peer, &state.config.trusted_proxies, header, lines).to_string()
}

/// Who an attempt was for, as the log says it: the person's id, or for an
/// unknown username a keyed hash of its throttle key (`ThrottleKey::account`), the same
/// for every attempt at that name and of no use without the server secret.
fn attempt_subject(state: &AppState, ukey: &str, user: Option<&User>) -> String {
    match user {
        Some(u) => u.id.clone(),
        None => format!(
            "unknown:{}",
            crate::crypto::b64url(
                &state
                    .server_secret
                    .mac(&[b"gatehouse-sign-in-log", ukey.as_bytes()])[..9]
            )
        ),
    }
}

/// Whether `password` is `user`'s (the dummy hash's work for no user).
/// New passwords are hashed in their NFKC form
/// (`registry::users::normalize_password`, NIST SP 800-63B §5.1.1.2), so
/// that form is tried first; a password set before normalisation was
/// hashed as typed, so when the typed form differs and the normal form
/// fails, the typed form is tried too. No user costs the same work.
async fn verify_password(state: &AppState, password: &str, user: Option<&User>) -> bool {
    let normalized = normalize_password(password);
    let tries = if normalized == password {
        vec![normalized]
    } else {
        vec![normalized, password.to_string()]
    };
    for attempt in tries {
        let ok = match user {
            Some(u) => state.hasher.verify(attempt, u.password_hash.clone()).await,
            None => state.hasher.verify_dummy(attempt).await,
        };
        if ok {
            return true;
        }
    }
    false
}

/// What `user` has and owes of second factors: the factor policy
/// (`GATEHOUSE_MFA`) and whether they have one.
pub async fn second_factor(state: &AppState, user: &User) -> Result<SecondFactor, StoreError> {
    let id = user.id.clone();
    let factors = state.store.run(move |c| c.user_factors(&id)).await?;
    Ok(SecondFactor {
        required: state.config.mfa.requires(user.is_admin),
        enrolled: factors.any(),
    })
}

/// Checks `username` and `password`, throttled; `client_id` is the app
/// the sign-in is for, when there is one (for the log).
pub async fn authenticate_user(
    state: &AppState,
    username: &str,
    password: &str,
    addr: &str,
    via: SignInVia,
    client_id: Option<&str>,
) -> Result<User, SignInError> {
    authenticate(state, username, password, addr, via, client_id, false).await
}

/// `authenticate_user` where the password is all there will be (the
/// password grant: nothing can ask for a second factor after it). A
/// person who has a second factor, or whom the policy requires to have
/// one, is refused as a wrong password is (`Invalid`), and the attempt
/// counts as a failure: so the answer never tells that their password was
/// right, and neither does the throttle (a right password would otherwise
/// clear its count).
pub async fn authenticate_password_alone(
    state: &AppState,
    username: &str,
    password: &str,
    addr: &str,
    via: SignInVia,
    client_id: Option<&str>,
) -> Result<User, SignInError> {
    authenticate(state, username, password, addr, via, client_id, true).await
}

async fn authenticate(
    state: &AppState,
    username: &str,
    password: &str,
    addr: &str,
    via: SignInVia,
    client_id: Option<&str>,
    password_alone: bool,
) -> Result<User, SignInError> {
    let now_ms = state.clock.now_millis();
    let ukey = ThrottleKey::account(username);
    let keys = [ukey.clone(), ThrottleKey::Address(addr.to_string())];
    let name = username.trim().to_string();
    // The attempt counts as a failure before the password is checked, and
    // is refused unchecked while the user or the address is locked: parallel
    // guesses get no more passwords checked than guesses one at a time
    // (RFC 6819 §4.4.3.6).
    let reserved = state
        .store
        .run(move |c| -> Result<_, StoreError> {
            Ok(match throttle::reserve(c, &keys, now_ms)? {
                Ok(reservation) => Ok((reservation, c.find_user_by_username(&name)?)),
                Err(wait) => Err(wait),
            })
        })
        .await?;
    let (reservation, user) = match reserved {
        Ok(found) => found,
        Err(wait) => {
            // Counted on /metrics, not written to the audit trail: a row
            // per refused request would let a flood that the throttle
            // answers without a write fill the table.
            state.metrics.throttled(Throttle::SignIn);
            tracing::info!(
                outcome = "throttled",
                addr,
                client_id = client_id.unwrap_or("-"),
                ?via,
                "sign-in refused unchecked: too many failures"
            );
            return Err(SignInError::Throttled(wait));
        }
    };
    let ok = verify_password(state, password, user.as_ref()).await;
    let subject = attempt_subject(state, &ukey.as_stored(), user.as_ref());
    let log = |outcome: &str| {
        tracing::info!(
            outcome,
            user = %subject,
            addr,
            client_id = client_id.unwrap_or("-"),
            ?via,
            "sign-in"
        );
    };
    let audited_subject = match &user {
        Some(u) => subject::person(&u.id),
        None => subject.clone(),
    };
    let failed = |reason: &'static str| {
        failure_event(addr, via, client_id, reason).subject(audited_subject.clone())
    };
    let factor_due = match &user {
        Some(u) if ok && password_alone && !u.disabled => {
            let f = second_factor(state, u).await?;
            f.required || f.enrolled
        }
        _ => false,
    };
    match (ok, user) {
        // Counted already, by the reservation.
        (true, Some(_)) if factor_due => {
            state.metrics.sign_in_failed(via);
            log("second_factor_required");
            super::audit::record(state, failed("second_factor_required")).await?;
            Err(SignInError::Invalid)
        }
        (true, Some(user)) if !user.disabled => {
            // Success: the user's failures are forgotten, the address gets
            // this attempt back. The password grant's sign-in is complete
            // here (a page's is recorded when its session starts).
            let event = (via == SignInVia::PasswordGrant).then(|| {
                let mut e = NewAuditEvent::new(AuditType::SignIn, actor::person(&user.id))
                    .subject(subject::person(&user.id))
                    .from(Some(addr.to_string()), None)
                    .detail("via", via.label())
                    .detail("amr", "pwd");
                if let Some(c) = client_id {
                    e = e.client(c);
                }
                e
            });
            let at_ms = state.clock.now_millis();
            state
                .store
                .run(move |c| {
                    c.transaction(|tx| {
                        throttle::release(tx, &reservation, Some(&ukey))?;
                        match &event {
                            Some(e) => tx.record_audit(at_ms, e),
                            None => Ok(()),
                        }
                    })
                })
                .await?;
            log("success");
            Ok(user)
        }
        // The right password of a disabled account: still a failure, as
        // counted by the reservation, but the person may be told why.
        (true, Some(_)) => {
            state.metrics.sign_in_failed(via);
            log("disabled");
            super::audit::record(state, failed("disabled")).await?;
            Err(SignInError::Disabled)
        }
        // Counted already, by the reservation.
        (_, found) => {
            state.metrics.sign_in_failed(via);
            log("failure");
            let reason = if found.is_some() {
                "wrong_password"
            } else {
                "unknown_username"
            };
            super::audit::record(state, failed(reason)).await?;
            Err(SignInError::Invalid)
        }
    }
}

/// A failed sign-in's audit event (the subject is the caller's to add):
/// by someone not known, from `addr`, with the reason class (never the
/// password or the typed username).
fn failure_event(
    addr: &str,
    via: SignInVia,
    client_id: Option<&str>,
    reason: &'static str,
) -> NewAuditEvent {
    let mut e = NewAuditEvent::new(AuditType::SignIn, actor::ANONYMOUS)
        .failed()
        .from(Some(addr.to_string()), None)
        .detail("via", via.label())
        .detail("reason", reason);
    if let Some(c) = client_id {
        e = e.client(c);
    }
    e
}
