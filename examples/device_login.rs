//! A sample device client for gatehouse (RFC 8628): what a CLI, a TV app or
//! a game console does to sign a person in without a browser of its own.
//!
//! ```sh
//! cargo run --example device_login -- \
//!     --issuer http://127.0.0.1:8080 --client-id ID [--client-secret S] [--scope "read"]
//! ```
//!
//! It asks for a device code (§3.1), shows the verification URI, the user
//! code and a QR code of `verification_uri_complete` (§3.3), then polls the
//! token endpoint (§3.4), waiting `interval` seconds between polls and 5
//! seconds longer after each `slow_down` (§3.5), until it has tokens or a
//! final error. Progress goes to stderr, the token response (JSON) to
//! stdout, so `device_login … > tokens.json` works. On failure it prints one
//! line and exits 1.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "device_login",
    about = "Sign in to gatehouse from a device without a browser (RFC 8628)"
)]
pub struct Options {
    /// The gatehouse issuer URL, e.g. http://127.0.0.1:8080
    #[arg(long, env = "GATEHOUSE_ISSUER")]
    pub issuer: String,
    /// This device's client_id
    #[arg(long, env = "GATEHOUSE_CLIENT_ID")]
    pub client_id: String,
    /// The client secret, for a confidential client (sent with HTTP Basic)
    #[arg(long, env = "GATEHOUSE_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// The scopes to ask for, space-separated (default: all the client has)
    #[arg(long, env = "GATEHOUSE_SCOPE")]
    pub scope: Option<String>,
    /// Do not print a QR code
    #[arg(long)]
    pub no_qr: bool,
}

/// RFC 8628 §3.2 device authorization response.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    /// §3.2: "If no value is provided, clients MUST use 5 as the default."
    #[serde(default = "default_interval")]
    pub interval: u64,
}

fn default_interval() -> u64 {
    5
}

/// RFC 6749 §5.1 token response.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// RFC 6749 §5.2 error response.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: String,
    error_description: Option<String>,
}

/// Why the sign-in did not succeed: one line for the person.
#[derive(Debug)]
pub struct Failure(pub String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A device client bound to one gatehouse and one client registration.
pub struct DeviceLogin {
    http: reqwest::Client,
    opts: Options,
    device_authorization_endpoint: String,
    token_endpoint: String,
}

/// The longest wait between polls after network errors.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

impl DeviceLogin {
    /// Reads the endpoints from the issuer's RFC 8414 metadata, falling back
    /// to gatehouse's paths when the document can't be had.
    pub async fn discover(opts: Options) -> Result<DeviceLogin, Failure> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent("gatehouse-device-login/0.1")
            .build()
            .map_err(|e| Failure(format!("cannot start an HTTP client: {e}")))?;
        let issuer = opts.issuer.trim_end_matches('/').to_string();
        let meta_url = format!("{issuer}/.well-known/oauth-authorization-server");
        let meta: Option<serde_json::Value> = match http.get(&meta_url).send().await {
            Ok(r) if r.status().is_success() => r.json().await.ok(),
            Ok(_) => None,
            Err(e) => {
                return Err(Failure(format!(
                    "cannot reach {issuer}: {}",
                    root_cause(&e)
                )))
            }
        };
        let endpoint = |key: &str, path: &str| {
            meta.as_ref()
                .and_then(|m| m[key].as_str())
                .map_or_else(|| format!("{issuer}{path}"), str::to_string)
        };
        Ok(DeviceLogin {
            device_authorization_endpoint: endpoint(
                "device_authorization_endpoint",
                "/device_authorization",
            ),
            token_endpoint: endpoint("token_endpoint", "/token"),
            http,
            opts,
        })
    }

    /// A POST authenticated as the client: HTTP Basic with a secret,
    /// `client_id` in the form without one (a public client).
    fn post(&self, url: &str, mut form: Vec<(&'static str, String)>) -> reqwest::RequestBuilder {
        let req = self.http.post(url);
        match &self.opts.client_secret {
            Some(secret) => req
                .basic_auth(form_encode(&self.opts.client_id), Some(form_encode(secret)))
                .form(&form),
            None => {
                form.push(("client_id", self.opts.client_id.clone()));
                req.form(&form)
            }
        }
    }

    /// RFC 8628 §3.1: asks for a device code and a user code.
    pub async fn start(&self) -> Result<DeviceAuthorization, Failure> {
        let mut form = Vec::new();
        if let Some(scope) = &self.opts.scope {
            form.push(("scope", scope.clone()));
        }
        let resp = self
            .post(&self.device_authorization_endpoint, form)
            .send()
            .await
            .map_err(|e| Failure(format!("cannot reach the server: {}", root_cause(&e))))?;
        if resp.status().is_success() {
            return resp
                .json()
                .await
                .map_err(|e| Failure(format!("unexpected device authorization response: {e}")));
        }
        Err(error_failure(resp, "device authorization").await)
    }

    /// RFC 8628 §3.4–3.5: polls until the person has decided or the code
    /// expires. Progress lines go to `log`.
    pub async fn wait_for_tokens(
        &self,
        auth: &DeviceAuthorization,
        log: &mut dyn Write,
    ) -> Result<Tokens, Failure> {
        let deadline = Instant::now() + Duration::from_secs(auth.expires_in);
        let mut interval = Duration::from_secs(auth.interval.max(1));
        let mut backoff = interval;
        loop {
            // §3.2 interval: "The minimum amount of time in seconds that the
            // client SHOULD wait between polling requests to the token
            // endpoint." The wait starts when the last answer arrived, so the
            // server never sees two polls closer than that.
            tokio::time::sleep(backoff).await;
            if Instant::now() >= deadline {
                return Err(expired());
            }
            let form = vec![
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:device_code".to_string(),
                ),
                ("device_code", auth.device_code.clone()),
            ];
            let resp = match self.post(&self.token_endpoint, form).send().await {
                Ok(r) => r,
                Err(e) => {
                    // §3.5: "On encountering a connection timeout, clients MUST
                    // unilaterally reduce their polling frequency before
                    // retrying"; doubling the wait is the recommended way.
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    let _ = writeln!(
                        log,
                        "  (network trouble: {}; retrying in {} s)",
                        root_cause(&e),
                        backoff.as_secs()
                    );
                    continue;
                }
            };
            if resp.status().is_success() {
                return resp
                    .json()
                    .await
                    .map_err(|e| Failure(format!("unexpected token response: {e}")));
            }
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            let Ok(err) = serde_json::from_str::<ErrorBody>(&text) else {
                if status.is_server_error() {
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
                return Err(Failure(format!(
                    "unexpected answer from the server (HTTP {status})"
                )));
            };
            match err.error.as_str() {
                "authorization_pending" => backoff = interval,
                "slow_down" => {
                    // §3.5: "the interval MUST be increased by 5 seconds for
                    // this and all subsequent requests."
                    interval += Duration::from_secs(5);
                    backoff = interval;
                    let _ = writeln!(
                        log,
                        "  (the server asked to slow down; polling every {} s)",
                        interval.as_secs()
                    );
                }
                "access_denied" => {
                    return Err(Failure(
                        "the request was denied on the verification page".into(),
                    ))
                }
                "expired_token" => return Err(expired()),
                _ => return Err(describe(&err, "token")),
            }
        }
    }
}

fn expired() -> Failure {
    Failure("the code expired before it was approved; run again for a new one".into())
}

fn describe(err: &ErrorBody, what: &str) -> Failure {
    match &err.error_description {
        Some(d) => Failure(format!("{what} request refused: {} ({d})", err.error)),
        None => Failure(format!("{what} request refused: {}", err.error)),
    }
}

async fn error_failure(resp: reqwest::Response, what: &str) -> Failure {
    let status = resp.status();
    match resp.json::<ErrorBody>().await {
        Ok(err) => describe(&err, what),
        Err(_) => Failure(format!("{what} request failed with HTTP {status}")),
    }
}

/// RFC 6749 §2.3.1: id and secret are form-encoded before HTTP Basic.
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The innermost cause of a transport error, which says what went wrong
/// ("Connection refused") rather than which request did.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// A QR code for a terminal: two rows of modules per line, light modules
/// drawn as blocks (as `qrencode -t UTF8` does), so it scans on a dark
/// terminal.
pub fn qr_for_terminal(data: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(data.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

/// What the person reads: where to go, the code, the QR code.
pub fn instructions(auth: &DeviceAuthorization, qr: bool) -> String {
    let mut out = String::new();
    out.push_str("\n  To sign in, open this page on your phone or computer:\n\n");
    out.push_str(&format!("      {}\n\n", auth.verification_uri));
    out.push_str("  and enter the code:\n\n");
    out.push_str(&format!("      {}\n\n", auth.user_code));
    if let Some(complete) = auth.verification_uri_complete.as_deref().filter(|_| qr) {
        if let Some(code) = qr_for_terminal(complete) {
            out.push_str("  Or scan this QR code to open the page with the code filled in:\n\n");
            for line in code.lines() {
                out.push_str(&format!("  {line}\n"));
            }
            out.push('\n');
        }
    }
    let mins = auth.expires_in / 60;
    let expiry = if auth.expires_in % 60 == 0 && mins > 0 {
        format!("{mins} minute{}", if mins == 1 { "" } else { "s" })
    } else {
        format!("{} seconds", auth.expires_in)
    };
    out.push_str(&format!(
        "  Waiting for approval (the code expires in {expiry}; Ctrl-C to cancel)…\n"
    ));
    out
}

/// The whole flow: start, show, wait, print the tokens.
pub async fn run(opts: Options) -> Result<(), Failure> {
    let qr = !opts.no_qr;
    let client = DeviceLogin::discover(opts).await?;
    let auth = client.start().await?;
    let mut err = std::io::stderr();
    let _ = write!(err, "{}", instructions(&auth, qr));
    let tokens = client.wait_for_tokens(&auth, &mut err).await?;
    let mut what = Vec::new();
    if let Some(scope) = tokens.scope.as_deref().filter(|s| !s.is_empty()) {
        what.push(format!("scope \"{scope}\""));
    }
    if tokens.refresh_token.is_some() {
        what.push("with a refresh token".into());
    }
    let what = if what.is_empty() {
        String::new()
    } else {
        format!(" ({})", what.join(", "))
    };
    let _ = writeln!(
        err,
        "\n  Signed in{what}. The token response follows on stdout.\n"
    );
    let json = serde_json::to_string_pretty(&tokens)
        .map_err(|e| Failure(format!("cannot print the tokens: {e}")))?;
    println!("{json}");
    Ok(())
}

/// A clap error as one line (no usage block).
fn one_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let head = text.split("\n\nUsage").next().unwrap_or(&text);
    head.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("error: ")
        .to_string()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    use clap::Parser;
    let opts = match Options::try_parse() {
        Ok(o) => o,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            eprintln!("device_login: {} (see --help)", one_line(&e));
            return ExitCode::from(2);
        }
    };
    match run(opts).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("device_login: {f}");
            ExitCode::FAILURE
        }
    }
}
