//! RFC 7591 §3 initial access tokens: what `POST /register` asks of a
//! platform when `GATEHOUSE_REGISTRATION=token`. Only their hashes are
//! stored; the operator tells them apart by an id made from the hash
//! (`token_id`), never by the token.

use super::{Registry, RegistryError};
use crate::crypto::{random_token, token_hash};
use crate::store::models::audit_event::{subject, AuditType};
use crate::store::models::registration_token::RegistrationTokenRow;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Hex digits of the id `registration-token list` shows.
pub const TOKEN_ID_LEN: usize = 12;
/// The shortest prefix of an id `registration-token revoke` accepts.
pub const MIN_TOKEN_ID_PREFIX: usize = 6;

/// An initial access token as the operator sees it: an id and its
/// limits, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationTokenInfo {
    /// The first `TOKEN_ID_LEN` hex digits of the token's SHA-256: stable,
    /// and says nothing useful about the token (a 48-bit prefix of a hash
    /// of 256 random bits).
    pub id: String,
    pub uses_left: i64,
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

impl RegistrationTokenInfo {
    /// Whether `POST /register` would still take it at `now` (the rule of
    /// `spend_registration_token`).
    pub fn usable_at(&self, now: i64) -> bool {
        self.uses_left > 0 && self.expires_at.is_none_or(|t| t > now)
    }
}

/// The id of a stored token hash (base64url of the SHA-256, as
/// `crypto::token_hash` makes it): the hash's first bytes in hex, so it
/// never starts with `-` on a command line. A hash that does not decode
/// (none does) falls back to its own first characters.
pub fn token_id(stored_hash: &str) -> String {
    match URL_SAFE_NO_PAD.decode(stored_hash) {
        Ok(bytes) => bytes
            .iter()
            .take(TOKEN_ID_LEN / 2)
            .map(|b| format!("{b:02x}"))
            .collect(),
        Err(_) => stored_hash.chars().take(TOKEN_ID_LEN).collect(),
    }
}

fn info(row: &RegistrationTokenRow) -> RegistrationTokenInfo {
    RegistrationTokenInfo {
        id: token_id(&row.token_hash),
        uses_left: row.uses_left,
        expires_at: row.expires_at,
        created_at: row.created_at,
    }
}

/// The one row whose id starts with `prefix` (case-insensitive hex, at
/// least `MIN_TOKEN_ID_PREFIX` digits).
fn pick<'r>(
    rows: &'r [RegistrationTokenRow],
    prefix: &str,
) -> Result<&'r RegistrationTokenRow, RegistryError> {
    let prefix = prefix.trim().to_ascii_lowercase();
    if prefix.len() < MIN_TOKEN_ID_PREFIX || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(RegistryError::Invalid(format!(
            "a registration token id is at least {MIN_TOKEN_ID_PREFIX} hex digits, \
             as `gatehouse registration-token list` shows it"
        )));
    }
    let mut found = rows
        .iter()
        .filter(|r| token_id(&r.token_hash).starts_with(&prefix));
    match (found.next(), found.next()) {
        (Some(row), None) => Ok(row),
        (None, _) => Err(RegistryError::NotFound(format!(
            "no registration token with id '{prefix}'"
        ))),
        (Some(_), Some(_)) => Err(RegistryError::Invalid(format!(
            "more than one registration token has an id starting '{prefix}': give more of it"
        ))),
    }
}

impl Registry<'_> {
    /// An initial access token good for `uses` registrations until `ttl`
    /// seconds from now (`None`: no expiry). Returns the plain token,
    /// shown once; only its hash is stored.
    pub async fn create_registration_token(
        &self,
        uses: i64,
        ttl: Option<i64>,
    ) -> Result<String, RegistryError> {
        if uses < 1 {
            return Err(RegistryError::Invalid("--uses must be at least 1".into()));
        }
        if ttl.is_some_and(|t| t < 1) {
            return Err(RegistryError::Invalid(
                "--ttl must be at least 1 second".into(),
            ));
        }
        let token = random_token(32);
        let (hash, now) = (token_hash(&token), self.clock.now());
        let (audit, at_ms) = (
            self.audit(AuditType::RegistrationTokenCreated),
            self.clock.now_millis(),
        );
        self.store
            .run(move |c| {
                c.transaction(|c| {
                    let expires_at = ttl.map(|t| now + t);
                    c.insert_registration_token(&hash, uses, expires_at, now)?;
                    super::record(c, at_ms, &audit, |e| {
                        e.subject(subject::registration_token(&token_id(&hash)))
                            .detail("uses", uses)
                            .detail("expires_at", expires_at)
                    })
                })
            })
            .await?;
        Ok(token)
    }

    /// Every initial access token (used up and expired ones too), oldest
    /// first, by id: never the token.
    pub async fn list_registration_tokens(
        &self,
    ) -> Result<Vec<RegistrationTokenInfo>, RegistryError> {
        let rows = self
            .store
            .run(|c| c.list_registration_tokens().map_err(RegistryError::from))
            .await?;
        Ok(rows.iter().map(info).collect())
    }

    /// Revokes the token whose id starts with `id_prefix` (one only):
    /// `POST /register` then refuses it like an unknown one (RFC 7591 §3).
    /// Returns what it was; one transaction.
    pub async fn revoke_registration_token(
        &self,
        id_prefix: &str,
    ) -> Result<RegistrationTokenInfo, RegistryError> {
        let prefix = id_prefix.to_string();
        let (audit, at_ms) = (
            self.audit(AuditType::RegistrationTokenRevoked),
            self.clock.now_millis(),
        );
        self.store
            .run(move |c| {
                c.transaction(|c| {
                    let rows = c.list_registration_tokens()?;
                    let row = pick(&rows, &prefix)?;
                    if !c.delete_registration_token(&row.token_hash)? {
                        return Err(RegistryError::NotFound(format!(
                            "no registration token with id '{prefix}'"
                        )));
                    }
                    let info = info(row);
                    super::record(c, at_ms, &audit, |e| {
                        e.subject(subject::registration_token(&info.id))
                    })?;
                    Ok(info)
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(hash: &str) -> RegistrationTokenRow {
        RegistrationTokenRow {
            token_hash: hash.into(),
            uses_left: 1,
            expires_at: None,
            created_at: 0,
        }
    }

    #[test]
    fn a_token_id_is_hex_of_the_hash_and_never_the_token() {
        let token = "the-token";
        let id = token_id(&token_hash(token));
        assert_eq!(id.len(), TOKEN_ID_LEN);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        let sha = crate::crypto::sha256(token.as_bytes());
        let hex: String = sha[..6].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(id, hex);
        assert!(!id.contains(token));
    }

    #[test]
    fn revoking_needs_an_id_prefix_that_names_one_token() {
        let a = token_hash("a");
        let b = token_hash("b");
        let rows = [row(&a), row(&b)];
        let id_a = token_id(&a);
        assert_eq!(pick(&rows, &id_a).unwrap().token_hash, a);
        assert_eq!(
            pick(&rows, &id_a[..6].to_uppercase()).unwrap().token_hash,
            a
        );
        assert!(matches!(
            pick(&rows, &id_a[..5]),
            Err(RegistryError::Invalid(_))
        ));
        assert!(matches!(
            pick(&rows, "zzzzzz"),
            Err(RegistryError::Invalid(_))
        ));
        // SHA-256 of "a" and "b" start ca9781… and 3e23e8….
        assert!(matches!(
            pick(&rows, "000000"),
            Err(RegistryError::NotFound(_))
        ));
        let same = [row(&a), row(&a)];
        assert!(matches!(pick(&same, &id_a), Err(RegistryError::Invalid(_))));
    }
}
