//! The only caller of `Utc::now`. Tests move time forward through `advance`
//! instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct Clock {
    offset: Arc<AtomicI64>,
}

impl Clock {
    /// Now, as Unix seconds.
    #[allow(clippy::disallowed_methods)] // the one caller, by design
    pub fn now(&self) -> i64 {
        chrono::Utc::now().timestamp() + self.offset.load(Ordering::Relaxed)
    }

    /// Moves this clock (and every copy of it) forward.
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::Relaxed);
    }
}
