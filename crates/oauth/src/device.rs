//! RFC 8628 rules with no HTTP and no database: user codes (§6.1) and how a
//! poll of the token endpoint is judged (§3.5).

use super::{ClientId, OAuthError};
use rand::Rng;

/// The grant type a device polls with (RFC 8628 §3.4).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// RFC 8628 §6.1: consonants only, so no word can be spelled and no letter
/// is mistaken for a digit; 20^8 ≈ 2^34.6 codes.
pub const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
pub const USER_CODE_LEN: usize = 8;

/// RFC 8628 §3.5 `slow_down`: "the interval MUST be increased by 5 seconds
/// for this and all subsequent requests."
pub const SLOW_DOWN_STEP: i64 = 5;

/// Where a device code stands. Stored as text in `device_codes.status`.
pub mod status {
    /// Waiting for the user.
    pub const PENDING: &str = "pending";
    /// The user allowed it; the next poll gets tokens.
    pub const APPROVED: &str = "approved";
    /// The user denied it.
    pub const DENIED: &str = "denied";
    /// Tokens were issued; the code is used up.
    pub const SPENT: &str = "spent";
}

/// A fresh user code in its stored (normalised) form: eight letters from
/// `USER_CODE_ALPHABET`, drawn uniformly from the OS-seeded CSPRNG.
pub fn generate_user_code() -> String {
    let mut rng = rand::rng();
    (0..USER_CODE_LEN)
        .map(|_| USER_CODE_ALPHABET[rng.random_range(0..USER_CODE_ALPHABET.len())] as char)
        .collect()
}

/// What a person typed, in stored form: case-insensitive, dashes and spaces
/// ignored (RFC 8628 §6.1). `None` when it cannot be a user code at all.
pub fn normalise_user_code(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let valid =
        code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
    valid.then_some(code)
}

/// The stored form shown to people: `XXXX-XXXX`.
pub fn format_user_code(code: &str) -> String {
    if code.len() == USER_CODE_LEN && code.is_ascii() {
        format!("{}-{}", &code[..4], &code[4..])
    } else {
        code.to_string()
    }
}

/// The parts of a device code a poll is judged on.
#[derive(Debug, Clone, Copy)]
pub struct PollState<'a> {
    pub status: &'a str,
    pub client_id: ClientId<'a>,
    pub expires_at: i64,
    pub last_poll_at: Option<i64>,
    pub poll_interval: i64,
}

/// What a poll that is not an error does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollVerdict {
    /// Approved: spend the code and issue tokens.
    Issue,
    /// `authorization_pending`: remember this poll's time.
    Pending,
    /// `slow_down`: remember this poll's time and the new, longer interval.
    SlowDown { interval: i64 },
}

impl PollVerdict {
    /// The answer once the verdict is saved.
    pub fn error(self) -> Option<OAuthError> {
        match self {
            PollVerdict::Issue => None,
            PollVerdict::Pending => Some(OAuthError::AuthorizationPending),
            PollVerdict::SlowDown { .. } => Some(OAuthError::SlowDown),
        }
    }
}

/// RFC 8628 §3.5: judges one poll by `client_id` at `now`.
pub fn judge_poll(
    code: &PollState<'_>,
    client_id: ClientId<'_>,
    now: i64,
) -> Result<PollVerdict, OAuthError> {
    // RFC 6749 §5.2 invalid_grant: "…or was issued to another client."
    if code.client_id != client_id {
        return Err(invalid_code());
    }
    if code.status == status::SPENT {
        return Err(OAuthError::InvalidGrant(
            "the device code was already used".into(),
        ));
    }
    // §3.5 expired_token: "The "device_code" has expired, and the device
    // authorization session has concluded."
    if now >= code.expires_at {
        return Err(OAuthError::ExpiredToken);
    }
    match code.status {
        status::DENIED => Err(OAuthError::AccessDenied(
            "the user denied the authorization request".into(),
        )),
        status::APPROVED => Ok(PollVerdict::Issue),
        // §3.5 slow_down is "a variant of authorization_pending": only a
        // pending request is told to slow down.
        status::PENDING => match code.last_poll_at {
            Some(last) if now - last < code.poll_interval => Ok(PollVerdict::SlowDown {
                interval: code.poll_interval + SLOW_DOWN_STEP,
            }),
            _ => Ok(PollVerdict::Pending),
        },
        other => Err(OAuthError::Server(format!(
            "device code in unknown status '{other}'"
        ))),
    }
}

/// The one answer for a device code that is unknown or another client's, so
/// neither can be told apart.
pub fn invalid_code() -> OAuthError {
    OAuthError::InvalidGrant("the device code is invalid".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(last: Option<i64>) -> PollState<'static> {
        PollState {
            status: status::PENDING,
            client_id: ClientId("c"),
            expires_at: 1_000,
            last_poll_at: last,
            poll_interval: 5,
        }
    }

    #[test]
    fn rfc8628_6_1_user_codes_use_the_alphabet() {
        for _ in 0..100 {
            let code = generate_user_code();
            assert_eq!(code.len(), 8);
            assert!(code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
            assert_eq!(normalise_user_code(&code).as_deref(), Some(code.as_str()));
        }
    }

    #[test]
    fn rfc8628_6_1_entry_ignores_case_dashes_and_spaces() {
        assert_eq!(
            normalise_user_code(" bcdf-ghjk ").as_deref(),
            Some("BCDFGHJK")
        );
        assert_eq!(
            normalise_user_code("Bc Df\tgh-jK").as_deref(),
            Some("BCDFGHJK")
        );
        assert_eq!(normalise_user_code("BCDF-GHJ"), None);
        assert_eq!(normalise_user_code("BCDF-GHJA"), None, "vowels never occur");
        assert_eq!(normalise_user_code("BCDF-GHJ1"), None);
        assert_eq!(normalise_user_code("ＢCDF-GHJK"), None);
        assert_eq!(format_user_code("BCDFGHJK"), "BCDF-GHJK");
    }

    #[test]
    fn rfc8628_3_5_first_poll_and_on_time_polls_are_pending() {
        assert_eq!(
            judge_poll(&pending(None), ClientId("c"), 10).unwrap(),
            PollVerdict::Pending
        );
        assert_eq!(
            judge_poll(&pending(Some(5)), ClientId("c"), 10).unwrap(),
            PollVerdict::Pending
        );
    }

    #[test]
    fn rfc8628_3_5_fast_poll_is_slow_down_and_the_interval_grows_by_5() {
        assert_eq!(
            judge_poll(&pending(Some(6)), ClientId("c"), 10).unwrap(),
            PollVerdict::SlowDown { interval: 10 }
        );
    }

    #[test]
    fn rfc8628_3_5_final_states() {
        let mut s = pending(Some(9));
        s.status = status::APPROVED;
        assert_eq!(
            judge_poll(&s, ClientId("c"), 10).unwrap(),
            PollVerdict::Issue
        );
        s.status = status::DENIED;
        assert_eq!(
            judge_poll(&s, ClientId("c"), 10).unwrap_err().code(),
            "access_denied"
        );
        s.status = status::SPENT;
        assert_eq!(
            judge_poll(&s, ClientId("c"), 10).unwrap_err().code(),
            "invalid_grant"
        );
        s.status = status::APPROVED;
        assert_eq!(
            judge_poll(&s, ClientId("c"), 1_000).unwrap_err().code(),
            "expired_token"
        );
        assert_eq!(
            judge_poll(&s, ClientId("other"), 10).unwrap_err().code(),
            "invalid_grant"
        );
    }
}
