//! The only caller of `Utc::now`. Tests move time forward through `advance`
//! instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct Clock {
    /// Milliseconds added to the real (or frozen) time.
    offset_ms: Arc<AtomicI64>,
    /// When set (non-zero), the millisecond time stands still at.
    frozen_ms: Arc<AtomicI64>,
}

impl Clock {
    /// Now, as Unix seconds (rounded down).
    pub fn now(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }

    /// Now, as Unix milliseconds: for what must last at least a nominal
    /// time however close to the end of a second it starts (throttle
    /// locks).
    #[allow(clippy::disallowed_methods)] // the one caller, by design
    pub fn now_millis(&self) -> i64 {
        let frozen = self.frozen_ms.load(Ordering::Relaxed);
        let base = if frozen != 0 {
            frozen
        } else {
            chrono::Utc::now().timestamp_millis()
        };
        base + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Stops this clock (and every copy of it) at the current millisecond,
    /// so a test that needs two requests to fall within a short lock is not
    /// at the mercy of a slow machine. `advance` still moves it.
    pub fn freeze(&self) {
        #[allow(clippy::disallowed_methods)] // reading the time to stop at
        let now = chrono::Utc::now().timestamp_millis();
        self.freeze_at_millis(now);
    }

    /// Stops this clock (and every copy) at `ms` Unix milliseconds (plus
    /// whatever `advance` adds); a clock already frozen stays where it is.
    pub fn freeze_at_millis(&self, ms: i64) {
        let _ = self
            .frozen_ms
            .compare_exchange(0, ms, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Moves this clock (and every copy of it) forward.
    pub fn advance(&self, seconds: i64) {
        self.advance_millis(seconds.saturating_mul(1000));
    }

    /// Moves this clock (and every copy of it) forward by milliseconds.
    pub fn advance_millis(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}
