//! The mail gatehouse sends: a message as rendered (`Mail`), before it is
//! queued in the outbox (`app::outbox`) and sent over SMTP.

pub mod messages;

/// Who a mail is from, as its every part says: the site's name and the
/// operator's footer (`GATEHOUSE_FOOTER_TEXT`, `GATEHOUSE_PRIVACY_URL`,
/// `GATEHOUSE_TERMS_URL`). The logo is not in mails: most mail programs
/// hold back remote images, and the link of a verification or reset mail
/// stays the only address in it that starts with the issuer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Site {
    pub name: String,
    pub footer_text: String,
    pub privacy_url: String,
    pub terms_url: String,
}

/// One rendered message to one address: a plain-text and an HTML part.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}
