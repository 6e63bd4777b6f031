//! The only caller of `Utc::now`. Tests move time forward through `advance`
//! instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct Clock {
    offset: Arc<AtomicI64>,
    /// When set (non-zero), the second time stands still at.
    frozen: Arc<AtomicI64>,
}

impl Clock {
    /// Now, as Unix seconds.
    #[allow(clippy::disallowed_methods)] // the one caller, by design
    pub fn now(&self) -> i64 {
        let frozen = self.frozen.load(Ordering::Relaxed);
        let base = if frozen != 0 {
            frozen
        } else {
            chrono::Utc::now().timestamp()
        };
        base + self.offset.load(Ordering::Relaxed)
    }

    /// Stops this clock (and every copy of it) at the current second, so a
    /// test that needs two requests to fall in the same second (a 1-second
    /// lock) is not at the mercy of a slow machine. `advance` still moves
    /// it.
    pub fn freeze(&self) {
        #[allow(clippy::disallowed_methods)] // reading the time to stop at
        let now = chrono::Utc::now().timestamp();
        let _ = self
            .frozen
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Moves this clock (and every copy of it) forward.
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::Relaxed);
    }
}
