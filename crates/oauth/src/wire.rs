//! Form-encoded request bodies, parsed once with the RFC 6749 rules.

use super::OAuthError;

/// More parameters than any OAuth request needs: the rest is refused
/// unread.
pub const MAX_PARAMETERS: usize = 64;

/// The longest value of any parameter, in bytes.
pub const MAX_VALUE_LEN: usize = 8 * 1024;

/// Identifiers that end up as database keys (an index row has a size
/// limit on PostgreSQL) or that no honest client makes long.
const SHORT_PARAMETERS: &[&str] = &[
    "client_id",
    "username",
    "grant_type",
    "response_type",
    "token_type_hint",
    "code_challenge_method",
    "user_code",
    "decision",
];

/// The limit for one parameter's value.
pub fn max_len(key: &str) -> usize {
    if SHORT_PARAMETERS.contains(&key) {
        255
    } else {
        MAX_VALUE_LEN
    }
}

/// A parameter's name for an error message: its own name when it is a
/// plain identifier, never raw input otherwise (RFC 6749 §5.2 allows only
/// printable ASCII without `"` and `\` in `error_description`).
fn describe_key(key: &str) -> String {
    let plain = !key.is_empty()
        && key.len() <= 40
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if plain {
        format!("parameter '{key}'")
    } else {
        "a parameter".to_string()
    }
}

/// Decodes an `Authorization: Basic` header value (RFC 7617) into a client
/// id and secret; RFC 6749 §2.3.1: both are form-encoded before being
/// joined with ':'. `None` for anything malformed: another scheme, bytes a
/// header value may not hold, bad base64 or UTF-8, no ':', too long.
pub fn basic_credentials(value: &[u8]) -> Option<(String, String)> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    // What `HeaderValue::to_str` accepts: visible ASCII, space and tab.
    if !value
        .iter()
        .all(|b| (0x20..0x7f).contains(b) || *b == b'\t')
    {
        return None;
    }
    let value = std::str::from_utf8(value).ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    if decoded.len() > MAX_VALUE_LEN {
        return None;
    }
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| -> Option<String> {
        let escaped = format!("v={}", s.replace('&', "%26").replace('=', "%3D"));
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&escaped).ok()?;
        Some(pairs.into_iter().next().map(|(_, v)| v).unwrap_or_default())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// A parsed `application/x-www-form-urlencoded` body.
#[derive(Debug, Default, Clone)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// RFC 6749 §3.2: the body must be form-encoded; parameters must not be
    /// included more than once; parameters sent without a value are treated
    /// as omitted (§3.1).
    pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Form, OAuthError> {
        let ct = content_type.unwrap_or("");
        let mime = ct.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(OAuthError::InvalidRequest(
                "the body must be application/x-www-form-urlencoded".into(),
            ));
        }
        Self::parse_pairs(body)
    }

    /// `parse`, except that the keys in `lists` may repeat (RFC 8707 §2:
    /// `resource` at the token endpoint).
    pub fn parse_with_lists(
        content_type: Option<&str>,
        body: &[u8],
        lists: &[&str],
    ) -> Result<Form, OAuthError> {
        Self::parse(content_type, b"")?;
        Self::parse_pairs_with_lists(body, lists)
    }

    /// Parses `a=1&b=2` with the RFC 6749 rules, and refuses what no
    /// client sends: more than `MAX_PARAMETERS` parameters, a NUL character
    /// anywhere (the databases can't store it), or a value longer than its
    /// limit (`max_len`). Linear in the size of the body.
    pub fn parse_pairs(body: &[u8]) -> Result<Form, OAuthError> {
        Self::parse_pairs_with_lists(body, &[])
    }

    /// Like `parse_pairs`, except that the keys in `lists` may appear more
    /// than once (an HTML form's checkboxes of one name); read them with
    /// `get_all`. Every other key still may not repeat.
    pub fn parse_pairs_with_lists(body: &[u8], lists: &[&str]) -> Result<Form, OAuthError> {
        let raw: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| {
            OAuthError::InvalidRequest("the body is not valid form encoding".into())
        })?;
        if raw.len() > MAX_PARAMETERS {
            return Err(OAuthError::InvalidRequest(format!(
                "too many parameters (at most {MAX_PARAMETERS})"
            )));
        }
        let mut seen = std::collections::HashSet::with_capacity(raw.len());
        for (k, v) in &raw {
            if k.contains('\0') || v.contains('\0') {
                return Err(OAuthError::InvalidRequest(format!(
                    "{} contains a NUL character",
                    describe_key(k)
                )));
            }
            if !seen.insert(k.as_str()) && !lists.contains(&k.as_str()) {
                return Err(OAuthError::InvalidRequest(format!(
                    "{} is included more than once",
                    describe_key(k)
                )));
            }
            if v.len() > max_len(k) {
                return Err(OAuthError::InvalidRequest(format!(
                    "{} is too long (at most {} bytes)",
                    describe_key(k),
                    max_len(k)
                )));
            }
        }
        // Checked after the duplicate test so `a=&a=x` is still refused.
        let pairs = raw.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        Ok(Form { pairs })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order (non-empty ones only).
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn require(&self, key: &str) -> Result<&str, OAuthError> {
        self.get(key)
            .ok_or_else(|| OAuthError::InvalidRequest(format!("missing parameter '{key}'")))
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6749_3_2_repeated_parameter_is_invalid_request() {
        let e = Form::parse(Some("application/x-www-form-urlencoded"), b"a=1&a=2").unwrap_err();
        assert_eq!(e.code(), "invalid_request");
    }

    #[test]
    fn listed_keys_may_repeat_and_others_still_may_not() {
        let f = Form::parse_pairs_with_lists(b"g=a&g=b&x=1&g=", &["g"]).unwrap();
        assert_eq!(f.get_all("g"), vec!["a", "b"]);
        assert_eq!(f.get("x"), Some("1"));
        assert!(Form::parse_pairs_with_lists(b"g=a&x=1&x=2", &["g"]).is_err());
        assert!(Form::parse_pairs(b"g=a&g=b").is_err());
    }

    #[test]
    fn rfc6749_3_1_empty_values_count_as_omitted() {
        let f = Form::parse(
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            b"a=&b=2",
        )
        .unwrap();
        assert_eq!(f.get("a"), None);
        assert_eq!(f.get("b"), Some("2"));
    }

    #[test]
    fn json_bodies_are_refused() {
        let e = Form::parse(Some("application/json"), b"{}").unwrap_err();
        assert_eq!(e.code(), "invalid_request");
    }
}

#[cfg(test)]
mod proptests {
    //! Property tests: any input is parsed or refused, never a panic, and
    //! what is accepted keeps the rules. `cargo test` runs 256 cases each;
    //! `.ci/run` many more (`PROPTEST_CASES`). The hand-picked inputs of
    //! `crates/oauth/corpus/` run on every `cargo test`.

    use super::*;
    use crate::testing::*;
    use proptest::prelude::*;

    proptest! {
    /// RFC 6749 §3.2: any body parses or is refused, never panics.
    #[test]
    fn form_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = Form::parse_pairs(&body);
        let _ = Form::parse(Some("application/x-www-form-urlencoded"), &body);
    }

    /// What a client encodes, the parser reads back, each key once.
    #[test]
    fn form_parser_reads_back_what_was_encoded(
        pairs in proptest::collection::btree_map("[a-z_]{1,12}", any_text(200), 1..20)
    ) {
        let body = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        let form = Form::parse_pairs(body.as_bytes());
        // Refused only for a NUL or a value over its limit.
        let refusable = pairs
            .iter()
            .any(|(k, v)| v.contains('\0') || v.len() > crate::wire::max_len(k));
        prop_assert_eq!(form.is_ok(), !refusable, "{:?}", body);
        if refusable {
            return Ok(());
        }
        let form = form.unwrap_or_default();
        for (k, v) in &pairs {
            // §3.1: a parameter sent without a value is treated as omitted.
            let want = (!v.is_empty()).then_some(v.as_str());
            prop_assert_eq!(form.get(k), want);
        }
    }

    /// RFC 6749 §3.1: a parameter must not be included more than once.
    #[test]
    fn form_parser_refuses_any_repeated_parameter(
        key in "[a-z_]{1,12}", a in "[a-z0-9]{1,20}", b in "[a-z0-9]{1,20}", other in "[A-Z]{1,5}"
    ) {
        let body = format!("{key}={a}&{other}=x&{key}={b}");
        prop_assert!(Form::parse_pairs(body.as_bytes()).is_err());
    }

    /// RFC 7617 / RFC 6749 §2.3.1: any header value decodes or is refused.
    #[test]
    fn basic_parser_never_panics(value in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = basic_credentials(&value);
        let mut prefixed = b"Basic ".to_vec();
        prefixed.extend_from_slice(&value);
        let _ = basic_credentials(&prefixed);
    }

    /// Any id and secret, form-encoded and joined as §2.3.1 says, come back
    /// exactly.
    #[test]
    fn basic_parser_reads_back_encoded_credentials(id in any_text(100), secret in any_text(100)) {
        use base64::Engine;
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let joined = format!("{}:{}", enc(&id), enc(&secret));
        let value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(joined.as_bytes())
        );
        let got = basic_credentials(value.as_bytes());
        if joined.len() <= MAX_VALUE_LEN {
            prop_assert_eq!(got, Some((id, secret)));
        } else {
            prop_assert_eq!(got, None);
        }
    }
    }

    #[test]
    fn corpus_forms_and_basic_headers_never_panic() {
        for body in corpus("form") {
            let _ = Form::parse_pairs(body.as_bytes());
        }
        for value in corpus("basic") {
            let _ = basic_credentials(value.as_bytes());
        }
    }

    #[test]
    fn forms_at_the_size_limits_are_refused() {
        let big_value = "a".repeat(MAX_VALUE_LEN + 1);
        assert!(Form::parse_pairs(format!("code={big_value}").as_bytes()).is_err());
        let many: String = (0..10_000).map(|i| format!("k{i}=v&")).collect();
        assert!(Form::parse_pairs(many.as_bytes()).is_err());
    }
}
