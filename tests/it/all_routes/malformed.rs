//! Client mistakes never produce a 5xx: every endpoint answers garbage with
//! a 4xx (JSON for the API, a page for the browser endpoints); where an RFC
//! names the answer to a particular mistake, exactly that one.

use crate::harness::{code_query, expect_error, pkce_pair, url_params, TestApp};
use gatehouse::registry::NewClient;

backend_tests!(
    malformed_requests_get_4xx_never_5xx,
    rfc6749_5_2_oversized_and_undecodable_bodies_get_json_errors,
    rfc6749_5_2_error_description_never_echoes_input,
    rfc6749_4_1_2_1_redirected_error_description_never_echoes_input,
    rfc6749_3_2_thousands_of_parameters_are_refused,
    nul_bytes_and_overlong_values_are_refused_before_any_query,
);

/// The JSON endpoints, which answer every error as RFC 6749 §5.2 JSON.
const JSON_ENDPOINTS: [&str; 4] = ["/token", "/revoke", "/introspect", "/device_authorization"];

/// RFC 6749 §5.2 `error_description`: `%x20-21 / %x23-5B / %x5D-7E` only.
fn allowed_description(d: &str) -> bool {
    d.bytes()
        .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

async fn malformed_requests_get_4xx_never_5xx(app: TestApp) {
    let c = app.service_client();
    let posts = [
        "/token",
        "/revoke",
        "/introspect",
        "/device_authorization",
        "/authorize",
        "/consent",
        "/login",
        "/logout",
        "/device",
        "/account/revoke",
        "/account",
    ];
    let bodies: [(&str, &[u8]); 6] = [
        ("application/x-www-form-urlencoded", b"%%%=&&=%zz"),
        (
            "application/x-www-form-urlencoded",
            &[0xff, 0xfe, 0x00, b'=', 0x80],
        ),
        (
            "application/x-www-form-urlencoded",
            b"grant_type=client_credentials&grant_type=password",
        ),
        ("application/json", b"{\"grant_type\": 5}"),
        ("text/plain", b"hello"),
        ("application/x-www-form-urlencoded", b""),
    ];
    for path in posts {
        for (ct, body) in bodies {
            for auth in [None, Some(("Basic", "!!!")), Some(("Basic", "Og=="))] {
                let mut req = app
                    .http
                    .post(app.url(path))
                    .header("content-type", ct)
                    .body(body.to_vec());
                if let Some((scheme, v)) = auth {
                    req = req.header("authorization", format!("{scheme} {v}"));
                }
                let r = req.send().await.unwrap();
                let status = r.status().as_u16();
                assert!(
                    (400..500).contains(&status),
                    "POST {path} ({ct}, {body:?}) → {status}"
                );
            }
        }
        // Authenticated, but the body is still nonsense.
        let r = app
            .post_form_basic(
                path,
                &c,
                &[("token", "\u{0}\u{1}"), ("grant_type", "\u{7f}")],
            )
            .await;
        assert!(
            r.status().as_u16() < 500,
            "POST {path} as a client → {}",
            r.status()
        );
    }
    // Oversized bodies are refused, not buffered.
    let big = vec![b'a'; 256 * 1024];
    let r = app
        .http
        .post(app.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    // RFC 9110 §15.5.14, as RFC 6749 §5.2 JSON.
    expect_error(r, 413, "invalid_request").await;
    for q in [
        "",
        "?%%%",
        "?client_id=%ff%fe",
        "?user_code=%00%00",
        "?next=%0d%0aX:1",
        "?revoked=%zz",
        "?signed_out=-1",
    ] {
        for path in [
            "/authorize",
            "/consent",
            "/login",
            "/device",
            "/logout",
            "/account",
        ] {
            let r = app.get(&format!("{path}{q}")).await;
            let s = r.status().as_u16();
            assert!(s < 500, "GET {path}{q} → {s}");
        }
    }
}

/// A body over the limit and a gzip body that does not decode are client
/// mistakes: `invalid_request` as RFC 6749 §5.2 JSON (413 and 400), never
/// the framework's plain text or the decoder's own message.
async fn rfc6749_5_2_oversized_and_undecodable_bodies_get_json_errors(app: TestApp) {
    for path in JSON_ENDPOINTS {
        let r = app
            .http
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(vec![b'a'; 256 * 1024])
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], "application/json", "{path}");
        let body = expect_error(r, 413, "invalid_request").await;
        assert!(allowed_description(
            body["error_description"].as_str().unwrap()
        ));

        let r = app
            .http
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("content-encoding", "gzip")
            .body(b"\x1f\x8b\x08\x00not gzip at all".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], "application/json", "{path}");
        let body = expect_error(r, 400, "invalid_request").await;
        let d = body["error_description"].as_str().unwrap();
        assert!(!d.contains("gzip") && !d.contains("header"), "{path}: {d}");
    }
}

/// RFC 6749 §5.2: `error_description` holds only `%x20-21 / %x23-5B /
/// %x5D-7E` and describes the problem in gatehouse's words: no raw input
/// (CR/LF, quotes, backslashes, control or non-ASCII characters) comes
/// back.
async fn rfc6749_5_2_error_description_never_echoes_input(app: TestApp) {
    let c = app.service_client();
    let evil = "EVIL\r\nSet-Cookie: x=\"1\"\\\u{1}\u{7f}é";
    let evil_key = "k\r\n\"é";
    let forms: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("grant_type", evil)], "unsupported_grant_type"),
        (
            vec![("grant_type", "client_credentials"), ("scope", evil)],
            "invalid_scope",
        ),
        (
            vec![("grant_type", "client_credentials"), ("scope", "EVILSCOPE")],
            "invalid_scope",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                (evil_key, "1"),
                (evil_key, "2"),
            ],
            "invalid_request",
        ),
    ];
    for (form, code) in forms {
        let r = app.post_form_basic("/token", &c, &form).await;
        let body = expect_error(r, 400, code).await;
        let d = body["error_description"].as_str().unwrap();
        assert!(allowed_description(d), "{d:?}");
        assert!(!d.contains("EVIL") && !d.contains("Set-Cookie"), "{d:?}");
    }
}

/// RFC 6749 §4.1.2.1: the same holds for errors redirected to the client.
async fn rfc6749_4_1_2_1_redirected_error_description_never_echoes_input(app: TestApp) {
    let c = app.web_client(true);
    let (_, ch) = pkce_pair();
    for (extra, code) in [
        (
            [("response_type", "EVIL\r\n\"\\é")],
            "unsupported_response_type",
        ),
        (
            [("code_challenge_method", "EVIL\r\n\"\\é")],
            "invalid_request",
        ),
        ([("scope", "EVIL\"\\é")], "invalid_scope"),
    ] {
        let q = code_query(&c, &ch, &extra);
        let (status, loc) = app.location(&format!("/authorize?{q}")).await;
        assert_eq!(status, 303, "{extra:?}");
        let p = url_params(&loc, false);
        assert_eq!(p["error"], code, "{loc}");
        let d = &p["error_description"];
        assert!(allowed_description(d), "{d:?}");
        assert!(!d.contains("EVIL"), "{d:?}");
    }
}

/// A body of 9,000 distinct parameters is refused as `invalid_request`
/// (at most 64 are read), without checking each against every other.
async fn rfc6749_3_2_thousands_of_parameters_are_refused(app: TestApp) {
    let body: String = (0..9000)
        .map(|i| format!("{i:x}=1"))
        .collect::<Vec<_>>()
        .join("&");
    assert!(body.len() < 64 * 1024);
    for path in JSON_ENDPOINTS {
        let r = app
            .http
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("grant_type=client_credentials&{body}"))
            .send()
            .await
            .unwrap();
        expect_error(r, 400, "invalid_request").await;
    }
    // A request of ordinary size still works.
    let c = app.service_client();
    let r = app
        .post_form_basic("/token", &c, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status(), 200);
}

/// NUL characters and over-long identifiers are refused at the edge with
/// the RFC's error (or a page), before any query: PostgreSQL can't store a
/// NUL, and an index row has a size limit. They used to give 500s there,
/// and the authorization page showed the database's error text.
async fn nul_bytes_and_overlong_values_are_refused_before_any_query(app: TestApp) {
    app.alice();
    let pub_client = app.client(NewClient {
        name: "tv".into(),
        grant_types: vec![
            gatehouse::oauth::device::GRANT_TYPE.into(),
            "password".into(),
        ],
        scope: "read".into(),
        public: true,
        ..Default::default()
    });
    let long = "a".repeat(4000);
    for path in JSON_ENDPOINTS {
        for id in ["abc\0def", long.as_str()] {
            let r = app
                .post_form(
                    path,
                    &[
                        ("client_id", id),
                        ("grant_type", "client_credentials"),
                        ("token", "x"),
                    ],
                )
                .await;
            let body = expect_error(r, 400, "invalid_request").await;
            assert!(allowed_description(
                body["error_description"].as_str().unwrap()
            ));
        }
        // The same id in the Authorization header.
        let r = app
            .http
            .post(app.url(path))
            .basic_auth("abc\0def", Some("secret"))
            .form(&[("grant_type", "client_credentials"), ("token", "x")])
            .send()
            .await
            .unwrap();
        expect_error(r, 401, "invalid_client").await;
    }
    // The password grant's username.
    for username in ["alice\0", long.as_str()] {
        let r = app
            .post_form(
                "/token",
                &[
                    ("grant_type", "password"),
                    ("client_id", &pub_client.client.id),
                    ("username", username),
                    ("password", "whatever"),
                ],
            )
            .await;
        expect_error(r, 400, "invalid_request").await;
    }
    // The sign-in page.
    for username in ["alice\0", long.as_str()] {
        let r = app.sign_in(username, "whatever", "/account").await;
        assert_eq!(r.status(), 400, "{}", &username[..5]);
    }
    // The authorization endpoint: an unknown client is a page (no database
    // text); a NUL in another parameter of a valid request redirects.
    let r = app.get("/authorize?client_id=%00&response_type=code").await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(
        !html.contains("invalid byte") && !html.contains("encoding"),
        "{html}"
    );
    let web = app.web_client(true);
    let (_, ch) = pkce_pair();
    let q = code_query(&web, &ch, &[("nonce", "n\0")]);
    let (status, loc) = app.location(&format!("/authorize?{q}")).await;
    assert_eq!(status, 303);
    assert_eq!(url_params(&loc, false)["error"], "invalid_request");
    // The account page's form (signed in; every form of a session carries
    // the same token).
    assert_eq!(
        app.sign_in(
            crate::harness::USERNAME,
            crate::harness::PASSWORD,
            "/account"
        )
        .await
        .status(),
        303
    );
    let html = app.get("/logout").await.text().await.unwrap();
    let csrf = crate::harness::form_field(&html, "csrf_token").unwrap();
    let r = app
        .post_form(
            "/account/revoke",
            &[("csrf_token", &csrf), ("client_id", "a\0")],
        )
        .await;
    assert_eq!(r.status(), 400);
    // `/account`'s forms with their fields missing or mangled.
    let cases = [
        ("a\0", 400),
        ("", 400),
        ("change_password", 400),
        ("sign_out_session", 404),
    ];
    for (action, status) in cases {
        let r = app
            .post_form("/account", &[("csrf_token", &csrf), ("action", action)])
            .await;
        assert_eq!(r.status(), status, "{action:?}");
    }
}

mod open_registration {
    use super::*;
    backend_tests!(
        with |c| c.registration = gatehouse::config::Registration::Open;
        nul_bytes_in_paths_queries_and_json_never_reach_a_query,
    );
}

/// A NUL byte (`%00`, or `\u0000` in JSON) in any path parameter, query
/// parameter or JSON string is refused or treated as unknown before it
/// reaches a query (PostgreSQL refuses NUL in text and would answer 500).
/// RFC 7592 §2.1: a registration URI with one is the same `401
/// invalid_token` as any client the token does not fit.
async fn nul_bytes_in_paths_queries_and_json_never_reach_a_query(app: TestApp) {
    app.alice();
    // RFC 7591: register a client, to have a real registration token.
    let r = app
        .http
        .post(app.url("/register"))
        .json(&serde_json::json!({
            "client_name": "ok",
            "redirect_uris": ["https://app.example/cb"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let reg: serde_json::Value = r.json().await.unwrap();
    let token = reg["registration_access_token"].as_str().unwrap();
    let id = reg["client_id"].as_str().unwrap();
    for path in [
        "/register/abc%00",
        &format!("/register/{id}%00"),
        "/register/%00",
    ] {
        for method in [
            reqwest::Method::GET,
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
        ] {
            let r = app
                .http
                .request(method.clone(), app.url(path))
                .bearer_auth(token)
                .json(&serde_json::json!({"client_id": id, "redirect_uris": ["https://app.example/cb"]}))
                .send()
                .await
                .unwrap();
            expect_error(r, 401, "invalid_token").await;
        }
    }
    // JSON strings with NUL in every field /register reads.
    let nul = "a\u{0}b";
    for field in [
        "client_name",
        "client_uri",
        "logo_uri",
        "scope",
        "token_endpoint_auth_method",
    ] {
        let mut meta = serde_json::json!({"redirect_uris": ["https://app.example/cb"]});
        meta[field] = nul.into();
        let r = app
            .http
            .post(app.url("/register"))
            .json(&meta)
            .send()
            .await
            .unwrap();
        expect_error(r, 400, "invalid_client_metadata").await;
    }
    for field in ["redirect_uris", "grant_types", "response_types", "contacts"] {
        let mut meta = serde_json::json!({"redirect_uris": ["https://app.example/cb"]});
        meta[field] = serde_json::json!([format!("https://app.example/{nul}")]);
        let r = app
            .http
            .post(app.url("/register"))
            .json(&meta)
            .send()
            .await
            .unwrap();
        // RFC 7591 §3.2.2: a bad redirect URI has its own code.
        let code = if field == "redirect_uris" {
            "invalid_redirect_uri"
        } else {
            "invalid_client_metadata"
        };
        expect_error(r, 400, code).await;
    }
    // Query parameters of the pages, signed out and signed in.
    let queries = [
        "/login?next=%00",
        "/login?next=/authorize?client_id%3D%2500",
        "/logout?client_id=a%00&post_logout_redirect_uri=https://x/%00&state=%00",
        "/logout?id_token_hint=a%00.b.c",
        "/device?user_code=%00",
        "/consent?client_id=%00",
        "/apps/new?x=%00",
        "/userinfo?access_token=%00",
    ];
    for signed_in in [false, true] {
        if signed_in {
            assert_eq!(
                app.sign_in(
                    crate::harness::USERNAME,
                    crate::harness::PASSWORD,
                    "/account"
                )
                .await
                .status(),
                303
            );
        }
        for q in queries {
            let status = app.get(q).await.status().as_u16();
            assert!(status < 500, "{q} (signed in: {signed_in}): {status}");
        }
        // The app pages' path parameter: signed out, to the sign-in page;
        // signed in, an unknown app.
        for path in ["/apps/abc%00", &format!("/apps/{id}%00")] {
            let status = app.get(path).await.status().as_u16();
            assert_eq!(status, if signed_in { 404 } else { 303 }, "{path}");
        }
    }
}

mod slow_bodies {
    use super::*;
    backend_tests!(
        with |c| c.request_body_timeout = 1;
        rfc9110_15_5_9_a_body_that_does_not_arrive_in_time_is_408_and_closes_the_connection,
    );
}

/// Sends `path` a POST whose 200-byte body trickles in a byte every 100 ms
/// (20 s in all), and returns what the server answered before the body
/// was complete: the whole response, read until the server closed the
/// connection. Panics if the body was sent in full first.
fn trickle(addr: std::net::SocketAddr, path: &str, content_type: &str) -> String {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    write!(
        conn,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: 200\r\n\r\n"
    )
    .unwrap();
    let mut writer = conn.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        for _ in 0..200 {
            std::thread::sleep(std::time::Duration::from_millis(100));
            if writer.write_all(b"a").is_err() {
                return false; // the server closed: good
            }
        }
        true
    });
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    let _ = conn.shutdown(std::net::Shutdown::Both);
    assert!(!sender.join().unwrap(), "the whole slow body was read");
    String::from_utf8_lossy(&answer).into_owned()
}

/// A request body that takes longer than `GATEHOUSE_REQUEST_BODY_TIMEOUT`
/// is answered 408 (RFC 9110 §15.5.9) without waiting for the rest: JSON
/// `invalid_request` at the JSON endpoints, a page at the pages; the
/// connection is closed, so the sender cannot hold it.
async fn rfc9110_15_5_9_a_body_that_does_not_arrive_in_time_is_408_and_closes_the_connection(
    app: TestApp,
) {
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let (token, login) = actix_web::rt::task::spawn_blocking(move || {
        (
            trickle(addr, "/token", "application/x-www-form-urlencoded"),
            trickle(addr, "/login", "application/x-www-form-urlencoded"),
        )
    })
    .await
    .unwrap();
    assert!(token.starts_with("HTTP/1.1 408"), "{token}");
    assert!(
        token
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{token}"
    );
    assert!(token.contains("\"error\":\"invalid_request\""), "{token}");
    assert!(login.starts_with("HTTP/1.1 408"), "{login}");
    assert!(
        login
            .to_ascii_lowercase()
            .contains("content-type: text/html"),
        "{login}"
    );
    assert!(login.contains("took too long"), "{login}");
    assert!(
        login.to_ascii_lowercase().contains("x-frame-options: deny"),
        "security headers"
    );
    // A body at ordinary speed is unaffected.
    let c = app.service_client();
    let r = app
        .post_form_basic("/token", &c, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status(), 200);
}
