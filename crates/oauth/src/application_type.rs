//! OpenID Connect Dynamic Client Registration §2 `application_type`: a
//! `web` app or a `native` one, and which redirect URIs each may register
//! (RFC 8252 §7 for native apps). When a registration does not say, the
//! redirect URIs decide: an app that registers a loopback or private-use
//! redirect URI is native (MCP clients such as editors register
//! `http://127.0.0.1:PORT/callback` without naming a type).

use crate::redirect_uri::is_native_only_redirect_uri;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplicationType {
    /// A web app: https redirect URIs only.
    Web,
    /// A native app (RFC 8252): loopback http (§7.3), a private-use
    /// scheme (§7.1) or claimed https (§7.2).
    Native,
}

impl ApplicationType {
    /// The registered value; `None` for anything but `web` or `native`
    /// (exactly, as OpenID Connect DCR §2 spells them).
    pub fn parse(s: &str) -> Option<ApplicationType> {
        match s {
            "web" => Some(ApplicationType::Web),
            "native" => Some(ApplicationType::Native),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationType::Web => "web",
            ApplicationType::Native => "native",
        }
    }

    /// The type of an app that did not name one: native when any of its
    /// redirect URIs is loopback http or a private-use scheme, else web.
    pub fn of_redirect_uris<S: AsRef<str>>(uris: &[S]) -> ApplicationType {
        if uris.iter().any(|u| is_native_only_redirect_uri(u.as_ref())) {
            ApplicationType::Native
        } else {
            ApplicationType::Web
        }
    }

    /// Whether this type of app may register these redirect URIs, which
    /// have passed `check_redirect_uris` (the rules for every app): a web
    /// app only https ones (OpenID Connect DCR §2; RFC 8252 §8.4 keeps
    /// loopback and private-use URIs to native apps); a native app any.
    pub fn check_redirect_uris<S: AsRef<str>>(self, uris: &[S]) -> Result<(), String> {
        if self == ApplicationType::Native {
            return Ok(());
        }
        match uris.iter().find(|u| is_native_only_redirect_uri(u.as_ref())) {
            Some(u) => Err(format!(
                "redirect URI '{}' is for native apps (loopback http or a private-use scheme); a web app (application_type web) registers https redirect URIs only",
                u.as_ref()
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OpenID Connect DCR §2: `web` and `native`, nothing else.
    #[test]
    fn oidc_dcr_2_application_type_is_web_or_native() {
        assert_eq!(ApplicationType::parse("web"), Some(ApplicationType::Web));
        assert_eq!(
            ApplicationType::parse("native"),
            Some(ApplicationType::Native)
        );
        for bad in ["", "Web", "NATIVE", "browser", "web ", "spa"] {
            assert_eq!(ApplicationType::parse(bad), None, "{bad:?}");
        }
        for t in [ApplicationType::Web, ApplicationType::Native] {
            assert_eq!(ApplicationType::parse(t.as_str()), Some(t));
        }
    }

    /// RFC 8252 §7.1, §7.3: loopback http and private-use schemes are
    /// native apps' only; claimed https (§7.2) is either's.
    #[test]
    fn rfc8252_7_web_apps_register_https_only_native_apps_any() {
        use ApplicationType::*;
        let https = ["https://app.example/cb", "https://localhost/cb"];
        for uri in https {
            assert!(Web.check_redirect_uris(&[uri]).is_ok(), "{uri}");
            assert!(Native.check_redirect_uris(&[uri]).is_ok(), "{uri}");
        }
        for uri in [
            "http://127.0.0.1:53123/callback",
            "http://[::1]/cb",
            "http://localhost:3000/cb",
            "com.example.app:/oauth2redirect",
        ] {
            let why = Web
                .check_redirect_uris(&["https://app.example/cb", uri])
                .unwrap_err();
            assert!(why.contains(uri) && why.contains("web"), "{why}");
            assert!(Native.check_redirect_uris(&[uri]).is_ok(), "{uri}");
        }
    }

    /// An app that names no type is native when any redirect URI is
    /// loopback or private-use (what MCP clients register), else web.
    #[test]
    fn oidc_dcr_2_absent_application_type_follows_the_redirect_uris() {
        use ApplicationType::*;
        let none: [&str; 0] = [];
        assert_eq!(ApplicationType::of_redirect_uris(&none), Web);
        assert_eq!(
            ApplicationType::of_redirect_uris(&["https://app.example/cb"]),
            Web
        );
        assert_eq!(
            ApplicationType::of_redirect_uris(&[
                "https://app.example/cb",
                "http://127.0.0.1:33418/callback"
            ]),
            Native
        );
        assert_eq!(
            ApplicationType::of_redirect_uris(&["com.example.app:/cb"]),
            Native
        );
        for uris in [
            vec!["https://app.example/cb"],
            vec!["http://127.0.0.1/cb", "com.example.app:/cb"],
        ] {
            let t = ApplicationType::of_redirect_uris(&uris);
            assert!(t.check_redirect_uris(&uris).is_ok(), "{uris:?}");
        }
    }
}
