//! What the protocol rules need to know about a registered client, without
//! knowing how it is stored: its id, redirect URIs, grant types, scopes and
//! whether it is public. `store::models::Client` implements `ClientPolicy`.

use super::redirect_uri::redirect_uri_matches;
use super::GrantType;

/// A client's id (RFC 6749 §2.2), borrowed from wherever it was read.
/// The rules (code exchange, refresh, device polling) take the client id
/// as this type, so that no other string (a person's id, a scope) can be
/// passed where the binding to a client is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientId<'a>(pub &'a str);

impl<'a> ClientId<'a> {
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

/// The redirect URIs registered for a client; owns the matching rule.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RedirectUris(Vec<String>);

impl RedirectUris {
    pub fn new(uris: impl IntoIterator<Item = impl Into<String>>) -> RedirectUris {
        RedirectUris(uris.into_iter().map(Into::into).collect())
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// RFC 6749 §3.1.2.3 (and RFC 9700 §2.1): the redirect URI must equal a
    /// registered one exactly, character for character, except for the
    /// port of a loopback one (RFC 8252 §7.3); it may be left out only when
    /// exactly one is registered, which is then used.
    pub fn resolve(&self, given: Option<&str>) -> Result<String, &'static str> {
        match given {
            Some(uri) if self.0.iter().any(|r| redirect_uri_matches(r, uri)) => Ok(uri.to_string()),
            Some(_) => Err("The redirect_uri does not match any URI registered for this app."),
            None => match self.0.as_slice() {
                [one] => Ok(one.clone()),
                _ => Err("This app must say which redirect_uri to use."),
            },
        }
    }

    /// The one the token request must repeat when the authorization request
    /// left it out: the only registered one (RFC 6749 §4.1.3).
    pub fn only(&self) -> Option<&str> {
        match self.0.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }
}

/// The protocol's view of a registered client.
pub trait ClientPolicy {
    fn client_id(&self) -> &str;
    fn redirect_uris(&self) -> RedirectUris;
    fn has_grant(&self, grant: GrantType) -> bool;
    /// The scopes this client may ask for.
    fn scopes(&self) -> Vec<&str>;
    /// A public client has no secret (RFC 6749 §2.1).
    fn is_public(&self) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6749_3_1_2_3_redirect_uris_match_exactly() {
        let r = RedirectUris::new(["https://app/cb", "https://app/other"]);
        assert_eq!(r.resolve(Some("https://app/cb")).unwrap(), "https://app/cb");
        for near in [
            "https://app/cb/",
            "https://APP/cb",
            "https://app/cb?x=1",
            "https://app/c",
        ] {
            assert!(r.resolve(Some(near)).is_err(), "{near}");
        }
        assert!(r.resolve(None).is_err(), "two registered: must name one");
        let one = RedirectUris::new(["https://app/cb"]);
        assert_eq!(one.resolve(None).unwrap(), "https://app/cb");
        assert_eq!(one.only(), Some("https://app/cb"));
        assert_eq!(r.only(), None);
    }

    #[test]
    fn rfc8252_7_3_a_loopback_redirect_uri_resolves_on_any_port() {
        let r = RedirectUris::new(["http://127.0.0.1/cb"]);
        assert_eq!(
            r.resolve(Some("http://127.0.0.1:41234/cb")).unwrap(),
            "http://127.0.0.1:41234/cb"
        );
        assert!(r.resolve(Some("http://127.0.0.1:41234/other")).is_err());
    }
}
