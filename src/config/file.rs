//! `gatehouse.toml`: which file is read, its plain settings and its
//! `[scope_descriptions]` table, and its errors with line and column.

use super::names::closest;
use super::{err, ConfigError, SETTINGS};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub type FileValues = (BTreeMap<String, String>, BTreeMap<String, String>);

/// The config file to read: `--config PATH`, else `gatehouse.toml` when
/// present.
pub fn config_file(explicit: Option<&Path>) -> Option<PathBuf> {
    match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => {
            let p = PathBuf::from("gatehouse.toml");
            p.exists().then_some(p)
        }
    }
}

/// The file's plain settings, and its `[scope_descriptions]` table.
pub fn read_file(explicit: Option<&Path>) -> Result<FileValues, ConfigError> {
    let Some(path) = config_file(explicit) else {
        return Ok(Default::default());
    };
    let name = format!("--config {}", path.display());
    let text = std::fs::read_to_string(&path).map_err(|e| err(&name, e.to_string()))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let at = e
            .span()
            .map(|s| {
                let (line, column) = line_and_column(&text, s.start);
                format!("line {line}, column {column}: ")
            })
            .unwrap_or_default();
        let message = e.message().lines().next().unwrap_or("").trim().to_string();
        err(&name, format!("{at}{message}"))
    })?;
    let mut out = BTreeMap::new();
    let mut scopes = BTreeMap::new();
    for (k, v) in table {
        if k == "scope_descriptions" {
            let toml::Value::Table(t) = v else {
                return Err(err(
                    &name,
                    "scope_descriptions must be a table of scope = \"text\"",
                ));
            };
            for (scope, text) in t {
                let toml::Value::String(text) = text else {
                    return Err(err(
                        &name,
                        format!("scope_descriptions.{scope} must be a string"),
                    ));
                };
                scopes.insert(scope, text);
            }
            continue;
        }
        if !SETTINGS.iter().any(|s| s.key == k) {
            let known = SETTINGS
                .iter()
                .map(|s| s.key)
                .chain(std::iter::once("scope_descriptions"));
            let hint = match closest(&k, known) {
                Some(s) => format!("; did you mean '{s}'?"),
                None => " (see gatehouse serve --help)".to_string(),
            };
            return Err(err(&name, format!("unknown key '{k}'{hint}")));
        }
        let v = match v {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(err(
                    &name,
                    format!(
                        "key '{k}' must be a string, a number or true/false, not {}",
                        other.type_str()
                    ),
                ))
            }
        };
        out.insert(k, v);
    }
    Ok((out, scopes))
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub(super) fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
