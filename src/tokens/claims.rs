use crate::crypto::{b64url, sha256};
use serde::{Deserialize, Serialize};

/// RFC 7519 §4.1.3 `aud`: one value as a string, several as an array
/// (RFC 9068 §3: the resources of an RFC 8707 request).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// The audience of a token for `resources` (RFC 8707), or `default`
    /// (`GATEHOUSE_AUDIENCE`) when none was asked for.
    pub fn for_resources(resources: &[String], default: &str) -> Audience {
        match resources {
            [] => Audience::One(default.to_string()),
            [one] => Audience::One(one.clone()),
            many => Audience::Many(many.to_vec()),
        }
    }

    pub fn contains(&self, value: &str) -> bool {
        match self {
            Audience::One(a) => a == value,
            Audience::Many(v) => v.iter().any(|a| a == value),
        }
    }
}

impl From<&str> for Audience {
    fn from(s: &str) -> Audience {
        Audience::One(s.to_string())
    }
}

impl From<String> for Audience {
    fn from(s: String) -> Audience {
        Audience::One(s)
    }
}

/// RFC 9068 §2.2 claims of a gatehouse access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
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
    fn rfc7519_4_1_3_aud_is_a_string_for_one_and_an_array_for_several() {
        let one = Audience::for_resources(&["https://mcp/".into()], "https://as");
        assert_eq!(
            serde_json::to_value(&one).unwrap(),
            serde_json::json!("https://mcp/")
        );
        let none = Audience::for_resources(&[], "https://as");
        assert_eq!(
            serde_json::to_value(&none).unwrap(),
            serde_json::json!("https://as")
        );
        let two = Audience::for_resources(&["https://a/".into(), "https://b/".into()], "x");
        assert_eq!(
            serde_json::to_value(&two).unwrap(),
            serde_json::json!(["https://a/", "https://b/"])
        );
        assert!(two.contains("https://b/") && !two.contains("x"));
        let back: Audience = serde_json::from_value(serde_json::json!(["a", "b"])).unwrap();
        assert_eq!(back, Audience::Many(vec!["a".into(), "b".into()]));
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
