//! Where the keys live. The key material is in the keys folder as PKCS#8
//! PEM files named `<kid>.pem` (mode 0600); the `signing_keys` table
//! records which key signs and until when a retired key stays published.
//! Instances that share a database must share the keys folder too (a
//! shared volume or the same mounted secret). Each key is parsed once and
//! kept in memory; `Keys` holds the set in force, swapped whole on reload.

use super::jws::SigningKey;
use super::keyset::{select, signs_at, KeySet};
use super::TokenError;
use crate::private_files::{self, FileError};
use crate::store::models::audit_event::{subject, NewAuditEvent};
use crate::store::models::SigningKeyRow;
use crate::store::Store;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::RsaKeyPair;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// The PEM label of a PKCS#8 private key (RFC 7468 §10).
const PEM_LABEL: &str = "PRIVATE KEY";

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

impl From<FileError> for TokenError {
    fn from(e: FileError) -> TokenError {
        TokenError::KeyFolder {
            path: e.path,
            reason: e.reason,
        }
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
        let bad = |reason: String| TokenError::BadKey {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read(&path).map_err(|e| folder_err(&path, e))?;
        let block = pem::parse(&text)
            .ok()
            .filter(|p| p.tag() == PEM_LABEL)
            .ok_or_else(|| bad(format!("not a PEM \"{PEM_LABEL}\" block")))?;
        keys.push(SigningKey::from_pkcs8(block.contents()).map_err(bad)?);
    }
    Ok(keys)
}

/// What the keys folder lacks of what the database records: the kids of
/// keys that sign now, will sign, or are still published, whose `.pem` is
/// not in the folder; and the server secret, once the database has
/// recorded any key (it was made on that first start, beside the keys).
/// Both mean the folder is not the one this database was used with.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Lacking {
    pub kids: Vec<String>,
    pub server_secret: bool,
    /// Whether the database has recorded any key: false on a first start.
    pub recorded: bool,
}

impl Lacking {
    pub fn is_empty(&self) -> bool {
        self.kids.is_empty() && !self.server_secret
    }

    /// "the signing keys K1, K2 and the server secret".
    pub fn what(&self) -> String {
        let keys = match self.kids.len() {
            0 => String::new(),
            1 => format!("the signing key {}", self.kids[0]),
            _ => format!("the signing keys {}", self.kids.join(", ")),
        };
        match (keys.is_empty(), self.server_secret) {
            (false, true) => format!("{keys} and the server secret"),
            (true, true) => "the server secret".to_string(),
            _ => keys,
        }
    }

    /// Why `serve` will not start on `dir`, and the two ways on.
    pub fn refusal(&self, dir: &Path) -> String {
        format!(
            "the folder {} lacks {} this database was used with; point GATEHOUSE_KEYS_DIR (--keys-dir) at the folder that holds them, or start with --new-keys (GATEHOUSE_NEW_KEYS=true) to make new ones on purpose (tokens signed before stop validating)",
            dir.display(),
            self.what()
        )
    }
}

/// Compares the keys folder with the `signing_keys` table (see `Lacking`).
/// Reads only; a missing folder lacks everything.
pub fn lacking(store: &Store, dir: &Path, now: i64) -> Result<Lacking, TokenError> {
    let rows = store.conn()?.list_signing_keys()?;
    let at_hand: Vec<String> = if dir.is_dir() {
        read_folder(dir)?.into_iter().map(|k| k.kid).collect()
    } else {
        Vec::new()
    };
    let kids = rows
        .iter()
        .filter(|r| r.not_after.is_none_or(|t| t > now))
        .filter(|r| !at_hand.contains(&r.kid))
        .map(|r| r.kid.clone())
        .collect();
    let recorded = !rows.is_empty();
    Ok(Lacking {
        kids,
        server_secret: recorded && !dir.join(private_files::SERVER_SECRET_FILE).exists(),
        recorded,
    })
}

/// `serve --new-keys`: the lost keys neither sign nor are published from
/// `now`, so the next start does not ask again; a new key and server
/// secret are made as on a first start.
pub fn forget_lost_keys(store: &Store, kids: &[String], now: i64) -> Result<(), TokenError> {
    if kids.is_empty() {
        return Ok(());
    }
    let mut conn = store.conn()?;
    conn.transaction(|c| -> Result<(), TokenError> {
        c.unpublish_signing_keys(kids, now)?;
        Ok(())
    })
}

/// Creates a new RSA-2048 key file in `dir` and returns the key.
pub fn generate_key(dir: &Path) -> Result<SigningKey, TokenError> {
    private_files::create_dir(dir)?;
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| TokenError::Signing)?;
    let der = pair.as_der().map_err(|_| TokenError::Signing)?;
    let key = SigningKey::from_pkcs8(der.as_ref()).map_err(|reason| TokenError::BadKey {
        path: dir.display().to_string(),
        reason,
    })?;
    let path = dir.join(format!("{}.pem", key.kid));
    let text = pem::encode_config(
        &pem::Pem::new(PEM_LABEL, der.as_ref()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    );
    private_files::write_new(&path, &text).map_err(|e| folder_err(&path, e))?;
    Ok(key)
}

fn build_key_set(
    store: &Store,
    dir: &Path,
    now: i64,
    may_generate: bool,
) -> Result<KeySet, TokenError> {
    if may_generate {
        private_files::create_dir(dir)?;
    }
    let mut material = read_folder(dir)?;
    let mut conn = store.conn()?;
    let row = |kid: &str| SigningKeyRow {
        kid: kid.to_string(),
        created_at: now,
        retired_at: None,
        not_after: None,
    };
    for k in &material {
        conn.write(|c| c.insert_signing_key_if_missing(&row(&k.kid)))?;
    }
    let mut rows = conn.list_signing_keys()?;
    let at_hand = |m: &[SigningKey]| m.iter().map(|k| k.kid.clone()).collect::<Vec<_>>();
    let signs = |rows: &[SigningKeyRow], have: &[String]| {
        rows.iter()
            .any(|r| signs_at(r, now) && have.contains(&r.kid))
    };
    if !signs(&rows, &at_hand(&material)) {
        if !may_generate {
            return Err(folder_err(dir, "no active signing key"));
        }
        let key = generate_key(dir)?;
        conn.write(|c| c.insert_signing_key_if_missing(&row(&key.kid)))?;
        material.push(key);
        rows = conn.list_signing_keys()?;
    }
    let have = at_hand(&material);
    let have: Vec<&str> = have.iter().map(String::as_str).collect();
    let selection =
        select(&rows, &have, now).ok_or_else(|| folder_err(dir, "no active signing key"))?;
    KeySet::assemble(material, &selection).ok_or_else(|| folder_err(dir, "no active signing key"))
}

/// `gatehouse keys rotate`: a new key is published at once and signs from
/// `now + delay`, when the current keys stop signing; those stay published
/// until every token they signed has expired (`longest_ttl` later). The
/// delay lets resource servers' cached key sets pick the new key up before
/// any token needs it; 0 switches at once (an emergency). `audit` (the
/// operator's event) is appended in the same transaction, naming the key.
/// Returns the new key's id and when it starts signing.
pub fn rotate(
    store: &Store,
    dir: &Path,
    now: i64,
    longest_ttl: i64,
    delay: i64,
    audit: Option<NewAuditEvent>,
) -> Result<(String, i64), TokenError> {
    // A folder without the keys in force is the wrong folder: a new key
    // there would leave the server's folder without it.
    let lost = lacking(store, dir, now)?;
    if !lost.kids.is_empty() {
        return Err(folder_err(
            dir,
            format!(
                "lacks {} that the database records; point GATEHOUSE_KEYS_DIR (--keys-dir) at the server's keys folder",
                Lacking { server_secret: false, ..lost }.what()
            ),
        ));
    }
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
        if let Some(e) = audit {
            let e = e
                .subject(subject::key(&kid))
                .detail("signing_from", switch)
                .detail("now", delay <= 0);
            c.record_audit(now.saturating_mul(1000), &e)?;
        }
        Ok(())
    })?;
    Ok((kid, switch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::b64url;
    use crate::tokens::{AccessTokenClaims, IdTokenClaims};
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};

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
            acr: None,
            amr: None,
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
            acr: None,
            amr: None,
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
            acr: None,
            amr: None,
        };
        let access = set.signer.sign(&at).unwrap();
        assert!(set.verify_id_token_hint(&access, "http://i").is_none());
        // Another key's signature.
        let other = generate_key(dir.path()).unwrap();
        let foreign = other.sign_id_token(&id_claims(1)).unwrap();
        assert!(set.verify_id_token_hint(&foreign, "http://i").is_none());
        assert!(set.verify_id_token_hint("not a jwt", "http://i").is_none());
    }
}
