//! RFC 6749 §4.1/§4.2 authorization requests, validated in the order the
//! RFC requires: client and redirect URI first (errors there are shown to
//! the person, never redirected, §4.1.2.1), then everything else (errors
//! redirect to the client).

use super::pkce::check_challenge;
use super::scope::resolve_scope;
use super::wire::Form;
use super::{ClientPolicy, GrantType, OAuthError};

/// How the response travels back: query for `code`, fragment for `token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    Code,
    Token,
}

/// OpenID Connect `prompt`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A request that passed every check, for client type `C` (the store's
/// client row in the server).
#[derive(Debug, Clone)]
pub struct AuthorizationRequest<C> {
    pub client: C,
    pub response_type: ResponseType,
    /// The URI to answer at (registered, exact).
    pub redirect_uri: String,
    /// Whether the request named `redirect_uri` (then the token request
    /// must repeat it, §4.1.3).
    pub redirect_uri_sent: bool,
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub prompt: Prompt,
}

/// Where an error goes: a page (bad client or redirect URI), or back to the
/// client's redirect URI.
#[derive(Debug)]
pub enum AuthorizeError {
    Page(String),
    Redirect {
        error: OAuthError,
        redirect_uri: String,
        state: Option<String>,
        fragment: bool,
    },
}

/// Parameters that must identify the client and its redirect URI, checked
/// before any redirect. `params` came from the query string or a form body.
pub fn validate<C: ClientPolicy>(
    raw: &[u8],
    lookup: impl FnOnce(&str) -> Option<C>,
) -> Result<AuthorizationRequest<C>, AuthorizeError> {
    // Parse leniently first to find client and redirect URI even when some
    // other parameter repeats.
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(raw).map_err(|_| {
        AuthorizeError::Page("The authorization request is not valid URL encoding.".into())
    })?;
    let count = |k: &str| {
        pairs
            .iter()
            .filter(|(pk, v)| pk == k && !v.is_empty())
            .count()
    };
    let first = |k: &str| {
        pairs
            .iter()
            .find(|(pk, v)| pk == k && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    if count("client_id") != 1 {
        return Err(AuthorizeError::Page(
            "The request must name exactly one client_id.".into(),
        ));
    }
    if count("redirect_uri") > 1 {
        return Err(AuthorizeError::Page(
            "The request repeats redirect_uri.".into(),
        ));
    }
    let client_id = first("client_id").unwrap_or_default();
    let client =
        lookup(client_id).ok_or_else(|| AuthorizeError::Page("Unknown app (client_id).".into()))?;
    // RFC 6749 §3.1.2.3: exact match against a registered URI.
    let redirect_uri = client
        .redirect_uris()
        .resolve(first("redirect_uri"))
        .map_err(|m| AuthorizeError::Page(m.into()))?;
    let redirect_uri_sent = first("redirect_uri").is_some();

    let state = first("state").map(str::to_string);
    let response_type = first("response_type");
    let fragment = response_type == Some("token");
    let fail = |error: OAuthError| AuthorizeError::Redirect {
        error,
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        fragment,
    };

    // RFC 6749 §3.1: "Request and response parameters MUST NOT be included
    // more than once."
    let form = Form::parse_pairs(raw).map_err(fail)?;
    let response_type = match form.get("response_type") {
        None => {
            return Err(fail(OAuthError::InvalidRequest(
                "missing parameter 'response_type'".into(),
            )))
        }
        Some("code") => ResponseType::Code,
        Some("token") => ResponseType::Token,
        Some(_) => {
            return Err(fail(OAuthError::UnsupportedResponseType(
                "response_type is not supported; use code".into(),
            )))
        }
    };
    let grant = match response_type {
        ResponseType::Code => GrantType::AuthorizationCode,
        ResponseType::Token => GrantType::Implicit,
    };
    if !client.has_grant(grant) {
        return Err(fail(OAuthError::UnauthorizedClient(format!(
            "this app may not use the {grant} grant"
        ))));
    }
    let scope = resolve_scope(form.get("scope"), &client.scopes()).map_err(fail)?;

    let code_challenge = match response_type {
        ResponseType::Code => {
            let c = check_challenge(
                form.get("code_challenge"),
                form.get("code_challenge_method"),
            )
            .map_err(fail)?;
            // RFC 7636 §4.4.1 / RFC 9700 §2.1.1: public clients must use PKCE.
            if c.is_none() && client.is_public() {
                return Err(fail(OAuthError::InvalidRequest(
                    "PKCE is required: send code_challenge with code_challenge_method=S256".into(),
                )));
            }
            c
        }
        ResponseType::Token => None,
    };

    let mut prompt = Prompt::default();
    for p in form
        .get("prompt")
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
    {
        match p {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            _ => {}
        }
    }
    // OIDC Core §3.1.2.1: none with any other value is an error.
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(fail(OAuthError::InvalidRequest(
            "prompt=none cannot be combined".into(),
        )));
    }

    Ok(AuthorizationRequest {
        client,
        response_type,
        redirect_uri,
        redirect_uri_sent,
        scope,
        state,
        code_challenge,
        nonce: form.get("nonce").map(str::to_string),
        prompt,
    })
}

/// The redirect carrying `params`: in the query for codes and errors of the
/// code flow, in the fragment for the implicit flow (§4.2.2).
pub fn redirect_with(redirect_uri: &str, fragment: bool, params: &[(&str, &str)]) -> String {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return redirect_uri.to_string();
    };
    if fragment {
        let encoded = serde_urlencoded::to_string(params).unwrap_or_default();
        url.set_fragment(Some(&encoded));
    } else {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::oauth::RedirectUris;

    #[derive(Debug, Clone)]
    struct Client {
        uris: Vec<&'static str>,
        grants: Vec<GrantType>,
        public: bool,
    }

    impl ClientPolicy for Client {
        fn client_id(&self) -> &str {
            "c1"
        }
        fn redirect_uris(&self) -> RedirectUris {
            RedirectUris::new(self.uris.clone())
        }
        fn has_grant(&self, grant: GrantType) -> bool {
            self.grants.contains(&grant)
        }
        fn scopes(&self) -> Vec<&str> {
            vec!["read", "write"]
        }
        fn is_public(&self) -> bool {
            self.public
        }
    }

    fn client(uris: &'static str, grants: &str, public: bool) -> Client {
        Client {
            uris: uris.split(' ').collect(),
            grants: grants.split(' ').filter_map(GrantType::parse).collect(),
            public,
        }
    }

    fn run(q: &str, c: Client) -> Result<AuthorizationRequest<Client>, AuthorizeError> {
        validate(q.as_bytes(), |id| (id == "c1").then_some(c))
    }

    #[test]
    fn rfc6749_3_1_2_3_redirect_uri_must_match_exactly() {
        let c = client("https://app/cb", "authorization_code", false);
        assert!(matches!(
            run(
                "client_id=c1&response_type=code&redirect_uri=https://app/cb/",
                c.clone()
            ),
            Err(AuthorizeError::Page(_))
        ));
        assert!(matches!(
            run(
                "client_id=c1&response_type=code&redirect_uri=https://APP/cb",
                c.clone()
            ),
            Err(AuthorizeError::Page(_))
        ));
        assert!(run("client_id=c1&response_type=code", c).is_ok());
    }

    #[test]
    fn rfc6749_4_1_2_1_unknown_client_is_a_page_not_a_redirect() {
        let c = client("https://app/cb", "authorization_code", false);
        assert!(matches!(
            run("client_id=zz&response_type=code", c),
            Err(AuthorizeError::Page(_))
        ));
    }

    #[test]
    fn other_errors_redirect_with_state() {
        let c = client("https://app/cb", "authorization_code", false);
        match run("client_id=c1&response_type=magic&state=xyz", c) {
            Err(AuthorizeError::Redirect { error, state, .. }) => {
                assert_eq!(error.code(), "unsupported_response_type");
                assert_eq!(state.as_deref(), Some("xyz"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rfc7636_public_client_needs_pkce() {
        let c = client("https://app/cb", "authorization_code", true);
        match run("client_id=c1&response_type=code", c) {
            Err(AuthorizeError::Redirect { error, .. }) => {
                assert_eq!(error.code(), "invalid_request")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn redirect_keeps_existing_query() {
        let u = redirect_with(
            "https://app/cb?x=1",
            false,
            &[("code", "a b"), ("state", "s")],
        );
        assert_eq!(u, "https://app/cb?x=1&code=a+b&state=s");
        let f = redirect_with("https://app/cb", true, &[("access_token", "t")]);
        assert_eq!(f, "https://app/cb#access_token=t");
    }
}
