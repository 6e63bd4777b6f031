//! Which keys are in force at one moment, from the `signing_keys` rows and
//! the key material at hand: the one that signs and every one that can
//! still have live tokens (the JWKS). The rule is pure and unit-tested on
//! plain rows; `keystore` reads the folder and the table.

use super::jws::SigningKey;
use super::{AccessTokenClaims, IdTokenClaims};
use crate::store::models::SigningKeyRow;
use jsonwebtoken::Algorithm;
use std::sync::Arc;

/// The kids the rule picks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub signer: String,
    /// Every published kid, the signer first.
    pub published: Vec<String>,
}

/// Whether `row`'s key signs at `now`: from `created_at` (a rotation may
/// set it ahead, so the key is published before it signs) until
/// `retired_at`.
pub fn signs_at(row: &SigningKeyRow, now: i64) -> bool {
    row.created_at <= now && row.retired_at.is_none_or(|t| t > now)
}

/// The rule: among the keys whose material is at hand (`have`), the newest
/// one that signs at `now` signs (ties break on kid, so instances agree),
/// and every one not past its `not_after` is published. `None` when no key
/// at hand signs now.
pub fn select(rows: &[SigningKeyRow], have: &[&str], now: i64) -> Option<Selection> {
    let at_hand = |r: &&SigningKeyRow| have.contains(&r.kid.as_str());
    let signer = rows
        .iter()
        .filter(at_hand)
        .filter(|r| signs_at(r, now))
        .max_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)))?
        .kid
        .clone();
    let mut published: Vec<String> = rows
        .iter()
        .filter(at_hand)
        .filter(|r| r.not_after.is_none_or(|t| t > now))
        .map(|r| r.kid.clone())
        .collect();
    published.sort_by_key(|k| *k != signer);
    Some(Selection { signer, published })
}

/// A key's state at one moment, by `select` over every row (`gatehouse
/// keys list`, the admin console).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// It signs new tokens (and is published).
    Signing,
    /// It is in the JWKS but does not sign: staged by a rotation, or
    /// retired with tokens that may still be live.
    Published,
    /// Neither signs nor is published any more.
    Retired,
}

impl KeyState {
    pub fn name(self) -> &'static str {
        match self {
            KeyState::Signing => "signing",
            KeyState::Published => "published",
            KeyState::Retired => "retired",
        }
    }
}

pub fn states(rows: &[SigningKeyRow], now: i64) -> Vec<KeyState> {
    let kids: Vec<&str> = rows.iter().map(|r| r.kid.as_str()).collect();
    let selection = select(rows, &kids, now);
    rows.iter()
        .map(|r| match &selection {
            Some(s) if s.signer == r.kid => KeyState::Signing,
            Some(s) if s.published.contains(&r.kid) => KeyState::Published,
            // No key signs now (none ever made, or all retired): what
            // is not past its end is still published.
            None if r.not_after.is_none_or(|t| t > now) => KeyState::Published,
            _ => KeyState::Retired,
        })
        .collect()
}

/// The keys in force at one moment.
pub struct KeySet {
    pub signer: Arc<SigningKey>,
    pub published: Vec<Arc<SigningKey>>,
    pub jwks: String,
}

impl KeySet {
    /// The set `selection` names, from `material`; `None` when the signer
    /// is not in it.
    pub fn assemble(material: Vec<SigningKey>, selection: &Selection) -> Option<KeySet> {
        let mut published: Vec<Arc<SigningKey>> = material
            .into_iter()
            .filter(|k| selection.published.contains(&k.kid))
            .map(Arc::new)
            .collect();
        // Signer first, so clients that take the first key get the right one.
        published.sort_by_key(|k| k.kid != selection.signer);
        let signer = published
            .first()
            .filter(|k| k.kid == selection.signer)?
            .clone();
        let jwks = serde_json::json!({
            "keys": published.iter().map(|k| k.jwk()).collect::<Vec<_>>()
        })
        .to_string();
        Some(KeySet {
            signer,
            published,
            jwks,
        })
    }

    /// The published key a token's header names, when the header says
    /// RS256 (and, with `typ`, that type).
    fn key_for(&self, token: &str, typ: Option<&str>) -> Option<&SigningKey> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::RS256 {
            return None;
        }
        if typ.is_some() && header.typ.as_deref() != typ {
            return None;
        }
        let kid = header.kid?;
        self.published
            .iter()
            .find(|k| k.kid == kid)
            .map(|k| k.as_ref())
    }

    /// Verifies one of our own access tokens: signature by a published key,
    /// issuer, audience (any, when `None`) and expiry. Returns its claims.
    pub fn verify(
        &self,
        token: &str,
        issuer: &str,
        audience: Option<&str>,
    ) -> Option<AccessTokenClaims> {
        self.key_for(token, None)?
            .verify_access_token(token, issuer, audience)
    }

    /// Verifies an ID token gatehouse issued, as it comes back in an
    /// `id_token_hint` (OIDC Core §3.1.2.1, RP-Initiated Logout §2):
    /// `typ: JWT`, RS256 by a published key, our issuer. Its expiry is not
    /// checked (a hint may have expired, §3.1.2.1) and its audience is
    /// returned for the caller to judge. An access token is not an ID
    /// token and is refused.
    pub fn verify_id_token_hint(&self, token: &str, issuer: &str) -> Option<IdTokenClaims> {
        self.key_for(token, Some("JWT"))?
            .verify_id_token_hint(token, issuer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kid: &str, created: i64, retired: Option<i64>, not_after: Option<i64>) -> SigningKeyRow {
        SigningKeyRow {
            kid: kid.into(),
            created_at: created,
            retired_at: retired,
            not_after,
        }
    }

    fn sel(signer: &str, published: &[&str]) -> Option<Selection> {
        Some(Selection {
            signer: signer.into(),
            published: published.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn the_newest_key_that_signs_now_signs_and_ties_break_on_kid() {
        let rows = [row("a", 10, None, None), row("b", 20, None, None)];
        assert_eq!(select(&rows, &["a", "b"], 30), sel("b", &["b", "a"]));
        let tied = [row("b", 10, None, None), row("a", 10, None, None)];
        assert_eq!(select(&tied, &["a", "b"], 30), sel("b", &["b", "a"]));
    }

    #[test]
    fn rfc7517_a_staged_key_is_published_before_it_signs_and_a_retired_one_until_not_after() {
        // A rotation at 100 with a switch at 160 and tokens living 600 s.
        let rows = [
            row("old", 10, Some(160), Some(760)),
            row("new", 160, None, None),
        ];
        assert_eq!(
            select(&rows, &["old", "new"], 100),
            sel("old", &["old", "new"])
        );
        assert_eq!(
            select(&rows, &["old", "new"], 160),
            sel("new", &["new", "old"])
        );
        assert_eq!(select(&rows, &["old", "new"], 760), sel("new", &["new"]));
    }

    #[test]
    fn a_key_without_material_is_neither_signer_nor_published() {
        let rows = [row("a", 10, None, None), row("b", 20, None, None)];
        assert_eq!(select(&rows, &["a"], 30), sel("a", &["a"]));
        assert_eq!(select(&rows, &[], 30), None);
        let retired = [row("a", 10, Some(20), None)];
        assert_eq!(select(&retired, &["a"], 30), None, "no key signs now");
    }

    /// A rotation at 100 that switches at 160, tokens living 600 s: the
    /// old key signs, then is published until 760, then is retired.
    #[test]
    fn key_states_follow_the_keyset_rule() {
        let rows = [
            row("old", 10, Some(160), Some(760)),
            row("new", 160, None, None),
        ];
        use KeyState::*;
        assert_eq!(states(&rows, 100), vec![Signing, Published]);
        assert_eq!(states(&rows, 160), vec![Published, Signing]);
        assert_eq!(states(&rows, 760), vec![Retired, Signing]);
    }
}
