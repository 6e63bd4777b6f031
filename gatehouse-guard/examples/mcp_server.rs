//! A small MCP server (Model Context Protocol, Streamable HTTP transport,
//! revisions 2025-06-18 and 2025-11-25) that only answers requests with a
//! gatehouse access token for it, so any MCP client can find gatehouse and
//! sign in on its own:
//!
//! 1. the client POSTs to `/mcp` without a token and gets 401 with
//!    `WWW-Authenticate: Bearer …, resource_metadata="…/.well-known/oauth-protected-resource/mcp", scope="mcp"`;
//! 2. it reads that RFC 9728 document, whose `authorization_servers` names
//!    gatehouse, then gatehouse's metadata; registers (a Client ID Metadata
//!    Document or RFC 7591), and gets a token with
//!    `resource=<this server's URI>` (RFC 8707) and PKCE;
//! 3. it calls again with the token: `initialize`, `tools/list`, and the
//!    one tool, `whoami`, which answers the token's subject and scopes.
//!
//! A token for another resource (its `aud` lacks this server's URI) gets
//! 401 `invalid_token`, one without the scope 403 `insufficient_scope`.
//!
//! ```sh
//! GATEHOUSE_ISSUER=http://127.0.0.1:8080 cargo run -p gatehouse-guard --example mcp_server
//! ```
//!
//! Settings: GATEHOUSE_ISSUER (required), LISTEN (default 127.0.0.1:8081),
//! MCP_RESOURCE (this server's canonical URI, what clients send as
//! `resource`; default `http://<LISTEN>/mcp`; its path is where the
//! endpoint is), MCP_SCOPE (the scopes a token needs, space-separated;
//! default `mcp`; empty: any valid token).
//!
//! Everything but `main` is in [`configure`], so a test can include this
//! file as a module and mount the server in its own `App`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse_guard::actix::{Authenticated, Rejection};
use gatehouse_guard::Guard;
use serde_json::{json, Value};

/// The MCP revisions this server speaks, newest first; an `initialize`
/// naming one gets it back.
pub const PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18"];
/// What `initialize` answers when the client asks for a revision not in
/// [`PROTOCOL_VERSIONS`] (the client then decides whether to go on).
pub const DEFAULT_PROTOCOL_VERSION: &str = "2025-06-18";
/// `serverInfo` of `initialize`.
pub const SERVER_NAME: &str = "gatehouse-mcp-example";
pub const SERVER_VERSION: &str = "0.1.0";
/// The largest JSON-RPC message read.
const MAX_BODY: usize = 64 * 1024;

// JSON-RPC 2.0 §5.1 error codes.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;

/// The scopes every `/mcp` request's token needs.
struct RequiredScopes(Vec<String>);

impl RequiredScopes {
    /// The token, if valid and with every scope; otherwise the guard's
    /// answer, whose 401 challenge names the scopes (`scope="mcp"`), as MCP
    /// asks, so the client knows what to ask gatehouse for.
    fn admit(&self, auth: Result<Authenticated, Rejection>) -> Result<Authenticated, Rejection> {
        let needed: Vec<&str> = self.0.iter().map(String::as_str).collect();
        let auth = auth.map_err(|r| r.needing(&needed))?;
        auth.require_scopes(&needed)?;
        Ok(auth)
    }
}

/// The path of the MCP endpoint: the resource URI's path (`/mcp` for
/// `https://mcp.example.com/mcp`), `/mcp` when it has none.
pub fn endpoint_path(resource: &str) -> String {
    match url::Url::parse(resource) {
        Ok(u) if u.path() != "/" && !u.path().is_empty() => u.path().to_string(),
        _ => "/mcp".to_string(),
    }
}

/// Mounts the MCP endpoint at the path of the guard's resource URI
/// ([`endpoint_path`]) and the guard's RFC 9728 metadata document (build
/// the guard with `scopes_supported` or `resource_metadata`). Every request
/// to the endpoint needs a token the guard accepts with every scope of
/// `required_scopes`: `POST` takes one JSON-RPC message, any other method
/// is 405 (this server offers no SSE stream and no sessions).
pub fn configure(cfg: &mut web::ServiceConfig, guard: web::Data<Guard>, required_scopes: &[&str]) {
    gatehouse_guard::actix::protected_resource_metadata(cfg, guard.get_ref());
    let required = web::Data::new(RequiredScopes(
        required_scopes.iter().map(|s| s.to_string()).collect(),
    ));
    cfg.service(
        web::resource(endpoint_path(guard.resource()))
            .app_data(guard)
            .app_data(required)
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .route(web::post().to(post))
            .default_service(web::to(not_allowed)),
    );
}

/// MCP Streamable HTTP: GET would open an SSE stream and DELETE end a
/// session; this server has neither, so both are 405 (once the token is
/// checked, like every request here).
async fn not_allowed(
    auth: Result<Authenticated, Rejection>,
    required: web::Data<RequiredScopes>,
) -> Result<HttpResponse, Rejection> {
    required.admit(auth)?;
    Ok(HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "POST"))
        .finish())
}

fn rpc_result(id: &Value, result: Value) -> HttpResponse {
    HttpResponse::Ok().json(json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

fn rpc_error(id: &Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// A message that is not a request this server can answer: 400 with a
/// JSON-RPC error without an id.
fn bad_message(code: i64, message: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(rpc_error(&Value::Null, code, message))
}

/// One JSON-RPC message, from a client whose token has the scopes.
async fn post(
    auth: Result<Authenticated, Rejection>,
    required: web::Data<RequiredScopes>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Rejection> {
    let auth = required.admit(auth)?;
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return Ok(bad_message(PARSE_ERROR, "Parse error"));
    };
    let Some(message) = message.as_object() else {
        // Batches left the protocol in 2025-06-18.
        return Ok(bad_message(
            INVALID_REQUEST,
            "Invalid Request: one JSON-RPC object per POST",
        ));
    };
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Ok(bad_message(
            INVALID_REQUEST,
            "Invalid Request: not JSON-RPC 2.0",
        ));
    }
    let Some(method) = message.get("method") else {
        // A response to a request of ours; we send none, so nothing to do.
        return Ok(HttpResponse::Accepted().finish());
    };
    let Some(method) = method.as_str() else {
        return Ok(bad_message(INVALID_REQUEST, "Invalid Request: method"));
    };
    let Some(id) = message.get("id") else {
        // A notification (`notifications/initialized`, …): 202, no body.
        return Ok(HttpResponse::Accepted().finish());
    };
    if !(id.is_string() || id.is_i64() || id.is_u64()) {
        return Ok(bad_message(INVALID_REQUEST, "Invalid Request: id"));
    }
    // After `initialize` the client names the revision in a header; one we
    // do not speak is 400 (MCP Streamable HTTP, protocol version header).
    if method != "initialize" {
        if let Some(v) = req.headers().get("mcp-protocol-version") {
            if !PROTOCOL_VERSIONS
                .iter()
                .any(|known| v.as_bytes() == known.as_bytes())
            {
                return Ok(bad_message(
                    INVALID_REQUEST,
                    "Unsupported MCP-Protocol-Version",
                ));
            }
        }
    }
    let params = message.get("params").cloned().unwrap_or(Value::Null);
    Ok(match method {
        "initialize" => {
            let asked = params.get("protocolVersion").and_then(Value::as_str);
            let version = match asked {
                Some(v) if PROTOCOL_VERSIONS.contains(&v) => v,
                _ => DEFAULT_PROTOCOL_VERSION,
            };
            rpc_result(
                id,
                json!({
                    "protocolVersion": version,
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": SERVER_NAME, "version": SERVER_VERSION},
                }),
            )
        }
        "ping" => rpc_result(id, json!({})),
        "tools/list" => rpc_result(
            id,
            json!({"tools": [{
                "name": "whoami",
                "title": "Who am I?",
                "description": "The subject and scopes of the access token this call was made with.",
                "inputSchema": {"type": "object", "properties": {}},
            }]}),
        ),
        "tools/call" => match params.get("name").and_then(Value::as_str) {
            Some("whoami") => rpc_result(
                id,
                json!({
                    "content": [{
                        "type": "text",
                        "text": format!("{} {}", auth.sub, auth.scopes.join(" ")),
                    }],
                    "isError": false,
                }),
            ),
            Some(other) => HttpResponse::Ok().json(rpc_error(
                id,
                INVALID_PARAMS,
                &format!("Unknown tool: {other}"),
            )),
            None => {
                HttpResponse::Ok().json(rpc_error(id, INVALID_PARAMS, "params.name is required"))
            }
        },
        _ => HttpResponse::Ok().json(rpc_error(id, METHOD_NOT_FOUND, "Method not found")),
    })
}

#[allow(dead_code)] // the example's entry point; unused where a test includes this file
fn main() -> std::io::Result<()> {
    actix_web::rt::System::new().block_on(async {
        let Ok(issuer) = std::env::var("GATEHOUSE_ISSUER") else {
            eprintln!("set GATEHOUSE_ISSUER to the gatehouse issuer URL");
            std::process::exit(2);
        };
        let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:8081".into());
        let resource =
            std::env::var("MCP_RESOURCE").unwrap_or_else(|_| format!("http://{listen}/mcp"));
        let scopes: Vec<String> = std::env::var("MCP_SCOPE")
            .unwrap_or_else(|_| "mcp".into())
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let guard = Guard::builder(issuer, resource.as_str())
            .scopes_supported(scopes.clone())
            .resource_name("gatehouse MCP example")
            .build()
            .await;
        let guard = match guard {
            Ok(g) => web::Data::new(g),
            Err(e) => {
                eprintln!("cannot set up the guard: {e}");
                std::process::exit(1);
            }
        };
        eprintln!(
            "MCP server {resource} listening on http://{listen}; metadata at {}",
            guard.metadata_url().unwrap_or("(none)")
        );
        actix_web::HttpServer::new(move || {
            let guard = guard.clone();
            let scopes = scopes.clone();
            actix_web::App::new().configure(move |cfg| {
                let needed: Vec<&str> = scopes.iter().map(String::as_str).collect();
                configure(cfg, guard, &needed)
            })
        })
        .bind(listen)?
        .run()
        .await
    })
}
