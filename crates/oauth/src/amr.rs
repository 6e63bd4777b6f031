//! How a person signed in: RFC 8176 authentication method references
//! (`amr`) and the authentication context class (`acr`, OIDC Core §2) they
//! add up to. A browser session keeps its `Amr` as the space-separated text
//! `as_text` gives; codes, refresh families and device codes carry it on to
//! the tokens.

use std::fmt;

/// The `acr` of a sign-in with a second factor (or a passkey with user
/// verification), and the value an app sends in `acr_values` to ask for
/// one (CONTRACT.md).
pub const ACR_MFA: &str = "urn:gatehouse:acr:mfa";
/// The `acr` of a sign-in with a password alone.
pub const ACR_PWD: &str = "urn:gatehouse:acr:pwd";
/// What the metadata's `acr_values_supported` lists, weakest first.
pub const ACR_VALUES_SUPPORTED: [&str; 2] = [ACR_PWD, ACR_MFA];

/// One RFC 8176 §2 method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// A password.
    Pwd,
    /// A one-time password: a TOTP code, or a recovery code.
    Otp,
    /// A proof of possession of a hardware-secured key (a passkey that
    /// cannot leave its device).
    Hwk,
    /// A proof of possession of a software-secured key (a synced passkey).
    Swk,
    /// A user presence test (the authenticator's user-present flag).
    User,
    /// Multiple-factor authentication.
    Mfa,
}

impl Method {
    pub const ALL: [Method; 6] = [
        Method::Pwd,
        Method::Otp,
        Method::Hwk,
        Method::Swk,
        Method::User,
        Method::Mfa,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Pwd => "pwd",
            Method::Otp => "otp",
            Method::Hwk => "hwk",
            Method::Swk => "swk",
            Method::User => "user",
            Method::Mfa => "mfa",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// The methods of one sign-in, each once, in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Amr(Vec<Method>);

impl Amr {
    /// A sign-in with a password alone.
    pub fn password() -> Amr {
        Amr(vec![Method::Pwd])
    }

    pub fn of(methods: &[Method]) -> Amr {
        let mut amr = Amr::default();
        for m in methods {
            amr.add(*m);
        }
        amr
    }

    /// Reads the stored text; unknown words are dropped (a newer
    /// gatehouse's value read by an older one names less, never more).
    /// Empty text reads as a password sign-in, what every session before
    /// `amr` was kept was.
    pub fn from_text(s: &str) -> Amr {
        let amr = Amr::of(
            &s.split(' ')
                .filter_map(Method::parse)
                .collect::<Vec<Method>>(),
        );
        if amr.0.is_empty() {
            Amr::password()
        } else {
            amr
        }
    }

    pub fn add(&mut self, m: Method) {
        if let Err(at) = self.0.binary_search(&m) {
            self.0.insert(at, m);
        }
    }

    /// This sign-in with a second factor added: `mfa` too.
    pub fn with_second_factor(&self, factor: &[Method]) -> Amr {
        let mut amr = self.clone();
        for m in factor {
            amr.add(*m);
        }
        amr.add(Method::Mfa);
        amr
    }

    pub fn contains(&self, m: Method) -> bool {
        self.0.contains(&m)
    }

    pub fn is_mfa(&self) -> bool {
        self.contains(Method::Mfa)
    }

    pub fn methods(&self) -> &[Method] {
        &self.0
    }

    /// The values of the `amr` claim.
    pub fn values(&self) -> Vec<&'static str> {
        self.0.iter().map(|m| m.as_str()).collect()
    }

    /// The stored form: the values, space-separated.
    pub fn as_text(&self) -> String {
        self.values().join(" ")
    }

    /// The `acr` this sign-in reaches.
    pub fn acr(&self) -> &'static str {
        if self.is_mfa() {
            ACR_MFA
        } else {
            ACR_PWD
        }
    }
}

impl fmt::Display for Amr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8176_values_are_kept_once_in_a_fixed_order() {
        let amr = Amr::from_text("otp pwd otp mfa");
        assert_eq!(amr.values(), vec!["pwd", "otp", "mfa"]);
        assert_eq!(amr.as_text(), "pwd otp mfa");
        assert_eq!(Amr::from_text(&amr.as_text()), amr);
    }

    #[test]
    fn unknown_or_empty_text_reads_as_what_it_can_name() {
        assert_eq!(Amr::from_text(""), Amr::password());
        assert_eq!(Amr::from_text("retina"), Amr::password());
        assert_eq!(Amr::from_text("hwk retina user").values(), ["hwk", "user"]);
    }

    #[test]
    fn a_second_factor_adds_mfa_and_raises_the_acr() {
        let pwd = Amr::password();
        assert_eq!(pwd.acr(), ACR_PWD);
        assert!(!pwd.is_mfa());
        let both = pwd.with_second_factor(&[Method::Otp]);
        assert_eq!(both.values(), ["pwd", "otp", "mfa"]);
        assert_eq!(both.acr(), ACR_MFA);
    }
}
