//! A real SMTP server for the tests: it listens on 127.0.0.1 (a random
//! port), speaks enough SMTP for lettre (EHLO/HELO, MAIL FROM, RCPT TO,
//! DATA with dot-unstuffing, RSET, NOOP, QUIT; one thread per connection),
//! keeps every mail it accepts, and reads back the subject and the decoded
//! text and HTML parts (7bit, 8bit, quoted-printable or base64).
//!
//! ```ignore
//! let sink = SmtpSink::start();
//! let app = TestApp::spawn_with_sink(backend, &sink).await.unwrap();
//! // … something that mails ann@example.com …
//! let mail = sink.wait_for_mail_to("ann@example.com"); // up to 30 s
//! let link = mail.link_starting_with(&app.url("/password/reset"));
//! ```
//!
//! - `SmtpSink::start()`; `sink.url()` is `smtp://127.0.0.1:PORT`, the
//!   value of `GATEHOUSE_SMTP_URL`.
//! - `sink.wait_for_mail_to(addr)` returns the next mail to `addr` that no
//!   earlier call returned (so a second link mailed to the same address is
//!   the second call's), waiting up to 30 s, then panics listing what
//!   arrived. `sink.mails_to(addr)` and `sink.all()` return what arrived so
//!   far, in order, without waiting.
//! - `sink.stop()` closes the port (connections are refused, as with a mail
//!   server that is down); `sink.restart()` listens on the same port again,
//!   keeping the mails. `SmtpSink::start_on(port)` starts a new sink on a
//!   given port.
//! - A server that sends to a sink: `TestApp::spawn_with_sink(backend,
//!   &sink)`, or the tweak `with_smtp(sink.url())` for `spawn_with`; in
//!   `backend_tests!(with crate::harness::smtp::shared_sink_config; …)` (the
//!   full path: the macro expands in a module of its own)
//!   every server sends to one sink per test process (`shared_sink()`),
//!   and each test tells its mails apart by their unique addresses; with
//!   `own_sink_config` each server gets a sink of its own, which the test
//!   finds with `sink_of(&app)` (to stop and restart it).
//! - The sink accepts every mail but those to `…@refused.invalid`, whose
//!   `RCPT TO` it answers `550` (a permanent refusal); a test of a mail
//!   server that is down stops it.

// Some of what follows is for the account pages' tests (issue 29), which
// mail through the sink; not every build of this binary uses all of it yet.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Backend, TestApp};
use gatehouse::Config;

/// Recipients at this domain are refused for good (`550`), as a mail
/// server refuses an unknown mailbox.
pub const REFUSED_DOMAIN: &str = "@refused.invalid";
/// How long `wait_for_mail_to` waits.
const WAIT: Duration = Duration::from_secs(30);
/// How often a blocked read or accept looks whether the sink was stopped.
const TICK: Duration = Duration::from_millis(50);

/// One mail as the sink received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The `Subject` header, decoded.
    pub subject: String,
    /// The decoded `text/plain` part ("" when there is none).
    pub text: String,
    /// The decoded `text/html` part ("" when there is none).
    pub html: String,
    /// The message as sent (after dot-unstuffing), headers and all.
    pub raw: String,
}

impl ReceivedMail {
    /// The first URL in the text part that starts with `prefix`; panics
    /// when there is none.
    pub fn link_starting_with(&self, prefix: &str) -> String {
        let Some(at) = self.text.find(prefix) else {
            panic!(
                "no link starting with {prefix} in the mail to {:?}:\n{}",
                self.to, self.text
            );
        };
        let rest = &self.text[at..];
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\''))
            .unwrap_or(rest.len());
        rest[..end]
            .trim_end_matches(['.', ',', ';', ':', ')', ']', '!', '?'])
            .to_string()
    }

    fn is_to(&self, addr: &str) -> bool {
        self.to.iter().any(|t| t.eq_ignore_ascii_case(addr))
    }
}

#[derive(Default)]
struct Mailbox {
    mails: Vec<ReceivedMail>,
    /// Indexes `wait_for_mail_to` has returned.
    taken: Vec<bool>,
}

#[derive(Default)]
struct Shared {
    mailbox: Mutex<Mailbox>,
    arrived: Condvar,
}

struct Running {
    stop: Arc<AtomicBool>,
    acceptor: JoinHandle<()>,
}

pub struct SmtpSink {
    port: u16,
    shared: Arc<Shared>,
    running: Mutex<Option<Running>>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

impl SmtpSink {
    /// A sink on 127.0.0.1 at a random free port.
    pub fn start() -> SmtpSink {
        Self::start_on(0)
    }

    /// A sink on 127.0.0.1 at `port` (0: a random one).
    pub fn start_on(port: u16) -> SmtpSink {
        let listener = bind(port);
        let port = listener.local_addr().unwrap().port();
        let sink = SmtpSink {
            port,
            shared: Arc::default(),
            running: Mutex::new(None),
        };
        sink.serve(listener);
        sink
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp://127.0.0.1:PORT`: the value of `GATEHOUSE_SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Stops listening and closes open connections: a mail server that is
    /// down. Mails received so far stay readable.
    pub fn stop(&self) {
        let running = self.running.lock().unwrap().take();
        if let Some(r) = running {
            r.stop.store(true, Ordering::SeqCst);
            let _ = r.acceptor.join();
        }
    }

    /// Listens on the same port again after `stop`, keeping the mails.
    pub fn restart(&self) {
        if self.running.lock().unwrap().is_some() {
            return;
        }
        self.serve(bind(self.port));
    }

    fn serve(&self, listener: TcpListener) {
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let shared = self.shared.clone();
        let flag = stop.clone();
        let acceptor = std::thread::Builder::new()
            .name(format!("smtp-sink-{}", self.port))
            .spawn(move || accept_loop(listener, shared, flag))
            .unwrap();
        *self.running.lock().unwrap() = Some(Running { stop, acceptor });
    }

    /// Every mail received so far, in order of arrival.
    pub fn all(&self) -> Vec<ReceivedMail> {
        self.shared.mailbox.lock().unwrap().mails.clone()
    }

    /// The mails received so far for `addr` (an envelope recipient,
    /// compared without case), in order of arrival.
    pub fn mails_to(&self, addr: &str) -> Vec<ReceivedMail> {
        self.all().into_iter().filter(|m| m.is_to(addr)).collect()
    }

    /// The next mail to `addr` that no earlier call returned, waiting up to
    /// 30 s for it; panics with what did arrive.
    pub fn wait_for_mail_to(&self, addr: &str) -> ReceivedMail {
        let deadline = Instant::now() + WAIT;
        let mut mailbox = self.shared.mailbox.lock().unwrap();
        loop {
            let found = mailbox
                .mails
                .iter()
                .enumerate()
                .position(|(i, m)| !mailbox.taken[i] && m.is_to(addr));
            if let Some(i) = found {
                mailbox.taken[i] = true;
                return mailbox.mails[i].clone();
            }
            let now = Instant::now();
            if now >= deadline {
                let arrived: Vec<String> = mailbox
                    .mails
                    .iter()
                    .map(|m| format!("to {:?}: {:?}", m.to, m.subject))
                    .collect();
                panic!(
                    "no (further) mail to {addr} within {WAIT:?}; the sink at port {} received {arrived:#?}",
                    self.port
                );
            }
            mailbox = self
                .shared
                .arrived
                .wait_timeout(mailbox, deadline - now)
                .unwrap()
                .0;
        }
    }
}

/// The tweak for `TestApp::spawn_with`: the server sends to `smtp_url`.
pub fn with_smtp(smtp_url: String) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| c.smtp_url = Some(smtp_url)
}

/// The sinks the tweaks below started, by URL, for `sink_of`.
fn sinks() -> &'static Mutex<HashMap<String, Arc<SmtpSink>>> {
    static SINKS: OnceLock<Mutex<HashMap<String, Arc<SmtpSink>>>> = OnceLock::new();
    SINKS.get_or_init(Default::default)
}

/// One sink for the whole test process (never stopped): for tests that
/// only need mail to arrive, each under addresses of its own.
pub fn shared_sink() -> Arc<SmtpSink> {
    static SINK: OnceLock<Arc<SmtpSink>> = OnceLock::new();
    SINK.get_or_init(|| {
        let sink = Arc::new(SmtpSink::start());
        sinks().lock().unwrap().insert(sink.url(), sink.clone());
        sink
    })
    .clone()
}

/// A `backend_tests!` tweak: the server sends to `shared_sink()`.
pub fn shared_sink_config(c: &mut Config) {
    c.smtp_url = Some(shared_sink().url());
}

/// A `backend_tests!` tweak: the server sends to a sink of its own (which
/// the test may stop and restart), found with `sink_of(&app)`.
pub fn own_sink_config(c: &mut Config) {
    let sink = Arc::new(SmtpSink::start());
    c.smtp_url = Some(sink.url());
    sinks().lock().unwrap().insert(sink.url(), sink);
}

/// The sink `app` sends to, started by `shared_sink_config` or
/// `own_sink_config`.
pub fn sink_of(app: &TestApp) -> Arc<SmtpSink> {
    let url = app
        .state
        .config
        .smtp_url
        .clone()
        .expect("the server was started with an SMTP sink");
    sinks()
        .lock()
        .unwrap()
        .get(&url)
        .cloned()
        .unwrap_or_else(|| panic!("no sink of the harness at {url}"))
}

impl TestApp {
    /// Starts a server whose mail goes to `sink`; `None` as `spawn_with`
    /// (PostgreSQL not configured).
    pub async fn spawn_with_sink(backend: Backend, sink: &SmtpSink) -> Option<TestApp> {
        TestApp::spawn_with(backend, with_smtp(sink.url())).await
    }
}

fn bind(port: u16) -> TcpListener {
    // std sets SO_REUSEADDR on Unix, so a restart on the same port does not
    // wait for the old connections' TIME_WAIT.
    TcpListener::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("SMTP sink cannot listen on 127.0.0.1:{port}: {e}"))
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, stop: Arc<AtomicBool>) {
    let mut sessions = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let shared = shared.clone();
                let stop = stop.clone();
                sessions.push(std::thread::spawn(move || {
                    // A broken connection ends the session; the client
                    // (lettre) sees it and retries.
                    let _ = Session::new(stream, stop).run(&shared);
                }));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(TICK),
            Err(_) => std::thread::sleep(TICK),
        }
    }
    drop(listener);
    for s in sessions {
        let _ = s.join();
    }
}

struct Session {
    stream: TcpStream,
    stop: Arc<AtomicBool>,
    buf: Vec<u8>,
}

impl Session {
    fn new(stream: TcpStream, stop: Arc<AtomicBool>) -> Session {
        stream.set_nonblocking(false).unwrap();
        stream.set_read_timeout(Some(TICK)).unwrap();
        Session {
            stream,
            stop,
            buf: Vec::new(),
        }
    }

    fn reply(&mut self, line: &str) -> std::io::Result<()> {
        self.stream.write_all(line.as_bytes())?;
        self.stream.write_all(b"\r\n")
    }

    /// The next line without its CRLF; `None` when the peer closed or the
    /// sink was stopped.
    fn line(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Some(String::from_utf8_lossy(&line).into_owned());
            }
            if self.stop.load(Ordering::SeqCst) {
                return None;
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return None,
            }
        }
    }

    fn run(mut self, shared: &Shared) -> std::io::Result<()> {
        self.reply("220 smtp-sink ESMTP ready")?;
        let mut from: Option<String> = None;
        let mut to: Vec<String> = Vec::new();
        while let Some(line) = self.line() {
            let upper = line.to_ascii_uppercase();
            let verb = upper.split_whitespace().next().unwrap_or("");
            match verb {
                "EHLO" => {
                    self.reply("250-smtp-sink")?;
                    self.reply("250-8BITMIME")?;
                    self.reply("250 SMTPUTF8")?;
                }
                "HELO" => self.reply("250 smtp-sink")?,
                "MAIL" if upper.starts_with("MAIL FROM:") => {
                    from = Some(address(&line["MAIL FROM:".len()..]));
                    to.clear();
                    self.reply("250 OK")?;
                }
                "RCPT" if upper.starts_with("RCPT TO:") => {
                    if from.is_none() {
                        self.reply("503 MAIL first")?;
                    } else {
                        let rcpt = address(&line["RCPT TO:".len()..]);
                        if rcpt.to_ascii_lowercase().ends_with(REFUSED_DOMAIN) {
                            self.reply("550 5.1.1 no such mailbox here")?;
                        } else {
                            to.push(rcpt);
                            self.reply("250 OK")?;
                        }
                    }
                }
                "DATA" => {
                    if from.is_none() || to.is_empty() {
                        self.reply("503 MAIL and RCPT first")?;
                        continue;
                    }
                    self.reply("354 end with <CRLF>.<CRLF>")?;
                    let mut raw = String::new();
                    loop {
                        let Some(l) = self.line() else {
                            // Cut off mid-message: nothing was accepted.
                            return Ok(());
                        };
                        if l == "." {
                            break;
                        }
                        raw.push_str(l.strip_prefix('.').unwrap_or(&l));
                        raw.push_str("\r\n");
                    }
                    let mail = parse(
                        from.take().unwrap_or_default(),
                        std::mem::take(&mut to),
                        raw,
                    );
                    {
                        let mut mailbox = shared.mailbox.lock().unwrap();
                        mailbox.mails.push(mail);
                        mailbox.taken.push(false);
                    }
                    shared.arrived.notify_all();
                    self.reply("250 OK queued")?;
                }
                "RSET" => {
                    from = None;
                    to.clear();
                    self.reply("250 OK")?;
                }
                "NOOP" => self.reply("250 OK")?,
                "QUIT" => {
                    self.reply("221 bye")?;
                    return Ok(());
                }
                _ => self.reply("502 command not implemented")?,
            }
        }
        Ok(())
    }
}

/// `<ann@example.com> SIZE=123` → `ann@example.com`.
fn address(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if a < b => arg[a + 1..b].to_string(),
        _ => arg.split_whitespace().next().unwrap_or("").to_string(),
    }
}

// ---- reading the message ---------------------------------------------

fn parse(from: String, to: Vec<String>, raw: String) -> ReceivedMail {
    let (headers, body) = split_message(&raw);
    let subject = header(&headers, "subject")
        .map(|s| decode_words(&s))
        .unwrap_or_default();
    let mut text = String::new();
    let mut html = String::new();
    collect_parts(&headers, body, &mut text, &mut html);
    ReceivedMail {
        from,
        to,
        subject,
        text,
        html,
        raw,
    }
}

/// The unfolded headers (name, value) and the body of a message or part.
fn split_message(raw: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = match raw.find("\r\n\r\n") {
        Some(i) => (&raw[..i], &raw[i + 4..]),
        None => (raw, ""),
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    (headers, body)
}

fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
}

/// `text/plain; charset=utf-8` → ("text/plain", [("charset", "utf-8")]).
fn content_type(value: &str) -> (String, Vec<(String, String)>) {
    let mut parts = value.split(';');
    let kind = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_string(),
            )
        })
        .collect();
    (kind, params)
}

fn collect_parts(headers: &[(String, String)], body: &str, text: &mut String, html: &mut String) {
    let (kind, params) =
        content_type(&header(headers, "content-type").unwrap_or_else(|| "text/plain".into()));
    if kind.starts_with("multipart/") {
        let Some((_, boundary)) = params.iter().find(|(k, _)| k == "boundary") else {
            return;
        };
        let delimiter = format!("--{boundary}");
        for chunk in body.split(&delimiter).skip(1) {
            if chunk.starts_with("--") {
                break;
            }
            let chunk = chunk.strip_prefix("\r\n").unwrap_or(chunk);
            let chunk = chunk.strip_suffix("\r\n").unwrap_or(chunk);
            let (h, b) = split_message(chunk);
            collect_parts(&h, b, text, html);
        }
        return;
    }
    let encoding = header(headers, "content-transfer-encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let decoded = decode_body(&encoding, body);
    match kind.as_str() {
        "text/plain" if text.is_empty() => *text = decoded,
        "text/html" if html.is_empty() => *html = decoded,
        _ => {}
    }
}

fn decode_body(encoding: &str, body: &str) -> String {
    match encoding {
        "base64" => {
            use base64::Engine;
            let clean: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(clean)
                .unwrap_or_else(|e| panic!("bad base64 part ({e}):\n{body}"));
            String::from_utf8_lossy(&bytes).into_owned()
        }
        "quoted-printable" => String::from_utf8_lossy(&quoted_printable(body, false)).into_owned(),
        _ => body.to_string(),
    }
    .replace("\r\n", "\n")
}

/// RFC 2045 §6.7 (and with `underscores`, RFC 2047's "Q" encoding).
fn quoted_printable(s: &str, underscores: bool) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes[i + 1..].starts_with(b"\r\n") => i += 3,
            b'=' if bytes[i + 1..].starts_with(b"\n") => i += 2,
            b'=' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'=');
                        i += 1;
                    }
                }
            }
            b'_' if underscores => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`) in a header.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let between = &rest[..start];
        // Whitespace between two encoded words is dropped (§6.2).
        if !(after_word && between.trim().is_empty()) {
            out.push_str(between);
        }
        let word = &rest[start + 2..];
        let mut fields = word.splitn(3, '?');
        let (Some(_charset), Some(enc), Some(tail)) = (fields.next(), fields.next(), fields.next())
        else {
            out.push_str(&rest[start..]);
            return out;
        };
        let Some(end) = tail.find("?=") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let payload = &tail[..end];
        let bytes = match enc.to_ascii_lowercase().as_str() {
            "b" => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(payload)
                    .unwrap_or_default()
            }
            _ => quoted_printable(payload, true),
        };
        out.push_str(&String::from_utf8_lossy(&bytes));
        let consumed = start + 2 + (word.len() - tail.len()) + end + 2;
        rest = &rest[consumed..];
        after_word = true;
    }
    out.push_str(rest);
    out
}
