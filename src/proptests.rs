//! Property tests (issue 14's fuzzing, with `proptest` so it fits CI's time
//! budget): the parsers and checks that see raw input first never panic,
//! and keep their promises on any input. `cargo test` runs 256 cases of
//! each; `.ci/run` runs many more (`PROPTEST_CASES`). The hand-picked
//! inputs in `fuzz/corpus/` run here too, on every `cargo test`.
//!
//! No property measures time (tests never depend on it); inputs reach the
//! sizes the server accepts (8 KiB values, 64 KiB bodies), so anything
//! worse than linear would show as a slow test in CI, not a failure here.

use crate::oauth::redirect_uri::{check_redirect_uri, check_web_uri, redirect_uri_matches};
use crate::oauth::wire::{basic_credentials, Form, MAX_VALUE_LEN};
use crate::oauth::{pkce, scope};
use crate::pages::safe_next;
use proptest::prelude::*;

/// A string of any characters, up to `max` of them.
fn any_text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..max).prop_map(|v| v.into_iter().collect())
}

/// A string built from the characters that matter to URI and form parsers.
fn uri_ish(max: usize) -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = "abcz019:/?#[]@!$&'()*+,;=%.-_~ \t\\\nAZ\u{e9}\u{202e}"
        .chars()
        .collect();
    proptest::collection::vec(proptest::sample::select(alphabet), 0..max)
        .prop_map(|v| v.into_iter().collect())
}

fn corpus(name: &str) -> Vec<String> {
    let text = match name {
        "form" => include_str!("../fuzz/corpus/form.txt"),
        "basic" => include_str!("../fuzz/corpus/basic.txt"),
        "uri" => include_str!("../fuzz/corpus/uri.txt"),
        "next" => include_str!("../fuzz/corpus/next.txt"),
        _ => "",
    };
    text.lines()
        .filter(|l| !l.starts_with("# "))
        .map(|l| l.replace("\\n", "\n").replace("\\t", "\t"))
        .collect()
}

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
            .any(|(k, v)| v.contains('\0') || v.len() > crate::oauth::wire::max_len(k));
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

    /// Whatever the redirect-URI rules accept is absolute, has no fragment,
    /// no spaces, no user info, and a safe scheme.
    #[test]
    fn accepted_redirect_uris_keep_the_rules(uri in prop_oneof![
        uri_ish(120),
        uri_ish(60).prop_map(|s| format!("https://{s}")),
        uri_ish(60).prop_map(|s| format!("http://127.0.0.1{s}")),
        uri_ish(60).prop_map(|s| format!("http://localhost{s}")),
        uri_ish(60).prop_map(|s| format!("com.example.app:{s}")),
        uri_ish(60).prop_map(|s| format!("javascript:{s}")),
    ]) {
        if check_redirect_uri(&uri).is_ok() {
            prop_assert!(!uri.contains('#') && !uri.chars().any(char::is_whitespace), "{uri:?}");
            let parsed = url::Url::parse(&uri);
            prop_assert!(parsed.is_ok(), "{uri:?}");
            let parsed = parsed.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(parsed.username().is_empty() && parsed.password().is_none());
            let scheme = parsed.scheme();
            let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
            prop_assert!(
                scheme == "https" || (scheme == "http" && loopback) || scheme.contains('.'),
                "{uri:?}"
            );
        }
        let _ = check_web_uri(&uri, "client_uri");
    }

    /// RFC 6749 §3.1.2.3: a URI matches itself; anything but a loopback
    /// http URI matches only itself, character for character.
    #[test]
    fn redirect_uris_match_exactly_except_loopback_ports(a in uri_ish(80), b in uri_ish(80)) {
        prop_assert!(redirect_uri_matches(&a, &a));
        if !a.starts_with("http://") || !b.starts_with("http://") {
            prop_assert_eq!(redirect_uri_matches(&a, &b), a == b);
        }
    }

    /// RFC 8252 §7.3: a registered loopback URI matches on any port, and
    /// only with the same host, path and query.
    #[test]
    fn loopback_redirect_uris_match_on_any_port(
        host in prop::sample::select(vec!["127.0.0.1", "[::1]", "localhost"]),
        p1 in 1u16.., p2 in 1u16.., path in "/[a-z/]{0,20}(\\?[a-z=&]{0,10})?", other in "/[a-z/]{0,20}"
    ) {
        let reg = format!("http://{host}{path}");
        let on_p1 = format!("http://{host}:{p1}{path}");
        let on_p2 = format!("http://{host}:{p2}{path}");
        let elsewhere = format!("http://{host}:{p2}{other}");
        let lookalike = format!("http://{host}.evil.example:{p2}{path}");
        prop_assert!(redirect_uri_matches(&reg, &on_p2));
        prop_assert!(redirect_uri_matches(&on_p1, &on_p2));
        if other != path {
            prop_assert!(!redirect_uri_matches(&reg, &elsewhere));
        }
        prop_assert!(!redirect_uri_matches(&reg, &lookalike));
    }

    /// RFC 7636 §4.6: only the verifier whose S256 hash is the challenge
    /// passes; any input is judged without panicking.
    #[test]
    fn pkce_accepts_only_the_matching_verifier(
        v in "[A-Za-z0-9._~-]{43,128}", w in "[A-Za-z0-9._~-]{43,128}", junk in any_text(200)
    ) {
        let challenge = crate::crypto::b64url(&crate::crypto::sha256(v.as_bytes()));
        prop_assert!(pkce::verify(&v, &challenge));
        if v != w {
            prop_assert!(!pkce::verify(&w, &challenge));
        }
        prop_assert!(!pkce::verify(&junk, &challenge) || junk == v);
        let _ = pkce::verify(&junk, &junk);
        let _ = pkce::check_challenge(Some(&junk), Some("S256"));
        let _ = pkce::check_challenge(Some(&challenge), Some(&junk));
    }

    /// RFC 9700 §4.11: wherever `next` points, sign-in continues on this
    /// site: to `next` itself when it is one of gatehouse's pages, else to
    /// the account page.
    #[test]
    fn next_never_leaves_the_site(next in prop_oneof![
        any_text(100),
        uri_ish(80),
        uri_ish(60).prop_map(|s| format!("/authorize{s}")),
        uri_ish(60).prop_map(|s| format!("/{s}")),
    ]) {
        let out = safe_next(Some(&next));
        prop_assert!(out == "/account" || out == next, "{next:?} -> {out:?}");
        if out != "/account" {
            prop_assert!(out.starts_with('/') && !out.starts_with("//"), "{out:?}");
            prop_assert!(out.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'\\'), "{out:?}");
            let base = url::Url::parse("https://gatehouse.example/").map_err(|e| TestCaseError::fail(e.to_string()))?;
            let joined = base.join(&out).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(joined.host_str(), Some("gatehouse.example"));
        }
    }

    /// RFC 6749 §3.3: any scope string parses or is refused.
    #[test]
    fn scope_parser_never_panics(raw in any_text(300)) {
        if let Ok(words) = scope::parse_scope(&raw) {
            prop_assert!(words.iter().all(|w| !w.is_empty() && !w.contains(' ')));
        }
    }
}

#[test]
fn corpus_inputs_never_panic_and_keep_the_rules() {
    for body in corpus("form") {
        let _ = Form::parse_pairs(body.as_bytes());
    }
    for value in corpus("basic") {
        let _ = basic_credentials(value.as_bytes());
    }
    for uri in corpus("uri") {
        if check_redirect_uri(&uri).is_ok() {
            assert!(!uri.contains('#'), "{uri:?}");
            assert!(
                !uri.to_ascii_lowercase().starts_with("javascript:"),
                "{uri:?}"
            );
        }
        let _ = check_web_uri(&uri, "client_uri");
        assert!(redirect_uri_matches(&uri, &uri));
    }
    for next in corpus("next") {
        let out = safe_next(Some(&next));
        assert!(out == "/account" || out == next, "{next:?}");
    }
}

#[test]
fn inputs_at_the_size_limits_are_handled() {
    let big_value = "a".repeat(MAX_VALUE_LEN + 1);
    assert!(Form::parse_pairs(format!("code={big_value}").as_bytes()).is_err());
    let many: String = (0..10_000).map(|i| format!("k{i}=v&")).collect();
    assert!(Form::parse_pairs(many.as_bytes()).is_err());
    let long_uri = format!("https://app.example/{}", "%2F".repeat(20_000));
    assert!(check_redirect_uri(&long_uri).is_err());
    assert_eq!(
        safe_next(Some(&format!("/authorize?{}", "x".repeat(100_000)))),
        "/account"
    );
}
