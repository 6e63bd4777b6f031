//! Time, injectable: validation and the key cache read it only through a
//! [`Clock`], so tests move it instead of sleeping.

/// The current time as Unix seconds.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the guard's one caller, by design
    fn now(&self) -> i64 {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            // A clock before 1970 makes every token look not yet valid:
            // refused, which is the safe way to be wrong.
            Err(_) => 0,
        }
    }
}
