//! One signing key and the compact JWS it makes and checks: RS256 over
//! PKCS#8 key material, the RFC 7517 public JWK, the RFC 7638 thumbprint
//! that is its `kid`. Pure: no files, no database.

use super::{AccessTokenClaims, IdTokenClaims, TokenError};
use crate::crypto::{b64url, sha256};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair, RsaKeyPair, RSA_PKCS1_SHA256};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

pub struct SigningKey {
    pub kid: String,
    pair: RsaKeyPair,
    n: Vec<u8>,
    e: Vec<u8>,
    /// base64url of the access tokens' JWS header (`typ: at+jwt`), made
    /// once.
    header_b64: String,
    /// base64url of the ID tokens' JWS header (`typ: JWT`).
    id_header_b64: String,
    decoding: DecodingKey,
}

impl SigningKey {
    /// The key in a PKCS#8 DER document; the reason when it is not an RSA
    /// private key.
    pub fn from_pkcs8(der: &[u8]) -> Result<SigningKey, String> {
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|e| e.to_string())?;
        let public = pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        let kid = thumbprint(&n, &e);
        let header = serde_json::json!({"alg": "RS256", "typ": "at+jwt", "kid": kid});
        let header_b64 = b64url(header.to_string().as_bytes());
        let id_header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": kid});
        let id_header_b64 = b64url(id_header.to_string().as_bytes());
        let decoding = DecodingKey::from_rsa_raw_components(&n, &e);
        Ok(SigningKey {
            kid,
            pair,
            n,
            e,
            header_b64,
            id_header_b64,
            decoding,
        })
    }

    /// The RFC 7517 public JWK of this key.
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": b64url(&self.n),
            "e": b64url(&self.e),
        })
    }

    /// Signs `claims` as a compact JWS with header `typ: at+jwt`.
    pub fn sign(&self, claims: &AccessTokenClaims) -> Result<String, TokenError> {
        self.sign_jws(&self.header_b64, claims)
    }

    /// Signs an OpenID Connect ID token: header `typ: JWT` (OIDC Core §2
    /// leaves `typ` open; `JWT` keeps it apart from access tokens).
    pub fn sign_id_token(&self, claims: &IdTokenClaims) -> Result<String, TokenError> {
        self.sign_jws(&self.id_header_b64, claims)
    }

    fn sign_jws(
        &self,
        header_b64: &str,
        claims: &impl serde::Serialize,
    ) -> Result<String, TokenError> {
        let payload = serde_json::to_vec(claims).map_err(|_| TokenError::Signing)?;
        let mut out = String::with_capacity(800);
        out.push_str(header_b64);
        out.push('.');
        out.push_str(&b64url(&payload));
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                out.as_bytes(),
                &mut sig,
            )
            .map_err(|_| TokenError::Signing)?;
        out.push('.');
        out.push_str(&b64url(&sig));
        Ok(out)
    }

    /// Checks an access token this key signed: issuer, audience and expiry
    /// (no leeway). Returns its claims.
    pub fn verify_access_token(
        &self,
        token: &str,
        issuer: &str,
        audience: Option<&str>,
    ) -> Option<AccessTokenClaims> {
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&[issuer]);
        // `None`: any audience (an RFC 8707 resource's token is still ours
        // to introspect and revoke); `aud` is still required.
        match audience {
            Some(a) => v.set_audience(&[a]),
            None => v.validate_aud = false,
        }
        v.leeway = 0;
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<AccessTokenClaims>(token, &self.decoding, &v)
            .ok()
            .map(|d| d.claims)
    }

    /// Checks an ID token this key signed, as an `id_token_hint`: the
    /// issuer, but not the expiry (a hint may have expired, OIDC Core
    /// §3.1.2.1) nor the audience (returned for the caller to judge).
    pub fn verify_id_token_hint(&self, token: &str, issuer: &str) -> Option<IdTokenClaims> {
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&[issuer]);
        v.validate_aud = false;
        v.validate_exp = false;
        v.set_required_spec_claims(&["iss", "sub", "aud"]);
        jsonwebtoken::decode::<IdTokenClaims>(token, &self.decoding, &v)
            .ok()
            .map(|d| d.claims)
    }
}

/// RFC 7638 §3 thumbprint of an RSA key: SHA-256 over the required members
/// in lexicographic order, base64url.
pub fn thumbprint(n: &[u8], e: &[u8]) -> String {
    let canonical = format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64url(e), b64url(n));
    b64url(&sha256(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1 example key.
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw").unwrap();
        assert_eq!(
            thumbprint(&n, &[1, 0, 1]),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
