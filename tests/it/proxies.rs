//! Behind a reverse proxy (`GATEHOUSE_TRUSTED_PROXIES`): sign-in throttling
//! keys on the client address a trusted proxy forwards, and ignores the
//! same header from anyone else (RFC 7239; RFC 6819 §4.4.3.6).

use crate::harness::{form_field, TestApp};

backend_tests!(a_forwarded_address_from_an_untrusted_peer_is_ignored);

mod behind_a_trusted_proxy {
    use super::*;
    backend_tests!(
        with |c| c.trusted_proxies = gatehouse::net::parse_cidrs("127.0.0.1/32").unwrap();
        throttling_keys_on_the_address_a_trusted_proxy_forwards,
    );
}

/// Posts a wrong password for `alice` with `header: value` set.
async fn wrong_password_via(app: &TestApp, header: &str, value: &str) {
    let page = app.get("/login").await.text().await.unwrap();
    let csrf = form_field(&page, "csrf_token").unwrap();
    let r = app
        .http
        .post(app.url("/login"))
        .header(header, value)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("next", "/account"),
            ("username", "alice"),
            ("password", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

async fn a_forwarded_address_from_an_untrusted_peer_is_ignored(app: TestApp) {
    app.alice();
    wrong_password_via(&app, "X-Forwarded-For", "203.0.113.9").await;
    wrong_password_via(&app, "Forwarded", "for=198.51.100.4").await;
    assert_eq!(app.throttle_failures("ip:203.0.113.9"), 0);
    assert_eq!(app.throttle_failures("ip:198.51.100.4"), 0);
    assert_eq!(app.throttle_failures("ip:127.0.0.1"), 2);
}

async fn throttling_keys_on_the_address_a_trusted_proxy_forwards(app: TestApp) {
    app.alice();
    wrong_password_via(&app, "X-Forwarded-For", "203.0.113.9").await;
    // A hop the client wrote itself, left of the proxy's, is not believed.
    wrong_password_via(&app, "X-Forwarded-For", "192.0.2.1, 203.0.113.9").await;
    wrong_password_via(&app, "Forwarded", "for=\"[2001:db8::17]:4711\"").await;
    assert_eq!(app.throttle_failures("ip:203.0.113.9"), 2);
    assert_eq!(app.throttle_failures("ip:192.0.2.1"), 0);
    assert_eq!(app.throttle_failures("ip:2001:db8::17"), 1);
    assert_eq!(app.throttle_failures("ip:127.0.0.1"), 0);
}
