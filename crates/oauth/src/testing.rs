//! What the property tests share: input strategies and the hand-picked
//! corpus (`crates/oauth/corpus/`, one input a line, `\\n` and `\\t`
//! escaped, `# ` lines are comments).

use proptest::prelude::*;

/// A string of any characters, up to `max` of them.
pub fn any_text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..max).prop_map(|v| v.into_iter().collect())
}

/// A string built from the characters that matter to URI and form parsers.
pub fn uri_ish(max: usize) -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = "abcz019:/?#[]@!$&'()*+,;=%.-_~ \t\\\nAZ\u{e9}\u{202e}"
        .chars()
        .collect();
    proptest::collection::vec(proptest::sample::select(alphabet), 0..max)
        .prop_map(|v| v.into_iter().collect())
}

pub fn corpus(name: &str) -> Vec<String> {
    let text = match name {
        "form" => include_str!("../corpus/form.txt"),
        "basic" => include_str!("../corpus/basic.txt"),
        "uri" => include_str!("../corpus/uri.txt"),
        _ => "",
    };
    text.lines()
        .filter(|l| !l.starts_with("# "))
        .map(|l| l.replace("\\n", "\n").replace("\\t", "\t"))
        .collect()
}
