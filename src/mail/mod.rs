//! The mail gatehouse sends: a message as rendered (`Mail`), before it is
//! queued in the outbox (`app::outbox`) and sent over SMTP.

pub mod messages;

/// One rendered message to one address: a plain-text and an HTML part.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}
