//! The audit trail: security events, appended in the transaction of the
//! change each one records, read back by `gatehouse audit`, pruned after
//! the retention. Each event is also written as one log line (target
//! `audit`) once its transaction has committed, so a log
//! pipeline gets exactly the events the database keeps.

use crate::store::schema::audit_events;
use crate::store::{dispatch, DbConn, StoreResult, Tx};
use diesel::prelude::*;

/// What happened: the `type` column, and `gatehouse audit --type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditType {
    /// A sign-in with a password, a second step or a passkey; a failure
    /// says why in `detail.reason` (never the password).
    SignIn,
    SignUp,
    EmailVerified,
    /// By the person, knowing the current one.
    PasswordChanged,
    /// Through a mailed reset link (or an invitation's first password).
    PasswordReset,
    /// `detail.factor`: `totp`, `passkey` or `recovery_codes`.
    FactorEnrolled,
    FactorRemoved,
    RecoveryCodeUsed,
    ConsentGiven,
    ConsentWithdrawn,
    /// A spent refresh token came back: its family was revoked
    /// (RFC 9700 §4.14.2).
    RefreshTokenReused,
    UserCreated,
    UserUpdated,
    UserDisabled,
    UserEnabled,
    UserDeleted,
    /// An operator or admin set a person's password.
    PasswordSet,
    AdminGranted,
    AdminRevoked,
    FactorsReset,
    ClientCreated,
    ClientUpdated,
    ClientDeleted,
    ClientSecretRotated,
    /// Through `POST /register` (RFC 7591).
    ClientRegistered,
    KeyRotated,
    /// An RFC 7591 initial access token made (`detail.uses`,
    /// `detail.expires_at`); the subject is its id, never the token.
    RegistrationTokenCreated,
    RegistrationTokenRevoked,
    /// An admin signed a person out of every browser.
    SessionsEnded,
    /// An operator or admin made a person a password reset link
    /// (`detail.mailed`: sent to their address, or handed over).
    ResetLinkIssued,
}

impl AuditType {
    pub const ALL: [AuditType; 30] = [
        AuditType::SignIn,
        AuditType::SignUp,
        AuditType::EmailVerified,
        AuditType::PasswordChanged,
        AuditType::PasswordReset,
        AuditType::FactorEnrolled,
        AuditType::FactorRemoved,
        AuditType::RecoveryCodeUsed,
        AuditType::ConsentGiven,
        AuditType::ConsentWithdrawn,
        AuditType::RefreshTokenReused,
        AuditType::UserCreated,
        AuditType::UserUpdated,
        AuditType::UserDisabled,
        AuditType::UserEnabled,
        AuditType::UserDeleted,
        AuditType::PasswordSet,
        AuditType::AdminGranted,
        AuditType::AdminRevoked,
        AuditType::FactorsReset,
        AuditType::ClientCreated,
        AuditType::ClientUpdated,
        AuditType::ClientDeleted,
        AuditType::ClientSecretRotated,
        AuditType::ClientRegistered,
        AuditType::KeyRotated,
        AuditType::RegistrationTokenCreated,
        AuditType::RegistrationTokenRevoked,
        AuditType::SessionsEnded,
        AuditType::ResetLinkIssued,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditType::SignIn => "sign_in",
            AuditType::SignUp => "sign_up",
            AuditType::EmailVerified => "email_verified",
            AuditType::PasswordChanged => "password_changed",
            AuditType::PasswordReset => "password_reset",
            AuditType::FactorEnrolled => "factor_enrolled",
            AuditType::FactorRemoved => "factor_removed",
            AuditType::RecoveryCodeUsed => "recovery_code_used",
            AuditType::ConsentGiven => "consent_given",
            AuditType::ConsentWithdrawn => "consent_withdrawn",
            AuditType::RefreshTokenReused => "refresh_token_reused",
            AuditType::UserCreated => "user_created",
            AuditType::UserUpdated => "user_updated",
            AuditType::UserDisabled => "user_disabled",
            AuditType::UserEnabled => "user_enabled",
            AuditType::UserDeleted => "user_deleted",
            AuditType::PasswordSet => "password_set",
            AuditType::AdminGranted => "admin_granted",
            AuditType::AdminRevoked => "admin_revoked",
            AuditType::FactorsReset => "factors_reset",
            AuditType::ClientCreated => "client_created",
            AuditType::ClientUpdated => "client_updated",
            AuditType::ClientDeleted => "client_deleted",
            AuditType::ClientSecretRotated => "client_secret_rotated",
            AuditType::ClientRegistered => "client_registered",
            AuditType::KeyRotated => "key_rotated",
            AuditType::RegistrationTokenCreated => "registration_token_created",
            AuditType::RegistrationTokenRevoked => "registration_token_revoked",
            AuditType::SessionsEnded => "sessions_ended",
            AuditType::ResetLinkIssued => "reset_link_issued",
        }
    }

    pub fn parse(s: &str) -> Option<AuditType> {
        AuditType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// How many events of each type one store has committed since it opened:
/// `gatehouse_audit_events_total` on `/metrics`.
#[derive(Debug, Default)]
pub struct AuditCounts([std::sync::atomic::AtomicU64; AuditType::ALL.len()]);

impl AuditCounts {
    pub(in crate::store) fn note(&self, kind: &str) {
        if let Some(i) = AuditType::ALL.iter().position(|t| t.as_str() == kind) {
            self.0[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Every type with its count (zeros included).
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        AuditType::ALL
            .iter()
            .zip(&self.0)
            .map(|(t, n)| (t.as_str(), n.load(std::sync::atomic::Ordering::Relaxed)))
            .collect()
    }
}

/// Who acted, as the `actor` column writes it.
pub mod actor {
    /// A signed-in (or signing-in) person.
    pub fn person(user_id: &str) -> String {
        format!("person:{user_id}")
    }
    /// A client application, at the token or registration endpoint.
    pub fn client(client_id: &str) -> String {
        format!("client:{client_id}")
    }
    /// The command line (`gatehouse user …`, `client …`, `keys …`).
    pub const OPERATOR: &str = "operator";
    /// Someone not (yet) known: a failed sign-in.
    pub const ANONYMOUS: &str = "anonymous";
    /// Gatehouse itself (a rule it enforced, such as refresh-token reuse).
    pub const GATEHOUSE: &str = "gatehouse";
}

/// What an event was done to, as the `subject` column writes it.
pub mod subject {
    pub fn person(user_id: &str) -> String {
        format!("person:{user_id}")
    }
    pub fn client(client_id: &str) -> String {
        format!("client:{client_id}")
    }
    pub fn key(kid: &str) -> String {
        format!("key:{kid}")
    }
    /// An initial access token, by its id (`registry::registration_tokens::token_id`).
    pub fn registration_token(id: &str) -> String {
        format!("registration_token:{id}")
    }
}

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub kind: AuditType,
    pub actor: String,
    pub subject: Option<String>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub success: bool,
    pub detail: serde_json::Value,
}

/// At most this many characters of a `User-Agent` are kept.
const USER_AGENT_MAX: usize = 200;

impl NewAuditEvent {
    /// A successful `kind` by `actor`.
    pub fn new(kind: AuditType, actor: impl Into<String>) -> NewAuditEvent {
        NewAuditEvent {
            kind,
            actor: actor.into(),
            subject: None,
            client_id: None,
            ip: None,
            user_agent: None,
            success: true,
            detail: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    pub fn client(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// Where the request came from: the client address (as the throttle
    /// reads it) and the browser's `User-Agent`.
    pub fn from(mut self, ip: Option<String>, user_agent: Option<String>) -> Self {
        self.ip = ip;
        self.user_agent = user_agent
            .map(|ua| ua.chars().take(USER_AGENT_MAX).collect::<String>())
            .filter(|ua| !ua.trim().is_empty());
        self
    }

    pub fn failed(mut self) -> Self {
        self.success = false;
        self
    }

    /// Adds `key: value` to the detail object.
    pub fn detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        if let serde_json::Value::Object(m) = &mut self.detail {
            m.insert(key.to_string(), value.into());
        }
        self
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: String,
    pub at_ms: i64,
    pub kind: String,
    pub actor: String,
    pub subject: Option<String>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// A JSON object.
    pub detail: String,
}

impl AuditEvent {
    /// The event as `gatehouse audit --json` prints it and the log line
    /// carries it: `time` (RFC 3339, UTC, milliseconds), `type`, `actor`,
    /// `subject`, `client_id`, `ip`, `user_agent`, `outcome`, `detail`.
    pub fn to_json(&self) -> serde_json::Value {
        let time = chrono::DateTime::from_timestamp_millis(self.at_ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default();
        serde_json::json!({
            "id": self.id,
            "time": time,
            "type": self.kind,
            "actor": self.actor,
            "subject": self.subject,
            "client_id": self.client_id,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "outcome": self.outcome,
            "detail": serde_json::from_str::<serde_json::Value>(&self.detail)
                .unwrap_or(serde_json::Value::Null),
        })
    }

    /// The one log line of a committed event.
    pub(in crate::store) fn log(&self) {
        tracing::info!(
            target: "audit",
            r#type = %self.kind,
            actor = %self.actor,
            subject = self.subject.as_deref().unwrap_or(""),
            client_id = self.client_id.as_deref().unwrap_or(""),
            ip = self.ip.as_deref().unwrap_or(""),
            outcome = %self.outcome,
            detail = %self.detail,
            "audit event"
        );
    }
}

/// What `gatehouse audit` asks for: all of it when every field is `None`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub since_ms: Option<i64>,
    /// Only events before this time (the admin console's time filter).
    pub until_ms: Option<i64>,
    /// `person:<id>` etc.: events by it or done to it.
    pub party: Option<String>,
    pub client_id: Option<String>,
    pub kind: Option<AuditType>,
    /// The newest this many (still printed oldest first).
    pub limit: i64,
}

impl Tx<'_> {
    /// Appends `event` as of `at_ms`, inside the caller's transaction; its
    /// log line is written when that transaction commits (never for one
    /// that rolls back).
    pub fn record_audit(&mut self, at_ms: i64, event: &NewAuditEvent) -> StoreResult<()> {
        let row = AuditEvent {
            id: uuid::Uuid::now_v7().to_string(),
            at_ms,
            kind: event.kind.as_str().to_string(),
            actor: event.actor.clone(),
            subject: event.subject.clone(),
            client_id: event.client_id.clone(),
            ip: event.ip.clone(),
            user_agent: event.user_agent.clone(),
            outcome: if event.success { "success" } else { "failure" }.to_string(),
            detail: event.detail.to_string(),
        };
        dispatch!(self, c => diesel::insert_into(audit_events::table).values(&row).execute(c))?;
        self.note_committed_later(row);
        Ok(())
    }

    /// Deletes events older than `before_ms`; how many.
    pub fn prune_audit(&mut self, before_ms: i64) -> StoreResult<usize> {
        Ok(dispatch!(self, c => diesel::delete(
            audit_events::table.filter(audit_events::at_ms.lt(before_ms))
        )
        .execute(c))?)
    }
}

impl DbConn {
    /// The events `filter` asks for, oldest first.
    pub fn audit_events(&mut self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        let mut rows: Vec<AuditEvent> = dispatch!(self, c => {
            let mut q = audit_events::table
                .select(AuditEvent::as_select())
                .order((audit_events::at_ms.desc(), audit_events::id.desc()))
                .limit(filter.limit)
                .into_boxed();
            if let Some(since) = filter.since_ms {
                q = q.filter(audit_events::at_ms.ge(since));
            }
            if let Some(until) = filter.until_ms {
                q = q.filter(audit_events::at_ms.lt(until));
            }
            if let Some(party) = &filter.party {
                q = q.filter(
                    audit_events::subject
                        .eq(party.clone())
                        .or(audit_events::actor.eq(party.clone())),
                );
            }
            if let Some(client) = &filter.client_id {
                q = q.filter(audit_events::client_id.eq(client.clone()));
            }
            if let Some(kind) = filter.kind {
                q = q.filter(audit_events::kind.eq(kind.as_str()));
            }
            q.load(c)
        })?;
        rows.reverse();
        Ok(rows)
    }
}
