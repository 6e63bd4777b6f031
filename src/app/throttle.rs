//! What is throttled, and how hard: the keys attempts are counted on
//! (`ThrottleKey`, one variant per thing throttled) and the back-off they
//! follow (`BACKOFF`). The counting itself, in the database so every
//! instance agrees, is `store::models::throttle`'s; it sees plain strings
//! and these numbers.

use crate::store::models::throttle::{Backoff, Reservation};
use crate::store::{DbConn, StoreResult};
use std::fmt;

/// Failures allowed before a key is locked.
pub const FREE_FAILURES: i64 = 5;
/// Failures are forgotten this long (seconds) after the last one.
pub const FORGET_AFTER: i64 = 15 * 60;
/// The longest lock, in seconds.
pub const MAX_LOCK: i64 = 15 * 60;

/// The back-off of every key: after `FREE_FAILURES`, each failure locks the
/// key for twice as long as the one before (1 s, 2 s, 4 s, … up to
/// `MAX_LOCK`), counted from the millisecond of the failure; failures are
/// forgotten `FORGET_AFTER` seconds after the last one.
pub const BACKOFF: Backoff = Backoff {
    forget_after: FORGET_AFTER,
    lock_ms,
};

/// How long (milliseconds) the `failures`-th failure in a row locks a key.
fn lock_ms(failures: i64) -> Option<i64> {
    (failures >= FREE_FAILURES).then(|| {
        let exp = (failures - FREE_FAILURES).min(20) as u32;
        (1i64 << exp).min(MAX_LOCK) * 1000
    })
}

/// One thing attempts are counted on. Stored as `<namespace>:<value>`
/// (`as_stored`), the strings the `sign_in_throttle` table has always
/// held, so rows written before this type still count.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ThrottleKey {
    /// Signing in (page and password grant), per username as compared:
    /// `user:<folded name>`. Build it with `ThrottleKey::account`.
    Account(String),
    /// Signing in, per client address: `ip:<address>`.
    Address(String),
    /// Signing up, per client address: `signup-ip:<address>`.
    SignUp(String),
    /// Typing a device user code, per client address: `device-ip:<address>`.
    DeviceAddress(String),
    /// Typing a device user code, per browser: `device-browser:<hash of its
    /// CSRF cookie>`. Build it with `ThrottleKey::device_browser`.
    DeviceBrowser(String),
    /// Typing a device user code, per signed-in person: `device-user:<id>`.
    DeviceUser(String),
    /// Asking for a password-reset mail, per name or address typed (as
    /// compared: trimmed, lower case): `reset-for:<typed>`. Build it with
    /// `ThrottleKey::reset_for`.
    ResetFor(String),
    /// Password-reset mails, per person: `reset-user:<id>`.
    ResetUser(String),
    /// Verification mails (sign-up aside), per person: `verify-mail:<id>`.
    VerifyMail(String),
    /// Typing a second factor's code (an authenticator app's or a
    /// recovery code), per person: `factor-user:<id>`.
    SecondFactor(String),
    /// Passkey assertions checked, per client address: `passkey-ip:<address>`.
    PasskeyAddress(String),
}

impl ThrottleKey {
    /// One budget per username as compared (RFC 8265 §3.3: `ALICE` and
    /// `ａｌｉｃｅ` sign in as `alice`, so they share her budget),
    /// invisible characters ignored (`text::fold_username`).
    pub fn account(username: &str) -> ThrottleKey {
        ThrottleKey::Account(crate::text::fold_username(username))
    }

    /// One budget per browser, keyed by the hash of its CSRF cookie's value.
    pub fn device_browser(cookie_value: &str) -> ThrottleKey {
        ThrottleKey::DeviceBrowser(crate::crypto::token_hash(cookie_value))
    }

    /// One budget per name or address typed on the forgotten-password
    /// page, however it is capitalised or padded.
    pub fn reset_for(typed: &str) -> ThrottleKey {
        ThrottleKey::ResetFor(typed.trim().to_lowercase())
    }

    /// The key as the `sign_in_throttle` table stores it.
    pub fn as_stored(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ThrottleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (namespace, value) = match self {
            ThrottleKey::Account(v) => ("user", v),
            ThrottleKey::Address(v) => ("ip", v),
            ThrottleKey::SignUp(v) => ("signup-ip", v),
            ThrottleKey::DeviceAddress(v) => ("device-ip", v),
            ThrottleKey::DeviceBrowser(v) => ("device-browser", v),
            ThrottleKey::DeviceUser(v) => ("device-user", v),
            ThrottleKey::ResetFor(v) => ("reset-for", v),
            ThrottleKey::ResetUser(v) => ("reset-user", v),
            ThrottleKey::VerifyMail(v) => ("verify-mail", v),
            ThrottleKey::SecondFactor(v) => ("factor-user", v),
            ThrottleKey::PasskeyAddress(v) => ("passkey-ip", v),
        };
        write!(f, "{namespace}:{value}")
    }
}

/// Reserves one attempt on every key at `now_ms` under `BACKOFF`
/// (`DbConn::throttle_reserve`): the reservation, or the wait in whole
/// seconds when any key is locked. Runs its own transaction.
pub fn reserve(
    c: &mut DbConn,
    keys: &[ThrottleKey],
    now_ms: i64,
) -> StoreResult<Result<Reservation, i64>> {
    let stored: Vec<String> = keys.iter().map(ThrottleKey::as_stored).collect();
    let stored: Vec<&str> = stored.iter().map(String::as_str).collect();
    c.throttle_reserve(&stored, &BACKOFF, now_ms)
}

/// Gives a successful attempt's reservation back; `clear` forgets all of
/// its key's failures (`DbConn::throttle_release`).
pub fn release(
    c: &mut DbConn,
    reservation: &Reservation,
    clear: Option<&ThrottleKey>,
) -> StoreResult<()> {
    let clear = clear.map(ThrottleKey::as_stored);
    c.throttle_release(reservation, clear.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stored_as_they_always_were() {
        let cases = [
            (ThrottleKey::account("ALICE"), "user:alice".to_string()),
            (
                ThrottleKey::Address("192.0.2.1".into()),
                "ip:192.0.2.1".into(),
            ),
            (
                ThrottleKey::Address("2001:db8::17".into()),
                "ip:2001:db8::17".into(),
            ),
            (
                ThrottleKey::SignUp("192.0.2.1".into()),
                "signup-ip:192.0.2.1".into(),
            ),
            (
                ThrottleKey::DeviceAddress("192.0.2.1".into()),
                "device-ip:192.0.2.1".into(),
            ),
            (
                ThrottleKey::device_browser("cookie"),
                format!("device-browser:{}", crate::crypto::token_hash("cookie")),
            ),
            (
                ThrottleKey::DeviceUser("u-1".into()),
                "device-user:u-1".into(),
            ),
            (
                ThrottleKey::reset_for(" Alice@Example.COM "),
                "reset-for:alice@example.com".into(),
            ),
            (
                ThrottleKey::ResetUser("u-1".into()),
                "reset-user:u-1".into(),
            ),
            (
                ThrottleKey::VerifyMail("u-1".into()),
                "verify-mail:u-1".into(),
            ),
            (
                ThrottleKey::SecondFactor("u-1".into()),
                "factor-user:u-1".into(),
            ),
            (
                ThrottleKey::PasskeyAddress("192.0.2.1".into()),
                "passkey-ip:192.0.2.1".into(),
            ),
        ];
        for (key, stored) in cases {
            assert_eq!(key.as_stored(), stored);
        }
    }

    #[test]
    fn locks_double_after_the_free_failures_up_to_the_longest() {
        assert_eq!(lock_ms(1), None);
        assert_eq!(lock_ms(FREE_FAILURES - 1), None);
        assert_eq!(lock_ms(FREE_FAILURES), Some(1000));
        assert_eq!(lock_ms(FREE_FAILURES + 1), Some(2000));
        assert_eq!(lock_ms(FREE_FAILURES + 3), Some(8000));
        assert_eq!(lock_ms(FREE_FAILURES + 10), Some(MAX_LOCK * 1000));
        assert_eq!(lock_ms(i64::MAX), Some(MAX_LOCK * 1000));
    }
}
