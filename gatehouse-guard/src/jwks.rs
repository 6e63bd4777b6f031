//! The issuer's signing keys: the parsed JWKS, how long it stays fresh
//! (`Cache-Control: max-age`), and the limiter that keeps a flood of bogus
//! `kid`s from turning into a flood of JWKS fetches. Pure; the fetching is
//! in `lib.rs`.

use jsonwebtoken::DecodingKey;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Freshness when the JWKS response says nothing usable.
pub(crate) const DEFAULT_MAX_AGE: i64 = 300;
/// Bounds on a server-given max-age: never refetch more often than every
/// 10 s, never keep keys for more than a day without asking.
const MIN_MAX_AGE: i64 = 10;
const MAX_MAX_AGE: i64 = 86_400;

/// At most one fetch per `interval` seconds.
#[derive(Debug)]
pub(crate) struct RefetchLimiter {
    interval: i64,
    last: Option<i64>,
}

impl RefetchLimiter {
    pub fn new(interval: i64) -> RefetchLimiter {
        RefetchLimiter {
            interval: interval.max(0),
            last: None,
        }
    }

    /// Takes the fetch allowed now, if the last one was at least `interval`
    /// ago (or the clock went backwards past it).
    pub fn try_acquire(&mut self, now: i64) -> bool {
        if let Some(last) = self.last {
            if now >= last && now < last.saturating_add(self.interval) {
                return false;
            }
        }
        self.last = Some(now);
        true
    }
}

/// The keys from one JWKS fetch.
pub(crate) struct KeySet {
    keys: HashMap<String, Arc<DecodingKey>>,
    fetched_at: i64,
    max_age: i64,
}

impl KeySet {
    pub fn new(keys: HashMap<String, Arc<DecodingKey>>, fetched_at: i64, max_age: i64) -> KeySet {
        KeySet {
            keys,
            fetched_at,
            max_age,
        }
    }

    pub fn get(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.keys.get(kid).cloned()
    }

    /// Refresh in the background once four fifths of max-age have passed,
    /// so a rotation is seen before the cached copy runs out.
    pub fn refresh_due(&self, now: i64) -> bool {
        now >= self
            .fetched_at
            .saturating_add(self.max_age - self.max_age / 5)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

/// `max-age` from a `Cache-Control` value, bounded; the default when absent
/// (or `no-cache` / `no-store`, which we read as "the shortest we allow").
pub(crate) fn max_age(cache_control: Option<&str>) -> i64 {
    let Some(cc) = cache_control else {
        return DEFAULT_MAX_AGE;
    };
    let mut age = None;
    for directive in cc.split(',') {
        let directive = directive.trim();
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return MIN_MAX_AGE;
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            age = v.trim_matches('"').parse::<i64>().ok();
        }
    }
    age.map_or(DEFAULT_MAX_AGE, |a| a.clamp(MIN_MAX_AGE, MAX_MAX_AGE))
}

/// The RS256 verification keys of an RFC 7517 JWK Set, by `kid`. Keys for
/// other uses or algorithms, and keys without a `kid`, are skipped; a set
/// with no usable key is an error (keeping the previous keys beats
/// refusing every token).
pub(crate) fn parse_jwks(body: &[u8]) -> Result<HashMap<String, Arc<DecodingKey>>, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("no \"keys\" array")?;
    let mut out = HashMap::new();
    for jwk in keys {
        let s = |k: &str| jwk.get(k).and_then(Value::as_str);
        if s("kty") != Some("RSA") {
            continue;
        }
        if s("use").is_some_and(|u| u != "sig") || s("alg").is_some_and(|a| a != "RS256") {
            continue;
        }
        let (Some(kid), Some(n), Some(e)) = (s("kid"), s("n"), s("e")) else {
            continue;
        };
        match DecodingKey::from_rsa_components(n, e) {
            Ok(key) => {
                out.insert(kid.to_string(), Arc::new(key));
            }
            Err(err) => tracing::warn!(kid, error = %err, "skipping an unusable JWK"),
        }
    }
    if out.is_empty() {
        return Err("no RS256 signing key in the set".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refetch_limiter_allows_one_fetch_per_interval() {
        let mut l = RefetchLimiter::new(10);
        assert!(l.try_acquire(100));
        for t in 100..110 {
            assert!(!l.try_acquire(t), "at {t}");
        }
        assert!(l.try_acquire(110));
        assert!(!l.try_acquire(111));
    }

    #[test]
    fn refetch_limiter_of_a_thousand_bogus_kids_allows_one() {
        let mut l = RefetchLimiter::new(10);
        let allowed = (0..1000).filter(|_| l.try_acquire(5)).count();
        assert_eq!(allowed, 1);
    }

    #[test]
    fn refetch_limiter_survives_a_clock_going_backwards() {
        let mut l = RefetchLimiter::new(10);
        assert!(l.try_acquire(1000));
        assert!(l.try_acquire(500));
        assert!(!l.try_acquire(505));
    }

    #[test]
    fn rfc9111_max_age_is_read_and_bounded() {
        assert_eq!(max_age(Some("public, max-age=60")), 60);
        assert_eq!(max_age(Some("Max-Age=120")), 120);
        assert_eq!(max_age(Some("max-age=1")), MIN_MAX_AGE);
        assert_eq!(max_age(Some("max-age=99999999")), MAX_MAX_AGE);
        assert_eq!(max_age(Some("no-store")), MIN_MAX_AGE);
        assert_eq!(max_age(Some("public")), DEFAULT_MAX_AGE);
        assert_eq!(max_age(Some("max-age=soon")), DEFAULT_MAX_AGE);
        assert_eq!(max_age(None), DEFAULT_MAX_AGE);
    }

    #[test]
    fn refresh_is_due_at_four_fifths_of_max_age() {
        let set = KeySet::new(HashMap::new(), 1000, 60);
        assert!(!set.refresh_due(1047));
        assert!(set.refresh_due(1048));
    }

    // RFC 7517 appendix A.1's RSA key.
    const N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    #[test]
    fn rfc7517_only_rs256_signing_keys_with_kid_are_kept() {
        let doc = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "good", "use": "sig", "alg": "RS256", "n": N, "e": "AQAB"},
            {"kty": "RSA", "kid": "bare", "n": N, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": N, "e": "AQAB"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": N, "e": "AQAB"},
            {"kty": "RSA", "n": N, "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
        ]});
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        let mut kids: Vec<&str> = keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        assert_eq!(kids, vec!["bare", "good"]);
    }

    #[test]
    fn rfc7517_a_set_without_usable_keys_is_an_error() {
        assert!(parse_jwks(br#"{"keys": []}"#).is_err());
        assert!(parse_jwks(br#"{"keys": [{"kty": "oct", "kid": "h", "k": "AA"}]}"#).is_err());
        assert!(parse_jwks(b"<html>").is_err());
        assert!(parse_jwks(br#"{"kid": "x"}"#).is_err());
    }
}
