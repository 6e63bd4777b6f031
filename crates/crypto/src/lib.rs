//! Small primitives: random opaque tokens, their stored hashes, record
//! ids, HMAC under the server secret, and constant-time comparison. A
//! crate of its own (the server sees it as `gatehouse::crypto`), below the
//! protocol rules (`gatehouse-oauth`), which use it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

/// A random opaque token: `bytes` of OS-seeded CSPRNG output, base64url.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A new id for a row the store keeps many of (an access token's `jti`, a
/// refresh family): a UUIDv7, unique and in the order issued (a millisecond
/// timestamp, then a counter and random bits). The ids are primary keys, so
/// each insert lands at the end of the index instead of on a random page:
/// with random (v4) ids the code exchange read more of the database from
/// the disk cache as it grew, 10.5 → 16 KB per exchange over 300 MB, and
/// slowed by a quarter; with these, 9 KB throughout. Not a secret: nothing
/// trusts an id for being hard to guess.
pub fn record_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// SHA-256 of `input`, base64url: how codes, refresh tokens, device codes
/// and session ids are stored. They carry ≥128 bits of randomness, so a
/// fast hash is enough (a slow one is for low-entropy secrets).
pub fn token_hash(input: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha256(input.as_bytes()))
}

pub fn sha256(input: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Compares without leaking where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// A server secret for HMACs (the CSRF form tokens): 256 random bits kept
/// in the keys folder, so every instance derives the same values.
pub struct ServerSecret(aws_lc_rs::hmac::Key);

impl ServerSecret {
    pub fn new(secret: &[u8]) -> ServerSecret {
        ServerSecret(aws_lc_rs::hmac::Key::new(
            aws_lc_rs::hmac::HMAC_SHA256,
            secret,
        ))
    }

    /// HMAC-SHA256 over `parts`, each prefixed by its length so no two
    /// different lists of parts give the same input.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut ctx = aws_lc_rs::hmac::Context::with_key(&self.0);
        for p in parts {
            ctx.update(&(p.len() as u64).to_be_bytes());
            ctx.update(p);
        }
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_ids_are_unique_and_sort_in_the_order_issued() {
        let ids: Vec<String> = (0..10_000).map(|_| record_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ids, "ids must be unique and ascending");
        assert!(uuid::Uuid::parse_str(&ids[0]).is_ok());
    }

    #[test]
    fn tokens_are_random_and_long_enough() {
        let a = random_token(32);
        let b = random_token(32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
    }

    #[test]
    fn server_secret_macs_depend_on_secret_and_every_part() {
        let a = ServerSecret::new(b"one secret");
        let b = ServerSecret::new(b"another secret");
        assert_eq!(a.mac(&[b"x", b"y"]), a.mac(&[b"x", b"y"]));
        assert_ne!(a.mac(&[b"x", b"y"]), b.mac(&[b"x", b"y"]));
        assert_ne!(a.mac(&[b"x", b"y"]), a.mac(&[b"xy", b""]));
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
