//! RFC 6749 §4.1/§4.2 authorization requests, validated in the order the
//! RFC requires: client and redirect URI first (errors there are shown to
//! the person, never redirected, §4.1.2.1), then everything else (errors
//! redirect to the client). With OpenID Connect Core §3.1.2.1's
//! parameters (`nonce`, `max_age`, `prompt`, `login_hint`,
//! `id_token_hint`; `request` and `request_uri` refused, §6), and the rule
//! that decides what a valid request leads to (`next_step`).

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
}

/// What a valid authorization request leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The sign-in page, continuing to the request afterwards
    /// (`continuation_query`).
    SignIn,
    /// The consent page.
    Consent,
    /// Answer with a code (or token): the person is signed in and has
    /// consented.
    Answer,
    /// An error redirected to the client (§3.1.2.6).
    Fail(OAuthError),
}

/// Decides what a valid request leads to (OIDC Core §3.1.2.1, §3.1.2.3,
/// §3.1.2.4, §3.1.2.6):
/// - the person must sign in (again) when nobody is signed in, when the
///   request says `prompt=login` (or `select_account`), or when their
///   sign-in is older than `max_age` (`max_age=0` always);
/// - `id_token_hint` names who must be signed in: anyone else gets
///   `login_required` (the hint's `sub`, already verified, is `hint_sub`);
/// - consent is asked when not given before for these scopes, or when
///   `prompt=consent`;
/// - with `prompt=none` nothing may be shown: `login_required` or
///   `consent_required` instead.
pub fn next_step<C>(
    req: &AuthorizationRequest<C>,
    session: Option<Session<'_>>,
    hint_sub: Option<&str>,
    consented: bool,
    now: i64,
) -> Step {
    let too_old = |s: &Session<'_>| {
        req.max_age
            .is_some_and(|max| max == 0 || now.saturating_sub(s.auth_time) > max)
    };
    let session = match session {
        Some(s) if !req.prompt.login && !too_old(&s) => s,
        _ if req.prompt.none => return Step::Fail(OAuthError::LoginRequired),
        _ => return Step::SignIn,
    };
    if hint_sub.is_some_and(|sub| sub != session.user_id) {
        return Step::Fail(OAuthError::LoginRequired);
    }
    if consented && !req.prompt.consent {
        return Step::Answer;
    }
    if req.prompt.none {
        return Step::Fail(OAuthError::ConsentRequired);
    }
    Step::Consent
}

/// The request to continue with after the sign-in page (and on the
/// consent page): the same parameters without what the fresh sign-in has
/// just satisfied, `prompt=login`/`select_account` and `max_age`, so the
/// continuation does not ask to sign in once more.
pub fn continuation_query(raw: &[u8]) -> String {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(raw).unwrap_or_default();
    let kept: Vec<(String, String)> = pairs
        .into_iter()
        .filter_map(|(k, v)| match k.as_str() {
            "prompt" => {
                let rest: Vec<&str> = v
                    .split(' ')
                    .filter(|p| !matches!(*p, "login" | "select_account" | ""))
                    .collect();
                (!rest.is_empty()).then(|| (k, rest.join(" ")))
            }
            "max_age" => None,
            _ => Some((k, v)),
        })
        .collect();
    serde_urlencoded::to_string(kept).unwrap_or_default()
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
        let s = session.map(|(user_id, auth_time)| Session { user_id, auth_time });
        next_step(&r, s, hint, consented, 1000)
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

    #[test]
    fn continuation_drops_what_a_fresh_sign_in_satisfies() {
        assert_eq!(
            continuation_query(b"client_id=c1&prompt=login+consent&max_age=0&nonce=n"),
            "client_id=c1&prompt=consent&nonce=n"
        );
        assert_eq!(
            continuation_query(b"prompt=select_account&login_hint=a"),
            "login_hint=a"
        );
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
