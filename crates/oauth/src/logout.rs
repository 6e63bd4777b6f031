//! OpenID Connect RP-Initiated Logout 1.0 §2–§3: which client asked for
//! the sign-out, and where (if anywhere) the browser goes afterwards.
//! Pure: the caller verifies the `id_token_hint` and loads the client.

use super::authorize::redirect_with;

/// The `id_token_hint` of a logout request, as the caller found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint<'a> {
    /// None was sent.
    Absent,
    /// One of our ID tokens (signature and issuer checked; it may have
    /// expired, §2), issued to this client (`aud`).
    Valid { aud: &'a str },
    /// Sent, but not an ID token we issued.
    Invalid,
}

/// The client the request speaks for: `client_id`, or the hint's `aud`.
/// §2: when both are sent they must agree; an invalid hint vouches for
/// nobody. `None` means the request names no client it can prove.
pub fn client_of<'a>(client_id: Option<&'a str>, hint: Hint<'a>) -> Option<&'a str> {
    match (client_id, hint) {
        (_, Hint::Invalid) => None,
        (Some(id), Hint::Valid { aud }) => (id == aud).then_some(id),
        (None, Hint::Valid { aud }) => Some(aud),
        (id, Hint::Absent) => id,
    }
}

/// §2: the hint names the End-User the app asks to sign out. When someone
/// else is signed in here, the app's view of the session is out of date
/// (or the hint is not its own: ID tokens pass through browsers), and the
/// spec has the OP treat the request as suspect. gatehouse then still
/// signs out whoever confirms on its page (§3 requires the question in
/// exactly this case, and their "yes" to be honoured) but never sends them
/// on to the app: `true` here means no redirect. Nobody signed in, or no
/// valid hint: nothing to compare.
pub fn hint_names_someone_else(hint_sub: Option<&str>, signed_in: Option<&str>) -> bool {
    matches!((hint_sub, signed_in), (Some(hint), Some(user)) if hint != user)
}

/// §3: where to send the browser after signing out: the
/// `post_logout_redirect_uri` when it equals, character for character, one
/// registered for the client, with `state` added to its query. Anything
/// else (not registered, no client) goes nowhere: `None`, and the person
/// sees the signed-out page.
pub fn return_to(
    requested: Option<&str>,
    registered: &[&str],
    state: Option<&str>,
) -> Option<String> {
    let uri = requested?;
    if !registered.contains(&uri) {
        return None;
    }
    Some(match state {
        Some(s) => redirect_with(uri, false, &[("state", s)]),
        None => uri.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rp_initiated_logout_2_the_client_comes_from_client_id_or_the_hint() {
        let valid = Hint::Valid { aud: "c1" };
        assert_eq!(client_of(Some("c1"), Hint::Absent), Some("c1"));
        assert_eq!(client_of(None, valid), Some("c1"));
        assert_eq!(client_of(Some("c1"), valid), Some("c1"));
        assert_eq!(client_of(Some("c2"), valid), None, "they must agree");
        assert_eq!(client_of(Some("c1"), Hint::Invalid), None);
        assert_eq!(client_of(None, Hint::Invalid), None);
        assert_eq!(client_of(None, Hint::Absent), None);
    }

    #[test]
    fn rp_initiated_logout_2_a_hint_for_another_end_user_is_suspect() {
        assert!(hint_names_someone_else(Some("bob"), Some("alice")));
        assert!(!hint_names_someone_else(Some("alice"), Some("alice")));
        assert!(!hint_names_someone_else(Some("bob"), None));
        assert!(!hint_names_someone_else(None, Some("alice")));
        assert!(!hint_names_someone_else(None, None));
    }

    #[test]
    fn rp_initiated_logout_3_only_a_registered_uri_exactly() {
        let reg = ["https://app.example/bye", "https://app.example/bye?x=1"];
        assert_eq!(
            return_to(Some("https://app.example/bye"), &reg, Some("s 1")).as_deref(),
            Some("https://app.example/bye?state=s+1")
        );
        assert_eq!(
            return_to(Some("https://app.example/bye?x=1"), &reg, None).as_deref(),
            Some("https://app.example/bye?x=1")
        );
        assert_eq!(
            return_to(Some("https://app.example/bye"), &reg, None).as_deref(),
            Some("https://app.example/bye"),
            "as registered, without an empty query"
        );
        for near in [
            "https://app.example/bye/",
            "https://APP.example/bye",
            "https://app.example/bye#x",
            "https://evil.example/bye",
            "https://app.example/bye?x=2",
        ] {
            assert_eq!(return_to(Some(near), &reg, Some("s")), None, "{near}");
        }
        assert_eq!(return_to(None, &reg, Some("s")), None);
        assert_eq!(return_to(Some("https://app.example/bye"), &[], None), None);
    }
}
