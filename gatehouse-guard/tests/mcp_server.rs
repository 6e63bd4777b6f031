//! The MCP server example (`examples/mcp_server.rs`, included as a module
//! as gatehouse's end-to-end test includes it), driven as an MCP client
//! would drive it: tokens signed with a test key that a small stand-in
//! issuer (RFC 8414 metadata and JWKS on a random port) publishes.

#![allow(clippy::unwrap_used)]

#[path = "../examples/mcp_server.rs"]
#[allow(dead_code)]
mod mcp_server;

use actix_web::http::header;
use actix_web::{test, web, App, HttpResponse, HttpServer};
use base64::Engine;
use gatehouse_guard::Guard;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

/// RSA 2048, made for these tests only (and published with them).
const DER_B64: &str = include_str!("data/test_rsa_pkcs1.der.b64");
const N: &str = include_str!("data/test_rsa_n.txt");
const KID: &str = "guard-test-key";
/// The MCP server's canonical URI (nothing listens there: requests go to
/// the test service directly).
const RESOURCE: &str = "http://127.0.0.1:9/mcp";
const METADATA_URL: &str = "http://127.0.0.1:9/.well-known/oauth-protected-resource/mcp";

/// Serves RFC 8414 metadata and the JWKS of the test key; returns the
/// issuer URL.
fn start_issuer() -> String {
    let server = HttpServer::new(|| {
        App::new()
            .route(
                "/.well-known/oauth-authorization-server",
                web::get().to(|req: actix_web::HttpRequest| async move {
                    let issuer = format!("http://{}", req.connection_info().host());
                    HttpResponse::Ok().json(json!({
                        "issuer": issuer,
                        "jwks_uri": format!("{issuer}/jwks.json"),
                    }))
                }),
            )
            .route(
                "/jwks.json",
                web::get().to(|| async {
                    HttpResponse::Ok().json(json!({"keys": [{
                        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID,
                        "n": N.trim(), "e": "AQAB",
                    }]}))
                }),
            )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    format!("http://{addr}")
}

fn now() -> i64 {
    gatehouse_guard::Clock::now(&gatehouse_guard::SystemClock)
}

/// An RFC 9068 access token from `issuer` for `aud` with `scope`.
fn token(issuer: &str, aud: &str, scope: &str) -> String {
    let der = base64::engine::general_purpose::STANDARD
        .decode(DER_B64.split_whitespace().collect::<String>())
        .unwrap();
    let mut h = Header::new(Algorithm::RS256);
    h.typ = Some("at+jwt".into());
    h.kid = Some(KID.into());
    let claims = json!({
        "iss": issuer, "aud": aud, "sub": "user-1", "client_id": "mcp-client",
        "exp": now() + 600, "iat": now(), "jti": "j1", "scope": scope,
    });
    jsonwebtoken::encode(&h, &claims, &EncodingKey::from_rsa_der(&der)).unwrap()
}

/// The stand-in issuer, a guard for [`RESOURCE`] and the MCP app mounted
/// as the end-to-end test mounts it.
macro_rules! setup {
    () => {{
        let issuer = start_issuer();
        let guard = Guard::builder(issuer.as_str(), RESOURCE)
            .scopes_supported(["mcp"])
            .resource_name("MCP test")
            .build()
            .await
            .unwrap();
        let guard = web::Data::new(guard);
        let app = test::init_service(
            App::new().configure(|cfg| mcp_server::configure(cfg, guard.clone(), &["mcp"])),
        )
        .await;
        (issuer, app)
    }};
}

/// POSTs one JSON-RPC message to `/mcp`: status, headers, body.
macro_rules! rpc {
    ($app:expr, $token:expr, $body:expr) => {
        rpc!($app, $token, $body, None::<&str>)
    };
    ($app:expr, $token:expr, $body:expr, $version:expr) => {{
        let token: Option<&str> = $token;
        let mut req = test::TestRequest::post()
            .uri("/mcp")
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .insert_header((header::ACCEPT, "application/json, text/event-stream"))
            .set_payload($body.to_string());
        if let Some(t) = token {
            req = req.insert_header((header::AUTHORIZATION, format!("Bearer {t}")));
        }
        if let Some(v) = $version {
            req = req.insert_header(("MCP-Protocol-Version", v));
        }
        let resp = test::call_service(&$app, req.to_request()).await;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = test::read_body(resp).await;
        let json: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).unwrap()
        };
        (status, headers, json)
    }};
}

fn www(headers: &actix_web::http::header::HeaderMap) -> String {
    headers
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[actix_web::test]
async fn mcp_initialize_tools_list_and_whoami_with_a_token_for_this_resource() {
    let (issuer, app) = setup!();
    let t = token(&issuer, RESOURCE, "mcp read");
    let (status, headers, body) = rpc!(
        app,
        Some(t.as_str()),
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"},
        }})
    );
    assert_eq!(status, 200);
    assert_eq!(
        headers.get(header::CONTENT_TYPE).unwrap(),
        "application/json"
    );
    assert_eq!(
        body,
        json!({"jsonrpc": "2.0", "id": 1, "result": {
            "protocolVersion": "2025-06-18",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": mcp_server::SERVER_NAME, "version": mcp_server::SERVER_VERSION},
        }})
    );

    let (status, _, body) = rpc!(
        app,
        Some(t.as_str()),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        Some("2025-06-18")
    );
    assert_eq!((status, body), (202, Value::Null));

    let (status, _, body) = rpc!(
        app,
        Some(t.as_str()),
        json!({"jsonrpc": "2.0", "id": "a", "method": "tools/list"}),
        Some("2025-06-18")
    );
    assert_eq!(status, 200);
    assert_eq!(body["id"], "a");
    let tools = body["result"]["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0]["name"], "whoami");
    assert_eq!(
        tools[0]["inputSchema"],
        json!({"type": "object", "properties": {}})
    );

    let (status, _, body) = rpc!(
        app,
        Some(t.as_str()),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
               "params": {"name": "whoami", "arguments": {}}}),
        Some("2025-06-18")
    );
    assert_eq!(status, 200);
    assert_eq!(
        body["result"]["content"],
        json!([{"type": "text", "text": "user-1 mcp read"}])
    );
    assert_eq!(body["result"]["isError"], false);
}

#[actix_web::test]
async fn mcp_initialize_echoes_a_known_revision_and_offers_2025_06_18_otherwise() {
    let (issuer, app) = setup!();
    let t = token(&issuer, RESOURCE, "mcp");
    for (asked, answered) in [
        ("2025-11-25", "2025-11-25"),
        ("2025-06-18", "2025-06-18"),
        ("2024-11-05", "2025-06-18"),
        ("2099-01-01", "2025-06-18"),
    ] {
        let (status, _, body) = rpc!(
            app,
            Some(t.as_str()),
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                   "params": {"protocolVersion": asked, "capabilities": {}}})
        );
        assert_eq!(status, 200);
        assert_eq!(body["result"]["protocolVersion"], answered, "{asked}");
    }
}

#[actix_web::test]
async fn json_rpc_unknown_methods_tools_and_bad_messages_get_their_errors() {
    let (issuer, app) = setup!();
    let t = token(&issuer, RESOURCE, "mcp");
    let t = Some(t.as_str());
    let (status, _, body) = rpc!(
        app,
        t,
        json!({"jsonrpc": "2.0", "id": 3, "method": "resources/list"})
    );
    assert_eq!(status, 200);
    assert_eq!(body["id"], 3);
    assert_eq!(body["error"]["code"], -32601);

    let (_, _, body) = rpc!(
        app,
        t,
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "rm"}})
    );
    assert_eq!(body["error"]["code"], -32602);

    let (status, _, body) = rpc!(app, t, "{not json");
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!(-32700))
    );

    let (status, _, body) = rpc!(
        app,
        t,
        json!([{"jsonrpc": "2.0", "id": 5, "method": "ping"}])
    );
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!(-32600))
    );

    // MCP Streamable HTTP: an unsupported MCP-Protocol-Version is 400.
    let (status, _, _) = rpc!(
        app,
        t,
        json!({"jsonrpc": "2.0", "id": 6, "method": "ping"}),
        Some("1999-01-01")
    );
    assert_eq!(status, 400);
    let (status, _, body) = rpc!(
        app,
        t,
        json!({"jsonrpc": "2.0", "id": 7, "method": "ping"}),
        Some("2025-11-25")
    );
    assert_eq!((status, body["result"].clone()), (200, json!({})));
}

#[actix_web::test]
async fn rfc9728_a_client_without_a_token_is_led_to_the_authorization_server() {
    let (issuer, app) = setup!();
    let (status, headers, _) = rpc!(
        app,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}})
    );
    assert_eq!(status, 401);
    assert_eq!(
        www(&headers),
        format!(r#"Bearer realm="{RESOURCE}", resource_metadata="{METADATA_URL}", scope="mcp""#)
    );
    // The document at that URL's path names gatehouse (RFC 9728 §3.2).
    let path = METADATA_URL.trim_start_matches("http://127.0.0.1:9");
    let resp = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
    assert_eq!(resp.status(), 200);
    let doc: Value = test::read_body_json(resp).await;
    assert_eq!(doc["resource"], RESOURCE);
    assert_eq!(doc["authorization_servers"], json!([issuer]));
    assert_eq!(doc["scopes_supported"], json!(["mcp"]));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
}

#[actix_web::test]
async fn rfc8707_a_token_for_another_resource_is_refused_by_the_mcp_server() {
    let (issuer, app) = setup!();
    for aud in ["http://127.0.0.1:9/other", issuer.as_str()] {
        let t = token(&issuer, aud, "mcp");
        let (status, headers, body) = rpc!(
            app,
            Some(t.as_str()),
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        );
        assert_eq!(status, 401, "{aud}");
        assert!(
            www(&headers).contains(r#"error="invalid_token""#),
            "{}",
            www(&headers)
        );
        assert_eq!(body["error"], "invalid_token");
    }
}

#[actix_web::test]
async fn rfc6750_3_1_a_token_without_the_scope_gets_403_naming_it() {
    let (issuer, app) = setup!();
    let t = token(&issuer, RESOURCE, "read");
    let (status, headers, _) = rpc!(
        app,
        Some(t.as_str()),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    );
    assert_eq!(status, 403);
    let w = www(&headers);
    assert!(w.contains(r#"error="insufficient_scope""#), "{w}");
    assert!(w.contains(r#"scope="mcp""#), "{w}");
    assert!(
        w.contains(&format!(r#"resource_metadata="{METADATA_URL}""#)),
        "{w}"
    );
}

#[actix_web::test]
async fn mcp_get_is_405_without_a_stream_and_needs_a_token_first() {
    let (issuer, app) = setup!();
    let resp = test::call_service(&app, test::TestRequest::get().uri("/mcp").to_request()).await;
    assert_eq!(resp.status(), 401);
    let w = www(resp.headers());
    assert!(w.ends_with(r#"scope="mcp""#), "{w}");
    let t = token(&issuer, RESOURCE, "mcp");
    for req in [test::TestRequest::get(), test::TestRequest::delete()] {
        let req = req
            .uri("/mcp")
            .insert_header((header::AUTHORIZATION, format!("Bearer {t}")))
            .to_request();
        let resp = test::call_service(&app, req).await;
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers().get(header::ALLOW).unwrap(), "POST");
    }
}
