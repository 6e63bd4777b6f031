//! Every error code gatehouse answers with, one variant each. The wire code
//! and HTTP status live here; `http::error` renders them.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// RFC 6749 §5.2: the request is missing a parameter, repeats one, or is
    /// otherwise malformed.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// RFC 6749 §5.2: client authentication failed. Answered with 401 and
    /// `WWW-Authenticate`.
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    /// RFC 6749 §5.2: the grant (code, refresh token, device code,
    /// credentials) is invalid, expired, revoked or was issued to another
    /// client.
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// RFC 6749 §5.2: this client may not use this grant type.
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    /// RFC 6749 §5.2: the server does not support this grant type.
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    /// RFC 6749 §5.2 / §4.1.2.1: the scope is malformed, unknown or exceeds
    /// what the client (or the original grant) has.
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// RFC 6749 §4.1.2.1 / RFC 8628 §3.5: the resource owner denied it.
    #[error("access_denied: {0}")]
    AccessDenied(String),
    /// RFC 6749 §4.1.2.1.
    #[error("unsupported_response_type: {0}")]
    UnsupportedResponseType(String),
    /// RFC 7009 §2.2.1.
    #[error("unsupported_token_type: {0}")]
    UnsupportedTokenType(String),
    /// RFC 7591 §3.2.2: a redirect URI is not acceptable.
    #[error("invalid_redirect_uri: {0}")]
    InvalidRedirectUri(String),
    /// RFC 7591 §3.2.2: some other client metadata is not acceptable.
    #[error("invalid_client_metadata: {0}")]
    InvalidClientMetadata(String),
    /// RFC 6750 §3.1: the bearer token (a registration access token,
    /// RFC 7592 §3; an initial access token, RFC 7591 §3) is missing,
    /// unknown, expired or used up. Answered with 401 and
    /// `WWW-Authenticate: Bearer`.
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    /// RFC 6750 §3.1: the access token lacks the scope the request needs
    /// (`/userinfo` without `openid`). Answered with 403 and
    /// `WWW-Authenticate: Bearer`.
    #[error("insufficient_scope: {0}")]
    InsufficientScope(String),
    /// RFC 8628 §3.5: the user has not finished yet.
    #[error("authorization_pending")]
    AuthorizationPending,
    /// RFC 8628 §3.5: polling too fast; the interval grows by 5 seconds.
    #[error("slow_down")]
    SlowDown,
    /// RFC 8628 §3.5: the device code expired.
    #[error("expired_token")]
    ExpiredToken,
    /// OpenID Connect Core §3.1.2.6 (`prompt=none`).
    #[error("login_required")]
    LoginRequired,
    /// OpenID Connect Core §3.1.2.6 (`prompt=none`).
    #[error("consent_required")]
    ConsentRequired,
    /// OpenID Connect Core §3.1.2.6 (`prompt=none`): the person must
    /// interact, here to prove a second factor or to set one up.
    #[error("interaction_required")]
    InteractionRequired,
    /// OpenID Connect Core §3.1.2.6, §6: the `request` parameter (a request
    /// object) is not supported.
    #[error("request_not_supported")]
    RequestNotSupported,
    /// OpenID Connect Core §3.1.2.6, §6: `request_uri` is not supported.
    #[error("request_uri_not_supported")]
    RequestUriNotSupported,
    /// RFC 6749 §5.2 `invalid_request`, answered with 413: the body is
    /// over the size limit.
    #[error("invalid_request: the request body is too large")]
    PayloadTooLarge,
    /// RFC 6749 §5.2 `invalid_request`, answered with 408: the body did
    /// not arrive within `GATEHOUSE_REQUEST_BODY_TIMEOUT` (RFC 9110
    /// §15.5.9).
    #[error("invalid_request: the request body did not arrive in time")]
    RequestTimeout,
    /// RFC 6749 §4.1.2.1 `temporarily_unavailable`, answered with 503 and
    /// `Retry-After`: the database cannot be reached. The cause is logged,
    /// never sent.
    #[error("temporarily_unavailable: {0}")]
    TemporarilyUnavailable(String),
    /// RFC 6749 §5.2 `server_error`: our fault. The cause is logged, never
    /// sent.
    #[error("server_error: {0}")]
    Server(String),
    /// RFC 8707 §2: the `resource` is invalid, missing, unknown or
    /// malformed, or one this client may not name.
    #[error("invalid_target: {0}")]
    InvalidTarget(String),
}

impl OAuthError {
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_)
            | OAuthError::PayloadTooLarge
            | OAuthError::RequestTimeout => "invalid_request",
            OAuthError::InvalidClient(_) => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::AccessDenied(_) => "access_denied",
            OAuthError::UnsupportedResponseType(_) => "unsupported_response_type",
            OAuthError::UnsupportedTokenType(_) => "unsupported_token_type",
            OAuthError::AuthorizationPending => "authorization_pending",
            OAuthError::SlowDown => "slow_down",
            OAuthError::ExpiredToken => "expired_token",
            OAuthError::LoginRequired => "login_required",
            OAuthError::ConsentRequired => "consent_required",
            OAuthError::InteractionRequired => "interaction_required",
            OAuthError::RequestNotSupported => "request_not_supported",
            OAuthError::RequestUriNotSupported => "request_uri_not_supported",
            OAuthError::InvalidRedirectUri(_) => "invalid_redirect_uri",
            OAuthError::InvalidClientMetadata(_) => "invalid_client_metadata",
            OAuthError::InvalidToken(_) => "invalid_token",
            OAuthError::TemporarilyUnavailable(_) => "temporarily_unavailable",
            OAuthError::InsufficientScope(_) => "insufficient_scope",
            OAuthError::Server(_) => "server_error",
            OAuthError::InvalidTarget(_) => "invalid_target",
        }
    }

    /// The human-readable `error_description`, limited to the characters
    /// RFC 6749 §4.1.2.1 and §5.2 allow (`%x20-21 / %x23-5B / %x5D-7E`):
    /// anything else becomes `?`. Messages describe problems in
    /// gatehouse's own words and never quote input; this is the last line.
    pub fn description(&self) -> String {
        self.raw_description()
            .chars()
            .map(|c| if description_char(c) { c } else { '?' })
            .collect()
    }

    fn raw_description(&self) -> String {
        match self {
            OAuthError::InvalidRequest(d)
            | OAuthError::InvalidClient(d)
            | OAuthError::InvalidGrant(d)
            | OAuthError::UnauthorizedClient(d)
            | OAuthError::UnsupportedGrantType(d)
            | OAuthError::InvalidScope(d)
            | OAuthError::AccessDenied(d)
            | OAuthError::UnsupportedResponseType(d)
            | OAuthError::UnsupportedTokenType(d)
            | OAuthError::InvalidRedirectUri(d)
            | OAuthError::InvalidClientMetadata(d)
            | OAuthError::InvalidToken(d)
            | OAuthError::InsufficientScope(d)
            | OAuthError::InvalidTarget(d) => d.clone(),
            OAuthError::AuthorizationPending => {
                "the user has not yet completed the authorization".into()
            }
            OAuthError::SlowDown => "polling too fast; wait 5 seconds longer between polls".into(),
            OAuthError::ExpiredToken => "the device code has expired".into(),
            OAuthError::LoginRequired => "the user must sign in".into(),
            OAuthError::ConsentRequired => "the user must consent".into(),
            OAuthError::InteractionRequired => {
                "the user must use a second factor, or set one up".into()
            }
            OAuthError::RequestNotSupported => "request objects are not supported".into(),
            OAuthError::RequestUriNotSupported => "request_uri is not supported".into(),
            OAuthError::PayloadTooLarge => "the request body is too large".into(),
            OAuthError::RequestTimeout => "the request body did not arrive in time".into(),
            OAuthError::TemporarilyUnavailable(_) => {
                "the service is temporarily unavailable; try again shortly".into()
            }
            OAuthError::Server(_) => "internal error".into(),
        }
    }

    /// HTTP status per RFC 6749 §5.2 (400, or 401 for `invalid_client`)
    /// and RFC 6750 §3.1 (401 for `invalid_token`, 403 for
    /// `insufficient_scope`).
    pub fn status(&self) -> u16 {
        match self {
            OAuthError::InvalidClient(_) | OAuthError::InvalidToken(_) => 401,
            OAuthError::InsufficientScope(_) => 403,
            OAuthError::PayloadTooLarge => 413,
            OAuthError::RequestTimeout => 408,
            OAuthError::TemporarilyUnavailable(_) => 503,
            OAuthError::Server(_) => 500,
            _ => 400,
        }
    }
}

/// RFC 6749 §5.2: `error_description` = 1*( %x20-21 / %x23-5B / %x5D-7E ).
pub fn description_char(c: char) -> bool {
    matches!(c, '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6749_5_2_error_description_has_only_allowed_characters() {
        let e = OAuthError::InvalidRequest("a\r\nb \"c\" \\ d\u{7f}é\t".into());
        let d = e.description();
        assert!(d.chars().all(description_char), "{d:?}");
        assert_eq!(d, "a??b ?c? ? d???");
    }

    #[test]
    fn rfc6750_3_1_bearer_errors_are_401_and_403() {
        assert_eq!(OAuthError::InvalidToken("x".into()).status(), 401);
        let e = OAuthError::InsufficientScope("x".into());
        assert_eq!((e.status(), e.code()), (403, "insufficient_scope"));
    }
}
