//! `/metrics`, kept with the official Prometheus client (`prometheus-client`):
//! its counters, histograms, families and registry hold the values, and its
//! encoder writes the Prometheus text format (exposition format 0.0.4).
//! Requests and a latency histogram by matched route and status, responses
//! by status class, tokens issued by grant type, sign-in failures and
//! throttled attempts, mail sent, failed and given up (and the outbox's
//! unsent mails); `render` adds the values read at scrape time
//! (argon2 verifications, the database pool, the database, argon2 and
//! signing queues).
//!
//! The label is the matched route *pattern* (`/apps/{client_id}`), never the
//! raw path or its query, and the number of (route, status) series is bounded
//! by a table of fixed size made at start: a route's slot is claimed once, by
//! the first request that matches it (a `OnceLock` set), and a status's slot
//! within it by one compare-and-swap, which looks the series up in the
//! crate's families once and keeps the `Counter` and `Histogram` handles.
//! After that a request costs a scan of a few short strings, atomic adds and
//! the histogram's own short lock (one per series); it never takes a
//! family's map lock. The closed label sets (classes, grant types, …) are
//! created at start and their handles kept the same way.

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use prometheus_client::encoding::{prometheus_text, EncodeLabelSet};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::AppState;
use crate::oauth::GrantType;

/// What `/metrics` answers: the Prometheus text format, version 0.0.4
/// (`text/plain; version=0.0.4; charset=utf-8`), which every Prometheus
/// server and the common scrapers read; see README.md, "Metrics".
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Histogram bucket bounds in seconds (written `le="0.0005"` … `le="10"`,
/// then `+Inf`): from half a millisecond (a cached token answer) to ten
/// seconds (a database that stalls; requests give up on it after 5 s).
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Route patterns tracked; far more than the server has (about 30). Slot 0
/// is `unmatched` (no route: 404s for unknown paths), the last `other`
/// (should the table ever fill).
const ROUTE_SLOTS: usize = 64;
/// Distinct statuses tracked per route; a route answers a handful.
const STATUS_SLOTS: usize = 16;
pub const UNMATCHED: &str = "unmatched";
const OTHER: &str = "other";

/// The labels of `gatehouse_http_requests_total` and
/// `gatehouse_http_request_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabel {
    class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantTypeLabel {
    grant_type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ViaLabel {
    via: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ThrottleLabel {
    throttle: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabel {
    r#type: &'static str,
}

fn duration_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

type DurationFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// One (route, status) slot: its status code (0 while the slot is free)
/// and, once claimed, the series' handles in the families.
struct Series {
    status: AtomicU16,
    handles: OnceLock<(Counter, Histogram)>,
}

struct RouteSlot {
    pattern: OnceLock<Box<str>>,
    series: [Series; STATUS_SLOTS],
}

impl RouteSlot {
    fn new() -> RouteSlot {
        RouteSlot {
            pattern: OnceLock::new(),
            series: std::array::from_fn(|_| Series {
                status: AtomicU16::new(0),
                handles: OnceLock::new(),
            }),
        }
    }

    /// This route's slot for `status`, claiming a free one the first
    /// time; `None` only when all `STATUS_SLOTS` hold other statuses.
    fn series(&self, status: u16) -> Option<&Series> {
        for s in &self.series {
            match s.status.load(Ordering::Relaxed) {
                0 => {
                    match s
                        .status
                        .compare_exchange(0, status, Ordering::Relaxed, Ordering::Relaxed)
                    {
                        Ok(_) => return Some(s),
                        Err(taken) if taken == status => return Some(s),
                        Err(_) => continue,
                    }
                }
                code if code == status => return Some(s),
                _ => continue,
            }
        }
        None
    }
}

/// The routes' table.
struct Routes {
    slots: Box<[RouteSlot]>,
}

impl Default for Routes {
    fn default() -> Routes {
        let slots: Vec<RouteSlot> = (0..ROUTE_SLOTS).map(|_| RouteSlot::new()).collect();
        let _ = slots[0].pattern.set(UNMATCHED.into());
        let _ = slots[ROUTE_SLOTS - 1].pattern.set(OTHER.into());
        Routes {
            slots: slots.into_boxed_slice(),
        }
    }
}

impl Routes {
    /// The slot of `pattern` (`None`: no route matched) and the label it
    /// is counted under, claiming a free slot the first time a pattern is
    /// seen.
    fn slot(&self, pattern: Option<&str>) -> (&RouteSlot, &str) {
        let last = self.slots.len() - 1;
        let Some(pattern) = pattern else {
            return (&self.slots[0], UNMATCHED);
        };
        for slot in &self.slots[1..last] {
            match slot.pattern.get() {
                Some(p) if **p == *pattern => return (slot, p),
                Some(_) => continue,
                None => {
                    // Taken by this pattern, or by another one a moment ago.
                    let claimed = slot.pattern.get_or_init(|| pattern.into());
                    if **claimed == *pattern {
                        return (slot, claimed);
                    }
                }
            }
        }
        (&self.slots[last], OTHER)
    }
}

/// Where a sign-in was tried: the label of `gatehouse_sign_in_failures_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInVia {
    /// The sign-in page (`POST /login`).
    LoginPage,
    /// The resource owner password grant (`POST /token`).
    PasswordGrant,
    /// The current password on `/account`'s change-password form.
    AccountPage,
}

impl SignInVia {
    const ALL: [SignInVia; 3] = [
        SignInVia::LoginPage,
        SignInVia::PasswordGrant,
        SignInVia::AccountPage,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SignInVia::LoginPage => "login_page",
            SignInVia::PasswordGrant => "password_grant",
            SignInVia::AccountPage => "account_page",
        }
    }
}

/// Which throttle refused an attempt unchecked: the label of
/// `gatehouse_throttled_attempts_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// Signing in (the page or the password grant), per user and address.
    SignIn,
    /// Signing up, per address.
    SignUp,
    /// Typing a device flow user code (RFC 8628 §5.1).
    UserCode,
}

impl Throttle {
    const ALL: [Throttle; 3] = [Throttle::SignIn, Throttle::SignUp, Throttle::UserCode];

    fn label(self) -> &'static str {
        match self {
            Throttle::SignIn => "sign_in",
            Throttle::SignUp => "sign_up",
            Throttle::UserCode => "user_code",
        }
    }
}

/// `1xx` … `5xx`, the labels of `gatehouse_http_responses_total`.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The registry and the handles the request path adds to.
pub struct MetricsInner {
    registry: Registry,
    requests: Family<RouteLabels, Counter>,
    durations: DurationFamily,
    routes: Routes,
    /// Indexed like `CLASSES`.
    responses: [Counter; CLASSES.len()],
    latency_seconds: Counter<f64, AtomicU64>,
    /// Indexed like `GrantType::ALL`.
    tokens_issued: [Counter; GrantType::ALL.len()],
    jwks_requests: Counter,
    /// Indexed like `SignInVia::ALL`.
    sign_in_failures: [Counter; SignInVia::ALL.len()],
    /// Indexed like `Throttle::ALL`.
    throttled: [Counter; Throttle::ALL.len()],
    /// The outbox (`app::outbox`): mails this instance sent, attempts that
    /// failed, mails given up, and the unsent mails of the whole outbox as
    /// this instance's sender last counted them.
    mail_sent: Counter,
    mail_failed_attempts: Counter,
    mail_given_up: Counter,
    mail_unsent: Gauge,
}

impl Default for MetricsInner {
    fn default() -> MetricsInner {
        let mut registry = Registry::default();

        // Help texts without their full stop: the registry adds it.
        let requests = Family::<RouteLabels, Counter>::default();
        registry.register(
            "gatehouse_http_requests",
            "Requests answered, by matched route pattern (\"unmatched\" when no route matched) and status code",
            requests.clone(),
        );
        let durations: DurationFamily = Family::new_with_constructor(duration_histogram);
        registry.register(
            "gatehouse_http_request_duration_seconds",
            "Time from a request's arrival to its response, by matched route pattern and status code",
            durations.clone(),
        );

        let responses = Family::<ClassLabel, Counter>::default();
        registry.register(
            "gatehouse_http_responses",
            "HTTP responses by status class",
            responses.clone(),
        );
        let responses = CLASSES.map(|class| responses.get_or_create_owned(&ClassLabel { class }));
        let latency_seconds = Counter::<f64, AtomicU64>::default();
        registry.register(
            "gatehouse_http_latency_seconds",
            "Time spent answering requests",
            latency_seconds.clone(),
        );

        let tokens_issued = Family::<GrantTypeLabel, Counter>::default();
        registry.register(
            "gatehouse_tokens_issued",
            "Access tokens issued by grant type",
            tokens_issued.clone(),
        );
        let tokens_issued = GrantType::ALL.map(|g| {
            tokens_issued.get_or_create_owned(&GrantTypeLabel {
                grant_type: g.as_str(),
            })
        });
        let jwks_requests = Counter::default();
        registry.register(
            "gatehouse_jwks_requests",
            "JWKS documents served (GET /jwks.json)",
            jwks_requests.clone(),
        );
        let sign_in_failures = Family::<ViaLabel, Counter>::default();
        registry.register(
            "gatehouse_sign_in_failures",
            "Sign-ins refused for a wrong username or password (one count for both), by where they were tried",
            sign_in_failures.clone(),
        );
        let sign_in_failures = SignInVia::ALL
            .map(|via| sign_in_failures.get_or_create_owned(&ViaLabel { via: via.label() }));
        let throttled = Family::<ThrottleLabel, Counter>::default();
        registry.register(
            "gatehouse_throttled_attempts",
            "Attempts refused unchecked by a throttle: signing in, signing up, typing a device user code",
            throttled.clone(),
        );
        let throttled = Throttle::ALL.map(|t| {
            throttled.get_or_create_owned(&ThrottleLabel {
                throttle: t.label(),
            })
        });

        let mail_sent = Counter::default();
        registry.register(
            "gatehouse_mail_sent",
            "Mails this instance handed to the SMTP server",
            mail_sent.clone(),
        );
        let mail_failed_attempts = Counter::default();
        registry.register(
            "gatehouse_mail_failed_attempts",
            "Attempts to send a mail that failed (the mail is retried with back-off, or given up)",
            mail_failed_attempts.clone(),
        );
        let mail_given_up = Counter::default();
        registry.register(
            "gatehouse_mail_given_up",
            "Mails given up (refused permanently, or not sent within a day of being queued)",
            mail_given_up.clone(),
        );
        let mail_unsent = Gauge::default();
        registry.register(
            "gatehouse_mail_unsent",
            "Mails in the outbox neither sent nor given up, as last counted by this instance's sender",
            mail_unsent.clone(),
        );

        MetricsInner {
            registry,
            requests,
            durations,
            routes: Routes::default(),
            responses,
            latency_seconds,
            tokens_issued,
            jwks_requests,
            sign_in_failures,
            throttled,
            mail_sent,
            mail_failed_attempts,
            mail_given_up,
            mail_unsent,
        }
    }
}

impl MetricsInner {
    /// One request answered: `route` is the matched route pattern (`None`
    /// when no route matched), `status` its status code.
    pub fn record_request(&self, route: Option<&str>, status: u16, micros: u64) {
        let class = usize::from((status / 100).clamp(1, 5)) - 1;
        self.responses[class].inc();
        let seconds = micros as f64 / 1e6;
        self.latency_seconds.inc_by(seconds);
        let (slot, label) = self.routes.slot(route);
        if let Some(series) = slot.series(status) {
            let (requests, duration) = series.handles.get_or_init(|| {
                let labels = RouteLabels {
                    route: label.to_string(),
                    status,
                };
                (
                    self.requests.get_or_create_owned(&labels),
                    self.durations.get_or_create_owned(&labels),
                )
            });
            duration.observe(seconds);
            requests.inc();
        }
    }
}

#[derive(Default, Clone)]
pub struct Metrics {
    pub inner: Arc<MetricsInner>,
}

impl Metrics {
    pub fn token_issued(&self, grant_type: GrantType) {
        if let Some(i) = GrantType::ALL.iter().position(|g| *g == grant_type) {
            self.inner.tokens_issued[i].inc();
        }
    }

    /// One more `GET /jwks.json` answered: resource servers' key fetches,
    /// so an operator (and the tests) can see a cache that refetches too often.
    pub fn jwks_requested(&self) {
        self.inner.jwks_requests.inc();
    }

    /// A wrong username or password (one count for both: telling them
    /// apart here would let anyone who reads `/metrics` probe usernames).
    pub fn sign_in_failed(&self, via: SignInVia) {
        self.inner.sign_in_failures[via as usize].inc();
    }

    /// An attempt refused unchecked by a throttle.
    pub fn throttled(&self, which: Throttle) {
        self.inner.throttled[which as usize].inc();
    }

    /// A mail accepted by the SMTP server.
    pub fn mail_sent(&self) {
        self.inner.mail_sent.inc();
    }

    /// An attempt to send a mail that failed.
    pub fn mail_attempt_failed(&self) {
        self.inner.mail_failed_attempts.inc();
    }

    /// A mail given up: it will not be sent.
    pub fn mail_given_up(&self) {
        self.inner.mail_given_up.inc();
    }

    /// The outbox's unsent mails, as counted now.
    pub fn set_mail_unsent(&self, n: i64) {
        self.inner.mail_unsent.set(n);
    }

    /// The counters and the histogram, without the values `render` reads
    /// at scrape time.
    pub fn render_counters(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        encode(&mut out, &self.inner.registry);
        out
    }
}

/// The whole `/metrics` document: the counters, then the values read now
/// (from a registry made for this scrape).
pub fn render(state: &AppState) -> String {
    let mut out = state.metrics.render_counters();
    let mut now = Registry::default();
    now.register(
        "gatehouse_argon2_verifications",
        "Password and secret verifications run (argon2id), including the dummy ones for unknown names",
        ConstCounter::new(state.hasher.verifications()),
    );
    now.register(
        "gatehouse_argon2_jobs_waiting",
        "Hashing and verification jobs queued for an argon2 thread, not yet started",
        ConstGauge::new(state.hasher.waiting()),
    );
    now.register(
        "gatehouse_signing_jobs_waiting",
        "Access and ID tokens queued for a signing thread, not yet started",
        ConstGauge::new(state.signing.waiting()),
    );
    let load = state.store.load();
    let connections = Family::<StateLabel, Gauge>::default();
    connections
        .get_or_create(&StateLabel { state: "in_use" })
        .set(i64::from(load.connections.saturating_sub(load.idle)));
    connections
        .get_or_create(&StateLabel { state: "idle" })
        .set(i64::from(load.idle));
    now.register(
        "gatehouse_db_pool_connections",
        "Database connections open, by state: in use by a database thread, or idle in the pool",
        connections,
    );
    now.register(
        "gatehouse_db_pool_max_connections",
        "The most database connections the pool opens (one per database thread)",
        ConstGauge::new(load.max),
    );
    now.register(
        "gatehouse_db_jobs_waiting",
        "Database jobs queued for a database thread, not yet started",
        ConstGauge::new(load.waiting),
    );
    // Made for this scrape from the store's counts (every type, zeros
    // included, so a rate query never starts from a missing series).
    let audit = Family::<TypeLabel, Counter>::default();
    for (kind, n) in state.store.audit_counts() {
        audit.get_or_create(&TypeLabel { r#type: kind }).inc_by(n);
    }
    now.register(
        "gatehouse_audit_events",
        "Audit trail events committed by this instance, by type (see gatehouse audit)",
        audit,
    );
    encode(&mut out, &now);
    out
}

/// Appends `registry` in the text format. Writing to a `String` does not
/// fail and none of our metrics refuses the text format; should that ever
/// change, the scrape is short of those families and the log says why.
fn encode(out: &mut String, registry: &Registry) {
    if let Err(e) = prometheus_text::encode(out, registry) {
        tracing::error!(error = %e, "encoding /metrics failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix} in\n{text}"))
    }

    fn value(text: &str, series: &str) -> f64 {
        line(text, &format!("{series} "))[series.len() + 1..]
            .parse()
            .unwrap()
    }

    #[test]
    fn buckets_are_cumulative_and_le_is_inclusive() {
        let m = Metrics::default();
        // 500 µs is in le="0.0005" (Prometheus buckets are upper-inclusive).
        m.inner.record_request(Some("/token"), 200, 500);
        m.inner.record_request(Some("/token"), 200, 501);
        m.inner.record_request(Some("/token"), 200, 20_000_000);
        m.inner.record_request(Some("/token"), 401, 10);
        let text = m.render_counters();
        let b = "gatehouse_http_request_duration_seconds_bucket{route=\"/token\",status=\"200\"";
        assert!(line(&text, &format!("{b},le=\"0.0005\"}}")).ends_with(" 1"));
        assert!(line(&text, &format!("{b},le=\"0.001\"}}")).ends_with(" 2"));
        // Whole bounds are written as Prometheus's own clients write them.
        assert!(line(&text, &format!("{b},le=\"1\"}}")).ends_with(" 2"));
        assert!(line(&text, &format!("{b},le=\"10\"}}")).ends_with(" 2"));
        assert!(line(&text, &format!("{b},le=\"+Inf\"}}")).ends_with(" 3"));
        assert_eq!(
            value(
                &text,
                "gatehouse_http_requests_total{route=\"/token\",status=\"200\"}"
            ),
            3.0
        );
        assert_eq!(
            value(
                &text,
                "gatehouse_http_request_duration_seconds_count{route=\"/token\",status=\"200\"}"
            ),
            3.0
        );
        let sum = value(
            &text,
            "gatehouse_http_request_duration_seconds_sum{route=\"/token\",status=\"200\"}",
        );
        assert!((sum - 20.001001).abs() < 1e-9, "{sum}");
        assert_eq!(
            value(
                &text,
                "gatehouse_http_requests_total{route=\"/token\",status=\"401\"}"
            ),
            1.0
        );
        let total = value(&text, "gatehouse_http_latency_seconds_total");
        assert!((total - 20.001011).abs() < 1e-9, "{total}");
        assert_eq!(
            value(&text, "gatehouse_http_responses_total{class=\"2xx\"}"),
            3.0
        );
        assert_eq!(
            value(&text, "gatehouse_http_responses_total{class=\"4xx\"}"),
            1.0
        );
    }

    #[test]
    fn the_route_table_is_bounded() {
        let m = Metrics::default();
        m.inner.record_request(None, 404, 1);
        for i in 0..(2 * ROUTE_SLOTS) {
            m.inner.record_request(Some(&format!("/r{i}")), 200, 1);
        }
        for status in 100..200 {
            m.inner.record_request(Some("/r0"), status, 1);
        }
        let text = m.render_counters();
        let routes: std::collections::BTreeSet<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("gatehouse_http_requests_total{route=\""))
            .filter_map(|l| l.split('"').next())
            .collect();
        assert_eq!(routes.len(), ROUTE_SLOTS);
        assert!(routes.contains(UNMATCHED) && routes.contains(OTHER));
        assert_eq!(
            value(
                &text,
                "gatehouse_http_requests_total{route=\"other\",status=\"200\"}"
            ),
            (ROUTE_SLOTS + 2) as f64
        );
        let r0 = text
            .lines()
            .filter(|l| l.starts_with("gatehouse_http_requests_total{route=\"/r0\""))
            .count();
        assert_eq!(r0, STATUS_SLOTS);
    }

    /// Every closed label set is there from the start, at 0, so a rate over
    /// it has a series before the first event.
    #[test]
    fn closed_label_sets_start_at_zero() {
        let text = Metrics::default().render_counters();
        for g in GrantType::ALL {
            let series = format!(
                "gatehouse_tokens_issued_total{{grant_type=\"{}\"}}",
                g.as_str()
            );
            assert_eq!(value(&text, &series), 0.0);
        }
        for class in CLASSES {
            let series = format!("gatehouse_http_responses_total{{class=\"{class}\"}}");
            assert_eq!(value(&text, &series), 0.0);
        }
        for via in SignInVia::ALL {
            let series = format!(
                "gatehouse_sign_in_failures_total{{via=\"{}\"}}",
                via.label()
            );
            assert_eq!(value(&text, &series), 0.0);
        }
        for t in Throttle::ALL {
            let series = format!(
                "gatehouse_throttled_attempts_total{{throttle=\"{}\"}}",
                t.label()
            );
            assert_eq!(value(&text, &series), 0.0);
        }
        assert_eq!(value(&text, "gatehouse_jwks_requests_total"), 0.0);
        assert_eq!(value(&text, "gatehouse_mail_sent_total"), 0.0);
        assert_eq!(value(&text, "gatehouse_mail_failed_attempts_total"), 0.0);
        assert_eq!(value(&text, "gatehouse_mail_given_up_total"), 0.0);
        assert_eq!(value(&text, "gatehouse_mail_unsent"), 0.0);
        // No request yet: no route series.
        assert!(!text.contains("route="), "{text}");
    }

    /// The crate's encoder escapes label values as the text format asks
    /// (`\`, `"`, newline); route patterns never hold them, but a label
    /// must not break the document if one ever did.
    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::default();
        m.inner.record_request(Some("/a\"b\\c\nd"), 200, 1);
        let text = m.render_counters();
        assert!(
            text.contains(
                "gatehouse_http_requests_total{route=\"/a\\\"b\\\\c\\nd\",status=\"200\"} 1\n"
            ),
            "{text}"
        );
    }
}
