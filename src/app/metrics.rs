//! Counters for `/metrics` (Prometheus text format): responses by status
//! class, time spent answering, tokens issued by grant type.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::oauth::GrantType;

#[derive(Default)]
pub struct MetricsInner {
    responses: [AtomicU64; 5],
    latency_micros_total: AtomicU64,
    tokens_issued: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
    jwks_requests: AtomicU64,
}

impl MetricsInner {
    pub fn record_request(&self, status: u16, micros: u64) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
        self.latency_micros_total
            .fetch_add(micros, Ordering::Relaxed);
    }
}

#[derive(Default, Clone)]
pub struct Metrics {
    pub inner: Arc<MetricsInner>,
}

impl Metrics {
    pub fn token_issued(&self, grant_type: GrantType) {
        if let Ok(mut m) = self.inner.tokens_issued.lock() {
            *m.entry(grant_type.as_str().to_string()).or_default() += 1;
        }
    }

    /// One more `GET /jwks.json` answered: resource servers' key fetches,
    /// so an operator (and the tests) can see a cache that refetches too often.
    pub fn jwks_requested(&self) {
        self.inner.jwks_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP gatehouse_http_responses_total HTTP responses by status class.\n");
        out.push_str("# TYPE gatehouse_http_responses_total counter\n");
        for (i, c) in self.inner.responses.iter().enumerate() {
            out.push_str(&format!(
                "gatehouse_http_responses_total{{class=\"{}xx\"}} {}\n",
                i + 1,
                c.load(Ordering::Relaxed)
            ));
        }
        out.push_str(
            "# HELP gatehouse_http_latency_seconds_total Time spent answering requests.\n",
        );
        out.push_str("# TYPE gatehouse_http_latency_seconds_total counter\n");
        out.push_str(&format!(
            "gatehouse_http_latency_seconds_total {}\n",
            self.inner.latency_micros_total.load(Ordering::Relaxed) as f64 / 1e6
        ));
        out.push_str("# HELP gatehouse_tokens_issued_total Access tokens issued by grant type.\n");
        out.push_str("# TYPE gatehouse_tokens_issued_total counter\n");
        if let Ok(m) = self.inner.tokens_issued.lock() {
            for (grant, n) in m.iter() {
                out.push_str(&format!(
                    "gatehouse_tokens_issued_total{{grant_type=\"{grant}\"}} {n}\n"
                ));
            }
        }
        out.push_str(
            "# HELP gatehouse_jwks_requests_total JWKS documents served (GET /jwks.json).\n",
        );
        out.push_str("# TYPE gatehouse_jwks_requests_total counter\n");
        out.push_str(&format!(
            "gatehouse_jwks_requests_total {}\n",
            self.inner.jwks_requests.load(Ordering::Relaxed)
        ));
        out
    }
}
