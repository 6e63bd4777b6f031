//! Settings: each one comes from a flag, an environment variable, a key in
//! `gatehouse.toml`, or its default, in that order of precedence. A bad value
//! is a `ConfigError` naming the setting; `main` prints it on one line and
//! exits 2.

mod file;
pub mod look;
mod names;
mod table;

pub use file::{config_file, read_file, FileValues};
pub use names::unknown_env_vars;
pub use table::{Setting, SETTINGS};

use std::collections::BTreeMap;
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub bind: String,
    /// `None` means "http:// + the bound address", decided once bound.
    pub issuer: Option<String>,
    pub keys_dir: PathBuf,
    /// Start even when the keys folder lacks the signing keys or the
    /// server secret the database records, making new ones on purpose.
    pub new_keys: bool,
    /// `None` means "the issuer".
    pub audience: Option<String>,
    /// RFC 8707: the resource URIs (or prefixes ending in `/`) every
    /// client may name (`GATEHOUSE_RESOURCES`).
    pub resources: Vec<String>,
    pub access_token_ttl: i64,
    /// OpenID Connect ID token lifetime.
    pub id_token_ttl: i64,
    pub auth_code_ttl: i64,
    pub refresh_idle_ttl: i64,
    pub refresh_max_ttl: i64,
    pub refresh_reuse_grace: i64,
    pub device_code_ttl: i64,
    pub device_interval: i64,
    pub log: String,
    pub log_format: LogFormat,
    /// HTTP worker threads; default two per core (see `bench/README.md`).
    pub workers: usize,
    /// Who may use `POST /register` (RFC 7591).
    pub registration: Registration,
    /// The scopes a self-registered app may ask for: through
    /// `/register`, or by a person who is not an admin on `/apps/new`.
    pub registration_scopes: Vec<String>,
    /// Whether people may sign up themselves at `/signup`.
    pub signup_open: bool,
    /// Seconds a rotated-in key is published before it signs.
    pub key_rotation_delay: i64,
    /// Peers whose forwarding header names the client's address.
    pub trusted_proxies: Vec<crate::net::Cidr>,
    /// The one header those peers write the client's address into.
    pub trusted_proxy_header: crate::net::ProxyHeader,
    /// Seconds a request's body may take to arrive, from its head.
    pub request_body_timeout: i64,
    /// What the consent page says each scope allows, from the
    /// `[scope_descriptions]` table of `gatehouse.toml`.
    pub scope_descriptions: BTreeMap<String, String>,
    /// The name the pages call this server by (`GATEHOUSE_SITE_NAME`).
    pub site_name: String,
    /// The operator's logo, favicon, accent colour and footer.
    pub look: look::Look,
    /// Where mail goes (`GATEHOUSE_SMTP_URL`, lettre's URL form); `None`:
    /// no mail is sent, and the pages that need it say so.
    pub smtp_url: Option<String>,
    /// The From address of the mail gatehouse sends.
    pub mail_from: String,
    /// Seconds a password-reset link works.
    pub password_reset_ttl: i64,
    /// How long an audit event is kept (seconds; set in days).
    pub audit_retention: i64,
    /// How old a sign-in may be for the admin console (seconds): older,
    /// and the admin signs in again first (`GATEHOUSE_ADMIN_REAUTH`).
    pub admin_reauth: i64,
    /// Who must sign in with a second factor (`GATEHOUSE_MFA`).
    pub mfa: MfaPolicy,
    /// Client ID Metadata Documents (`GATEHOUSE_CLIENT_ID_DOCUMENTS`).
    pub client_documents: ClientDocuments,
    /// The hosts `ClientDocuments::Allowlist` admits
    /// (`oauth::client_document::host_allowed`).
    pub client_document_hosts: Vec<String>,
    /// Development: documents may be fetched from loopback addresses and
    /// over http from localhost. Only with an issuer on loopback.
    pub client_documents_loopback: bool,
    /// Certificates (PEM) trusted for fetching documents besides the
    /// system's; not a setting: for tests and embedders.
    pub client_documents_roots: Vec<String>,
}

/// `GATEHOUSE_CLIENT_ID_DOCUMENTS`: whether a `client_id` that is an https
/// URL is fetched as the client's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientDocuments {
    Off,
    /// Only from the hosts of `client_id_document_hosts`.
    Allowlist,
    Open,
}

/// `GATEHOUSE_MFA`: who must have, and sign in with, a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaPolicy {
    /// Whoever set one up signs in with it; nobody must.
    Optional,
    /// Admins must.
    Admins,
    /// Everyone must.
    Required,
}

impl MfaPolicy {
    pub fn name(self) -> &'static str {
        match self {
            MfaPolicy::Optional => "optional",
            MfaPolicy::Admins => "admins",
            MfaPolicy::Required => "required",
        }
    }

    /// Whether this person must sign in with a second factor (and so set
    /// one up, and keep at least one).
    pub fn requires(self, is_admin: bool) -> bool {
        match self {
            MfaPolicy::Optional => false,
            MfaPolicy::Admins => is_admin,
            MfaPolicy::Required => true,
        }
    }
}

/// `GATEHOUSE_REGISTRATION`: who may register clients at `POST /register`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// With an initial access token made by `gatehouse registration-token create`.
    Token,
    /// Anyone.
    Open,
    /// No endpoint, not advertised.
    Off,
}

impl Registration {
    pub fn name(self) -> &'static str {
        match self {
            Registration::Token => "token",
            Registration::Open => "open",
            Registration::Off => "off",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting}: {problem}")]
pub struct ConfigError {
    pub setting: String,
    pub problem: String,
}

fn err(setting: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        setting: setting.to_string(),
        problem: problem.into(),
    }
}

/// Where the raw values come from, before parsing.
pub struct Sources<'a> {
    /// Values given as flags, by file key.
    pub flags: BTreeMap<&'static str, String>,
    /// `--config PATH`, when given: the file must then exist.
    pub config_path: Option<PathBuf>,
    /// Reads an environment variable (a parameter so tests can supply one).
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Default,
    File,
    Env,
    Flag,
}

impl Origin {
    pub fn name(self) -> &'static str {
        match self {
            Origin::Default => "default",
            Origin::File => "file",
            Origin::Env => "env",
            Origin::Flag => "flag",
        }
    }
}

/// One setting's raw value and where it came from.
pub struct Effective {
    pub setting: &'static Setting,
    pub value: String,
    pub origin: Origin,
}

/// The raw value of every setting, by precedence: flag > environment >
/// file > default. `file` holds the file's plain settings.
pub fn effective(src: &Sources, file: &BTreeMap<String, String>) -> Vec<Effective> {
    SETTINGS
        .iter()
        .map(|s| {
            let (value, origin) = if let Some(v) = src.flags.get(s.key) {
                (v.clone(), Origin::Flag)
            } else if let Some(v) = (src.env)(s.env) {
                (v, Origin::Env)
            } else if let Some(v) = file.get(s.key) {
                (v.clone(), Origin::File)
            } else {
                (s.default.to_string(), Origin::Default)
            };
            Effective {
                setting: s,
                value,
                origin,
            }
        })
        .collect()
}

/// The value as it may be shown: a URL's password and a secret's value
/// replaced by `***`.
pub fn redacted(key: &str, value: &str) -> String {
    // A lifetime is no secret, whatever it is the lifetime of
    // (`password_reset_ttl`).
    if (key.contains("secret") || key.contains("password")) && !key.ends_with("_ttl") {
        if value.is_empty() {
            String::new()
        } else {
            "***".to_string()
        }
    } else if key.ends_with("_url") {
        crate::store::redact_url(value)
    } else {
        value.to_string()
    }
}

impl Config {
    pub fn load(src: &Sources) -> Result<Config, ConfigError> {
        let (file, scope_descriptions) = read_file(src.config_path.as_deref())?;
        Config::from_values(src, &file, scope_descriptions)
    }

    /// Parses and checks the values of `effective(src, file)`.
    pub fn from_values(
        src: &Sources,
        file: &BTreeMap<String, String>,
        scope_descriptions: BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let values = effective(src, file);
        let raw = |key: &str| -> (String, String) {
            match values.iter().find(|e| e.setting.key == key) {
                Some(e) => (format!("{} ({})", e.setting.env, key), e.value.clone()),
                // Every key asked for below is in the table.
                None => (key.to_string(), String::new()),
            }
        };

        let (name, database_url) = raw("database_url");
        crate::store::DbKind::from_url(&database_url).map_err(|p| err(&name, p))?;

        let (name, bind) = raw("bind");
        check_bind(&bind).map_err(|p| err(&name, p))?;

        let (name, issuer) = raw("issuer");
        let issuer = if issuer.is_empty() {
            None
        } else {
            check_issuer(&issuer).map_err(|p| err(&name, p))?;
            Some(issuer)
        };

        let (name, site_name) = raw("site_name");
        let site_name = site_name.trim().to_string();
        if site_name.is_empty()
            || site_name.chars().count() > 100
            || site_name.chars().any(char::is_control)
        {
            return Err(err(&name, "must be 1 to 100 printable characters"));
        }

        let (name, keys_dir) = raw("keys_dir");
        if keys_dir.is_empty() {
            return Err(err(&name, "must not be empty"));
        }

        let (name, new_keys) = raw("new_keys");
        let new_keys = parse_bool(&new_keys)
            .ok_or_else(|| err(&name, format!("'{new_keys}' must be true or false")))?;

        let (name, audience) = raw("audience");
        let audience = if audience.is_empty() {
            None
        } else if audience.contains(char::is_whitespace) {
            return Err(err(&name, "must be one value without spaces"));
        } else {
            Some(audience)
        };

        let (name, resources) = raw("resources");
        let resources: Vec<String> = resources.split_whitespace().map(str::to_string).collect();
        for r in &resources {
            crate::oauth::resource::check_allow_entry(r)
                .map_err(|why| err(&name, format!("'{r}': {why}")))?;
        }

        let seconds = |key: &str, min: i64| -> Result<i64, ConfigError> {
            let (name, v) = raw(key);
            let n: i64 = v
                .trim()
                .parse()
                .map_err(|_| err(&name, format!("'{v}' is not a whole number of seconds")))?;
            if n < min {
                return Err(err(
                    &name,
                    format!("must be at least {min} seconds, got {n}"),
                ));
            }
            if n > 10 * 365 * 86_400 {
                return Err(err(&name, format!("{n} seconds is more than ten years")));
            }
            Ok(n)
        };

        let (name, log) = raw("log");
        tracing_subscriber::EnvFilter::try_new(&log)
            .map_err(|e| err(&name, format!("'{log}' is not a log level or filter: {e}")))?;

        let (name, fmt) = raw("log_format");
        let log_format = match fmt.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => return Err(err(&name, format!("'{other}' must be text or json"))),
        };

        let (name, workers) = raw("workers");
        let workers = if workers.is_empty() {
            2 * std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            match workers.trim().parse::<usize>() {
                Ok(n) if (1..=1024).contains(&n) => n,
                _ => {
                    return Err(err(
                        &name,
                        format!("'{workers}' must be a number from 1 to 1024"),
                    ))
                }
            }
        };

        let (name, registration) = raw("registration");
        let registration = match registration.as_str() {
            "token" => Registration::Token,
            "open" => Registration::Open,
            "off" => Registration::Off,
            other => return Err(err(&name, format!("'{other}' must be token, open or off"))),
        };

        let (name, scopes) = raw("registration_scopes");
        let registration_scopes =
            crate::oauth::scope::parse_scope(&scopes).map_err(|e| err(&name, e.description()))?;

        let (name, signup) = raw("signup");
        let signup_open = match signup.as_str() {
            "off" => false,
            "open" => true,
            other => return Err(err(&name, format!("'{other}' must be off or open"))),
        };

        let (name, mfa) = raw("mfa");
        let mfa = match mfa.as_str() {
            "optional" => MfaPolicy::Optional,
            "admins" => MfaPolicy::Admins,
            "required" => MfaPolicy::Required,
            other => {
                return Err(err(
                    &name,
                    format!("'{other}' must be optional, admins or required"),
                ))
            }
        };

        let (name, documents) = raw("client_id_documents");
        let client_documents = match documents.as_str() {
            "off" => ClientDocuments::Off,
            "allowlist" => ClientDocuments::Allowlist,
            "open" => ClientDocuments::Open,
            other => {
                return Err(err(
                    &name,
                    format!("'{other}' must be off, allowlist or open"),
                ))
            }
        };
        let (hosts_name, hosts) = raw("client_id_document_hosts");
        let client_document_hosts: Vec<String> = hosts
            .split_whitespace()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        if let Some(bad) = client_document_hosts.iter().find(|h| {
            let bare = h.strip_prefix("*.").unwrap_or(h);
            bare.is_empty()
                || !bare
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        }) {
            return Err(err(
                &hosts_name,
                format!("'{bad}' is not a host name (app.example.com or *.example.com)"),
            ));
        }
        if client_documents == ClientDocuments::Allowlist && client_document_hosts.is_empty() {
            return Err(err(
                &hosts_name,
                "client_id_documents is allowlist but no host is listed",
            ));
        }
        let (name, loopback) = raw("client_id_documents_loopback");
        let client_documents_loopback = parse_bool(&loopback)
            .ok_or_else(|| err(&name, format!("'{loopback}' must be true or false")))?;
        if client_documents_loopback {
            let issuer_host = match &issuer {
                Some(i) => i
                    .split("://")
                    .nth(1)
                    .and_then(|r| r.split('/').next())
                    .map(|a| a.rsplit_once(':').map_or(a, |(h, _)| h).to_string())
                    .unwrap_or_default(),
                None => bind
                    .rsplit_once(':')
                    .map_or(bind.as_str(), |(h, _)| h)
                    .to_string(),
            };
            let on_loopback = issuer_host == "localhost"
                || issuer_host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !on_loopback {
                return Err(err(
                    &name,
                    "is for development only: the issuer must be on loopback (localhost, 127.0.0.1 or [::1])",
                ));
            }
        }

        let (name, proxies) = raw("trusted_proxies");
        let trusted_proxies = crate::net::parse_cidrs(&proxies).map_err(|p| err(&name, p))?;
        let (name, header) = raw("trusted_proxy_header");
        let trusted_proxy_header =
            crate::net::ProxyHeader::parse(&header).map_err(|p| err(&name, p))?;

        let (name, smtp_url) = raw("smtp_url");
        let smtp_url = Some(smtp_url.trim().to_string()).filter(|u| !u.is_empty());
        if let Some(url) = &smtp_url {
            check_smtp_url(url).map_err(|p| err(&name, p))?;
        }
        let (name, mail_from) = raw("mail_from");
        let mail_from = match mail_from.trim() {
            "" => {
                let host = issuer
                    .as_deref()
                    .unwrap_or("http://localhost")
                    .split("://")
                    .nth(1)
                    .and_then(|rest| rest.split(['/', ':']).next())
                    .unwrap_or("localhost");
                let from = format!("gatehouse@{host}");
                // An issuer whose host makes no address (an IPv6 literal):
                // a placeholder rather than an error about a setting the
                // operator never set.
                if from.parse::<lettre::message::Mailbox>().is_ok() {
                    from
                } else {
                    "gatehouse@localhost".to_string()
                }
            }
            given => {
                given.parse::<lettre::message::Mailbox>().map_err(|e| {
                    err(
                        &name,
                        format!(
                            "'{given}' is not a mail address ({e}); write user@example.com or \"Name\" <user@example.com>"
                        ),
                    )
                })?;
                given.to_string()
            }
        };

        let cfg = Config {
            database_url,
            bind,
            issuer,
            keys_dir: PathBuf::from(keys_dir),
            new_keys,
            audience,
            resources,
            access_token_ttl: seconds("access_token_ttl", 1)?,
            id_token_ttl: seconds("id_token_ttl", 1)?,
            auth_code_ttl: seconds("auth_code_ttl", 1)?,
            refresh_idle_ttl: seconds("refresh_idle_ttl", 1)?,
            refresh_max_ttl: seconds("refresh_max_ttl", 1)?,
            refresh_reuse_grace: seconds("refresh_reuse_grace", 0)?,
            device_code_ttl: seconds("device_code_ttl", 1)?,
            device_interval: seconds("device_interval", 1)?,
            log,
            log_format,
            registration,
            registration_scopes,
            signup_open,
            trusted_proxies,
            trusted_proxy_header,
            request_body_timeout: seconds("request_body_timeout", 1)?,
            key_rotation_delay: seconds("key_rotation_delay", 0)?,
            scope_descriptions,
            workers,
            site_name,
            look: look::load(&raw)?,
            smtp_url,
            mail_from,
            password_reset_ttl: seconds("password_reset_ttl", 1)?,
            admin_reauth: seconds("admin_reauth", 1)?,
            audit_retention: {
                let (name, v) = raw("audit_retention");
                match v.trim().parse::<i64>() {
                    Ok(d) if (1..=3650).contains(&d) => d * 86_400,
                    _ => {
                        return Err(err(
                            &name,
                            format!("'{v}' is not a whole number of days from 1 to 3650"),
                        ))
                    }
                }
            },
            mfa,
            client_documents,
            client_document_hosts,
            client_documents_loopback,
            client_documents_roots: Vec::new(),
        };
        Ok(cfg)
    }

    /// Defaults for everything but the database, keys and bind; used by tests
    /// and by embedders.
    #[allow(clippy::expect_used)] // fixed values, known to be valid
    pub fn for_tests(database_url: &str, keys_dir: &Path) -> Config {
        let env = |_: &str| None;
        let mut flags = BTreeMap::new();
        flags.insert("database_url", database_url.to_string());
        flags.insert("bind", "127.0.0.1:0".to_string());
        flags.insert("keys_dir", keys_dir.display().to_string());
        flags.insert("workers", "2".to_string());
        Config::load(&Sources {
            flags,
            config_path: None,
            env: &env,
        })
        .expect("test config is valid")
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

fn check_bind(bind: &str) -> Result<(), String> {
    let bad = || format!("'{bind}' is not a host:port address (e.g. 127.0.0.1:8080)");
    let (host, port) = bind.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    match bind.to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(_)) => Ok(()),
        _ => Err(format!("'{bind}': host '{host}' does not resolve")),
    }
}

/// `GATEHOUSE_SMTP_URL` as lettre reads it (`smtp://` or `smtps://`, a
/// host, optional user and password, `?tls=required|opportunistic`). The
/// URL is not echoed: it may hold a password.
fn check_smtp_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| {
        format!("not a URL ({e}); write smtp://HOST:25, smtp://USER:PASS@HOST:587?tls=required or smtps://HOST:465")
    })?;
    if !matches!(parsed.scheme(), "smtp" | "smtps") {
        return Err(format!(
            "the scheme '{}' must be smtp or smtps",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("names no host; write smtp://HOST:25".into());
    }
    lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
        .map(|_| ())
        .map_err(|e| format!("lettre refuses it: {e}"))
}

fn check_issuer(issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer).map_err(|e| format!("'{issuer}' is not a URL: {e}"))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(format!("'{issuer}' must be an http or https URL"));
    }
    // RFC 8414 §2: no query or fragment.
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("'{issuer}' must not have a query or fragment"));
    }
    if issuer.ends_with('/') {
        return Err(format!("'{issuer}' must not end with a slash"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::file::line_and_column;
    use super::names::levenshtein;
    use super::*;

    fn load(flags: &[(&'static str, &str)], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let lookup = move |k: &str| env.iter().find(|(a, _)| a == k).map(|(_, b)| b.clone());
        Config::load(&Sources {
            flags: flags.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            config_path: Some(PathBuf::from("/dev/null")),
            env: &lookup,
        })
    }

    #[test]
    fn client_id_documents_settings() {
        let c = load(&[], &[]).unwrap();
        assert_eq!(c.client_documents, ClientDocuments::Off);
        assert!(!c.client_documents_loopback);
        let e = load(&[], &[("GATEHOUSE_CLIENT_ID_DOCUMENTS", "allowlist")]).unwrap_err();
        assert!(e.setting.starts_with("GATEHOUSE_CLIENT_ID_DOCUMENT_HOSTS "));
        let c = load(
            &[],
            &[
                ("GATEHOUSE_CLIENT_ID_DOCUMENTS", "allowlist"),
                (
                    "GATEHOUSE_CLIENT_ID_DOCUMENT_HOSTS",
                    "App.example.com *.tools.dev",
                ),
            ],
        )
        .unwrap();
        assert_eq!(c.client_document_hosts, ["app.example.com", "*.tools.dev"]);
        assert!(load(&[], &[("GATEHOUSE_CLIENT_ID_DOCUMENTS", "yes")]).is_err());
        assert!(load(&[], &[("GATEHOUSE_CLIENT_ID_DOCUMENT_HOSTS", "a/b")]).is_err());
        // The development setting: only with an issuer on loopback.
        let dev = ("GATEHOUSE_CLIENT_ID_DOCUMENTS_LOOPBACK", "true");
        assert!(load(&[], &[dev]).unwrap().client_documents_loopback);
        assert!(load(&[], &[dev, ("GATEHOUSE_ISSUER", "http://localhost:8080")]).is_ok());
        let e = load(&[], &[dev, ("GATEHOUSE_ISSUER", "https://id.example.com")]).unwrap_err();
        assert!(e
            .setting
            .starts_with("GATEHOUSE_CLIENT_ID_DOCUMENTS_LOOPBACK "));
    }

    #[test]
    fn defaults_match_the_contract() {
        let c = load(&[], &[]).unwrap();
        assert_eq!(c.database_url, "sqlite://gatehouse.db");
        assert_eq!(c.bind, "127.0.0.1:8080");
        assert_eq!(c.access_token_ttl, 600);
        assert_eq!(c.id_token_ttl, 600);
        assert_eq!(c.auth_code_ttl, 60);
        assert_eq!(c.refresh_idle_ttl, 1_209_600);
        assert_eq!(c.refresh_max_ttl, 7_776_000);
        assert_eq!(c.refresh_reuse_grace, 0);
        assert_eq!(c.device_code_ttl, 600);
        assert_eq!(c.device_interval, 5);
        assert_eq!(c.log_format, LogFormat::Text);
    }

    #[test]
    fn mail_settings_are_checked_and_name_the_setting() {
        let c = load(&[], &[]).unwrap();
        assert_eq!(c.smtp_url, None);
        assert_eq!(c.mail_from, "gatehouse@localhost");
        for good in [
            "smtp://127.0.0.1:1025",
            "smtp://user:pass@mail.example.com:587?tls=required",
            "smtps://mail.example.com:465",
        ] {
            let c = load(&[], &[("GATEHOUSE_SMTP_URL", good)]).unwrap();
            assert_eq!(c.smtp_url.as_deref(), Some(good));
        }
        for bad in ["mail.example.com", "http://mail.example.com", "smtp://"] {
            let e = load(&[], &[("GATEHOUSE_SMTP_URL", bad)]).unwrap_err();
            assert!(e.to_string().contains("GATEHOUSE_SMTP_URL"), "{bad}: {e}");
        }
        let e = load(
            &[],
            &[("GATEHOUSE_SMTP_URL", "smtp://u:hunter2@h:25?tls=maybe")],
        );
        if let Err(e) = e {
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        let c = load(
            &[],
            &[("GATEHOUSE_MAIL_FROM", "\"Acme ID\" <id@acme.example>")],
        )
        .unwrap();
        assert_eq!(c.mail_from, "\"Acme ID\" <id@acme.example>");
        let e = load(&[], &[("GATEHOUSE_MAIL_FROM", "not an address")]).unwrap_err();
        assert!(e.to_string().contains("GATEHOUSE_MAIL_FROM"), "{e}");
        let c = load(&[], &[("GATEHOUSE_ISSUER", "https://id.acme.example")]).unwrap();
        assert_eq!(c.mail_from, "gatehouse@id.acme.example");
        let c = load(&[], &[("GATEHOUSE_ISSUER", "http://[::1]:8080")]).unwrap();
        assert_eq!(c.mail_from, "gatehouse@localhost");
    }

    #[test]
    fn flag_beats_environment() {
        let c = load(
            &[("access_token_ttl", "30")],
            &[
                ("GATEHOUSE_ACCESS_TOKEN_TTL", "40"),
                ("GATEHOUSE_AUTH_CODE_TTL", "5"),
            ],
        )
        .unwrap();
        assert_eq!(c.access_token_ttl, 30);
        assert_eq!(c.auth_code_ttl, 5);
    }

    #[test]
    fn bad_values_name_the_setting() {
        let e = load(&[], &[("GATEHOUSE_BIND", "nonsense")]).unwrap_err();
        assert!(e.to_string().contains("GATEHOUSE_BIND"), "{e}");
        let e = load(&[], &[("GATEHOUSE_ACCESS_TOKEN_TTL", "0")]).unwrap_err();
        assert!(e.to_string().contains("GATEHOUSE_ACCESS_TOKEN_TTL"), "{e}");
        let e = load(&[], &[("GATEHOUSE_ISSUER", "https://x/")]).unwrap_err();
        assert!(e.to_string().contains("GATEHOUSE_ISSUER"), "{e}");
        let e = load(&[], &[("GATEHOUSE_DATABASE_URL", "mysql://x")]).unwrap_err();
        assert!(e.to_string().contains("GATEHOUSE_DATABASE_URL"), "{e}");
        let e = load(&[], &[("GATEHOUSE_WORKERS", "0")]).unwrap_err();
        assert!(e.to_string().contains("GATEHOUSE_WORKERS"), "{e}");
        let e = load(&[], &[("GATEHOUSE_LOG_FORMAT", "xml")]).unwrap_err();
        assert!(e.to_string().contains("GATEHOUSE_LOG_FORMAT"), "{e}");
    }

    #[test]
    fn misspelled_variables_get_the_nearest_setting_and_test_variables_none() {
        assert_eq!(levenshtein("SINGUP", "SIGNUP"), 2);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        let w = unknown_env_vars(
            [
                "GATEHOUSE_SINGUP",
                "GATEHOUSE_BIND",
                "GATEHOUSE_TEST_POSTGRES_URL",
                "GATEHOUSE_TEST_RECIPES_DIR",
                "GATEHOUSE_CLIENT_ID",
                "PATH",
                "GATEHOUSE_ZZZZZZZZZZ",
            ]
            .map(String::from),
        );
        assert_eq!(
            w,
            vec![
                "GATEHOUSE_SINGUP is not a setting; did you mean GATEHOUSE_SIGNUP?".to_string(),
                "GATEHOUSE_ZZZZZZZZZZ is not a setting (see gatehouse serve --help)".to_string(),
            ]
        );
        assert_eq!(line_and_column("a = 1\nbé = x", 11), (2, 5));
    }

    #[test]
    fn new_keys_is_a_switch_and_redaction_hides_passwords() {
        assert!(!load(&[], &[]).unwrap().new_keys);
        assert!(load(&[("new_keys", "true")], &[]).unwrap().new_keys);
        assert!(load(&[], &[("GATEHOUSE_NEW_KEYS", "maybe")]).is_err());
        assert_eq!(
            redacted("database_url", "postgres://u:pw@h/d"),
            "postgres://u:***@h/d"
        );
        assert_eq!(redacted("bind", "127.0.0.1:1"), "127.0.0.1:1");
        assert_eq!(redacted("password_reset_ttl", "1800"), "1800");
        assert_eq!(
            redacted("smtp_url", "smtp://u:hunter2@h:587?tls=required"),
            "smtp://u:***@h:587?tls=required"
        );
    }
}
