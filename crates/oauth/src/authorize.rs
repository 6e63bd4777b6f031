//! RFC 6749 §4.1/§4.2 authorization requests, validated in the order the
//! RFC requires: client and redirect URI first (errors there are shown to
//! the person, never redirected, §4.1.2.1), then everything else (errors
//! redirect to the client). With OpenID Connect Core §3.1.2.1's
//! parameters (`nonce`, `max_age`, `prompt`, `login_hint`,
//! `id_token_hint`; `request` and `request_uri` refused, §6), the rule
//! that decides what a valid request leads to (`next_step`), and the
//! sealed continuation that carries a re-authentication the request asked
//! for across the sign-in page (`seal`, `unseal`). A second factor
//! (`acr_values`, §3.1.2.1, and the factor policy) is judged by `next_step`
//! too: a step-up to the second-factor page, or enrolment.

use super::amr::{ACR_MFA, ACR_PWD};
use super::pkce::check_challenge;
use super::resource::parse_resources;
use super::scope::resolve_scope;
use super::wire::Form;
use super::{ClientPolicy, GrantType, OAuthError};
use crate::crypto::{b64url, constant_time_eq, ServerSecret};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// How the response travels back: query for `code`, fragment for `token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    Code,
    Token,
}

/// OpenID Connect `prompt` (§3.1.2.1). `select_account` counts as
/// `login`: gatehouse keeps one account a browser, so choosing another
/// one means signing in again.
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
    /// OIDC `max_age`: the most seconds since the person signed in.
    pub max_age: Option<i64>,
    /// OIDC `login_hint`: pre-fills the sign-in page.
    pub login_hint: Option<String>,
    /// OIDC `id_token_hint`, as sent (verified by the caller, who holds
    /// the keys).
    pub id_token_hint: Option<String>,
    /// The re-authentication this request is continuing (`prompt=login`,
    /// `select_account` or `max_age` sent the person to the sign-in page),
    /// from a verified seal (`unseal`); `validate` leaves it `None`.
    pub reauth: Option<SignInAfter>,
    /// RFC 8707 `resource`s asked for (checked as URIs; whether this client
    /// may name them is `resource::check_allowed`, which needs the
    /// operator's list).
    pub resource: Vec<String>,
    /// OIDC `acr_values` (§3.1.2.1): the authentication context classes
    /// asked for, in order of preference, as sent.
    pub acr_values: Vec<String>,
}

impl<C> AuthorizationRequest<C> {
    /// Whether `acr_values` asks for a second factor: it names
    /// `ACR_MFA` and not `ACR_PWD` (a list naming both accepts a password
    /// alone, §3.1.2.1: the values are preferences). Values gatehouse does
    /// not know are ignored.
    pub fn asks_second_factor(&self) -> bool {
        let named = |v: &str| self.acr_values.iter().any(|a| a == v);
        named(ACR_MFA) && !named(ACR_PWD)
    }
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
    // RFC 8707 §2: `resource` may repeat; nothing else may.
    let form = Form::parse_pairs_with_lists(raw, &["resource"]).map_err(fail)?;
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
    // OIDC Core §3.1.2.1: an OpenID Connect request must name its
    // redirect_uri (RFC 6749 lets a plain OAuth request leave it out).
    let asks_openid = form
        .get("scope")
        .is_some_and(|s| s.split(' ').any(|w| w == "openid"));
    if asks_openid && !redirect_uri_sent {
        return Err(fail(OAuthError::InvalidRequest(
            "redirect_uri is required in an OpenID Connect request (scope openid)".into(),
        )));
    }

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

    // OIDC Core §6.1, §6.2: request objects are not supported (Discovery
    // says so: request_parameter_supported, request_uri_parameter_supported
    // are false).
    if form.get("request").is_some() {
        return Err(fail(OAuthError::RequestNotSupported));
    }
    if form.get("request_uri").is_some() {
        return Err(fail(OAuthError::RequestUriNotSupported));
    }

    let mut prompt = Prompt::default();
    for p in form
        .get("prompt")
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
    {
        match p {
            "none" => prompt.none = true,
            "login" | "select_account" => prompt.login = true,
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

    let max_age = form
        .get("max_age")
        .map(parse_max_age)
        .transpose()
        .map_err(fail)?;
    let resource = parse_resources(&form.get_all("resource")).map_err(fail)?;
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
        max_age,
        login_hint: form.get("login_hint").map(str::to_string),
        id_token_hint: form.get("id_token_hint").map(str::to_string),
        reauth: None,
        acr_values: form
            .get("acr_values")
            .unwrap_or("")
            .split(' ')
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect(),
        resource,
    })
}

/// OIDC Core §3.1.2.1 `max_age`: a whole number of seconds, 0 or more.
fn parse_max_age(raw: &str) -> Result<i64, OAuthError> {
    let bad = || OAuthError::InvalidRequest("max_age must be a whole number of seconds".into());
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    // Beyond i64 is "any age".
    Ok(raw.parse::<i64>().unwrap_or(i64::MAX))
}

/// The browser's sign-in, as `next_step` judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session<'a> {
    /// The signed-in person's id (the `sub` of their tokens).
    pub user_id: &'a str,
    /// When they signed in.
    pub auth_time: i64,
    /// Which session this is (`session_marker`): a re-authentication
    /// cannot be satisfied by the session it was asked in.
    pub marker: &'a str,
    /// The sign-in used a second factor (its `amr` has `mfa`).
    pub mfa: bool,
}

/// What the signed-in person has and owes of second factors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecondFactor {
    /// The factor policy (`GATEHOUSE_MFA`) requires one of this person.
    pub required: bool,
    /// They have one (an authenticator app or a passkey).
    pub enrolled: bool,
}

impl SecondFactor {
    /// What a session signed in with a second factor (`mfa`) or without
    /// must do before anything is answered for this person, when an app
    /// `asked` for a second factor or not: `StepUp`, `Enrol`, or nothing.
    /// A second factor is needed when asked, when the policy requires one,
    /// or when the person has one (whoever has one uses it: a password
    /// alone never answers for them). The device page judges its approval
    /// by this too.
    pub fn detour(self, asked: bool, mfa: bool) -> Option<Step> {
        if mfa || !(asked || self.required || self.enrolled) {
            None
        } else if self.enrolled {
            Some(Step::StepUp)
        } else {
            Some(Step::Enrol)
        }
    }
}

/// What a valid authorization request leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The sign-in page, continuing to the request afterwards
    /// (`continuation`).
    SignIn,
    /// The consent page.
    Consent,
    /// Answer with a code (or token): the person is signed in and has
    /// consented.
    Answer,
    /// An error redirected to the client (§3.1.2.6).
    Fail(OAuthError),
    /// The second-factor page, for a person signed in without one who has
    /// one, continuing to the request afterwards.
    StepUp,
    /// Setting up a second factor (`/account`): one is needed and the
    /// person has none.
    Enrol,
}

/// Decides what a valid request leads to (OIDC Core §3.1.2.1, §3.1.2.3,
/// §3.1.2.4, §3.1.2.6):
/// - the person must sign in (again) when nobody is signed in, when the
///   request says `prompt=login` (or `select_account`), or when their
///   sign-in is older than `max_age` (`max_age=0` always), unless the
///   request continues from the sign-in page it asked for and this
///   session's sign-in is the fresh one (`req.reauth`);
/// - `id_token_hint` names who must be signed in: anyone else gets
///   `login_required` (the hint's `sub`, already verified, is `hint_sub`);
/// - consent is asked when not given before for these scopes, or when
///   `prompt=consent`;
/// - a second factor is needed when `acr_values` asks for one
///   (`asks_second_factor`), when the policy requires one of this person,
///   or when they have one (whoever has one uses it: a password alone
///   never answers for them); a session signed in without one steps up
///   (`StepUp`) when the person has one, else sets one up (`Enrol`);
/// - with `prompt=none` nothing may be shown: `login_required`,
///   `interaction_required` (a second factor) or `consent_required`
///   instead.
pub fn next_step<C>(
    req: &AuthorizationRequest<C>,
    session: Option<Session<'_>>,
    hint_sub: Option<&str>,
    consented: bool,
    now: i64,
    factor: SecondFactor,
) -> Step {
    let session = match session {
        Some(s) if !must_sign_in_again(req, &s, now) => s,
        _ if req.prompt.none => return Step::Fail(OAuthError::LoginRequired),
        _ => return Step::SignIn,
    };
    if hint_sub.is_some_and(|sub| sub != session.user_id) {
        return Step::Fail(OAuthError::LoginRequired);
    }
    if let Some(detour) = factor.detour(req.asks_second_factor(), session.mfa) {
        // OIDC Core §3.1.2.6: a page would be needed.
        if req.prompt.none {
            return Step::Fail(OAuthError::InteractionRequired);
        }
        return detour;
    }
    if consented && !req.prompt.consent {
        return Step::Answer;
    }
    if req.prompt.none {
        return Step::Fail(OAuthError::ConsentRequired);
    }
    Step::Consent
}

/// OIDC Core §3.1.2.1: `prompt=login` (and `select_account`) and
/// `max_age=0` ask for a fresh sign-in; `max_age=N` for one when this
/// one is older than N seconds. The fresh sign-in is the one the sealed
/// continuation names (`req.reauth`), and only that: the continuation
/// itself never satisfies what it carries.
fn must_sign_in_again<C>(req: &AuthorizationRequest<C>, s: &Session<'_>, now: i64) -> bool {
    let asked = req.prompt.login || req.max_age == Some(0);
    let too_old = req
        .max_age
        .is_some_and(|max| now.saturating_sub(s.auth_time) > max);
    let fresh = req.reauth.as_ref().is_some_and(|c| c.satisfied_by(s));
    (asked || too_old) && !fresh
}

/// A re-authentication in progress (OIDC Core §3.1.2.1): the sign-in that
/// satisfies it happened at or after `after` (when the request sent the
/// person to the sign-in page), in another session than `not_session` (the
/// one signed in then, whose sign-in may be of the same second).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInAfter {
    pub after: i64,
    pub not_session: Option<String>,
}

impl SignInAfter {
    pub fn satisfied_by(&self, s: &Session<'_>) -> bool {
        s.auth_time >= self.after && self.not_session.as_deref() != Some(s.marker)
    }
}

/// The one parameter of a sealed continuation.
pub const SEAL_PARAM: &str = "reauth";

const SEAL_LABEL: &[u8] = b"gatehouse-reauth-v1";

/// Names a browser session in a seal without revealing anything of it: an
/// HMAC of its stored id hash under the server secret.
pub fn session_marker(secret: &ServerSecret, session_id_hash: &str) -> String {
    let mac = secret.mac(&[b"gatehouse-reauth-session-v1", session_id_hash.as_bytes()]);
    b64url(&mac[..16])
}

/// The request as the pages pass it on: the same parameters, in order,
/// form-encoded again, without a seal.
pub fn canonical_query(raw: &[u8]) -> String {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(raw).unwrap_or_default();
    let kept: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != SEAL_PARAM).collect();
    serde_urlencoded::to_string(kept).unwrap_or_default()
}

/// The request to continue with after the sign-in page (`Step::SignIn`).
/// A request that asks to sign in again (`prompt=login`,
/// `select_account`, `max_age`) is sealed: the whole request, `prompt` and
/// `max_age` included, with the time it sent the person to sign in and the
/// session signed in then, under an HMAC of the server secret. So the
/// continuation cannot be opened to skip the sign-in: without the seal
/// there is no request, an edited seal is refused, and the sealed request
/// still asks for a sign-in at or after that time, in another session.
/// Any other request continues as it is. `query` is `canonical_query`.
pub fn continuation<C>(
    req: &AuthorizationRequest<C>,
    query: &str,
    current: Option<&Session<'_>>,
    now: i64,
    secret: &ServerSecret,
) -> String {
    if req.prompt.login || req.max_age.is_some() {
        let need = SignInAfter {
            after: now,
            not_session: current.map(|s| s.marker.to_string()),
        };
        seal(query, &need, secret)
    } else {
        query.to_string()
    }
}

/// The request to pass on to the consent page: sealed again with the
/// re-authentication it continues, so that the consent page and its post
/// judge it as `/authorize` did.
pub fn forward<C>(req: &AuthorizationRequest<C>, query: &str, secret: &ServerSecret) -> String {
    match &req.reauth {
        Some(need) => seal(query, need, secret),
        None => query.to_string(),
    }
}

fn seal_mac(secret: &ServerSecret, after: &str, not_session: &str, query: &str) -> String {
    b64url(&secret.mac(&[
        SEAL_LABEL,
        after.as_bytes(),
        not_session.as_bytes(),
        query.as_bytes(),
    ]))
}

/// `reauth=<after>.<not_session>.<base64url(query)>.<hmac>`.
pub fn seal(query: &str, need: &SignInAfter, secret: &ServerSecret) -> String {
    let after = need.after.to_string();
    let not_session = need.not_session.as_deref().unwrap_or("");
    let mac = seal_mac(secret, &after, not_session, query);
    let value = format!(
        "{after}.{not_session}.{}.{mac}",
        URL_SAFE_NO_PAD.encode(query.as_bytes())
    );
    serde_urlencoded::to_string([(SEAL_PARAM, value)]).unwrap_or_default()
}

/// Opens a sealed continuation: `Ok(None)` for a request without a seal,
/// `Ok(Some((query, need)))` for one gatehouse sealed. A seal that was
/// edited, cut, signed under another secret, or sent with any other
/// parameter beside it is refused with a page (it is not the client's
/// request, so nothing is redirected to the client).
pub fn unseal(
    raw: &[u8],
    secret: &ServerSecret,
) -> Result<Option<(String, SignInAfter)>, AuthorizeError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(raw).unwrap_or_default();
    if !pairs.iter().any(|(k, _)| k == SEAL_PARAM) {
        return Ok(None);
    }
    let refused = || {
        AuthorizeError::Page(
            "This sign-in link is not valid: it was changed, or it did not come from this \
             server. Go back to the app and start again."
                .into(),
        )
    };
    let [(_, value)] = pairs.as_slice() else {
        return Err(refused());
    };
    let parts: Vec<&str> = value.split('.').collect();
    let [after, not_session, encoded, mac] = parts.as_slice() else {
        return Err(refused());
    };
    let query = URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(refused)?;
    let expected = seal_mac(secret, after, not_session, &query);
    if !constant_time_eq(expected.as_bytes(), mac.as_bytes()) {
        return Err(refused());
    }
    let after: i64 = after.parse().map_err(|_| refused())?;
    Ok(Some((
        query,
        SignInAfter {
            after,
            not_session: (!not_session.is_empty()).then(|| not_session.to_string()),
        },
    )))
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

    use crate::RedirectUris;

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
            vec!["read", "write", "openid"]
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
    fn oidc_core_3_1_2_1_openid_requests_must_name_the_redirect_uri() {
        let c = client("https://app/cb", "authorization_code", false);
        let without = run("client_id=c1&response_type=code&scope=openid", c.clone());
        assert!(
            matches!(&without, Err(AuthorizeError::Redirect { error, .. }) if error.code() == "invalid_request"),
            "{without:?}"
        );
        assert!(run(
            "client_id=c1&response_type=code&scope=openid&redirect_uri=https://app/cb",
            c.clone()
        )
        .is_ok());
        // Plain OAuth may still leave it out when one is registered.
        assert!(run("client_id=c1&response_type=code&scope=read", c).is_ok());
    }

    #[test]
    fn rfc8707_2_resource_may_repeat_and_a_malformed_one_redirects_invalid_target() {
        let c = client("https://app/cb", "authorization_code", false);
        let ok = run(
            "client_id=c1&response_type=code&resource=https%3A%2F%2Fa%2Fmcp&resource=https%3A%2F%2Fb%2F",
            c.clone(),
        )
        .unwrap();
        assert_eq!(ok.resource, vec!["https://a/mcp", "https://b/"]);
        assert!(run("client_id=c1&response_type=code", c.clone())
            .unwrap()
            .resource
            .is_empty());
        for bad in ["resource=%2Frelative", "resource=https%3A%2F%2Fa%2F%23frag"] {
            let r = run(&format!("client_id=c1&response_type=code&{bad}"), c.clone());
            assert!(
                matches!(&r, Err(AuthorizeError::Redirect { error, .. }) if error.code() == "invalid_target"),
                "{bad}: {r:?}"
            );
        }
        // Other parameters still may not repeat (RFC 6749 §3.1).
        let r = run("client_id=c1&response_type=code&scope=read&scope=read", c);
        assert!(
            matches!(&r, Err(AuthorizeError::Redirect { error, .. }) if error.code() == "invalid_request")
        );
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

    fn code_request(extra: &str) -> Result<AuthorizationRequest<Client>, AuthorizeError> {
        let c = client("https://app/cb", "authorization_code", false);
        run(&format!("client_id=c1&response_type=code&{extra}"), c)
    }

    fn error_of(r: Result<AuthorizationRequest<Client>, AuthorizeError>) -> String {
        match r {
            Err(AuthorizeError::Redirect { error, .. }) => error.code().to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oidc_core_6_request_objects_are_refused_with_their_codes() {
        assert_eq!(
            error_of(code_request("request=eyJhbGciOiJub25lIn0.e30.")),
            "request_not_supported"
        );
        assert_eq!(
            error_of(code_request("request_uri=https%3A%2F%2Fapp%2Freq")),
            "request_uri_not_supported"
        );
    }

    #[test]
    fn oidc_core_3_1_2_1_max_age_is_a_whole_number_of_seconds() {
        assert_eq!(code_request("max_age=0").unwrap().max_age, Some(0));
        assert_eq!(code_request("max_age=3600").unwrap().max_age, Some(3600));
        assert_eq!(
            code_request("max_age=99999999999999999999")
                .unwrap()
                .max_age,
            Some(i64::MAX)
        );
        for bad in ["-1", "1.5", "abc", "+5", "1%20"] {
            assert_eq!(
                error_of(code_request(&format!("max_age={bad}"))),
                "invalid_request"
            );
        }
        assert_eq!(code_request("").unwrap().max_age, None);
    }

    #[test]
    fn oidc_core_3_1_2_1_prompt_values_and_hints() {
        let r = code_request("prompt=select_account&login_hint=alice&id_token_hint=x.y.z&display=popup&acr_values=urn%3Ax").unwrap();
        assert!(r.prompt.login, "select_account works as login");
        assert_eq!(r.login_hint.as_deref(), Some("alice"));
        assert_eq!(r.id_token_hint.as_deref(), Some("x.y.z"));
        assert_eq!(
            error_of(code_request("prompt=none%20login")),
            "invalid_request"
        );
        assert_eq!(
            error_of(code_request("prompt=none%20select_account")),
            "invalid_request"
        );
    }

    fn step(
        extra: &str,
        session: Option<(&str, i64)>,
        hint: Option<&str>,
        consented: bool,
    ) -> Step {
        let r = code_request(extra).unwrap();
        let s = session.map(|(user_id, auth_time)| Session {
            user_id,
            auth_time,
            marker: "m-old",
            mfa: false,
        });
        next_step(&r, s, hint, consented, 1000, SecondFactor::default())
    }

    #[test]
    fn oidc_core_3_1_2_3_who_must_sign_in() {
        assert_eq!(step("", None, None, false), Step::SignIn);
        assert_eq!(step("", Some(("u", 0)), None, true), Step::Answer);
        assert_eq!(step("", Some(("u", 0)), None, false), Step::Consent);
        assert_eq!(
            step("prompt=login", Some(("u", 999)), None, true),
            Step::SignIn
        );
        assert_eq!(
            step("prompt=consent", Some(("u", 0)), None, true),
            Step::Consent
        );
        // max_age: older than it signs in again; 0 always does.
        assert_eq!(
            step("max_age=60", Some(("u", 940)), None, true),
            Step::Answer
        );
        assert_eq!(
            step("max_age=60", Some(("u", 939)), None, true),
            Step::SignIn
        );
        assert_eq!(
            step("max_age=0", Some(("u", 1000)), None, true),
            Step::SignIn
        );
    }

    #[test]
    fn oidc_core_3_1_2_6_prompt_none_never_shows_a_page() {
        let fail = |e: OAuthError| Step::Fail(e);
        assert_eq!(
            step("prompt=none", None, None, true),
            fail(OAuthError::LoginRequired)
        );
        assert_eq!(
            step("prompt=none&max_age=10", Some(("u", 0)), None, true),
            fail(OAuthError::LoginRequired)
        );
        assert_eq!(
            step("prompt=none", Some(("u", 0)), None, false),
            fail(OAuthError::ConsentRequired)
        );
        assert_eq!(
            step("prompt=none", Some(("u", 0)), None, true),
            Step::Answer
        );
    }

    #[test]
    fn oidc_core_3_1_2_1_id_token_hint_names_who_must_be_signed_in() {
        assert_eq!(
            step("prompt=none", Some(("u", 0)), Some("other"), true),
            Step::Fail(OAuthError::LoginRequired)
        );
        assert_eq!(
            step("", Some(("u", 0)), Some("other"), true),
            Step::Fail(OAuthError::LoginRequired)
        );
        assert_eq!(
            step("prompt=none", Some(("u", 0)), Some("u"), true),
            Step::Answer
        );
        // Nobody signed in: the sign-in page (or login_required) first.
        assert_eq!(step("", None, Some("u"), true), Step::SignIn);
    }

    /// `next_step` for a session signed in at 0 (with a second factor
    /// when `mfa`) that has consented, for `factor`.
    fn factor_step(extra: &str, mfa: bool, factor: SecondFactor) -> Step {
        let r = code_request(extra).unwrap();
        let s = Session {
            user_id: "u",
            auth_time: 0,
            marker: "m",
            mfa,
        };
        next_step(&r, Some(s), None, true, 1000, factor)
    }

    const NONE: SecondFactor = SecondFactor {
        required: false,
        enrolled: false,
    };
    const ENROLLED: SecondFactor = SecondFactor {
        required: false,
        enrolled: true,
    };
    const REQUIRED: SecondFactor = SecondFactor {
        required: true,
        enrolled: false,
    };

    #[test]
    fn oidc_core_3_1_2_1_acr_values_are_read_in_order() {
        let r = code_request("acr_values=urn%3Agatehouse%3Aacr%3Amfa+urn%3Ax").unwrap();
        assert_eq!(r.acr_values, ["urn:gatehouse:acr:mfa", "urn:x"]);
        assert!(r.asks_second_factor());
        // A password alone is one of the acceptable classes: no step-up.
        let r = code_request("acr_values=urn%3Agatehouse%3Aacr%3Apwd+urn%3Agatehouse%3Aacr%3Amfa")
            .unwrap();
        assert!(!r.asks_second_factor());
        let r = code_request("acr_values=urn%3Aunknown").unwrap();
        assert!(!r.asks_second_factor());
        assert!(code_request("").unwrap().acr_values.is_empty());
    }

    #[test]
    fn oidc_core_3_1_2_1_acr_values_mfa_steps_up_or_enrols_a_password_session() {
        let mfa = "acr_values=urn%3Agatehouse%3Aacr%3Amfa";
        assert_eq!(factor_step(mfa, false, ENROLLED), Step::StepUp);
        assert_eq!(factor_step(mfa, false, NONE), Step::Enrol);
        // Signed in with a second factor already: answered.
        assert_eq!(factor_step(mfa, true, ENROLLED), Step::Answer);
        // Nothing asked, nothing required, no factor: a password will do.
        assert_eq!(factor_step("", false, NONE), Step::Answer);
    }

    #[test]
    fn whoever_has_a_second_factor_or_owes_one_never_gets_an_answer_on_a_password_alone() {
        assert_eq!(factor_step("", false, ENROLLED), Step::StepUp);
        assert_eq!(factor_step("", false, REQUIRED), Step::Enrol);
        let both = SecondFactor {
            required: true,
            enrolled: true,
        };
        assert_eq!(factor_step("", false, both), Step::StepUp);
        assert_eq!(factor_step("", true, both), Step::Answer);
        // Consent comes after the second factor, not before.
        let r = code_request("").unwrap();
        let s = Session {
            user_id: "u",
            auth_time: 0,
            marker: "m",
            mfa: false,
        };
        assert_eq!(
            next_step(&r, Some(s), None, false, 1000, REQUIRED),
            Step::Enrol
        );
        // Nobody signed in: the sign-in page first.
        assert_eq!(
            next_step(&r, None, None, true, 1000, REQUIRED),
            Step::SignIn
        );
    }

    #[test]
    fn oidc_core_3_1_2_6_prompt_none_needing_a_second_factor_is_interaction_required() {
        let want = Step::Fail(OAuthError::InteractionRequired);
        let mfa = "prompt=none&acr_values=urn%3Agatehouse%3Aacr%3Amfa";
        assert_eq!(factor_step(mfa, false, ENROLLED), want);
        assert_eq!(factor_step(mfa, false, NONE), want);
        assert_eq!(factor_step("prompt=none", false, REQUIRED), want);
        assert_eq!(factor_step("prompt=none", false, ENROLLED), want);
        assert_eq!(factor_step(mfa, true, ENROLLED), Step::Answer);
        assert_eq!(
            OAuthError::InteractionRequired.code(),
            "interaction_required"
        );
    }

    fn secret() -> ServerSecret {
        ServerSecret::new(b"test secret")
    }

    /// `next_step` for `query` continued through `seal` (as `/authorize`
    /// receives it back from the sign-in page), with a session signed in
    /// at `auth_time` as `marker`, at time 1000.
    fn continued(query: &str, need: &SignInAfter, auth_time: i64, marker: &str) -> Step {
        let sealed = seal(query, need, &secret());
        let (inner, need) = unseal(sealed.as_bytes(), &secret()).unwrap().unwrap();
        assert_eq!(inner, query);
        let c = client("https://app/cb", "authorization_code", false);
        let mut r = run(&inner, c).unwrap();
        r.reauth = Some(need);
        let s = Session {
            user_id: "u",
            auth_time,
            marker,
            mfa: false,
        };
        next_step(&r, Some(s), None, true, 1000, SecondFactor::default())
    }

    #[test]
    fn oidc_core_3_1_2_1_a_sealed_re_authentication_needs_a_new_sign_in_at_or_after_its_time() {
        let q = "client_id=c1&response_type=code&prompt=login";
        let need = SignInAfter {
            after: 990,
            not_session: Some("m-old".into()),
        };
        // The session it was asked in, even signed in that very second: no.
        assert_eq!(continued(q, &need, 990, "m-old"), Step::SignIn);
        // Another session signed in before it was asked: no.
        assert_eq!(continued(q, &need, 989, "m-new"), Step::SignIn);
        // A new sign-in at or after it: yes (and the page is not asked
        // again when the person lingers: the seal, not the clock, decides).
        assert_eq!(continued(q, &need, 990, "m-new"), Step::Answer);
        assert_eq!(continued(q, &need, 995, "m-new"), Step::Answer);
        for q in [
            "client_id=c1&response_type=code&max_age=0",
            "client_id=c1&response_type=code&max_age=5",
            "client_id=c1&response_type=code&prompt=select_account",
        ] {
            assert_eq!(continued(q, &need, 990, "m-old"), Step::SignIn, "{q}");
            assert_eq!(continued(q, &need, 991, "m-new"), Step::Answer, "{q}");
        }
        // Nobody was signed in when it was asked: any sign-in since.
        let need = SignInAfter {
            after: 990,
            not_session: None,
        };
        assert_eq!(continued(q, &need, 990, "m-old"), Step::Answer);
        assert_eq!(continued(q, &need, 989, "m-old"), Step::SignIn);
    }

    #[test]
    fn oidc_core_3_1_2_1_re_authentication_continues_sealed_and_nothing_else_is() {
        let c = client("https://app/cb", "authorization_code", false);
        let current = Session {
            user_id: "u",
            auth_time: 10,
            marker: "m-old",
            mfa: false,
        };
        for q in [
            "client_id=c1&response_type=code&prompt=login+consent&nonce=n",
            "client_id=c1&response_type=code&max_age=60",
            "client_id=c1&response_type=code&prompt=select_account&login_hint=a",
        ] {
            let r = run(q, c.clone()).unwrap();
            let next = continuation(&r, q, Some(&current), 1000, &secret());
            assert!(next.starts_with("reauth="), "{next}");
            assert!(
                !next.contains("prompt") && !next.contains("max_age"),
                "{next}"
            );
            let (inner, need) = unseal(next.as_bytes(), &secret()).unwrap().unwrap();
            assert_eq!(inner, q, "the whole request, prompt and max_age included");
            assert_eq!(need.after, 1000);
            assert_eq!(need.not_session.as_deref(), Some("m-old"));
        }
        let q = "client_id=c1&response_type=code&prompt=consent";
        let r = run(q, c).unwrap();
        assert_eq!(continuation(&r, q, Some(&current), 1000, &secret()), q);
        assert_eq!(forward(&r, q, &secret()), q);
        assert_eq!(unseal(q.as_bytes(), &secret()).unwrap(), None);
        assert_eq!(
            canonical_query(b"client_id=c1&reauth=x&state=a%20b"),
            "client_id=c1&state=a+b"
        );
    }

    #[test]
    fn oidc_core_3_1_2_1_an_edited_moved_or_foreign_seal_is_refused() {
        let q = "client_id=c1&response_type=code&prompt=login&state=s";
        let need = SignInAfter {
            after: 1000,
            not_session: Some("m-old".into()),
        };
        let sealed = seal(q, &need, &secret());
        let value = sealed.trim_start_matches("reauth=").to_string();
        let parts: Vec<&str> = value.split('.').collect();
        let other_query = URL_SAFE_NO_PAD.encode("client_id=c1&response_type=code&state=s");
        let refused = |raw: String| {
            assert!(
                matches!(
                    unseal(raw.as_bytes(), &secret()),
                    Err(AuthorizeError::Page(_))
                ),
                "{raw}"
            )
        };
        // An earlier time, or no session to avoid.
        refused(format!("reauth={}", value.replacen("1000", "1", 1)));
        refused(format!("reauth={}..{}.{}", parts[0], parts[2], parts[3]));
        // Its signature on another request.
        refused(format!(
            "reauth={}.{}.{other_query}.{}",
            parts[0], parts[1], parts[3]
        ));
        // Cut short, or with a parameter beside it.
        refused(format!("reauth={}.{}.{}", parts[0], parts[1], parts[2]));
        refused(format!("reauth={}", &value[..value.len() - 1]));
        refused(format!("{sealed}&prompt=none"));
        refused(format!("client_id=c1&{sealed}"));
        refused("reauth=".into());
        // Sealed under another server secret.
        let foreign = seal(q, &need, &ServerSecret::new(b"another secret"));
        refused(foreign);
        // The untouched one opens.
        assert!(unseal(sealed.as_bytes(), &secret()).unwrap().is_some());
    }

    #[test]
    fn session_markers_differ_per_session_and_secret() {
        let a = session_marker(&secret(), "hash-a");
        assert_eq!(a, session_marker(&secret(), "hash-a"));
        assert_ne!(a, session_marker(&secret(), "hash-b"));
        assert_ne!(a, session_marker(&ServerSecret::new(b"x"), "hash-a"));
        assert_eq!(a.len(), 22);
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
