//! Names that look like settings but are not: unknown `GATEHOUSE_*`
//! variables and file keys, with the nearest setting by edit distance.

use super::SETTINGS;

/// The variables of the environment that look like settings but are not:
/// each `GATEHOUSE_*` name not in the table, with a warning that suggests
/// the nearest setting. `GATEHOUSE_TEST_*` (the test harness's and CI's)
/// and the sample device client's variables are not settings of the
/// server and pass without a word.
pub fn unknown_env_vars(names: impl IntoIterator<Item = String>) -> Vec<String> {
    const OTHERS: &[&str] = &[
        // examples/device_login.rs
        "GATEHOUSE_CLIENT_ID",
        "GATEHOUSE_CLIENT_SECRET",
        "GATEHOUSE_SCOPE",
    ];
    let mut out: Vec<String> = names
        .into_iter()
        .filter(|n| n.starts_with("GATEHOUSE_") && !n.starts_with("GATEHOUSE_TEST_"))
        .filter(|n| !OTHERS.contains(&n.as_str()))
        .filter(|n| !SETTINGS.iter().any(|s| s.env == n))
        .map(|n| match closest(&n, SETTINGS.iter().map(|s| s.env)) {
            Some(s) => format!("{n} is not a setting; did you mean {s}?"),
            None => format!("{n} is not a setting (see gatehouse serve --help)"),
        })
        .collect();
    out.sort();
    out
}

/// The candidate nearest to `name` by edit distance, when near enough to
/// be a misspelling of it (about one edit in three characters).
pub(super) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (levenshtein(&name, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.trim_start_matches("GATEHOUSE_").len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The number of single-character insertions, deletions and substitutions
/// that turn `a` into `b`.
pub(super) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}
