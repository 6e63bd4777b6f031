//! The messages gatehouse mails, each rendered from two Askama templates
//! in `templates/mail/`: a plain-text part (`.txt`, not escaped) and an
//! HTML part (`.html`, escaped by Askama). Each says which site it is
//! from, carries its link, and says what to do if it was not you.
//!
//! Verification, reset and invitation mails carry one link that starts
//! with the issuer (the link itself) and no other; the notices (an
//! address change asked for, a password changed) carry the way back in,
//! the forgotten-password page.

use super::{Mail, Site};
use askama::Template;

/// What the templates read. `link` is the action (or, in a notice, the
/// forgotten-password page); `address` is the address a verification or
/// change is about; `valid_for` says how long a link works.
struct Context<'a> {
    site: &'a str,
    /// The operator's footer (empty when none).
    footer: &'a Site,
    username: &'a str,
    link: &'a str,
    address: &'a str,
    valid_for: String,
    /// What changed, in a notice of a change to the sign-in factors
    /// ("an authenticator app was added"); empty elsewhere.
    change: &'a str,
}

impl<'a> Context<'a> {
    /// A message to `username` from the site `from` (with its footer),
    /// carrying `link` and about `address`; no validity or change.
    fn new(from: &'a Site, username: &'a str, link: &'a str, address: &'a str) -> Context<'a> {
        Context {
            site: from.name.as_str(),
            footer: from,
            username,
            link,
            address,
            valid_for: String::new(),
            change: "",
        }
    }
}

/// Two templates, one message: a text and an HTML part over one context.
macro_rules! message {
    ($text:ident = $tpath:tt, $html:ident = $hpath:tt) => {
        #[derive(Template)]
        #[template(path = $tpath)]
        struct $text<'a> {
            m: &'a Context<'a>,
        }

        #[derive(Template)]
        #[template(path = $hpath)]
        struct $html<'a> {
            m: &'a Context<'a>,
        }
    };
}

message!(
    VerifyText = "mail/verify_email.txt",
    VerifyHtml = "mail/verify_email.html"
);
message!(
    ChangeText = "mail/email_change_notice.txt",
    ChangeHtml = "mail/email_change_notice.html"
);
message!(
    ResetText = "mail/password_reset.txt",
    ResetHtml = "mail/password_reset.html"
);
message!(
    InviteText = "mail/invitation.txt",
    InviteHtml = "mail/invitation.html"
);
message!(
    ChangedText = "mail/password_changed.txt",
    ChangedHtml = "mail/password_changed.html"
);

message!(
    RecoveryUsedText = "mail/recovery_code_used.txt",
    RecoveryUsedHtml = "mail/recovery_code_used.html"
);
message!(
    FactorsResetText = "mail/factors_reset.txt",
    FactorsResetHtml = "mail/factors_reset.html"
);
message!(
    FactorChangedText = "mail/factor_changed.txt",
    FactorChangedHtml = "mail/factor_changed.html"
);

/// A template failed to render (a bug, not a person's input).
#[derive(Debug, thiserror::Error)]
#[error("rendering a mail: {0}")]
pub struct RenderError(String);

fn mail(
    to: &str,
    subject: String,
    text: impl Template,
    html: impl Template,
) -> Result<Mail, RenderError> {
    Ok(Mail {
        to: to.to_string(),
        subject,
        text: text.render().map_err(|e| RenderError(e.to_string()))?,
        html: html.render().map_err(|e| RenderError(e.to_string()))?,
    })
}

/// "30 minutes", "1 hour", "7 days": how long a link works, in words.
pub fn human_duration(seconds: i64) -> String {
    let (n, unit) = if seconds >= 86_400 && seconds % 86_400 == 0 {
        (seconds / 86_400, "day")
    } else if seconds >= 3600 && seconds % 3600 == 0 {
        (seconds / 3600, "hour")
    } else if seconds >= 60 {
        (seconds / 60, "minute")
    } else {
        (seconds.max(1), "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// Asks `to` to confirm it is `username`'s address (after sign-up, or a
/// new address): `link` opens the verification page.
pub fn verify_email(
    from: &Site,
    to: &str,
    username: &str,
    link: &str,
    valid_for_seconds: i64,
) -> Result<Mail, RenderError> {
    let site = from.name.as_str();
    let m = Context {
        valid_for: human_duration(valid_for_seconds),
        ..Context::new(from, username, link, to)
    };
    mail(
        to,
        format!("Confirm your e-mail address for {site}"),
        VerifyText { m: &m },
        VerifyHtml { m: &m },
    )
}

/// Tells the old address `to` that `username` asked to use `new_address`
/// instead (it takes effect once that address is verified); `help_link`
/// is the forgotten-password page.
pub fn email_change_notice(
    from: &Site,
    to: &str,
    username: &str,
    new_address: &str,
    help_link: &str,
) -> Result<Mail, RenderError> {
    let site = from.name.as_str();
    let m = Context::new(from, username, help_link, new_address);
    mail(
        to,
        format!("Your e-mail address on {site} is being changed"),
        ChangeText { m: &m },
        ChangeHtml { m: &m },
    )
}

/// A password-reset link for `username`, to their address `to`.
pub fn password_reset(
    from: &Site,
    to: &str,
    username: &str,
    link: &str,
    valid_for_seconds: i64,
) -> Result<Mail, RenderError> {
    let site = from.name.as_str();
    let m = Context {
        valid_for: human_duration(valid_for_seconds),
        ..Context::new(from, username, link, to)
    };
    mail(
        to,
        format!("Reset your password on {site}"),
        ResetText { m: &m },
        ResetHtml { m: &m },
    )
}

/// An operator's invitation: `link` lets the new person choose a password.
pub fn invitation(
    from: &Site,
    to: &str,
    username: &str,
    link: &str,
    valid_for_seconds: i64,
) -> Result<Mail, RenderError> {
    let site = from.name.as_str();
    let m = Context {
        valid_for: human_duration(valid_for_seconds),
        ..Context::new(from, username, link, to)
    };
    mail(
        to,
        format!("You are invited to {site}"),
        InviteText { m: &m },
        InviteHtml { m: &m },
    )
}

/// Tells `to` that `username`'s password was changed and every sign-in
/// ended; `help_link` is the forgotten-password page.
pub fn password_changed(
    from: &Site,
    to: &str,
    username: &str,
    help_link: &str,
) -> Result<Mail, RenderError> {
    let site = from.name.as_str();
    let m = Context::new(from, username, help_link, to);
    mail(
        to,
        format!("Your password on {site} was changed"),
        ChangedText { m: &m },
        ChangedHtml { m: &m },
    )
}

/// Tells `to` that one of `username`'s recovery codes was just used to
/// sign in; `help_link` is the forgotten-password page.
pub fn recovery_code_used(
    from: &Site,
    to: &str,
    username: &str,
    help_link: &str,
) -> Result<Mail, RenderError> {
    let site = from.name.as_str();
    let m = Context::new(from, username, help_link, to);
    mail(
        to,
        format!("A recovery code was used to sign in to {site}"),
        RecoveryUsedText { m: &m },
        RecoveryUsedHtml { m: &m },
    )
}

/// Tells `to` that an operator removed `username`'s second factors
/// (`gatehouse user reset-factors`); `help_link` is the forgotten-password
/// page.
pub fn factors_reset(
    from: &Site,
    to: &str,
    username: &str,
    help_link: &str,
) -> Result<Mail, RenderError> {
    let site = from.name.as_str();
    let m = Context::new(from, username, help_link, to);
    mail(
        to,
        format!("Your sign-in factors on {site} were reset"),
        FactorsResetText { m: &m },
        FactorsResetHtml { m: &m },
    )
}

/// Tells `to` that `username`'s own second factors changed (`change`: "an
/// authenticator app was added", …), so that a change they did not make
/// is noticed; `help_link` is the forgotten-password page.
pub fn factor_changed(
    from: &Site,
    to: &str,
    username: &str,
    change: &str,
    help_link: &str,
) -> Result<Mail, RenderError> {
    let site = from.name.as_str();
    let m = Context {
        change,
        ..Context::new(from, username, help_link, to)
    };
    mail(
        to,
        format!("Your two-step sign-in on {site} changed"),
        FactorChangedText { m: &m },
        FactorChangedHtml { m: &m },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://id.example";

    fn site(name: &str) -> Site {
        Site {
            name: name.into(),
            ..Site::default()
        }
    }

    fn urls_from_issuer(body: &str) -> Vec<&str> {
        body.match_indices(ISSUER)
            .map(|(i, _)| {
                let rest = &body[i..];
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
                    .unwrap_or(rest.len());
                &rest[..end]
            })
            .collect()
    }

    #[test]
    fn links_mails_carry_their_link_and_no_other_issuer_url() {
        let link = "https://id.example/password/reset?token=abc";
        // With the operator's footer too: its links are not the issuer's.
        let footed = Site {
            name: "Example".into(),
            footer_text: "Example Ltd, 1 Main St".into(),
            privacy_url: "https://example.com/privacy".into(),
            terms_url: "https://example.com/terms".into(),
        };
        for from in [site("Example"), footed] {
            for m in [
                password_reset(&from, "a@example.com", "alice", link, 1800).unwrap(),
                invitation(&from, "a@example.com", "alice", link, 604_800).unwrap(),
                verify_email(&from, "a@example.com", "alice", link, 172_800).unwrap(),
            ] {
                for part in [&m.text, &m.html] {
                    let urls = urls_from_issuer(part);
                    assert!(!urls.is_empty(), "{part}");
                    assert!(urls.iter().all(|u| *u == link), "{urls:?} in {part}");
                    assert!(part.contains("Example"), "the site name: {part}");
                    assert!(
                        part.contains("not you") || part.contains("did not"),
                        "{part}"
                    );
                    for footer in [&from.footer_text, &from.privacy_url, &from.terms_url] {
                        assert!(part.contains(footer.as_str()), "{footer} in {part}");
                    }
                    if from.privacy_url.is_empty() {
                        assert!(!part.contains("Privacy"), "no footer: {part}");
                    }
                }
            }
        }
    }

    #[test]
    fn html_parts_escape_what_people_typed() {
        let m = email_change_notice(
            &site("<Site & Co>"),
            "old@example.com",
            "<b>alice</b>",
            "new\"@<x>.example",
            "https://id.example/password/forgot",
        )
        .unwrap();
        assert!(!m.html.contains("<b>alice"), "{}", m.html);
        assert!(m.html.contains("&#60;b&#62;alice"), "{}", m.html);
        assert!(!m.html.contains("<Site"), "{}", m.html);
        assert!(
            m.text.contains("<b>alice</b>"),
            "the text part is plain: {}",
            m.text
        );
        assert_eq!(m.to, "old@example.com");
    }

    #[test]
    fn durations_read_as_words() {
        assert_eq!(human_duration(1800), "30 minutes");
        assert_eq!(human_duration(3600), "1 hour");
        assert_eq!(human_duration(604_800), "7 days");
        assert_eq!(human_duration(90), "1 minute");
        assert_eq!(human_duration(1), "1 second");
    }
}
