//! A software passkey for tests that talk HTTP: an ES256 key (ring) that
//! answers gatehouse's WebAuthn options as an authenticator and a browser
//! would (`none` attestation, CBOR written by hand), and can be told to lie
//! (another RP id, no user verification) so the server's checks can be
//! seen refusing. Also signs for a key exported from Chromium's virtual
//! authenticator (`from_pkcs8`).

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};

/// A server setting for passkeys: its issuer `http://localhost:PORT`
/// (WebAuthn RP ids are domains, never IP addresses), on a port free a
/// moment ago.
pub fn localhost_issuer(c: &mut gatehouse::Config) {
    let port = super::free_port();
    c.bind = format!("127.0.0.1:{port}");
    c.issuer = Some(format!("http://localhost:{port}"));
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .unwrap()
}

/// Authenticator data flags (W3C WebAuthn §6.1).
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const AT: u8 = 0x40;

pub struct SoftPasskey {
    key: EcdsaKeyPair,
    pub credential_id: Vec<u8>,
    pub user_handle: Vec<u8>,
    /// The origin the browser would put in `clientDataJSON`.
    pub origin: String,
    /// The RP id whose hash goes into the authenticator data.
    pub rp_id: String,
    /// User verification claimed.
    pub user_verified: bool,
    /// Backup-eligible (a synced passkey).
    pub backup_eligible: bool,
    /// The signature counter; each assertion adds one first.
    pub counter: u32,
}

fn cbor_head(major: u8, len: usize) -> Vec<u8> {
    let m = major << 5;
    match len {
        0..=23 => vec![m | len as u8],
        24..=255 => vec![m | 24, len as u8],
        _ => {
            let mut v = vec![m | 25];
            v.extend_from_slice(&(len as u16).to_be_bytes());
            v
        }
    }
}

fn cbor_text(s: &str) -> Vec<u8> {
    let mut v = cbor_head(3, s.len());
    v.extend_from_slice(s.as_bytes());
    v
}

fn cbor_bytes(b: &[u8]) -> Vec<u8> {
    let mut v = cbor_head(2, b.len());
    v.extend_from_slice(b);
    v
}

impl SoftPasskey {
    /// A new key for `origin` (`http://localhost:PORT`), RP id its host.
    pub fn new(origin: &str) -> SoftPasskey {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let mut id = [0u8; 16];
        ring::rand::SecureRandom::fill(&rng, &mut id).unwrap();
        SoftPasskey::from_pkcs8(pkcs8.as_ref(), id.to_vec(), Vec::new(), origin)
    }

    /// The key of a credential exported (PKCS#8) from a virtual authenticator.
    pub fn from_pkcs8(
        pkcs8: &[u8],
        credential_id: Vec<u8>,
        user_handle: Vec<u8>,
        origin: &str,
    ) -> SoftPasskey {
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &SystemRandom::new())
                .unwrap();
        let rp_id = url::Url::parse(origin)
            .unwrap()
            .host_str()
            .unwrap()
            .to_string();
        SoftPasskey {
            key,
            credential_id,
            user_handle,
            origin: origin.to_string(),
            rp_id,
            user_verified: true,
            backup_eligible: false,
            counter: 0,
        }
    }

    fn flags(&self) -> u8 {
        let mut f = UP;
        if self.user_verified {
            f |= UV;
        }
        if self.backup_eligible {
            f |= BE;
        }
        f
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        }))
        .unwrap()
    }

    /// Answers creation options (`{"publicKey": …}`) as
    /// `navigator.credentials.create()` would: the credential JSON.
    pub fn register(&mut self, options: &Value) -> Value {
        let pk = &options["publicKey"];
        self.user_handle = unb64(pk["user"]["id"].as_str().unwrap());
        let client_data = self.client_data("webauthn.create", pk["challenge"].as_str().unwrap());
        let public = self.key.public_key().as_ref(); // 0x04 || x || y
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        cose.extend(cbor_bytes(&public[1..33]));
        cose.push(0x22);
        cose.extend(cbor_bytes(&public[33..65]));
        let mut auth = gatehouse::crypto::sha256(self.rp_id.as_bytes()).to_vec();
        auth.push(self.flags() | AT);
        auth.extend_from_slice(&self.counter.to_be_bytes());
        auth.extend_from_slice(&[0u8; 16]);
        auth.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth.extend_from_slice(&self.credential_id);
        auth.extend(cose);
        let mut att = vec![0xa3];
        att.extend(cbor_text("fmt"));
        att.extend(cbor_text("none"));
        att.extend(cbor_text("attStmt"));
        att.push(0xa0);
        att.extend(cbor_text("authData"));
        att.extend(cbor_bytes(&auth));
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&att),
                "clientDataJSON": b64(&client_data),
            },
            "extensions": {},
        })
    }

    /// Answers request options (`{"publicKey": …}`) as
    /// `navigator.credentials.get()` would: the assertion JSON.
    pub fn assert(&mut self, options: &Value) -> Value {
        let challenge = options["publicKey"]["challenge"].as_str().unwrap();
        let client_data = self.client_data("webauthn.get", challenge);
        self.counter += 1;
        let mut auth = gatehouse::crypto::sha256(self.rp_id.as_bytes()).to_vec();
        auth.push(self.flags());
        auth.extend_from_slice(&self.counter.to_be_bytes());
        let mut signed = auth.clone();
        signed.extend_from_slice(&gatehouse::crypto::sha256(&client_data));
        let sig = self.key.sign(&SystemRandom::new(), &signed).unwrap();
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth),
                "clientDataJSON": b64(&client_data),
                "signature": b64(sig.as_ref()),
                "userHandle": b64(&self.user_handle),
            },
            "extensions": {},
        })
    }
}
