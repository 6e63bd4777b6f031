//! Property tests of `safe_next` (RFC 9700 §4.11: sign-in never
//! continues off the site), with the hand-picked inputs of
//! `src/pages/corpus/next.txt`. `.ci/run` runs many more cases
//! (`PROPTEST_CASES`).

use super::safe_next;
use proptest::prelude::*;

/// A string of any characters, up to `max` of them.
fn any_text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..max).prop_map(|v| v.into_iter().collect())
}

/// A string built from the characters that matter to URI parsers.
fn uri_ish(max: usize) -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = "abcz019:/?#[]@!$&'()*+,;=%.-_~ \t\\\nAZ\u{e9}\u{202e}"
        .chars()
        .collect();
    proptest::collection::vec(proptest::sample::select(alphabet), 0..max)
        .prop_map(|v| v.into_iter().collect())
}

proptest! {
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
}

#[test]
fn corpus_next_values_never_leave_the_site() {
    let corpus = include_str!("corpus/next.txt")
        .lines()
        .filter(|l| !l.starts_with("# "))
        .map(|l| l.replace("\\n", "\n").replace("\\t", "\t"));
    for next in corpus {
        let out = safe_next(Some(&next));
        assert!(out == "/account" || out == next, "{next:?}");
    }
}

#[test]
fn a_next_at_the_size_limit_goes_to_the_account_page() {
    assert_eq!(
        safe_next(Some(&format!("/authorize?{}", "x".repeat(100_000)))),
        "/account"
    );
}
