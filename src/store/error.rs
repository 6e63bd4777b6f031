//! What can go wrong in the store, and how it reaches a client: an
//! unreachable database is `temporarily_unavailable`, anything else
//! `server_error`.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database query failed: {0}")]
    Query(#[source] diesel::result::Error),
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    pub(crate) fn from_insert(e: diesel::result::Error, what: &'static str) -> Self {
        match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => StoreError::Conflict(what),
            other => StoreError::Query(other),
        }
    }
}

/// A query whose connection was lost (the database went away mid-way, or
/// the pooled connection died while idle and the query could not even be
/// sent) is `Unavailable`, like one that found no connection, and the pool
/// closes that connection; anything else is a query failure.
impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::DatabaseErrorKind::{ClosedConnection, UnableToSendCommand};
        match e {
            diesel::result::Error::DatabaseError(ClosedConnection | UnableToSendCommand, info) => {
                super::connection::note_connection_lost();
                StoreError::Unavailable(info.message().to_string())
            }
            other => StoreError::Query(other),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An unreachable database is `temporarily_unavailable` (503, try again
/// shortly); any other database failure is the server's fault:
/// `server_error`, its cause logged and never sent.
impl From<StoreError> for crate::oauth::OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => {
                crate::oauth::OAuthError::TemporarilyUnavailable(cause)
            }
            other => crate::oauth::OAuthError::Server(other.to_string()),
        }
    }
}

/// The first line of a driver's message, trimmed.
pub(crate) fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}
