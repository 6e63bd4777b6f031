//! Signing keys. The key material lives in the keys folder as PKCS#8 PEM
//! files named `<kid>.pem` (mode 0600); the `signing_keys` table records
//! which key signs and until when a retired key stays published. Instances
//! that share a database must share the keys folder too (a shared volume or
//! the same mounted secret). Each key is parsed once and kept in memory.

use super::{AccessTokenClaims, IdTokenClaims, TokenError};
use crate::crypto::{b64url, sha256};
use crate::store::models::SigningKeyRow;
use crate::store::Store;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RsaKeyPair, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

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
    fn from_pkcs8(der: &[u8]) -> Result<SigningKey, String> {
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
}

/// RFC 7638 §3 thumbprint of an RSA key: SHA-256 over the required members
/// in lexicographic order, base64url.
fn thumbprint(n: &[u8], e: &[u8]) -> String {
    let canonical = format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64url(e), b64url(n));
    b64url(&sha256(canonical.as_bytes()))
}

/// The keys in force at one moment: the one that signs and every one that
/// can still have live tokens.
pub struct KeySet {
    pub signer: Arc<SigningKey>,
    pub published: Vec<Arc<SigningKey>>,
    pub jwks: String,
}

impl KeySet {
    /// Verifies one of our own access tokens: signature by a published key,
    /// issuer, audience and expiry. Returns its claims.
    pub fn verify(&self, token: &str, issuer: &str, audience: &str) -> Option<AccessTokenClaims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::RS256 {
            return None;
        }
        let kid = header.kid?;
        let key = self.published.iter().find(|k| k.kid == kid)?;
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&[issuer]);
        v.set_audience(&[audience]);
        v.leeway = 0;
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<AccessTokenClaims>(token, &key.decoding, &v)
            .ok()
            .map(|d| d.claims)
    }

    /// Verifies an ID token gatehouse issued, as it comes back in an
    /// `id_token_hint` (OIDC Core §3.1.2.1, RP-Initiated Logout §2):
    /// `typ: JWT`, RS256 by a published key, our issuer. Its expiry is not
    /// checked (a hint may have expired, §3.1.2.1) and its audience is
    /// returned for the caller to judge. An access token is not an ID
    /// token and is refused.
    pub fn verify_id_token_hint(&self, token: &str, issuer: &str) -> Option<IdTokenClaims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::RS256 || header.typ.as_deref() != Some("JWT") {
            return None;
        }
        let kid = header.kid?;
        let key = self.published.iter().find(|k| k.kid == kid)?;
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&[issuer]);
        v.validate_aud = false;
        v.validate_exp = false;
        v.set_required_spec_claims(&["iss", "sub", "aud"]);
        jsonwebtoken::decode::<IdTokenClaims>(token, &key.decoding, &v)
            .ok()
            .map(|d| d.claims)
    }
}

/// The live key set, swapped whole when keys change.
pub struct Keys {
    dir: PathBuf,
    current: RwLock<Arc<KeySet>>,
}

impl Keys {
    /// Loads the folder, generating a first key when there is none, and
    /// records every key in the database.
    pub fn load(store: &Store, dir: &Path, now: i64) -> Result<Keys, TokenError> {
        let set = build_key_set(store, dir, now, true)?;
        Ok(Keys {
            dir: dir.to_path_buf(),
            current: RwLock::new(Arc::new(set)),
        })
    }

    pub fn current(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Re-reads the folder and the table, so a rotation made by another
    /// instance or by `gatehouse keys rotate` takes effect without restart.
    pub fn reload(&self, store: &Store, now: i64) -> Result<(), TokenError> {
        let set = build_key_set(store, &self.dir, now, false)?;
        match self.current.write() {
            Ok(mut g) => *g = Arc::new(set),
            Err(p) => *p.into_inner() = Arc::new(set),
        }
        Ok(())
    }
}

fn folder_err(dir: &Path, e: impl ToString) -> TokenError {
    TokenError::KeyFolder {
        path: dir.display().to_string(),
        reason: e.to_string(),
    }
}

fn read_folder(dir: &Path) -> Result<Vec<SigningKey>, TokenError> {
    let mut keys = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| folder_err(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| folder_err(dir, e))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("pem") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| folder_err(&path, e))?;
        let der = pem_decode(&text).ok_or_else(|| TokenError::BadKey {
            path: path.display().to_string(),
            reason: "not a PEM \"PRIVATE KEY\" block".into(),
        })?;
        let key = SigningKey::from_pkcs8(&der).map_err(|reason| TokenError::BadKey {
            path: path.display().to_string(),
            reason,
        })?;
        keys.push(key);
    }
    Ok(keys)
}

/// Creates a new RSA-2048 key file in `dir` and returns the key.
pub fn generate_key(dir: &Path) -> Result<SigningKey, TokenError> {
    create_private_dir(dir)?;
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| TokenError::Signing)?;
    let der = pair.as_der().map_err(|_| TokenError::Signing)?;
    let key = SigningKey::from_pkcs8(der.as_ref()).map_err(|reason| TokenError::BadKey {
        path: dir.display().to_string(),
        reason,
    })?;
    let path = dir.join(format!("{}.pem", key.kid));
    write_private(&path, &pem_encode(der.as_ref())).map_err(|e| folder_err(&path, e))?;
    Ok(key)
}

/// Creates the keys folder (and missing parents) readable by this user only
/// (0700). An existing folder is left as it is.
pub fn create_private_dir(dir: &Path) -> Result<(), TokenError> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|e| folder_err(dir, e))
}

/// The name of the file in the keys folder that holds the server secret.
pub const SERVER_SECRET_FILE: &str = "server-secret";

/// The 256-bit server secret in the keys folder (0600), created on first
/// start. Instances sharing the folder share it; two starting at once on an
/// empty folder agree, since the file appears whole (written aside, then
/// linked into place, which fails when another instance got there first).
pub fn load_or_create_secret(dir: &Path) -> Result<Vec<u8>, TokenError> {
    create_private_dir(dir)?;
    let path = dir.join(SERVER_SECRET_FILE);
    if !path.exists() {
        let tmp = dir.join(format!(
            ".{SERVER_SECRET_FILE}.{}",
            uuid::Uuid::new_v4().simple()
        ));
        let value = crate::crypto::random_token(32);
        write_private(&tmp, &format!("{value}\n")).map_err(|e| folder_err(&tmp, e))?;
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(folder_err(&path, e)),
        }
    }
    let text = std::fs::read_to_string(&path).map_err(|e| folder_err(&path, e))?;
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim())
        .ok()
        .filter(|s| s.len() >= 32)
        .ok_or_else(|| TokenError::BadKey {
            path: path.display().to_string(),
            reason: "not a server secret (43 base64url characters)".into(),
        })?;
    Ok(secret)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

fn pem_encode(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

fn pem_decode(text: &str) -> Option<Vec<u8>> {
    let start = text.find("-----BEGIN PRIVATE KEY-----")?;
    let rest = &text[start + "-----BEGIN PRIVATE KEY-----".len()..];
    let end = rest.find("-----END PRIVATE KEY-----")?;
    let b64: String = rest[..end].chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(b64).ok()
}

fn build_key_set(
    store: &Store,
    dir: &Path,
    now: i64,
    may_generate: bool,
) -> Result<KeySet, TokenError> {
    if may_generate {
        create_private_dir(dir)?;
    }
    let mut material = read_folder(dir)?;
    let mut conn = store.conn()?;
    for k in &material {
        conn.insert_signing_key_if_missing(&SigningKeyRow {
            kid: k.kid.clone(),
            created_at: now,
            retired_at: None,
            not_after: None,
        })?;
    }
    let mut rows = conn.list_signing_keys()?;
    // A key signs from `created_at` (a rotation may set it ahead, so the
    // key is published before it signs) until `retired_at`.
    let signs_now = |r: &SigningKeyRow| r.created_at <= now && r.retired_at.is_none_or(|t| t > now);
    let has_active = |rows: &[SigningKeyRow], material: &[SigningKey]| {
        rows.iter()
            .any(|r| signs_now(r) && material.iter().any(|k| k.kid == r.kid))
    };
    if !has_active(&rows, &material) {
        if !may_generate {
            return Err(folder_err(dir, "no active signing key"));
        }
        let key = generate_key(dir)?;
        conn.insert_signing_key_if_missing(&SigningKeyRow {
            kid: key.kid.clone(),
            created_at: now,
            retired_at: None,
            not_after: None,
        })?;
        material.push(key);
        rows = conn.list_signing_keys()?;
    }
    // The newest active key signs; ties break on kid so instances agree.
    let signer_kid = rows
        .iter()
        .filter(|r| signs_now(r) && material.iter().any(|k| k.kid == r.kid))
        .max_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)))
        .map(|r| r.kid.clone())
        .ok_or_else(|| folder_err(dir, "no active signing key"))?;
    let live: Vec<&SigningKeyRow> = rows
        .iter()
        .filter(|r| r.not_after.is_none_or(|t| t > now))
        .collect();
    let mut published = Vec::new();
    let mut signer = None;
    for key in material {
        if !live.iter().any(|r| r.kid == key.kid) {
            continue;
        }
        let key = Arc::new(key);
        if key.kid == signer_kid {
            signer = Some(key.clone());
        }
        published.push(key);
    }
    let signer = signer.ok_or_else(|| folder_err(dir, "no active signing key"))?;
    // Signer first, so clients that take the first key get the right one.
    published.sort_by_key(|k| k.kid != signer.kid);
    let jwks = serde_json::json!({
        "keys": published.iter().map(|k| k.jwk()).collect::<Vec<_>>()
    })
    .to_string();
    Ok(KeySet {
        signer,
        published,
        jwks,
    })
}

/// `gatehouse keys rotate`: a new key is published at once and signs from
/// `now + delay`, when the current keys stop signing; those stay published
/// until every token they signed has expired (`longest_ttl` later). The
/// delay lets resource servers' cached key sets pick the new key up before
/// any token needs it; 0 switches at once (an emergency). Returns the new
/// key's id and when it starts signing.
pub fn rotate(
    store: &Store,
    dir: &Path,
    now: i64,
    longest_ttl: i64,
    delay: i64,
) -> Result<(String, i64), TokenError> {
    // Make sure the current keys are registered before retiring them.
    build_key_set(store, dir, now, true)?;
    let key = generate_key(dir)?;
    let kid = key.kid.clone();
    let switch = now + delay.max(0);
    let mut conn = store.conn()?;
    conn.transaction(|c| -> Result<(), TokenError> {
        c.retire_signing_keys(switch, switch + longest_ttl)?;
        c.insert_signing_key_if_missing(&SigningKeyRow {
            kid: kid.clone(),
            created_at: switch,
            retired_at: None,
            not_after: None,
        })?;
        Ok(())
    })?;
    Ok((kid, switch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_signs_tokens_that_verify_with_its_jwk() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key(dir.path()).unwrap();
        let file = dir.path().join(format!("{}.pem", key.kid));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let reread = read_folder(dir.path()).unwrap();
        assert_eq!(
            reread[0].kid, key.kid,
            "kid is the RFC 7638 thumbprint, stable across loads"
        );
        let claims = AccessTokenClaims {
            iss: "http://i".into(),
            sub: "s".into(),
            aud: "http://i".into(),
            exp: crate::clock::Clock::default().now() + 60,
            iat: 0,
            jti: "j".into(),
            client_id: "c".into(),
            scope: "a".into(),
            auth_time: None,
        };
        let jwt = key.sign(&claims).unwrap();
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
        let jwk = key.jwk();
        let dk = DecodingKey::from_rsa_components(
            jwk["n"].as_str().unwrap(),
            jwk["e"].as_str().unwrap(),
        )
        .unwrap();
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&["http://i"]);
        let got = jsonwebtoken::decode::<AccessTokenClaims>(&jwt, &dk, &v).unwrap();
        assert_eq!(got.claims, claims);
    }

    fn id_claims(exp: i64) -> IdTokenClaims {
        IdTokenClaims {
            iss: "http://i".into(),
            sub: "s".into(),
            aud: "c".into(),
            exp,
            iat: 0,
            auth_time: 0,
            nonce: Some("n".into()),
            at_hash: None,
            sid: Some("sid".into()),
            azp: "c".into(),
            user: Default::default(),
        }
    }

    fn key_set(key: SigningKey) -> KeySet {
        let key = Arc::new(key);
        KeySet {
            signer: key.clone(),
            published: vec![key],
            jwks: String::new(),
        }
    }

    #[test]
    fn oidc_core_3_1_2_1_id_token_hints_verify_even_expired_but_access_tokens_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let set = key_set(generate_key(dir.path()).unwrap());
        let hint = set.signer.sign_id_token(&id_claims(1)).unwrap();
        let header = jsonwebtoken::decode_header(&hint).unwrap();
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(header.kid.as_deref(), Some(set.signer.kid.as_str()));
        let got = set.verify_id_token_hint(&hint, "http://i").unwrap();
        assert_eq!(got, id_claims(1), "an expired hint is still a hint");
        assert!(set.verify_id_token_hint(&hint, "http://other").is_none());
        // Tampered: the signature no longer matches.
        let mut parts: Vec<&str> = hint.split('.').collect();
        let forged = b64url(
            br#"{"iss":"http://i","sub":"x","aud":"c","exp":1,"iat":0,"auth_time":0,"azp":"c"}"#,
        );
        parts[1] = &forged;
        assert!(set
            .verify_id_token_hint(&parts.join("."), "http://i")
            .is_none());
        // An access token is not an ID token.
        let at = AccessTokenClaims {
            iss: "http://i".into(),
            sub: "s".into(),
            aud: "c".into(),
            exp: i64::MAX / 2,
            iat: 0,
            jti: "j".into(),
            client_id: "c".into(),
            scope: "openid".into(),
            auth_time: Some(0),
        };
        let access = set.signer.sign(&at).unwrap();
        assert!(set.verify_id_token_hint(&access, "http://i").is_none());
        // Another key's signature.
        let other = generate_key(dir.path()).unwrap();
        let foreign = other.sign_id_token(&id_claims(1)).unwrap();
        assert!(set.verify_id_token_hint(&foreign, "http://i").is_none());
        assert!(set.verify_id_token_hint("not a jwt", "http://i").is_none());
    }

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
