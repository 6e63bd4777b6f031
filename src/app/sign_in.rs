//! Checking a username and password, shared by the sign-in page and the
//! password grant. Unknown users cost the same argon2 work as known ones
//! (a fixed dummy hash) and get the same answer, so usernames can't be
//! probed. Attempts are throttled per username and per client address, in
//! the database so every instance agrees: each is counted before its
//! password is checked (see `app::throttle` and `store::models::throttle`).

use super::metrics::{SignInVia, Throttle};
use super::throttle::{self, ThrottleKey};
use super::AppState;
use crate::store::models::User;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Wrong username or password, or a disabled user: one message for all.
    #[error("wrong username or password")]
    Invalid,
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

pub async fn authenticate_user(
    state: &AppState,
    username: &str,
    password: &str,
    addr: &str,
    via: SignInVia,
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
    let (reservation, user) = reserved.map_err(|wait| {
        state.metrics.throttled(Throttle::SignIn);
        SignInError::Throttled(wait)
    })?;
    let ok = match &user {
        Some(u) => {
            let ok = state
                .hasher
                .verify(password.to_string(), u.password_hash.clone())
                .await;
            ok && !u.disabled
        }
        None => state.hasher.verify_dummy(password.to_string()).await,
    };
    match (ok, user) {
        (true, Some(user)) => {
            // Success: the user's failures are forgotten, the address gets
            // this attempt back.
            state
                .store
                .run(move |c| throttle::release(c, &reservation, Some(&ukey)))
                .await?;
            Ok(user)
        }
        // Counted already, by the reservation.
        _ => {
            state.metrics.sign_in_failed(via);
            Err(SignInError::Invalid)
        }
    }
}
