//! Database URLs: which backend, SQLite's file and `synchronous` level,
//! and a form safe to print.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

impl DbKind {
    pub fn name(self) -> &'static str {
        match self {
            DbKind::Sqlite => "sqlite",
            DbKind::Postgres => "postgres",
        }
    }

    /// Picks the backend from the URL scheme; anything else is an error.
    pub fn from_url(url: &str) -> Result<(DbKind, String), String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            pg_target(url)?;
            Ok((DbKind::Postgres, url.to_string()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, e.g. sqlite://gatehouse.db".into());
            }
            sqlite_target(path)?;
            Ok((DbKind::Sqlite, path.to_string()))
        } else if url == ":memory:" || url == "sqlite::memory:" {
            Err("an in-memory SQLite database cannot be shared by the pool; use a file".into())
        } else {
            Err(format!(
                "'{}' must start with sqlite:// or postgres://",
                redact_url(url)
            ))
        }
    }
}

/// A SQLite target: the file's path and the `synchronous` level to run.
/// A plain path may end in `?synchronous=normal` (the default) or
/// `?synchronous=full`; a `file:` URI is SQLite's own syntax and passes as
/// it is. In WAL mode, `normal` keeps every answered write through a crash
/// of the process; `full` also through a power loss, for one fsync per
/// write transaction (README, "Crashes and power loss").
pub fn sqlite_target(target: &str) -> Result<(&str, &'static str), String> {
    if target.starts_with("file:") {
        return Ok((target, "NORMAL"));
    }
    let Some((path, query)) = target.split_once('?') else {
        return Ok((target, "NORMAL"));
    };
    let mut level = "NORMAL";
    for pair in query.split('&') {
        level = match pair.split_once('=') {
            Some(("synchronous", v)) if v.eq_ignore_ascii_case("normal") => "NORMAL",
            Some(("synchronous", v)) if v.eq_ignore_ascii_case("full") => "FULL",
            Some(("synchronous", v)) => {
                return Err(format!("synchronous must be normal or full, got '{v}'"))
            }
            _ => {
                return Err(format!(
                    "unknown SQLite URL parameter '{pair}' (only synchronous=normal|full)"
                ))
            }
        };
    }
    Ok((path, level))
}

/// The file a SQLite URL names (a plain path or a `file:` URI), so a
/// caller can tell whether it exists before opening it would create it.
/// `None` for PostgreSQL, and for what is not a SQLite file.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let (DbKind::Sqlite, target) = DbKind::from_url(url).ok()? else {
        return None;
    };
    let path = match target.strip_prefix("file:") {
        Some(uri) => {
            let path = uri.split(['?', '#']).next().unwrap_or("");
            // file:///abs/path or file://localhost/abs/path
            match path.strip_prefix("//") {
                Some(rest) => &rest[rest.find('/')?..],
                None => path,
            }
        }
        None => sqlite_target(&target).ok()?.0,
    };
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// The parameter of a PostgreSQL URL that is gatehouse's, not libpq's.
const PREPARED_STATEMENTS: &str = "prepared_statements";

/// A PostgreSQL target: the URL libpq is given (without gatehouse's own
/// parameter) and whether statements are kept prepared on each
/// connection. `?prepared_statements=off` turns that off, for a pooler
/// that hands each transaction to another server connection (PgBouncer
/// in transaction mode before 1.21): every statement then goes as one
/// unnamed parse, bind and execute. The default, `on`, prepares each
/// statement once per connection.
pub fn pg_target(url: &str) -> Result<(String, bool), String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), true));
    };
    let mut prepared = true;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some((PREPARED_STATEMENTS, "on")) => prepared = true,
            Some((PREPARED_STATEMENTS, "off")) => prepared = false,
            Some((PREPARED_STATEMENTS, other)) => {
                return Err(format!(
                    "?{PREPARED_STATEMENTS}={other}: give on (the default) or off (behind \
                     PgBouncer in transaction mode)"
                ))
            }
            _ => kept.push(pair),
        }
    }
    let target = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((target, prepared))
}

/// The URL with any password replaced, safe to log or print.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((cred, host)) = rest.rsplit_once('@') {
            let user = cred.split(':').next().unwrap_or("");
            return format!("{scheme}://{user}:***@{host}");
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepared_statements_off_is_gatehouses_and_never_reaches_libpq() {
        assert_eq!(
            pg_target("postgres://u@h/d").unwrap(),
            ("postgres://u@h/d".into(), true)
        );
        assert_eq!(
            pg_target("postgres://u@h/d?prepared_statements=off").unwrap(),
            ("postgres://u@h/d".into(), false)
        );
        assert_eq!(
            pg_target("postgres://u@h/d?sslmode=require&prepared_statements=off&connect_timeout=2")
                .unwrap(),
            (
                "postgres://u@h/d?sslmode=require&connect_timeout=2".into(),
                false
            )
        );
        assert!(pg_target("postgres://u@h/d?prepared_statements=maybe").is_err());
        assert!(DbKind::from_url("postgres://u@h/d?prepared_statements=no").is_err());
    }

    #[test]
    fn urls_pick_the_backend_and_passwords_are_redacted() {
        assert_eq!(
            DbKind::from_url("sqlite://a.db").unwrap(),
            (DbKind::Sqlite, "a.db".into())
        );
        assert_eq!(
            DbKind::from_url("postgres://u@h/d").unwrap().0,
            DbKind::Postgres
        );
        assert!(DbKind::from_url("mysql://x").is_err());
        assert!(DbKind::from_url("sqlite://a.db?synchronous=full").is_ok());
        assert!(DbKind::from_url("sqlite://a.db?synchronous=off").is_err());
        assert!(DbKind::from_url("sqlite://a.db?cache=shared").is_err());
        assert_eq!(
            sqlite_file("sqlite://a.db?synchronous=full"),
            Some("a.db".into())
        );
        assert_eq!(
            sqlite_file("sqlite://file:x/a.db?mode=ro"),
            Some("x/a.db".into())
        );
        assert_eq!(
            sqlite_file("sqlite://file:///tmp/a.db"),
            Some("/tmp/a.db".into())
        );
        assert_eq!(sqlite_file("postgres://u@h/d"), None);
        assert_eq!(
            redact_url("postgres://u:secret@h/d"),
            "postgres://u:***@h/d"
        );
    }
}
