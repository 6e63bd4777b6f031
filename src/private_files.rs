//! Files only this user may read: the keys folder (0700), the signing keys
//! and the server secret in it (0600), the SQLite database file (0600);
//! a warning for an existing one that other users can read; and the server
//! secret itself, which keys the CSRF tokens.

use base64::Engine;
use std::io::Write;
use std::path::Path;

/// A file or folder that could not be made or read, with the reason.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct FileError {
    pub path: String,
    pub reason: String,
}

impl FileError {
    pub fn new(path: &Path, reason: impl ToString) -> FileError {
        FileError {
            path: path.display().to_string(),
            reason: reason.to_string(),
        }
    }
}

/// Creates a folder (and missing parents) readable by this user only
/// (0700). An existing folder is left as it is.
pub fn create_dir(dir: &Path) -> Result<(), FileError> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|e| FileError::new(dir, e))
}

fn new_file_options() -> std::fs::OpenOptions {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

/// Writes a new file (0600) and flushes it to disk; fails when it exists.
pub fn write_new(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut f = new_file_options().open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

/// Creates an empty file (0600) unless one exists: SQLite then opens it,
/// and gives its `-wal` and `-shm` files the same mode.
pub fn create_empty(path: &Path) -> Result<(), FileError> {
    match new_file_options().open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(FileError::new(path, format!("cannot create it: {e}"))),
    }
}

/// Warns when a file or folder holding secrets can be read by other users.
pub fn warn_if_readable_by_others(path: &Path, what: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{mode:o}"),
                    "the {what} can be read by other users; make it {} (chmod {} {})",
                    if m.is_dir() { "0700" } else { "0600" },
                    if m.is_dir() { "700" } else { "600" },
                    path.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, what);
}

/// The name of the file in the keys folder that holds the server secret.
pub const SERVER_SECRET_FILE: &str = "server-secret";

/// The 256-bit server secret in the keys folder (0600), created on first
/// start. Instances sharing the folder share it; two starting at once on an
/// empty folder agree, since the file appears whole (written aside, then
/// linked into place, which fails when another instance got there first).
pub fn load_or_create_server_secret(dir: &Path) -> Result<Vec<u8>, FileError> {
    create_dir(dir)?;
    let path = dir.join(SERVER_SECRET_FILE);
    if !path.exists() {
        let tmp = dir.join(format!(
            ".{SERVER_SECRET_FILE}.{}",
            uuid::Uuid::new_v4().simple()
        ));
        let value = crate::crypto::random_token(32);
        write_new(&tmp, &format!("{value}\n")).map_err(|e| FileError::new(&tmp, e))?;
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(FileError::new(&path, e)),
        }
    }
    let text = std::fs::read_to_string(&path).map_err(|e| FileError::new(&path, e))?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim())
        .ok()
        .filter(|s| s.len() >= 32)
        .ok_or_else(|| FileError::new(&path, "not a server secret (43 base64url characters)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_and_folders_are_for_this_user_only() {
        let Ok(tmp) = tempfile::tempdir() else {
            return;
        };
        let dir = tmp.path().join("keys");
        assert!(create_dir(&dir).is_ok());
        let secret = load_or_create_server_secret(&dir).unwrap_or_default();
        assert_eq!(secret.len(), 32);
        assert_eq!(
            load_or_create_server_secret(&dir).unwrap_or_default(),
            secret,
            "read back, not made anew"
        );
        let db = tmp.path().join("db");
        assert!(create_empty(&db).is_ok());
        assert!(create_empty(&db).is_ok(), "an existing file is kept");
        assert!(write_new(&db, "x").is_err(), "never overwrites");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode =
                |p: &Path| std::fs::metadata(p).map_or(0, |m| m.permissions().mode() & 0o777);
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&dir.join(SERVER_SECRET_FILE)), 0o600);
            assert_eq!(mode(&db), 0o600);
        }
    }
}
