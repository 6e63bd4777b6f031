//! Typed columns: values kept in one TEXT column exactly as before (a
//! space-separated list, a method's name), read and written as Rust types
//! through Diesel's `FromSql`/`ToSql` on both backends. No migration: the
//! stored text is the same.

use super::split_list;
use crate::oauth::GrantType;
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;
use std::io::Write;

/// What a column type is as stored text.
pub trait TextColumn: Sized {
    fn from_stored(s: &str) -> deserialize::Result<Self>;
    fn to_stored(&self) -> String;
}

/// `FromSql`/`ToSql` over TEXT for a `TextColumn`, on SQLite and PostgreSQL.
macro_rules! text_column {
    ($t:ty) => {
        impl<DB> FromSql<Text, DB> for $t
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                <$t as TextColumn>::from_stored(&String::from_sql(bytes)?)
            }
        }
        impl ToSql<Text, Sqlite> for $t {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                out.set_value(self.to_stored());
                Ok(IsNull::No)
            }
        }
        impl ToSql<Text, Pg> for $t {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(self.to_stored().as_bytes())?;
                Ok(IsNull::No)
            }
        }
    };
}

/// A space-separated list of words (none of them holds a space: URIs,
/// scope tokens, e-mail addresses are checked so before they are stored).
macro_rules! word_list {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, AsExpression, FromSqlRow)]
        #[diesel(sql_type = Text)]
        pub struct $name(Vec<String>);

        impl $name {
            pub fn iter(&self) -> impl Iterator<Item = &str> {
                self.0.iter().map(String::as_str)
            }
            pub fn to_vec(&self) -> Vec<String> {
                self.0.clone()
            }
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
            pub fn contains(&self, word: &str) -> bool {
                self.0.iter().any(|w| w == word)
            }
        }

        impl<S: Into<String>> FromIterator<S> for $name {
            fn from_iter<I: IntoIterator<Item = S>>(words: I) -> Self {
                $name(words.into_iter().map(Into::into).collect())
            }
        }

        /// Space-separated, as stored.
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0.join(" "))
            }
        }

        impl TextColumn for $name {
            fn from_stored(s: &str) -> deserialize::Result<Self> {
                Ok(split_list(s).collect())
            }
            fn to_stored(&self) -> String {
                self.to_string()
            }
        }

        text_column!($name);
    };
}

word_list!(
    /// Redirect URIs (or post-logout redirect URIs), matched exactly.
    UriList
);
word_list!(
    /// Scope tokens (RFC 6749 §3.3).
    Scopes
);
word_list!(
    /// RFC 7591 `contacts`: e-mail addresses.
    Contacts
);

/// The grant types a client may use, each once, in the order registered.
#[derive(Debug, Clone, Default, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct GrantTypes(Vec<GrantType>);

impl GrantTypes {
    pub fn contains(&self, g: GrantType) -> bool {
        self.0.contains(&g)
    }
    pub fn iter(&self) -> impl Iterator<Item = GrantType> + '_ {
        self.0.iter().copied()
    }
    /// The RFC 7591 names.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|g| g.as_str()).collect()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<GrantType> for GrantTypes {
    /// Keeps the first of each.
    fn from_iter<I: IntoIterator<Item = GrantType>>(grants: I) -> Self {
        let mut out = Vec::new();
        for g in grants {
            if !out.contains(&g) {
                out.push(g);
            }
        }
        GrantTypes(out)
    }
}

impl std::fmt::Display for GrantTypes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.names().join(" "))
    }
}

impl TextColumn for GrantTypes {
    /// A name this version does not know (written by a newer one) is left
    /// out: the client simply may not use that grant here.
    fn from_stored(s: &str) -> deserialize::Result<Self> {
        Ok(split_list(s).filter_map(GrantType::parse).collect())
    }
    fn to_stored(&self) -> String {
        self.to_string()
    }
}

text_column!(GrantTypes);

/// How a client proves itself at the token endpoint (RFC 7591 §2
/// `token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum AuthMethod {
    /// A public client: its id only.
    None,
    /// A confidential client that may use either secret method (the
    /// default when none was named; stored as `any`).
    SecretBasicOrPost,
    SecretBasic,
    SecretPost,
}

impl AuthMethod {
    /// The RFC 7591 name. A client that accepts both says
    /// `client_secret_basic`, the RFC's default.
    pub fn rfc7591_name(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::SecretBasicOrPost | AuthMethod::SecretBasic => "client_secret_basic",
            AuthMethod::SecretPost => "client_secret_post",
        }
    }

    /// Whether a client registered with this method may authenticate by
    /// `used` (one of `SecretBasic`, `SecretPost`, `None`).
    pub fn accepts(self, used: AuthMethod) -> bool {
        self == used || (self == AuthMethod::SecretBasicOrPost && used != AuthMethod::None)
    }
}

impl TextColumn for AuthMethod {
    fn from_stored(s: &str) -> deserialize::Result<Self> {
        Ok(match s {
            "none" => AuthMethod::None,
            "any" => AuthMethod::SecretBasicOrPost,
            "client_secret_basic" => AuthMethod::SecretBasic,
            "client_secret_post" => AuthMethod::SecretPost,
            other => return Err(format!("unknown token endpoint auth method '{other}'").into()),
        })
    }
    fn to_stored(&self) -> String {
        match self {
            AuthMethod::None => "none",
            AuthMethod::SecretBasicOrPost => "any",
            AuthMethod::SecretBasic => "client_secret_basic",
            AuthMethod::SecretPost => "client_secret_post",
        }
        .to_string()
    }
}

text_column!(AuthMethod);

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored text is what it was before the types: an upgrade reads
    /// every row, and an older instance reads what this one writes.
    #[test]
    fn columns_keep_their_stored_text() {
        for stored in ["none", "any", "client_secret_basic", "client_secret_post"] {
            let m = AuthMethod::from_stored(stored).unwrap();
            assert_eq!(m.to_stored(), stored);
        }
        assert!(AuthMethod::from_stored("private_key_jwt").is_err());
        let g = GrantTypes::from_stored("authorization_code  refresh_token").unwrap();
        assert_eq!(g.to_stored(), "authorization_code refresh_token");
        assert!(g.contains(GrantType::RefreshToken));
        let s = Scopes::from_stored(" read write ").unwrap();
        assert_eq!(s.to_stored(), "read write");
        assert!(Scopes::from_stored("").unwrap().is_empty());
    }

    /// RFC 7591 §2: `client_secret_basic` is the default method; a client
    /// registered without one accepts both secret methods, never none.
    #[test]
    fn rfc7591_2_auth_methods_accept_what_was_registered() {
        use AuthMethod::*;
        assert!(SecretBasicOrPost.accepts(SecretBasic) && SecretBasicOrPost.accepts(SecretPost));
        assert!(!SecretBasicOrPost.accepts(None));
        assert!(SecretBasic.accepts(SecretBasic) && !SecretBasic.accepts(SecretPost));
        assert!(SecretPost.accepts(SecretPost) && !SecretPost.accepts(SecretBasic));
        assert_eq!(SecretBasicOrPost.rfc7591_name(), "client_secret_basic");
    }
}
