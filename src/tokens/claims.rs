use crate::crypto::{b64url, sha256};
use serde::{Deserialize, Serialize};

/// RFC 9068 §2.2 claims of a gatehouse access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth_time: Option<i64>,
    /// RFC 9068 §2.2.1 (and RFC 9470 §6.1, for resource servers that ask
    /// for a step-up): the sign-in's class, `ACR_PWD` or `ACR_MFA`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub acr: Option<String>,
    /// RFC 9068 §2.2.1: the sign-in's methods (RFC 8176).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub amr: Option<Vec<String>>,
}

/// OpenID Connect Core §5.1 standard claims about the person, as the
/// granted scopes allow (§5.4): in the ID token and from `/userinfo`.
/// Absent values are left out, never sent as `null`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct UserClaims {
    /// `profile`
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    /// `profile`
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub preferred_username: Option<String>,
    /// `profile`: Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub updated_at: Option<i64>,
    /// `email`
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email: Option<String>,
    /// `email`
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email_verified: Option<bool>,
}

/// OpenID Connect Core §2 (and §3.1.3.6) claims of an ID token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IdTokenClaims {
    pub iss: String,
    /// The person's stable id: the `sub` of their access tokens.
    pub sub: String,
    /// The client id.
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    /// When the person signed in (§2: required when `max_age` was asked
    /// for; always sent).
    pub auth_time: i64,
    /// Echoed exactly from the authorization request (§3.1.2.1).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nonce: Option<String>,
    /// §3.1.3.6: the access token issued with it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub at_hash: Option<String>,
    /// The browser session (OpenID Connect Front-/Back-Channel Logout
    /// `sid`): derived from the session, never its cookie.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sid: Option<String>,
    /// §2: the party the token was issued to.
    pub azp: String,
    /// §2: the authentication context class the sign-in reached
    /// (`ACR_PWD`, `ACR_MFA`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub acr: Option<String>,
    /// §2, RFC 8176: the methods the person signed in with.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub amr: Option<Vec<String>>,
    #[serde(flatten)]
    pub user: UserClaims,
}

/// OpenID Connect Core §3.1.3.6 `at_hash`: the left half of the SHA-256
/// of the access token's ASCII, base64url without padding (RS256 hashes
/// with SHA-256).
pub fn at_hash(access_token: &str) -> String {
    let digest = sha256(access_token.as_bytes());
    b64url(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oidc_core_3_1_3_6_at_hash_is_the_left_half_of_sha256() {
        // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223 b00361a3…
        assert_eq!(
            at_hash("abc"),
            b64url(&[
                0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
                0x22, 0x23,
            ])
        );
        assert_eq!(at_hash("abc").len(), 22);
    }

    #[test]
    fn oidc_core_5_1_absent_claims_are_left_out() {
        let v = serde_json::to_value(UserClaims {
            preferred_username: Some("alice".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(v, serde_json::json!({"preferred_username": "alice"}));
    }
}
