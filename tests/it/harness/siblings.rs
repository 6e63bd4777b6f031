//! Several instances on one database (scale-out), the sign-in throttle's
//! counters, and counting answers of a burst.

use super::TestApp;
use actix_web::dev::ServerHandle;
use gatehouse::Application;

// ---- scale-out helpers ------------------------------------------------

/// How many requests race for one single-use thing (a code, a refresh
/// token, a device code, a registration token) in the race tests.
pub const RACERS: usize = 50;

/// The `i`th racer's URL for `path`: even ones hit `app`, odd ones `other`,
/// so a race is split across two instances.
pub fn racer_url(app: &TestApp, other: &Sibling, i: usize, path: &str) -> String {
    if i % 2 == 0 {
        app.url(path)
    } else {
        other.url(path)
    }
}

/// A second gatehouse instance on the same database and keys folder, as in
/// a deployment with several processes behind one issuer URL.
pub struct Sibling {
    pub base: String,
    handle: ServerHandle,
}

impl Drop for Sibling {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl Sibling {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

impl TestApp {
    /// Starts another instance sharing this one's database, keys folder,
    /// issuer and (for the tests) clock.
    pub fn sibling(&self) -> Sibling {
        let mut config = self.state.config.clone();
        config.issuer = Some(self.state.issuer.clone());
        let app = Application::build(config, self.state.clock.clone()).expect("sibling starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        actix_rt::spawn(app.run_until_stopped());
        Sibling { base, handle }
    }
}

// ---- throttle helpers -------------------------------------------------

impl TestApp {
    /// The failures counted now for a throttle key (`user:alice`,
    /// `ip:127.0.0.1`, `device-ip:127.0.0.1`, …); 0 when it has no row.
    pub fn throttle_failures(&self, key: &str) -> i64 {
        use diesel::prelude::*;
        use gatehouse::store::schema::sign_in_throttle;
        let mut c = self.state.store.conn().unwrap();
        let failures: Option<i64> = db!(c, conn => sign_in_throttle::table
            .find(key)
            .select(sign_in_throttle::failures)
            .first(conn)
            .optional())
        .unwrap();
        failures.unwrap_or(0)
    }
}

/// How many of `statuses` are `status`.
pub fn count_status(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}
