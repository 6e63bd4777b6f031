//! Counters for `/metrics` (Prometheus text format): requests and a
//! latency histogram by matched route and status, responses by status
//! class, tokens issued by grant type (all lock-free atomics), sign-in failures and throttled
//! attempts; `render` adds the gauges read at scrape time (database pool,
//! database and argon2 queues).
//!
//! The request path stays lock-free: the routes' series live in a table
//! of fixed size made at start. A route's slot is claimed once, by the
//! first request that matches it (a `OnceLock` set), and a status's slot
//! within it by one compare-and-swap; after that a request costs a scan of
//! a few short strings and two relaxed atomic adds. The label is the
//! matched route *pattern* (`/apps/{client_id}`), never the raw path or
//! its query, so the number of series is bounded by the route table.

use std::fmt::Write;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use super::AppState;
use crate::oauth::GrantType;

/// Histogram bucket bounds in microseconds, and the same in seconds as
/// written in `le`: from half a millisecond (a cached token answer) to ten
/// seconds (a database that stalls; requests give up on it after 5 s).
const BUCKETS_MICROS: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];
const BUCKETS_LE: [&str; 14] = [
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
    "2.5", "5", "10",
];
/// Route patterns tracked; far more than the server has (about 30). Slot 0
/// is `unmatched` (no route: 404s for unknown paths), the last `other`
/// (should the table ever fill).
const ROUTE_SLOTS: usize = 64;
/// Distinct statuses tracked per route; a route answers a handful.
const STATUS_SLOTS: usize = 16;
pub const UNMATCHED: &str = "unmatched";
const OTHER: &str = "other";

/// One (route, status) series: its status code (0 while the slot is free),
/// the requests per bucket (not cumulative: one add per request; the
/// scrape sums them) and the total time.
struct Series {
    status: AtomicU16,
    /// `BUCKETS_MICROS.len()` bounded buckets, then `+Inf`.
    buckets: [AtomicU64; BUCKETS_MICROS.len() + 1],
    sum_micros: AtomicU64,
}

impl Series {
    fn new() -> Series {
        Series {
            status: AtomicU16::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
        }
    }
}

struct RouteSlot {
    pattern: OnceLock<Box<str>>,
    series: [Series; STATUS_SLOTS],
}

impl RouteSlot {
    fn new() -> RouteSlot {
        RouteSlot {
            pattern: OnceLock::new(),
            series: std::array::from_fn(|_| Series::new()),
        }
    }

    /// This route's series for `status`, claiming a free slot the first
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
    /// The slot of `pattern` (`None`: no route matched), claiming a free
    /// one the first time a pattern is seen.
    fn slot(&self, pattern: Option<&str>) -> &RouteSlot {
        let Some(pattern) = pattern else {
            return &self.slots[0];
        };
        let last = self.slots.len() - 1;
        for slot in &self.slots[1..last] {
            match slot.pattern.get() {
                Some(p) if **p == *pattern => return slot,
                Some(_) => continue,
                None => {
                    // Taken by this pattern, or by another one a moment ago.
                    let claimed = slot.pattern.get_or_init(|| pattern.into());
                    if **claimed == *pattern {
                        return slot;
                    }
                }
            }
        }
        &self.slots[last]
    }
}

/// Where a sign-in was tried: the label of `gatehouse_sign_in_failures_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInVia {
    /// The sign-in page (`POST /login`).
    LoginPage,
    /// The resource owner password grant (`POST /token`).
    PasswordGrant,
}

impl SignInVia {
    const ALL: [SignInVia; 2] = [SignInVia::LoginPage, SignInVia::PasswordGrant];

    fn label(self) -> &'static str {
        match self {
            SignInVia::LoginPage => "login_page",
            SignInVia::PasswordGrant => "password_grant",
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

#[derive(Default)]
pub struct MetricsInner {
    responses: [AtomicU64; 5],
    latency_micros_total: AtomicU64,
    routes: Routes,
    /// Indexed like `GrantType::ALL`.
    tokens_issued: [AtomicU64; GrantType::ALL.len()],
    jwks_requests: AtomicU64,
    sign_in_failures: [AtomicU64; SignInVia::ALL.len()],
    throttled: [AtomicU64; Throttle::ALL.len()],
}

impl MetricsInner {
    /// One request answered: `route` is the matched route pattern (`None`
    /// when no route matched), `status` its status code.
    pub fn record_request(&self, route: Option<&str>, status: u16, micros: u64) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
        self.latency_micros_total
            .fetch_add(micros, Ordering::Relaxed);
        if let Some(series) = self.routes.slot(route).series(status) {
            let bucket = BUCKETS_MICROS.partition_point(|&le| le < micros);
            series.buckets[bucket].fetch_add(1, Ordering::Relaxed);
            series.sum_micros.fetch_add(micros, Ordering::Relaxed);
        }
    }
}

#[derive(Default, Clone)]
pub struct Metrics {
    pub inner: Arc<MetricsInner>,
}

/// One series as read at a scrape: its labels, cumulative bucket counts
/// (the last is `+Inf`, the count) and sum.
struct Snapshot<'a> {
    route: &'a str,
    status: u16,
    cumulative: [u64; BUCKETS_MICROS.len() + 1],
    sum_micros: u64,
}

impl Metrics {
    pub fn token_issued(&self, grant_type: GrantType) {
        if let Some(i) = GrantType::ALL.iter().position(|g| *g == grant_type) {
            self.inner.tokens_issued[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One more `GET /jwks.json` answered: resource servers' key fetches,
    /// so an operator (and the tests) can see a cache that refetches too often.
    pub fn jwks_requested(&self) {
        self.inner.jwks_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A wrong username or password (one count for both: telling them
    /// apart here would let anyone who reads `/metrics` probe usernames).
    pub fn sign_in_failed(&self, via: SignInVia) {
        self.inner.sign_in_failures[via as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// An attempt refused unchecked by a throttle.
    pub fn throttled(&self, which: Throttle) {
        self.inner.throttled[which as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn snapshots(&self) -> Vec<Snapshot<'_>> {
        let mut out = Vec::new();
        for slot in self.inner.routes.slots.iter() {
            let Some(route) = slot.pattern.get() else {
                continue;
            };
            for s in &slot.series {
                let status = s.status.load(Ordering::Relaxed);
                if status == 0 {
                    continue;
                }
                let mut cumulative = [0; BUCKETS_MICROS.len() + 1];
                let mut running = 0;
                for (c, b) in cumulative.iter_mut().zip(&s.buckets) {
                    running += b.load(Ordering::Relaxed);
                    *c = running;
                }
                if running == 0 {
                    // Claimed a moment ago; its first request is not in yet.
                    continue;
                }
                out.push(Snapshot {
                    route,
                    status,
                    cumulative,
                    sum_micros: s.sum_micros.load(Ordering::Relaxed),
                });
            }
        }
        out.sort_by(|a, b| (a.route, a.status).cmp(&(b.route, b.status)));
        out
    }

    /// The counters, without the gauges `render` adds.
    pub fn render_counters(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let o = &mut out;
        family(
            o,
            "gatehouse_http_responses_total",
            "counter",
            "HTTP responses by status class.",
        );
        for (i, c) in self.inner.responses.iter().enumerate() {
            let _ = writeln!(
                o,
                "gatehouse_http_responses_total{{class=\"{}xx\"}} {}",
                i + 1,
                c.load(Ordering::Relaxed)
            );
        }
        family(
            o,
            "gatehouse_http_latency_seconds_total",
            "counter",
            "Time spent answering requests.",
        );
        let _ = writeln!(
            o,
            "gatehouse_http_latency_seconds_total {}",
            seconds(self.inner.latency_micros_total.load(Ordering::Relaxed))
        );

        let series = self.snapshots();
        family(
            o,
            "gatehouse_http_requests_total",
            "counter",
            "Requests answered, by matched route pattern (\"unmatched\" when no route matched) and status code.",
        );
        for s in &series {
            let _ = writeln!(
                o,
                "gatehouse_http_requests_total{{route=\"{}\",status=\"{}\"}} {}",
                Escaped(s.route),
                s.status,
                s.cumulative[BUCKETS_MICROS.len()]
            );
        }
        family(
            o,
            "gatehouse_http_request_duration_seconds",
            "histogram",
            "Time from a request's arrival to its response, by matched route pattern and status code.",
        );
        for s in &series {
            let labels = format!("route=\"{}\",status=\"{}\"", Escaped(s.route), s.status);
            for (le, n) in BUCKETS_LE.iter().chain(["+Inf"].iter()).zip(s.cumulative) {
                let _ = writeln!(
                    o,
                    "gatehouse_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                o,
                "gatehouse_http_request_duration_seconds_sum{{{labels}}} {}",
                seconds(s.sum_micros)
            );
            let _ = writeln!(
                o,
                "gatehouse_http_request_duration_seconds_count{{{labels}}} {}",
                s.cumulative[BUCKETS_MICROS.len()]
            );
        }

        family(
            o,
            "gatehouse_tokens_issued_total",
            "counter",
            "Access tokens issued by grant type.",
        );
        for (grant, n) in GrantType::ALL.iter().zip(&self.inner.tokens_issued) {
            let _ = writeln!(
                o,
                "gatehouse_tokens_issued_total{{grant_type=\"{}\"}} {}",
                grant.as_str(),
                n.load(Ordering::Relaxed)
            );
        }
        family(
            o,
            "gatehouse_jwks_requests_total",
            "counter",
            "JWKS documents served (GET /jwks.json).",
        );
        let _ = writeln!(
            o,
            "gatehouse_jwks_requests_total {}",
            self.inner.jwks_requests.load(Ordering::Relaxed)
        );
        family(
            o,
            "gatehouse_sign_in_failures_total",
            "counter",
            "Sign-ins refused for a wrong username or password (one count for both), by where they were tried.",
        );
        for via in SignInVia::ALL {
            let _ = writeln!(
                o,
                "gatehouse_sign_in_failures_total{{via=\"{}\"}} {}",
                via.label(),
                self.inner.sign_in_failures[via as usize].load(Ordering::Relaxed)
            );
        }
        family(
            o,
            "gatehouse_throttled_attempts_total",
            "counter",
            "Attempts refused unchecked by a throttle: signing in, signing up, typing a device user code.",
        );
        for which in Throttle::ALL {
            let _ = writeln!(
                o,
                "gatehouse_throttled_attempts_total{{throttle=\"{}\"}} {}",
                which.label(),
                self.inner.throttled[which as usize].load(Ordering::Relaxed)
            );
        }
        out
    }
}

/// The whole `/metrics` document: the counters, then the gauges read now.
pub fn render(state: &AppState) -> String {
    let mut out = state.metrics.render_counters();
    let o = &mut out;
    family(
        o,
        "gatehouse_argon2_verifications_total",
        "counter",
        "Password and secret verifications run (argon2id), including the dummy ones for unknown names.",
    );
    let _ = writeln!(
        o,
        "gatehouse_argon2_verifications_total {}",
        state.hasher.verifications()
    );
    family(
        o,
        "gatehouse_argon2_jobs_waiting",
        "gauge",
        "Hashing and verification jobs queued for an argon2 thread, not yet started.",
    );
    let _ = writeln!(
        o,
        "gatehouse_argon2_jobs_waiting {}",
        state.hasher.waiting()
    );
    family(
        o,
        "gatehouse_signing_jobs_waiting",
        "gauge",
        "Access and ID tokens queued for a signing thread, not yet started.",
    );
    let _ = writeln!(
        o,
        "gatehouse_signing_jobs_waiting {}",
        state.signing.waiting()
    );
    let load = state.store.load();
    family(
        o,
        "gatehouse_db_pool_connections",
        "gauge",
        "Database connections open, by state: in use by a database thread, or idle in the pool.",
    );
    let _ = writeln!(
        o,
        "gatehouse_db_pool_connections{{state=\"in_use\"}} {}",
        load.connections.saturating_sub(load.idle)
    );
    let _ = writeln!(
        o,
        "gatehouse_db_pool_connections{{state=\"idle\"}} {}",
        load.idle
    );
    family(
        o,
        "gatehouse_db_pool_max_connections",
        "gauge",
        "The most database connections the pool opens (one per database thread).",
    );
    let _ = writeln!(o, "gatehouse_db_pool_max_connections {}", load.max);
    family(
        o,
        "gatehouse_db_jobs_waiting",
        "gauge",
        "Database jobs queued for a database thread, not yet started.",
    );
    let _ = writeln!(o, "gatehouse_db_jobs_waiting {}", load.waiting);
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn seconds(micros: u64) -> f64 {
    micros as f64 / 1e6
}

/// A label value escaped as the text format asks (`\`, `"`, newline).
struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
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
        assert!(line(&text, &format!("{b},le=\"10\"}}")).ends_with(" 2"));
        assert!(line(&text, &format!("{b},le=\"+Inf\"}}")).ends_with(" 3"));
        assert!(line(
            &text,
            "gatehouse_http_requests_total{route=\"/token\",status=\"200\"}"
        )
        .ends_with(" 3"));
        assert!(line(
            &text,
            "gatehouse_http_request_duration_seconds_sum{route=\"/token\",status=\"200\"}"
        )
        .ends_with(" 20.001001"));
        assert!(line(
            &text,
            "gatehouse_http_requests_total{route=\"/token\",status=\"401\"}"
        )
        .ends_with(" 1"));
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
        assert!(line(
            &text,
            "gatehouse_http_requests_total{route=\"other\",status=\"200\"}"
        )
        .ends_with(&format!(" {}", ROUTE_SLOTS + 2)));
        let r0 = text
            .lines()
            .filter(|l| l.starts_with("gatehouse_http_requests_total{route=\"/r0\""))
            .count();
        assert_eq!(r0, STATUS_SLOTS);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(Escaped("a\"b\\c\nd").to_string(), "a\\\"b\\\\c\\nd");
    }
}
