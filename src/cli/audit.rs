//! `gatehouse audit`: the audit trail, oldest first, as a table or one
//! JSON object a line (`time`, `type`, `actor`, `subject`, `client_id`,
//! `ip`, `user_agent`, `outcome`, `detail`).

use super::{block_on, Failure, Operator};
use crate::config::Config;
use crate::registry::RegistryError;
use crate::store::models::audit_event::{subject, AuditFilter, AuditType};
use clap::Args;

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only events at or after TIME: RFC 3339 (2026-12-06T09:00:00Z), a
    /// date (2026-12-06, UTC midnight), or an age (90m, 12h, 7d).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events by or about this person (id or username; the id of a
    /// deleted person works too).
    #[arg(long, value_name = "ID-OR-USERNAME")]
    pub person: Option<String>,
    /// Only events about this client.
    #[arg(long, value_name = "CLIENT_ID")]
    pub client: Option<String>,
    /// Only events of this type (sign_in, password_changed, client_created, …).
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// At most the newest N events.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub limit: i64,
    /// One JSON object a line instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `TIME` as Unix milliseconds, `now_ms` being now.
pub fn parse_since(s: &str, now_ms: i64) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    let unit = s.chars().last().unwrap_or(' ');
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => 0,
    };
    match s[..s.len().saturating_sub(1)].parse::<i64>() {
        Ok(n) if seconds > 0 && (0..=100_000).contains(&n) => Ok(now_ms - n * seconds * 1000),
        _ => Err(format!(
            "--since '{s}' is not a time: give RFC 3339 (2026-12-06T09:00:00Z), a date (2026-12-06) or an age (90m, 12h, 7d)"
        )),
    }
}

pub fn run(a: AuditArgs, config: &Config) -> Result<(), Failure> {
    let op = Operator::open(config)?;
    let kind = match &a.kind {
        None => None,
        Some(k) => Some(AuditType::parse(k).ok_or_else(|| {
            let known: Vec<&str> = AuditType::ALL.iter().map(|t| t.as_str()).collect();
            Failure::usage(format!(
                "--type '{k}' is not an event type (one of: {})",
                known.join(", ")
            ))
        })?),
    };
    if !(1..=1_000_000).contains(&a.limit) {
        return Err(Failure::usage("--limit is from 1 to 1000000"));
    }
    let since_ms = match &a.since {
        None => None,
        Some(s) => Some(parse_since(s, op.clock.now_millis()).map_err(Failure::usage)?),
    };
    let party = match &a.person {
        None => None,
        Some(p) => match block_on(op.registry().find_user(p))? {
            Ok(u) => Some(subject::person(&u.id)),
            // Gone (deleted) people are still in the trail by id.
            Err(RegistryError::NotFound(_)) => Some(subject::person(p)),
            Err(e) => return Err(Failure::other(e)),
        },
    };
    let filter = AuditFilter {
        since_ms,
        until_ms: None,
        party,
        client_id: a.client.clone(),
        kind,
        limit: a.limit,
    };
    let events = op
        .store
        .conn()
        .and_then(|mut c| c.audit_events(&filter))
        .map_err(|e| Failure::other(format!("reading the audit trail: {e}")))?;
    for e in &events {
        let v = e.to_json();
        if a.json {
            println!("{v}");
        } else {
            println!(
                "{}  {:<22} {:<8} {:<44} {:<44} {:<15} {}",
                v["time"].as_str().unwrap_or(""),
                e.kind,
                e.outcome,
                e.actor,
                e.subject.as_deref().unwrap_or("-"),
                e.ip.as_deref().unwrap_or("-"),
                if e.detail == "{}" {
                    ""
                } else {
                    e.detail.as_str()
                },
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_since;

    #[test]
    fn since_takes_rfc3339_a_date_or_an_age() {
        let now = 1_800_000_000_000;
        assert_eq!(
            parse_since("2026-12-06T09:00:00Z", now).unwrap(),
            1_796_547_600_000
        );
        assert_eq!(parse_since("2026-12-06", now).unwrap(), 1_796_515_200_000);
        assert_eq!(parse_since("90m", now).unwrap(), now - 5_400_000);
        assert_eq!(parse_since("7d", now).unwrap(), now - 604_800_000);
        for bad in ["", "yesterday", "7w", "-3d", "12", "d"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}
