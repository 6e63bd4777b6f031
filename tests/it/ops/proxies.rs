//! Behind a reverse proxy (`GATEHOUSE_TRUSTED_PROXIES`): every throttle
//! keyed on the client address (sign-in page, password grant, sign-up,
//! device page) keys on the address the trusted proxy writes into the one
//! header it owns (`GATEHOUSE_TRUSTED_PROXY_HEADER`), every line of it, and
//! ignores the other header and any header from anyone else (RFC 7239,
//! RFC 9110 §5.3; RFC 6819 §4.4.3.6).
//!
//! The test plays a stock nginx (`proxy_set_header X-Forwarded-For
//! $proxy_add_x_forwarded_for`): what the client sent is passed through,
//! and the proxy appends the address it saw.

use crate::harness::{expect_error, form_field, TestApp};
use gatehouse::Config;

backend_tests!(a_forwarded_address_from_an_untrusted_peer_is_ignored);

pub(crate) fn behind_proxy(c: &mut Config) {
    c.trusted_proxies = gatehouse::net::parse_cidrs("127.0.0.1/32").unwrap();
    c.signup_open = true;
}

mod behind_an_x_forwarded_for_proxy {
    use super::*;
    backend_tests!(
        with crate::ops::proxies::behind_proxy;
        throttling_keys_on_the_address_a_trusted_proxy_forwards,
        trusted_proxy_header_a_client_sent_forwarded_header_cannot_escape_the_sign_in_throttle,
        trusted_proxy_header_a_client_cannot_lock_out_another_address,
        rfc9110_5_3_a_second_x_forwarded_for_line_from_the_proxy_is_read,
        trusted_proxy_header_keys_the_password_grant_throttle,
        trusted_proxy_header_keys_the_sign_up_throttle,
        trusted_proxy_header_keys_the_device_page_throttle,
    );
}

mod behind_a_forwarded_proxy {
    use super::*;
    backend_tests!(
        with |c| {
            crate::ops::proxies::behind_proxy(c);
            c.trusted_proxy_header = gatehouse::net::ProxyHeader::Forwarded;
        };
        trusted_proxy_header_forwarded_is_read_and_x_forwarded_for_ignored,
    );
}

/// The address the test's "proxy" appends: the client as it saw it.
const CLIENT: &str = "198.51.100.7";
/// Someone else, whom a client would like to lock out or hide behind.
const VICTIM: &str = "203.0.113.50";

/// Posts the sign-in form as `username` with a wrong password, through the
/// "proxy": `headers` are sent as they are, each a line of its own.
async fn sign_in_via(
    app: &TestApp,
    username: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> u16 {
    let page = app.get("/login").await.text().await.unwrap();
    let csrf = form_field(&page, "csrf_token").unwrap();
    let mut req = app.http.post(app.url("/login"));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.form(&[
        ("csrf_token", csrf.as_str()),
        ("next", "/account"),
        ("username", username),
        ("password", password),
    ])
    .send()
    .await
    .unwrap()
    .status()
    .as_u16()
}

async fn a_forwarded_address_from_an_untrusted_peer_is_ignored(app: TestApp) {
    app.alice();
    let spoof = [("X-Forwarded-For", "203.0.113.9")];
    assert_eq!(sign_in_via(&app, "alice", "wrong", &spoof).await, 401);
    let spoof = [("Forwarded", "for=198.51.100.4")];
    assert_eq!(sign_in_via(&app, "alice", "wrong", &spoof).await, 401);
    assert_eq!(app.throttle_failures("ip:203.0.113.9"), 0);
    assert_eq!(app.throttle_failures("ip:198.51.100.4"), 0);
    assert_eq!(app.throttle_failures("ip:127.0.0.1"), 2);
}

async fn throttling_keys_on_the_address_a_trusted_proxy_forwards(app: TestApp) {
    app.alice();
    let xff = [("X-Forwarded-For", "203.0.113.9")];
    assert_eq!(sign_in_via(&app, "alice", "wrong", &xff).await, 401);
    // A hop the client wrote itself, left of the proxy's, is not believed.
    let xff = [("X-Forwarded-For", "192.0.2.1, 203.0.113.9")];
    assert_eq!(sign_in_via(&app, "alice", "wrong", &xff).await, 401);
    assert_eq!(app.throttle_failures("ip:203.0.113.9"), 2);
    assert_eq!(app.throttle_failures("ip:192.0.2.1"), 0);
    assert_eq!(app.throttle_failures("ip:127.0.0.1"), 0);
}

/// A client that adds its own `Forwarded: for=…` (a new value on every
/// try) behind an X-Forwarded-For proxy is still counted at the address
/// the proxy saw, and locked after the free failures.
async fn trusted_proxy_header_a_client_sent_forwarded_header_cannot_escape_the_sign_in_throttle(
    app: TestApp,
) {
    // A 1-second lock must not run out between requests on a slow machine.
    app.clock().freeze();
    let mut statuses = Vec::new();
    for i in 0..8 {
        // A different (unknown) username each time, so only the address
        // key can lock.
        let forwarded = format!("for=192.0.2.{}", 10 + i);
        let headers = [
            ("Forwarded", forwarded.as_str()),
            ("X-Forwarded-For", CLIENT),
        ];
        statuses.push(sign_in_via(&app, &format!("guess{i}"), "wrong", &headers).await);
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(app.throttle_failures("ip:192.0.2.10"), 0);
}

/// Failures sent with `Forwarded: for=<victim>` count against the sender,
/// never the victim, who still signs in.
async fn trusted_proxy_header_a_client_cannot_lock_out_another_address(app: TestApp) {
    app.clock().freeze();
    app.alice();
    let forwarded = format!("for={VICTIM}");
    for i in 0..10 {
        let headers = [
            ("Forwarded", forwarded.as_str()),
            ("X-Forwarded-For", CLIENT),
        ];
        let status = sign_in_via(&app, &format!("guess{i}"), "wrong", &headers).await;
        // The sender's own free failures, then its lock (RFC 6819 §4.4.3.6).
        assert_eq!(status, if i < 5 { 401 } else { 429 }, "try {i}");
    }
    assert_eq!(app.throttle_failures(&format!("ip:{VICTIM}")), 0);
    let victim = [("X-Forwarded-For", VICTIM)];
    assert_eq!(
        sign_in_via(&app, "alice", "correct horse", &victim).await,
        303,
        "the victim signs in"
    );
    let attacker = [("X-Forwarded-For", CLIENT)];
    assert_eq!(
        sign_in_via(&app, "alice", "correct horse", &attacker).await,
        429,
        "the sender is the one locked"
    );
}

/// RFC 9110 §5.3: a proxy that adds its own `X-Forwarded-For` line after
/// the client's is read from its line; the client's first line is only
/// the far end of the list.
async fn rfc9110_5_3_a_second_x_forwarded_for_line_from_the_proxy_is_read(app: TestApp) {
    let headers = [("X-Forwarded-For", VICTIM), ("X-Forwarded-For", CLIENT)];
    assert_eq!(sign_in_via(&app, "alice", "wrong", &headers).await, 401);
    assert_eq!(app.throttle_failures(&format!("ip:{CLIENT}")), 1);
    assert_eq!(app.throttle_failures(&format!("ip:{VICTIM}")), 0);
}

/// The spoofing headers every remaining test sends: the client's own
/// `Forwarded` and `X-Forwarded-For` naming the victim, then the proxy's
/// `X-Forwarded-For` line naming the client.
const SPOOFED: [(&str, &str); 3] = [
    ("Forwarded", "for=203.0.113.50"),
    ("X-Forwarded-For", VICTIM),
    ("X-Forwarded-For", CLIENT),
];

async fn trusted_proxy_header_keys_the_password_grant_throttle(app: TestApp) {
    let c = app.password_client();
    let mut req = app
        .http
        .post(app.url("/token"))
        .basic_auth(&c.client.id, c.secret.as_deref());
    for (name, value) in SPOOFED {
        req = req.header(name, value);
    }
    let r = req
        .form(&[
            ("grant_type", "password"),
            ("username", "nobody"),
            ("password", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_grant").await;
    assert_eq!(app.throttle_failures(&format!("ip:{CLIENT}")), 1);
    assert_eq!(app.throttle_failures(&format!("ip:{VICTIM}")), 0);
    assert_eq!(app.throttle_failures("ip:127.0.0.1"), 0);
}

/// Posts the form of the page at `path` (its CSRF token, then `fields`)
/// with the spoofing headers; returns the status.
async fn post_page_spoofed(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> u16 {
    let page = app.get(path).await.text().await.unwrap();
    let csrf = form_field(&page, "csrf_token").unwrap();
    let mut req = app.http.post(app.url(path));
    for (name, value) in SPOOFED {
        req = req.header(name, value);
    }
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    req.form(&form).send().await.unwrap().status().as_u16()
}

async fn trusted_proxy_header_keys_the_sign_up_throttle(app: TestApp) {
    let fields = [
        ("next", "/account"),
        ("username", "frank"),
        ("password", "short"),
    ];
    assert_eq!(post_page_spoofed(&app, "/signup", &fields).await, 400);
    assert_eq!(app.throttle_failures(&format!("signup-ip:{CLIENT}")), 1);
    assert_eq!(app.throttle_failures(&format!("signup-ip:{VICTIM}")), 0);
    assert_eq!(app.throttle_failures("signup-ip:127.0.0.1"), 0);
}

async fn trusted_proxy_header_keys_the_device_page_throttle(app: TestApp) {
    let fields = [("user_code", "BCDF-GHJK")];
    assert_eq!(
        post_page_spoofed(&app, "/device", &fields).await,
        400,
        "an unknown code"
    );
    assert_eq!(app.throttle_failures(&format!("device-ip:{CLIENT}")), 1);
    assert_eq!(app.throttle_failures(&format!("device-ip:{VICTIM}")), 0);
    assert_eq!(app.throttle_failures("device-ip:127.0.0.1"), 0);
}

/// With `GATEHOUSE_TRUSTED_PROXY_HEADER=forwarded`, only `Forwarded` is
/// read (every line), and a client's `X-Forwarded-For` is ignored.
async fn trusted_proxy_header_forwarded_is_read_and_x_forwarded_for_ignored(app: TestApp) {
    let headers = [
        ("X-Forwarded-For", VICTIM),
        ("Forwarded", "for=192.0.2.99"),
        ("Forwarded", "for=\"[2001:db8::17]:4711\";proto=https"),
    ];
    assert_eq!(sign_in_via(&app, "alice", "wrong", &headers).await, 401);
    assert_eq!(app.throttle_failures("ip:2001:db8::17"), 1);
    assert_eq!(app.throttle_failures(&format!("ip:{VICTIM}")), 0);
    assert_eq!(app.throttle_failures("ip:192.0.2.99"), 0);
}
