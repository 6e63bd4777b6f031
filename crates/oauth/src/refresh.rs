//! Refresh token rules (RFC 6749 §6, RFC 9700 §4.14.2): what presenting a
//! refresh token does, decided from the stored token and family alone
//! (their states, not the store's rows). The
//! grant applies the decision with atomic updates; see
//! `http::grants::refresh_token`.

use super::ClientId;

/// What the rules need to know about a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshToken {
    /// Idle expiry.
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub grace_used_at: Option<i64>,
    /// Replaced by a grace replay of its parent.
    pub revoked_at: Option<i64>,
}

/// What the rules need to know about its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshFamily<'a> {
    /// The client it was issued to.
    pub client_id: ClientId<'a>,
    /// Absolute end.
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

/// The reuse policy in force (`GATEHOUSE_REFRESH_REUSE_GRACE`).
#[derive(Debug, Clone, Copy)]
pub struct ReusePolicy {
    /// Seconds after a rotation during which the just-spent token may be
    /// presented once more; 0 turns the grace off.
    pub grace: i64,
}

/// What to do with a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Unspent and live: spend it and issue its successor.
    Rotate,
    /// Spent moments ago and still in its grace: issue a successor that
    /// replaces the unused one issued before (one live chain per family).
    Grace,
    /// Spent: someone holds a copy. Revoke the family (RFC 9700 §4.14.2).
    RevokeFamily,
    /// Refused, and nothing changes.
    Reject(&'static str),
}

/// Decides what presenting `token` (of `family`) by `client_id` does.
/// `successor_used` says whether a token issued from this one has itself
/// been used (only asked for spent tokens).
pub fn decide(
    token: &RefreshToken,
    family: &RefreshFamily<'_>,
    client_id: ClientId<'_>,
    now: i64,
    successor_used: bool,
    policy: ReusePolicy,
) -> Decision {
    // RFC 6749 §10.4: "The authorization server MUST verify the binding
    // between the refresh token and client identity whenever the client
    // identity can be authenticated." Another client's attempt changes
    // nothing, so it cannot be used to kill someone else's family, and it
    // hears what an unknown token gets.
    if family.client_id != client_id {
        return Decision::Reject("the refresh token is invalid");
    }
    if family.revoked_at.is_some() {
        return Decision::Reject("the refresh token has been revoked");
    }
    if now >= family.expires_at {
        return Decision::Reject("the refresh token has expired");
    }
    // A grace replay of its parent replaced this token, which the replaying
    // client never received. Someone holds it anyway: a second holder.
    if token.revoked_at.is_some() {
        return Decision::RevokeFamily;
    }
    if let Some(used_at) = token.used_at {
        let in_grace = policy.grace > 0
            && token.grace_used_at.is_none()
            && now - used_at <= policy.grace
            && now < token.expires_at
            && !successor_used;
        return if in_grace {
            Decision::Grace
        } else {
            Decision::RevokeFamily
        };
    }
    if now >= token.expires_at {
        return Decision::Reject("the refresh token has expired");
    }
    Decision::Rotate
}

/// RFC 7662 §2.2 `active` for a refresh token: usable right now, i.e. not
/// spent, revoked or expired (a spent token in its reuse grace counts as
/// spent).
pub fn is_active(token: &RefreshToken, family: &RefreshFamily<'_>, now: i64) -> bool {
    family.revoked_at.is_none()
        && token.revoked_at.is_none()
        && token.used_at.is_none()
        && now < family.expires_at
        && now < token.expires_at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family() -> RefreshFamily<'static> {
        RefreshFamily {
            client_id: ClientId("c"),
            expires_at: 1000,
            revoked_at: None,
        }
    }

    fn token() -> RefreshToken {
        RefreshToken {
            expires_at: 500,
            used_at: None,
            grace_used_at: None,
            revoked_at: None,
        }
    }

    const OFF: ReusePolicy = ReusePolicy { grace: 0 };
    const GRACE: ReusePolicy = ReusePolicy { grace: 30 };

    #[test]
    fn rfc6749_6_unspent_live_token_rotates() {
        assert_eq!(
            decide(&token(), &family(), ClientId("c"), 10, false, OFF),
            Decision::Rotate
        );
        assert!(is_active(&token(), &family(), 10));
    }

    #[test]
    fn rfc6749_10_4_other_client_is_rejected_without_revoking() {
        let mut t = token();
        t.used_at = Some(5);
        assert!(matches!(
            decide(&t, &family(), ClientId("other"), 10, false, OFF),
            Decision::Reject(_)
        ));
    }

    #[test]
    fn rfc9700_4_14_2_spent_token_revokes_the_family() {
        let mut t = token();
        t.used_at = Some(5);
        assert_eq!(
            decide(&t, &family(), ClientId("c"), 10, false, OFF),
            Decision::RevokeFamily
        );
        assert!(!is_active(&t, &family(), 10));
    }

    #[test]
    fn grace_allows_one_replay_inside_the_window_only() {
        let mut t = token();
        t.used_at = Some(100);
        assert_eq!(
            decide(&t, &family(), ClientId("c"), 130, false, GRACE),
            Decision::Grace
        );
        assert_eq!(
            decide(&t, &family(), ClientId("c"), 131, false, GRACE),
            Decision::RevokeFamily
        );
        // Its successor was used: the family moved on; this is theft.
        assert_eq!(
            decide(&t, &family(), ClientId("c"), 110, true, GRACE),
            Decision::RevokeFamily
        );
        t.grace_used_at = Some(110);
        assert_eq!(
            decide(&t, &family(), ClientId("c"), 111, false, GRACE),
            Decision::RevokeFamily
        );
    }

    #[test]
    fn rfc9700_4_14_2_successor_replaced_by_a_grace_replay_revokes_the_family() {
        let mut t = token();
        t.revoked_at = Some(5);
        assert_eq!(
            decide(&t, &family(), ClientId("c"), 10, false, GRACE),
            Decision::RevokeFamily
        );
        assert!(!is_active(&t, &family(), 10));
        // Another client's attempt still changes nothing.
        assert!(matches!(
            decide(&t, &family(), ClientId("other"), 10, false, GRACE),
            Decision::Reject(_)
        ));
        // Nor does presenting it once the family is gone.
        let mut f = family();
        f.revoked_at = Some(6);
        assert!(matches!(
            decide(&t, &f, ClientId("c"), 10, false, GRACE),
            Decision::Reject(_)
        ));
    }

    #[test]
    fn expiry_and_revocation_reject() {
        let t = token();
        assert!(matches!(
            decide(&t, &family(), ClientId("c"), 500, false, OFF),
            Decision::Reject(_)
        ));
        let mut f = family();
        f.expires_at = 400;
        assert!(matches!(
            decide(&t, &f, ClientId("c"), 400, false, OFF),
            Decision::Reject(_)
        ));
        let mut f = family();
        f.revoked_at = Some(1);
        assert!(matches!(
            decide(&t, &f, ClientId("c"), 10, false, OFF),
            Decision::Reject(_)
        ));
        assert!(!is_active(&t, &f, 10));
    }
}
