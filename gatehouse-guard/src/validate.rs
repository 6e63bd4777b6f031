//! RFC 9068 §4 validation rules, pure: the JWS header before the
//! signature is checked, the claims after. No I/O and no clock of their own
//! (`now` is a parameter), so every rule has a unit test here.

use crate::GuardError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

/// What a token must match.
#[derive(Debug, Clone)]
pub struct Expected {
    /// Compared byte for byte with `iss`.
    pub issuer: String,
    /// Must be `aud`, or one of its values.
    pub audience: String,
    /// Seconds of clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway: i64,
}

/// A validated access token: who and what it is for.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The resource owner (a user id), or the client itself for
    /// `client_credentials` tokens.
    pub sub: String,
    /// The client the token was issued to (RFC 9068 §2.2).
    pub client_id: String,
    /// The granted scopes (the `scope` claim split on spaces).
    pub scopes: Vec<String>,
    pub jti: String,
    pub exp: i64,
    pub iat: i64,
    /// When the user signed in, if a user did.
    pub auth_time: Option<i64>,
    /// Every claim of the token, for anything not lifted out above.
    pub claims: Map<String, Value>,
}

impl Principal {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// RFC 6750 §3.1: `insufficient_scope`, naming every scope `required`,
    /// unless the token has all of them.
    pub fn require_scopes(&self, required: &[&str]) -> Result<(), GuardError> {
        if required.iter().all(|s| self.has_scope(s)) {
            Ok(())
        } else {
            Err(GuardError::InsufficientScope(
                required.iter().map(|s| s.to_string()).collect(),
            ))
        }
    }
}

/// The key id from a header that passed every check below.
#[derive(Debug, PartialEq)]
pub(crate) struct CheckedHeader {
    pub kid: String,
}

fn invalid(why: &'static str) -> GuardError {
    GuardError::InvalidToken(why)
}

/// Checks the JWS header of a compact JWT before any key is looked up.
pub(crate) fn check_header(token: &str) -> Result<CheckedHeader, GuardError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        // Refresh tokens and authorization codes are opaque: they end here.
        return Err(invalid("not a JWT access token"));
    };
    let header: Map<String, Value> = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| invalid("malformed JWT header"))?;
    // RFC 9068 §4: "The resource server MUST verify that the typ header
    // value is at+jwt or application/at+jwt and reject tokens carrying any
    // other value." (RFC 7515 §4.1.9: media types compare case-insensitively.)
    let typ = header.get("typ").and_then(Value::as_str).unwrap_or("");
    let typ = typ.to_ascii_lowercase();
    if typ != "at+jwt" && typ != "application/at+jwt" {
        return Err(invalid("typ is not at+jwt (RFC 9068)"));
    }
    // RS256 only, whatever the header says: `none`, HMAC with the public
    // key as secret and every other algorithm are refused before any key is
    // touched (RFC 8725 §3.1).
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(invalid("alg is not RS256"));
    }
    // RFC 7515 §4.1.11: extensions marked critical must be understood; we
    // understand none.
    if header.contains_key("crit") {
        return Err(invalid("unsupported critical header parameter"));
    }
    match header.get("kid").and_then(Value::as_str) {
        Some(kid) if !kid.is_empty() => Ok(CheckedHeader {
            kid: kid.to_string(),
        }),
        _ => Err(invalid("no kid in the JWT header")),
    }
}

fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, ()> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            // RFC 7519 §2: NumericDate may be fractional.
            .or_else(|| v.as_f64().map(|f| f.floor() as i64))
            .map(Some)
            .ok_or(()),
    }
}

fn string_claim(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Checks the claims of a token whose signature has been verified.
pub(crate) fn check_claims(
    claims: Map<String, Value>,
    expected: &Expected,
    now: i64,
) -> Result<Principal, GuardError> {
    // RFC 9068 §4: "The issuer identifier … MUST exactly match the value of
    // the iss claim."
    if claims.get("iss").and_then(Value::as_str) != Some(expected.issuer.as_str()) {
        return Err(invalid("wrong issuer"));
    }
    // RFC 9068 §4: "The resource server MUST validate that the aud claim
    // contains a resource indicator value corresponding to an identifier the
    // resource server expects for itself."
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => *a == expected.audience,
        Some(Value::Array(all)) => all
            .iter()
            .any(|a| a.as_str() == Some(expected.audience.as_str())),
        _ => false,
    };
    if !audience_ok {
        return Err(invalid("wrong audience"));
    }
    let leeway = expected.leeway;
    let exp = numeric_date(&claims, "exp")
        .ok()
        .flatten()
        .ok_or_else(|| invalid("no valid exp claim"))?;
    // RFC 7519 §4.1.4: "the current date/time MUST be before the expiration
    // date/time".
    if now >= exp.saturating_add(leeway) {
        return Err(invalid("the access token expired"));
    }
    let nbf = numeric_date(&claims, "nbf").map_err(|_| invalid("malformed nbf claim"))?;
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
        return Err(invalid("the access token is not valid yet"));
    }
    let iat = numeric_date(&claims, "iat")
        .ok()
        .flatten()
        .ok_or_else(|| invalid("no valid iat claim"))?;
    if iat > now.saturating_add(leeway) {
        return Err(invalid("the access token is issued in the future"));
    }
    let auth_time =
        numeric_date(&claims, "auth_time").map_err(|_| invalid("malformed auth_time"))?;
    // RFC 9068 §2.2: jti, sub and client_id are REQUIRED.
    let jti = string_claim(&claims, "jti").ok_or_else(|| invalid("no jti claim"))?;
    let sub = string_claim(&claims, "sub").ok_or_else(|| invalid("no sub claim"))?;
    let client_id =
        string_claim(&claims, "client_id").ok_or_else(|| invalid("no client_id claim"))?;
    let scopes = match claims.get("scope") {
        None => Vec::new(),
        Some(Value::String(s)) => s
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        Some(_) => return Err(invalid("malformed scope claim")),
    };
    Ok(Principal {
        sub,
        client_id,
        scopes,
        jti,
        exp,
        iat,
        auth_time,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn token_with_header(h: Value) -> String {
        format!("{}.{}.c2ln", b64(&h), b64(&json!({})))
    }

    fn header_err(h: Value) -> GuardError {
        check_header(&token_with_header(h)).unwrap_err()
    }

    #[test]
    fn rfc9068_4_at_jwt_header_with_kid_passes() {
        for typ in ["at+jwt", "application/at+jwt", "AT+JWT"] {
            let got = check_header(&token_with_header(
                json!({"alg": "RS256", "typ": typ, "kid": "k1"}),
            ));
            assert_eq!(got, Ok(CheckedHeader { kid: "k1".into() }), "{typ}");
        }
    }

    #[test]
    fn rfc9068_4_typ_jwt_is_refused() {
        for h in [
            json!({"alg": "RS256", "typ": "JWT", "kid": "k"}),
            json!({"alg": "RS256", "kid": "k"}),
            json!({"alg": "RS256", "typ": "application/jwt", "kid": "k"}),
        ] {
            assert!(matches!(header_err(h), GuardError::InvalidToken(d) if d.contains("typ")));
        }
    }

    #[test]
    fn rfc8725_3_1_only_rs256_is_accepted_whatever_the_header_says() {
        for alg in [
            json!("none"),
            json!("HS256"),
            json!("RS512"),
            json!("PS256"),
            json!("ES256"),
            json!("rs256"),
            json!(null),
        ] {
            let e = header_err(json!({"alg": alg, "typ": "at+jwt", "kid": "k"}));
            assert_eq!(e, GuardError::InvalidToken("alg is not RS256"), "{alg}");
        }
    }

    #[test]
    fn rfc7515_4_1_11_crit_header_is_refused() {
        let e = header_err(json!({"alg": "RS256", "typ": "at+jwt", "kid": "k", "crit": ["b64"]}));
        assert!(matches!(e, GuardError::InvalidToken(d) if d.contains("critical")));
    }

    #[test]
    fn a_token_without_kid_is_refused() {
        let e = header_err(json!({"alg": "RS256", "typ": "at+jwt"}));
        assert_eq!(e, GuardError::InvalidToken("no kid in the JWT header"));
    }

    #[test]
    fn rfc9068_opaque_tokens_are_not_jwts() {
        for t in ["", "abc", "a.b", "a.b.c.d", "!!!.e30.c2ln", "e30.e30.c2ln"] {
            assert!(
                matches!(check_header(t), Err(GuardError::InvalidToken(_))),
                "{t}"
            );
        }
    }

    const NOW: i64 = 1_700_000_000;

    fn expected() -> Expected {
        Expected {
            issuer: "https://issuer.example".into(),
            audience: "https://api.example".into(),
            leeway: 10,
        }
    }

    fn good() -> Map<String, Value> {
        match json!({
            "iss": "https://issuer.example",
            "aud": "https://api.example",
            "sub": "user-1",
            "client_id": "app",
            "exp": NOW + 600,
            "iat": NOW,
            "jti": "j1",
            "scope": "read write",
        }) {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn with(k: &str, v: Value) -> Map<String, Value> {
        let mut m = good();
        if v.is_null() {
            m.remove(k);
        } else {
            m.insert(k.into(), v);
        }
        m
    }

    fn claims_err(m: Map<String, Value>, now: i64) -> &'static str {
        match check_claims(m, &expected(), now) {
            Err(GuardError::InvalidToken(d)) => d,
            other => panic!("expected invalid_token, got {other:?}"),
        }
    }

    #[test]
    fn rfc9068_2_2_good_claims_give_the_principal() {
        let p = check_claims(good(), &expected(), NOW).unwrap();
        assert_eq!(p.sub, "user-1");
        assert_eq!(p.client_id, "app");
        assert_eq!(p.scopes, vec!["read", "write"]);
        assert_eq!(p.jti, "j1");
        assert!(p.has_scope("read") && !p.has_scope("rea"));
    }

    #[test]
    fn rfc9068_4_iss_must_match_exactly() {
        for iss in [
            json!("https://issuer.example/"),
            json!("https://ISSUER.example"),
            json!(["https://issuer.example"]),
            Value::Null,
        ] {
            assert_eq!(claims_err(with("iss", iss), NOW), "wrong issuer");
        }
    }

    #[test]
    fn rfc9068_4_aud_must_contain_the_expected_audience() {
        assert_eq!(
            claims_err(with("aud", json!("https://other.example")), NOW),
            "wrong audience"
        );
        assert_eq!(claims_err(with("aud", json!([])), NOW), "wrong audience");
        assert_eq!(claims_err(with("aud", Value::Null), NOW), "wrong audience");
        let m = with(
            "aud",
            json!(["https://other.example", "https://api.example"]),
        );
        assert!(check_claims(m, &expected(), NOW).is_ok());
    }

    #[test]
    fn rfc7519_4_1_4_exp_is_checked_with_the_leeway() {
        let exp = NOW + 600;
        assert!(check_claims(good(), &expected(), exp + 9).is_ok());
        assert_eq!(claims_err(good(), exp + 10), "the access token expired");
        assert_eq!(
            claims_err(with("exp", Value::Null), NOW),
            "no valid exp claim"
        );
        assert_eq!(
            claims_err(with("exp", json!("soon")), NOW),
            "no valid exp claim"
        );
    }

    #[test]
    fn rfc7519_4_1_5_nbf_in_the_future_is_refused() {
        assert!(check_claims(with("nbf", json!(NOW + 10)), &expected(), NOW).is_ok());
        assert_eq!(
            claims_err(with("nbf", json!(NOW + 11)), NOW),
            "the access token is not valid yet"
        );
    }

    #[test]
    fn rfc9068_2_2_iat_is_required_and_not_in_the_future() {
        assert_eq!(
            claims_err(with("iat", Value::Null), NOW),
            "no valid iat claim"
        );
        assert_eq!(
            claims_err(with("iat", json!(NOW + 11)), NOW),
            "the access token is issued in the future"
        );
        assert!(check_claims(with("iat", json!(NOW as f64 + 0.5)), &expected(), NOW).is_ok());
    }

    #[test]
    fn rfc9068_2_2_jti_sub_and_client_id_are_required() {
        assert_eq!(claims_err(with("jti", Value::Null), NOW), "no jti claim");
        assert_eq!(claims_err(with("jti", json!("")), NOW), "no jti claim");
        assert_eq!(claims_err(with("sub", Value::Null), NOW), "no sub claim");
        assert_eq!(
            claims_err(with("client_id", Value::Null), NOW),
            "no client_id claim"
        );
    }

    #[test]
    fn rfc6750_3_1_insufficient_scope_names_the_required_scopes() {
        let p = check_claims(with("scope", json!("read")), &expected(), NOW).unwrap();
        assert!(p.require_scopes(&["read"]).is_ok());
        assert_eq!(
            p.require_scopes(&["read", "write"]),
            Err(GuardError::InsufficientScope(vec![
                "read".into(),
                "write".into()
            ]))
        );
        let none = check_claims(with("scope", Value::Null), &expected(), NOW).unwrap();
        assert!(none.scopes.is_empty());
        assert!(none.require_scopes(&[]).is_ok());
    }
}

/// Property tests (fuzzing that fits CI's time): the header and claims
/// checks and the bearer parser see attacker-chosen bytes first; no input panics, and
/// only `RS256` with a `kid` and an at+jwt `typ` ever passes the header.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    /// JSON values of a few levels, as an attacker might send.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            ".{0,20}".prop_map(Value::from),
            prop::sample::select(vec![
                "RS256",
                "none",
                "HS256",
                "at+jwt",
                "JWT",
                "k1",
                "https://issuer.example",
                "https://api.example"
            ])
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop::sample::select(vec![
                        "alg",
                        "typ",
                        "kid",
                        "iss",
                        "aud",
                        "exp",
                        "iat",
                        "nbf",
                        "sub",
                        "scope",
                        "client_id",
                        "jti",
                        "crit",
                        "x"
                    ]),
                    inner,
                    0..8
                )
                .prop_map(|m| Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
                )),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_token_text_is_judged_without_panicking(token in ".{0,300}") {
            let _ = check_header(&token);
        }

        #[test]
        fn only_rs256_with_kid_and_at_jwt_type_passes_the_header(header in json_value()) {
            let token = format!("{}.{}.c2ln", b64(&header.to_string()), b64("{}"));
            if let Ok(checked) = check_header(&token) {
                let alg = header.get("alg").and_then(Value::as_str);
                prop_assert_eq!(alg, Some("RS256"));
                let kid = header.get("kid").and_then(Value::as_str);
                prop_assert_eq!(kid, Some(checked.kid.as_str()));
                let typ = header.get("typ").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
                prop_assert!(typ == "at+jwt" || typ == "application/at+jwt", "{}", typ);
            }
        }

        #[test]
        fn any_claims_are_judged_without_panicking(claims in json_value(), now in any::<i64>()) {
            let expected = Expected {
                issuer: "https://issuer.example".into(),
                audience: "https://api.example".into(),
                leeway: 10,
            };
            if let Value::Object(map) = claims {
                if let Ok(p) = check_claims(map.clone(), &expected, now) {
                    prop_assert_eq!(map.get("iss").and_then(Value::as_str), Some("https://issuer.example"));
                    let _ = p;
                }
            }
        }

        #[test]
        fn any_authorization_header_is_judged_without_panicking(
            values in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..3)
        ) {
            let _ = crate::bearer_token(values.iter().map(|v| v.as_slice()));
        }
    }
}
