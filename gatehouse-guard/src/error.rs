//! Why a request was refused, and what a guard could not be set up for.
//! Each variant maps to one RFC 6750 §3 answer (see [`GuardError::code`]).

use crate::rfc6750::ErrorCode;

/// A request that is not let through. Descriptions are fixed strings: they
/// go into `WWW-Authenticate` and must never echo attacker input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// No `Authorization: Bearer …` credentials at all (including another
    /// scheme, or a token without the `Bearer` prefix). RFC 6750 §3.1: 401
    /// with no error code.
    #[error("no bearer token")]
    MissingToken,
    /// RFC 6750 §3.1 `invalid_request` (400): a malformed request.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// RFC 6750 §3.1 `invalid_token` (401).
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// RFC 6750 §3.1 `insufficient_scope` (403): the scopes the resource
    /// needs.
    #[error("insufficient scope: needs {}", .0.join(" "))]
    InsufficientScope(Vec<String>),
    /// The issuer could not be reached to check the token (an unknown `kid`
    /// that could not be looked up, or introspection failing): 503. The
    /// token is never accepted unchecked.
    #[error("token issuer unavailable: {0}")]
    IssuerUnavailable(&'static str),
}

impl GuardError {
    /// The RFC 6750 error code, if the answer carries one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            GuardError::MissingToken | GuardError::IssuerUnavailable(_) => None,
            GuardError::InvalidRequest(_) => Some(ErrorCode::InvalidRequest),
            GuardError::InvalidToken(_) => Some(ErrorCode::InvalidToken),
            GuardError::InsufficientScope(_) => Some(ErrorCode::InsufficientScope),
        }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> u16 {
        match self {
            GuardError::MissingToken => 401,
            GuardError::IssuerUnavailable(_) => 503,
            other => other.code().map_or(500, ErrorCode::status),
        }
    }

    /// The human-readable `error_description`.
    pub fn description(&self) -> &str {
        match self {
            GuardError::MissingToken => "no bearer token",
            GuardError::InvalidRequest(d)
            | GuardError::InvalidToken(d)
            | GuardError::IssuerUnavailable(d) => d,
            GuardError::InsufficientScope(_) => "the access token lacks a required scope",
        }
    }

    /// The `WWW-Authenticate` value for this answer, or `None` (503).
    pub fn challenge(&self, realm: &str) -> Option<String> {
        self.challenge_with(realm, None, &[])
    }

    /// [`GuardError::challenge`] with the resource's RFC 9728 metadata URL
    /// (§5.1 `resource_metadata`) and the scopes the resource needs:
    /// RFC 6750 §3 `scope`, on a 403 the scopes that were missing, on a 401
    /// `needed` (when not empty), so a client knows what to ask for.
    pub fn challenge_with(
        &self,
        realm: &str,
        resource_metadata: Option<&str>,
        needed: &[&str],
    ) -> Option<String> {
        let needed: Vec<String> = needed.iter().map(|s| s.to_string()).collect();
        let scope = match self {
            GuardError::IssuerUnavailable(_) => return None,
            GuardError::InsufficientScope(scopes) => Some(scopes.as_slice()),
            GuardError::MissingToken | GuardError::InvalidToken(_) if !needed.is_empty() => {
                Some(needed.as_slice())
            }
            _ => None,
        };
        let error = match self {
            GuardError::MissingToken => None,
            _ => self.code().map(|c| (c, self.description())),
        };
        Some(crate::rfc6750::challenge_with_metadata(
            realm,
            resource_metadata,
            error,
            scope,
        ))
    }
}

/// Setting a guard up failed: the issuer's metadata or keys could not be
/// read, or they do not belong to the configured issuer.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("issuer {0:?} is not an absolute http(s) URL")]
    BadIssuer(String),
    #[error("fetching {url}: {reason}")]
    Fetch { url: String, reason: String },
    /// RFC 8414 §3.3: the `issuer` in the metadata "MUST be identical to the
    /// issuer identifier value into which the well-known URI string was
    /// inserted".
    #[error("metadata at {url} names issuer {found:?}, not {expected:?}")]
    IssuerMismatch {
        url: String,
        expected: String,
        found: String,
    },
    #[error("metadata at {0} has no jwks_uri")]
    NoJwksUri(String),
    #[error("introspection is configured but the metadata has no introspection_endpoint")]
    NoIntrospectionEndpoint,
    #[error("building the HTTP client: {0}")]
    Client(String),
    /// RFC 9728 metadata was asked for, but the audience is not a resource
    /// URI it can be published for (an absolute http(s) URL with no
    /// fragment, RFC 8707 §2).
    #[error("audience {0:?} is not an absolute http(s) resource URI, so it can have no RFC 9728 metadata")]
    BadResource(String),
}
