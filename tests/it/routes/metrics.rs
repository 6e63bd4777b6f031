//! `GET /metrics` as an operator's Prometheus reads it: the text format
//! (exposition format 0.0.4) parsed by the Python `prometheus_client`
//! parser, requests and latency by matched route and status, sign-in
//! failures and throttled attempts, the database pool and the queues.
//!
//! The parser comes from PyPI: `.ci/run` installs `prometheus_client` with
//! the recipes' packages into GATEHOUSE_TEST_RECIPES_DIR (`python/`). When
//! that variable is unset the parser test prints SKIPPED, unless CI=true,
//! where it fails.

use crate::harness::{expect_error, metric, TestApp, PASSWORD, USERNAME};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

backend_tests!(
    metrics_count_responses_and_tokens,
    prometheus_parser_reads_requests_by_route_and_status_and_the_gauges,
    sign_in_failures_do_not_tell_unknown_users_from_wrong_passwords,
    throttled_sign_ins_are_counted_apart_from_failures,
    metrics_families_and_labels_are_the_documented_ones,
    the_grafana_dashboard_asks_only_for_families_a_scrape_has,
);

const RECIPES_ENV: &str = "GATEHOUSE_TEST_RECIPES_DIR";

/// The folder holding `prometheus_client` (see the module's comment).
fn parser_dir() -> Option<PathBuf> {
    match std::env::var_os(RECIPES_ENV) {
        Some(d) => {
            let dir = PathBuf::from(d).join("python");
            assert!(
                dir.join("prometheus_client").is_dir(),
                "{RECIPES_ENV}/python/prometheus_client is missing"
            );
            Some(dir)
        }
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but {RECIPES_ENV} is not set (.ci/run installs prometheus_client)")
        }
        None => {
            eprintln!("SKIPPED (metrics parser): {RECIPES_ENV} is not set; .ci/run sets it");
            None
        }
    }
}

/// Parses with `prometheus_client.parser.text_string_to_metric_families`
/// (which refuses text that breaks the format) and prints the families
/// as JSON.
const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    out[f.name] = {
        "type": f.type,
        "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples],
    }
print(json.dumps(out))
"#;

/// Family name → (type, samples), as the parser read them. Counter
/// families are named without `_total`, as the parser names them.
struct Families(BTreeMap<String, (String, Vec<Sample>)>);

struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

impl Families {
    fn parse(dir: &PathBuf, text: &str) -> Families {
        let mut child = std::process::Command::new("python3")
            .arg("-c")
            .arg(PARSE)
            .env("PYTHONPATH", dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "prometheus_client refused /metrics: {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut families = BTreeMap::new();
        for (name, f) in json.as_object().unwrap() {
            let samples = f["samples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| Sample {
                    name: s["name"].as_str().unwrap().to_string(),
                    labels: serde_json::from_value(s["labels"].clone()).unwrap(),
                    value: s["value"].as_f64().unwrap(),
                })
                .collect();
            families.insert(
                name.clone(),
                (f["type"].as_str().unwrap().to_string(), samples),
            );
        }
        Families(families)
    }

    fn kind(&self, family: &str) -> &str {
        &self
            .0
            .get(family)
            .unwrap_or_else(|| panic!("no family {family}: {:?}", self.0.keys()))
            .0
    }

    /// The samples named `name` whose labels include `labels`.
    fn samples<'a>(&'a self, name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
        self.0
            .values()
            .flat_map(|(_, s)| s)
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(v))
            })
            .collect()
    }

    /// The one sample named `name` with exactly these labels' values.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found = self.samples(name, labels);
        assert_eq!(found.len(), 1, "{name} {labels:?}: {} samples", found.len());
        found[0].value
    }
}

/// What an operator checks first: every request lands under the route it
/// matched (the pattern, never the raw path or its query) and its status;
/// the latency histogram is cumulative and counts every request once; a
/// wrong password shows up; the pool and queue gauges are there.
async fn prometheus_parser_reads_requests_by_route_and_status_and_the_gauges(app: TestApp) {
    let Some(dir) = parser_dir() else {
        return;
    };
    app.alice();
    let svc = app.service_client();
    for _ in 0..3 {
        let r = app
            .post_form_basic("/token", &svc, &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(r.status(), 200);
    }
    let legacy = app.password_client();
    let r = app
        .post_form_basic(
            "/token",
            &legacy,
            &[
                ("grant_type", "password"),
                ("username", USERNAME),
                ("password", "wrong horse"),
            ],
        )
        .await;
    expect_error(r, 400, "invalid_grant").await;
    // No route: one label for all; a route with a parameter: its pattern.
    assert_eq!(app.get("/no-such-page?code=s3cret").await.status(), 404);
    let r = app.get("/apps/some-client-id?x=1").await;
    assert!(r.status().is_redirection(), "{}", r.status());

    let text = app.get("/metrics").await.text().await.unwrap();
    let f = Families::parse(&dir, &text);

    // Every family with the type a Prometheus server will see (the
    // earlier names included, unchanged).
    for (family, kind) in [
        ("gatehouse_http_requests", "counter"),
        ("gatehouse_http_request_duration_seconds", "histogram"),
        ("gatehouse_http_responses", "counter"),
        ("gatehouse_http_latency_seconds", "counter"),
        ("gatehouse_tokens_issued", "counter"),
        ("gatehouse_jwks_requests", "counter"),
        ("gatehouse_argon2_verifications", "counter"),
        ("gatehouse_sign_in_failures", "counter"),
        ("gatehouse_throttled_attempts", "counter"),
        ("gatehouse_db_pool_connections", "gauge"),
        ("gatehouse_db_pool_max_connections", "gauge"),
        ("gatehouse_db_jobs_waiting", "gauge"),
        ("gatehouse_argon2_jobs_waiting", "gauge"),
        ("gatehouse_signing_jobs_waiting", "gauge"),
    ] {
        assert_eq!(f.kind(family), kind, "{family}");
    }

    // Requests by route pattern and status code.
    let token_ok = [("route", "/token"), ("status", "200")];
    assert_eq!(f.value("gatehouse_http_requests_total", &token_ok), 3.0);
    assert_eq!(
        f.value(
            "gatehouse_http_requests_total",
            &[("route", "/token"), ("status", "400")]
        ),
        1.0
    );
    assert_eq!(
        f.value(
            "gatehouse_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        1.0
    );
    assert_eq!(
        f.samples(
            "gatehouse_http_requests_total",
            &[("route", "/apps/{client_id}")]
        )
        .len(),
        1
    );
    for s in f.samples("gatehouse_http_requests_total", &[]) {
        let route = &s.labels["route"];
        assert!(
            route == "unmatched" || route.starts_with('/'),
            "route label {route:?}"
        );
        for raw in ["?", "s3cret", "some-client-id", "no-such-page"] {
            assert!(!route.contains(raw), "raw path in route label {route:?}");
        }
    }

    // The histogram: buckets cumulative in `le` order, `+Inf` = count =
    // the requests made; a positive sum.
    let mut buckets: Vec<(f64, f64)> = f
        .samples("gatehouse_http_request_duration_seconds_bucket", &token_ok)
        .iter()
        .map(|s| (s.labels["le"].parse::<f64>().unwrap(), s.value))
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    // The README's 14 bounds and `+Inf`, from half a millisecond.
    assert_eq!(buckets.len(), 15, "{buckets:?}");
    assert_eq!(buckets[0].0, 0.0005, "{buckets:?}");
    assert_eq!(buckets[13].0, 10.0, "{buckets:?}");
    assert!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "not cumulative: {buckets:?}"
    );
    let last = buckets.last().unwrap();
    assert!(last.0.is_infinite() && last.1 == 3.0, "{buckets:?}");
    assert_eq!(
        f.value("gatehouse_http_request_duration_seconds_count", &token_ok),
        3.0
    );
    assert!(f.value("gatehouse_http_request_duration_seconds_sum", &token_ok) > 0.0);

    // The wrong password, where it was tried.
    assert_eq!(
        f.value(
            "gatehouse_sign_in_failures_total",
            &[("via", "password_grant")]
        ),
        1.0
    );
    assert_eq!(
        f.value("gatehouse_sign_in_failures_total", &[("via", "login_page")]),
        0.0
    );
    assert_eq!(
        f.value(
            "gatehouse_throttled_attempts_total",
            &[("throttle", "sign_in")]
        ),
        0.0
    );
    assert_eq!(
        f.value(
            "gatehouse_tokens_issued_total",
            &[("grant_type", "client_credentials")]
        ),
        3.0
    );

    // Gauges: the pool has opened a connection and no more than its
    // maximum; every request above was answered, so no argon2 or signing
    // job waits.
    let in_use = f.value("gatehouse_db_pool_connections", &[("state", "in_use")]);
    let idle = f.value("gatehouse_db_pool_connections", &[("state", "idle")]);
    let max = f.value("gatehouse_db_pool_max_connections", &[]);
    assert!(
        in_use + idle >= 1.0 && in_use + idle <= max,
        "{in_use} {idle} {max}"
    );
    assert!(f.value("gatehouse_db_jobs_waiting", &[]) >= 0.0);
    assert_eq!(f.value("gatehouse_argon2_jobs_waiting", &[]), 0.0);
    assert_eq!(f.value("gatehouse_signing_jobs_waiting", &[]), 0.0);
}

async fn metrics_count_responses_and_tokens(app: TestApp) {
    let c = app.service_client();
    let r = app
        .post_form_basic("/token", &c, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status(), 200);
    let text = app.get("/metrics").await.text().await.unwrap();
    let value = |series: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {series} in /metrics:\n{text}"))
            .parse::<f64>()
            .unwrap()
    };
    assert_eq!(
        value("gatehouse_tokens_issued_total{grant_type=\"client_credentials\"}"),
        1.0
    );
    // The token response is the one answered before this scrape.
    assert_eq!(value("gatehouse_http_responses_total{class=\"2xx\"}"), 1.0);
}

/// RFC 6819 §4.4.3.6: `/metrics` is public, so its sign-in counter must
/// not become the username oracle the sign-in answers avoid: a wrong
/// password and an unknown username add to the same series.
async fn sign_in_failures_do_not_tell_unknown_users_from_wrong_passwords(app: TestApp) {
    app.alice();
    let page = "gatehouse_sign_in_failures_total{via=\"login_page\"}";
    let grant = "gatehouse_sign_in_failures_total{via=\"password_grant\"}";
    let before = app.get("/metrics").await.text().await.unwrap();
    let failures = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("gatehouse_sign_in_failures_total"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(failures(&before).len(), 3, "{before}");

    assert_eq!(
        app.sign_in(USERNAME, "wrong horse", "/account")
            .await
            .status(),
        401
    );
    assert_eq!(metric(&app, page).await, 1.0);
    assert_eq!(
        app.sign_in("mallory", "wrong horse", "/account")
            .await
            .status(),
        401
    );
    assert_eq!(metric(&app, page).await, 2.0);

    let c = app.password_client();
    for name in [USERNAME, "mallory"] {
        let r = app
            .post_form_basic(
                "/token",
                &c,
                &[
                    ("grant_type", "password"),
                    ("username", name),
                    ("password", "wrong horse"),
                ],
            )
            .await;
        expect_error(r, 400, "invalid_grant").await;
    }
    assert_eq!(metric(&app, grant).await, 2.0);
    // Still the same three series (the sign-in page, the password grant,
    // `/account`): no label names the user or the reason.
    let after = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(failures(&after).len(), 3, "{after}");
    assert!(!after.contains("mallory") && !after.contains(USERNAME));
    // A right password is no failure.
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
        303
    );
    assert_eq!(metric(&app, page).await, 2.0);
}

/// RFC 6749 §4.3.2 / RFC 6819 §4.4.3.6: once the throttle locks a
/// username, attempts are refused unchecked; an operator sees them as
/// throttled, not as more failures.
async fn throttled_sign_ins_are_counted_apart_from_failures(app: TestApp) {
    app.clock().freeze();
    app.alice();
    let c = app.password_client();
    let (mut failed, mut refused) = (0.0, 0.0);
    // Five free failures, then a lock of at least a second on a frozen
    // clock: every later attempt is refused.
    for _ in 0..8 {
        let r = app
            .post_form_basic(
                "/token",
                &c,
                &[
                    ("grant_type", "password"),
                    ("username", USERNAME),
                    ("password", "wrong horse"),
                ],
            )
            .await;
        let e = expect_error(r, 400, "invalid_grant").await;
        if e["error_description"].as_str().unwrap().contains("wait") {
            refused += 1.0;
        } else {
            failed += 1.0;
        }
    }
    assert!(refused >= 1.0 && failed >= 5.0, "{failed} {refused}");
    assert_eq!(
        metric(
            &app,
            "gatehouse_sign_in_failures_total{via=\"password_grant\"}"
        )
        .await,
        failed
    );
    assert_eq!(
        metric(
            &app,
            "gatehouse_throttled_attempts_total{throttle=\"sign_in\"}"
        )
        .await,
        refused
    );
}

/// README.md, "Metrics", is the outside contract of `/metrics`: dashboards
/// and alerts are written against its names, types and labels. Its table,
/// written out here, against what `/metrics` shows after a few requests:
/// fails if a family's name, type or label names change, if one comes or
/// goes, if the histogram's buckets move, or if the document stops being
/// the Prometheus text format 0.0.4 (no OpenMetrics `# EOF`, counters'
/// TYPE lines named with `_total`).
async fn metrics_families_and_labels_are_the_documented_ones(app: TestApp) {
    const DOCUMENTED: &[(&str, &str, &[&str])] = &[
        (
            "gatehouse_http_requests_total",
            "counter",
            &["route", "status"],
        ),
        (
            "gatehouse_http_request_duration_seconds",
            "histogram",
            &["route", "status"],
        ),
        ("gatehouse_http_responses_total", "counter", &["class"]),
        ("gatehouse_http_latency_seconds_total", "counter", &[]),
        ("gatehouse_tokens_issued_total", "counter", &["grant_type"]),
        ("gatehouse_jwks_requests_total", "counter", &[]),
        ("gatehouse_sign_in_failures_total", "counter", &["via"]),
        (
            "gatehouse_throttled_attempts_total",
            "counter",
            &["throttle"],
        ),
        ("gatehouse_mail_sent_total", "counter", &[]),
        ("gatehouse_mail_failed_attempts_total", "counter", &[]),
        ("gatehouse_mail_given_up_total", "counter", &[]),
        ("gatehouse_mail_unsent", "gauge", &[]),
        ("gatehouse_audit_events_total", "counter", &["type"]),
        ("gatehouse_argon2_verifications_total", "counter", &[]),
        ("gatehouse_argon2_jobs_waiting", "gauge", &[]),
        ("gatehouse_signing_jobs_waiting", "gauge", &[]),
        ("gatehouse_db_pool_connections", "gauge", &["state"]),
        ("gatehouse_db_pool_max_connections", "gauge", &[]),
        ("gatehouse_db_jobs_waiting", "gauge", &[]),
    ];
    const BUCKETS: [&str; 15] = [
        "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
        "2.5", "5", "10", "+Inf",
    ];
    let svc = app.service_client();
    let r = app
        .post_form_basic("/token", &svc, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.get("/no-such-page").await.status(), 404);
    assert_eq!(app.get("/jwks.json").await.status(), 200);

    let r = app.get("/metrics").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = r.text().await.unwrap();

    // Family → (type, label names of its samples (`le` aside), label
    // values, `le` values), from the text as a scraper reads it.
    type Labels = BTreeMap<String, String>;
    let mut types: BTreeMap<&str, &str> = BTreeMap::new();
    let mut helped = std::collections::BTreeSet::new();
    let mut samples: BTreeMap<&str, Vec<(&str, Labels)>> = BTreeMap::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => {
                    assert!(types.insert(name, kind).is_none(), "two TYPE lines: {line}");
                }
                (Some("HELP"), Some(name), Some(_)) => {
                    helped.insert(name);
                }
                _ => panic!("not a HELP or TYPE line (OpenMetrics?): {line:?}"),
            }
            continue;
        }
        let (name, labels) = sample_labels(line);
        let family = [name]
            .into_iter()
            .chain(["_bucket", "_sum", "_count"].iter().filter_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(f) == Some(&"histogram"))
            }))
            .find(|f| types.contains_key(f))
            .unwrap_or_else(|| panic!("sample before or outside its family: {line}"));
        samples.entry(family).or_default().push((name, labels));
    }

    let documented: BTreeMap<&str, &str> = DOCUMENTED.iter().map(|(n, t, _)| (*n, *t)).collect();
    assert_eq!(
        types, documented,
        "families and types differ from the README"
    );
    assert_eq!(
        helped,
        types.keys().copied().collect(),
        "a family without HELP"
    );
    for (family, kind, label_names) in DOCUMENTED {
        let series = samples
            .get(family)
            .unwrap_or_else(|| panic!("{family} has no sample"));
        for (name, labels) in series {
            let mut names: Vec<&str> = labels.keys().map(String::as_str).collect();
            let mut expected = label_names.to_vec();
            if name.ends_with("_bucket") && *kind == "histogram" {
                expected.push("le");
            }
            names.sort_unstable();
            expected.sort_unstable();
            assert_eq!(names, expected, "{name}'s labels");
        }
    }
    let values = |family: &str, label: &str| -> std::collections::BTreeSet<String> {
        samples[family]
            .iter()
            .filter_map(|(_, l)| l.get(label).cloned())
            .collect()
    };
    let set = |v: &[&str]| -> std::collections::BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    };
    // The closed label sets, every value from the start.
    assert_eq!(
        values("gatehouse_http_responses_total", "class"),
        set(&["1xx", "2xx", "3xx", "4xx", "5xx"])
    );
    let grant_types: Vec<&str> = gatehouse::oauth::GrantType::ALL
        .iter()
        .map(|g| g.as_str())
        .collect();
    assert_eq!(
        values("gatehouse_tokens_issued_total", "grant_type"),
        set(&grant_types)
    );
    assert_eq!(
        values("gatehouse_sign_in_failures_total", "via"),
        set(&["login_page", "password_grant", "account_page"])
    );
    assert_eq!(
        values("gatehouse_throttled_attempts_total", "throttle"),
        set(&["sign_in", "sign_up", "user_code"])
    );
    assert_eq!(
        values("gatehouse_db_pool_connections", "state"),
        set(&["in_use", "idle"])
    );
    // Route patterns, `unmatched` for no route; the documented buckets,
    // the same for every series.
    let routes = values("gatehouse_http_requests_total", "route");
    for route in ["/token", "/jwks.json", "unmatched"] {
        assert!(routes.contains(route), "{route} in {routes:?}");
    }
    assert_eq!(
        routes,
        values("gatehouse_http_request_duration_seconds", "route")
    );
    let buckets = samples["gatehouse_http_request_duration_seconds"]
        .iter()
        .filter(|(n, l)| n.ends_with("_bucket") && l["route"] == "/token" && l["status"] == "200")
        .map(|(_, l)| l["le"].as_str())
        .collect::<Vec<_>>();
    assert_eq!(buckets, BUCKETS, "the buckets, in order");
    assert_eq!(
        values("gatehouse_http_request_duration_seconds", "le"),
        set(&BUCKETS)
    );
}

/// A sample line's name and labels (`name{k="v",…} value`), the values
/// unescaped.
fn sample_labels(line: &str) -> (&str, BTreeMap<String, String>) {
    let end = line.find(['{', ' ']).unwrap_or(line.len());
    let (name, rest) = line.split_at(end);
    let mut labels = BTreeMap::new();
    let Some(mut rest) = rest.strip_prefix('{') else {
        return (name, labels);
    };
    while !rest.starts_with('}') {
        let (key, after) = rest.split_once("=\"").expect("label=\"value\"");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let close = loop {
            match chars.next().expect("a closing quote") {
                (_, '\\') => match chars.next().expect("an escaped character").1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        assert!(
            labels.insert(key.to_string(), value).is_none(),
            "label {key} twice: {line}"
        );
        rest = &after[close + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    (name, labels)
}

/// `docs/grafana-dashboard.json` is a Grafana dashboard (panels with
/// Prometheus queries): every `gatehouse_…` name its queries use is a
/// family of a real scrape (or a histogram's `_bucket`), with the labels
/// it groups by.
async fn the_grafana_dashboard_asks_only_for_families_a_scrape_has(app: TestApp) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/grafana-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    let exprs: Vec<String> = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect();
    assert!(exprs.len() >= 10, "{exprs:?}");
    // Series appear with their first request.
    assert_eq!(app.get("/healthz").await.status(), 200);
    let text = app.get("/metrics").await.text().await.unwrap();
    let types: std::collections::BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    let mut used = std::collections::BTreeSet::new();
    for expr in &exprs {
        let mut rest = expr.as_str();
        while let Some(i) = rest.find("gatehouse_") {
            let name: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[i + name.len()..];
            let family = match name.strip_suffix("_bucket") {
                Some(h) if types.get(h) == Some(&"histogram") => h.to_string(),
                _ => name.clone(),
            };
            assert!(
                types.contains_key(family.as_str()),
                "{name} (in {expr}) is not in a scrape"
            );
            used.insert(family);
        }
    }
    // Each of the issue's views: requests, latency, tokens, sign-in
    // failures, throttling, the pool and the queues.
    for family in [
        "gatehouse_http_requests_total",
        "gatehouse_http_request_duration_seconds",
        "gatehouse_tokens_issued_total",
        "gatehouse_sign_in_failures_total",
        "gatehouse_throttled_attempts_total",
        "gatehouse_db_pool_connections",
        "gatehouse_db_jobs_waiting",
        "gatehouse_audit_events_total",
    ] {
        assert!(used.contains(family), "the dashboard shows {family}");
    }
}
