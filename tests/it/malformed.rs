//! Client mistakes never produce a 5xx: every endpoint answers garbage with
//! a 4xx (JSON for the API, a page for the browser endpoints).

use crate::harness::TestApp;

backend_tests!(malformed_requests_get_4xx_never_5xx);

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
    assert!(r.status().is_client_error(), "{}", r.status());
    for q in [
        "",
        "?%%%",
        "?client_id=%ff%fe",
        "?user_code=%00%00",
        "?next=%0d%0aX:1",
        "?revoked=%zz",
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
