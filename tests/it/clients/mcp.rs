//! The MCP authorization profile end to end, with the official MCP
//! TypeScript SDK's client (`@modelcontextprotocol/sdk`, installed by
//! `.ci/run` beside the other Node recipes) against an MCP server that
//! gatehouse protects: the guard crate's `examples/mcp_server.rs`, started
//! in this process.
//!
//! The client calls the server, gets 401 with the RFC 9728
//! `resource_metadata` challenge, reads the protected-resource metadata,
//! finds gatehouse there, identifies itself (once by a Client ID Metadata
//! Document, once by RFC 7591 dynamic registration), and asks for a
//! sign-in; the test signs in and consents through gatehouse's pages with
//! the harness's form driver and hands the client the code, as the browser
//! would; the client exchanges it with PKCE and RFC 8707 `resource` and
//! calls a tool. A token for another resource is refused by the server.

#[allow(dead_code)]
#[path = "../../../gatehouse-guard/examples/mcp_server.rs"]
mod mcp_server;

use crate::harness::tls::{test_ca, HttpsServer, Reply};
use crate::harness::{next_of, str_of, Backend, TestApp, PASSWORD, USERNAME};
use gatehouse::config::{ClientDocuments, Registration};
use gatehouse::registry::NewClient;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const RECIPES_ENV: &str = "GATEHOUSE_TEST_RECIPES_DIR";
/// The scope the MCP server asks for (its `scopes_supported`).
const MCP_SCOPE: &str = "mcp:tools";

/// The folder with `node/node_modules/@modelcontextprotocol/sdk`; `None`
/// (the test skips, saying so) when it is not set outside CI.
fn sdk_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os(RECIPES_ENV) {
        Some(d) => PathBuf::from(d).join("node"),
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but {RECIPES_ENV} is not set (.ci/run installs the MCP SDK)")
        }
        None => {
            eprintln!("SKIPPED (MCP SDK): {RECIPES_ENV} is not set; .ci/run sets it");
            return None;
        }
    };
    assert!(
        dir.join("node_modules/@modelcontextprotocol/sdk").is_dir(),
        "{RECIPES_ENV}/node/node_modules/@modelcontextprotocol/sdk is missing"
    );
    Some(dir)
}

/// Which MCP server gatehouse protects.
#[derive(Clone, Copy)]
enum Server {
    /// The guard crate's `examples/mcp_server.rs`, in this process.
    RustGuard,
    /// The README's TypeScript recipe, `examples/node/mcp_server.mjs`
    /// (the MCP SDK's server with jose), as a subprocess.
    TypeScript,
}

/// A gatehouse and the MCP server it protects.
struct Setup {
    app: TestApp,
    /// The MCP server's endpoint, which is also its resource URI.
    mcp: String,
    /// Another resource on the same host, which the MCP server is not.
    other: String,
    _server: Box<dyn std::any::Any>,
}

/// A subprocess ended (and its script copy removed) when dropped.
struct Process(Child, Option<PathBuf>);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        if let Some(p) = &self.1 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A copy of `source` (under the crate) in the SDK's folder, where ES
/// modules find the packages (only in a node_modules beside or above the
/// script).
fn script_copy(sdk: &std::path::Path, source: &str) -> PathBuf {
    let name = std::path::Path::new(source)
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap();
    let copy = sdk.join(format!("{name}-{}.mjs", uuid::Uuid::new_v4()));
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(source),
        &copy,
    )
    .unwrap();
    copy
}

/// Picks the MCP server's address first (it is its resource URI, which
/// gatehouse must allow), then starts gatehouse with `tweak` and the MCP
/// server for that resource.
async fn setup(
    backend: Backend,
    server: Server,
    sdk: Option<&std::path::Path>,
    tweak: impl FnOnce(&mut gatehouse::config::Config),
) -> Option<Setup> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mcp = format!("http://127.0.0.1:{port}/mcp");
    let other = format!("http://127.0.0.1:{port}/other");
    let app = TestApp::spawn_with(backend, |c| {
        c.resources = vec![format!("http://127.0.0.1:{port}/")];
        c.registration_scopes = vec!["read".into(), MCP_SCOPE.into()];
        tweak(c);
    })
    .await?;
    let running: Box<dyn std::any::Any> = match server {
        Server::RustGuard => {
            let guard = gatehouse_guard::Guard::builder(app.state.issuer.clone(), mcp.clone())
                .scopes_supported([MCP_SCOPE])
                .build()
                .await
                .expect("the guard starts");
            let guard = actix_web::web::Data::new(guard);
            let server = actix_web::HttpServer::new(move || {
                actix_web::App::new()
                    .configure(|cfg| mcp_server::configure(cfg, guard.clone(), &[MCP_SCOPE]))
            })
            .workers(1)
            .listen(listener)
            .unwrap()
            .run();
            let handle = server.handle();
            actix_rt::spawn(server);
            Box::new(handle)
        }
        Server::TypeScript => {
            drop(listener);
            let sdk = sdk.expect("the TypeScript server needs the SDK");
            let script = script_copy(sdk, "examples/node/mcp_server.mjs");
            let mut child = Command::new("node")
                .arg(&script)
                .env("GATEHOUSE_ISSUER", &app.state.issuer)
                .env("PORT", port.to_string())
                .env("MCP_SCOPE", MCP_SCOPE)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("node runs");
            let lines = lines_of(child.stdout.take().unwrap());
            let first = next_line(&lines, "the TypeScript MCP server to start").await;
            assert_eq!(
                first,
                format!("listening on {port}"),
                "the TypeScript MCP server started"
            );
            Box::new(Process(child, Some(script)))
        }
    };
    Some(Setup {
        app,
        mcp,
        other,
        _server: running,
    })
}

/// The lines a child prints, read on a thread of their own: the test's
/// thread runs the servers' runtime and must never block on a pipe.
fn lines_of(out: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// The next line from `lines`, waiting (without blocking the runtime) up
/// to 60 s; fails saying what it waited for when none comes, or when the
/// child has ended.
async fn next_line(lines: &mpsc::Receiver<String>, waiting_for: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        match lines.try_recv() {
            Ok(line) => return line.trim().to_string(),
            Err(mpsc::TryRecvError::Disconnected) => panic!("waiting for {waiting_for}: it ended"),
            Err(mpsc::TryRecvError::Empty) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "waiting for {waiting_for}: 60 s passed"
                );
                actix_rt::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// The SDK client, running.
struct McpClient {
    child: Child,
    stdin: ChildStdin,
    events: mpsc::Receiver<String>,
    script: PathBuf,
}

impl Drop for McpClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.script);
    }
}

impl McpClient {
    /// Starts the client against `mcp`; with `metadata_url`, it identifies
    /// itself by that Client ID Metadata Document.
    fn start(
        sdk: &std::path::Path,
        mcp: &str,
        redirect: &str,
        metadata_url: Option<&str>,
    ) -> McpClient {
        let script = script_copy(sdk, "tests/it/clients/mcp_client.mjs");
        let mut cmd = Command::new("node");
        cmd.arg(&script)
            .env("MCP_SERVER_URL", mcp)
            .env("MCP_REDIRECT_URL", redirect)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = metadata_url {
            // The document server's certificate is from the test's own CA;
            // the client never fetches the document, gatehouse does.
            cmd.env("MCP_CLIENT_METADATA_URL", url);
        }
        let mut child = cmd.spawn().expect("node runs");
        let stdin = child.stdin.take().unwrap();
        let events = lines_of(child.stdout.take().unwrap());
        McpClient {
            child,
            stdin,
            events,
            script,
        }
    }

    /// The next event named `name`, skipping other lines; fails after
    /// 60 s or when the client ends first.
    async fn expect(&mut self, name: &str) -> serde_json::Value {
        loop {
            let line = next_line(&self.events, &format!("the MCP client to say '{name}'")).await;
            match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(e) if e["event"] == name => return e,
                _ => eprintln!("MCP client: {line}"),
            }
        }
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Waits (without blocking the runtime) for the client to end;
    /// asserts it ended well.
    async fn finish(&mut self) {
        for _ in 0..3000 {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "the MCP client ended with {status}");
                return;
            }
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the MCP client did not end");
    }
}

/// What a person does in the browser the client opened: signs in to
/// gatehouse and allows the app; returns the redirect back to the client.
async fn person_signs_in_and_allows(app: &TestApp, authorize_url: &str) -> url::Url {
    let issuer = url::Url::parse(&app.state.issuer).unwrap();
    let u = url::Url::parse(authorize_url).unwrap();
    assert_eq!(
        u.origin(),
        issuer.origin(),
        "the client went to gatehouse: {u}"
    );
    let path = format!("{}?{}", u.path(), u.query().unwrap_or(""));
    let (status, login) = app.location(&path).await;
    assert_eq!(status, 303, "{login}");
    let next = next_of(&login);
    app.alice();
    let r = app.sign_in(USERNAME, PASSWORD, &next).await;
    assert_eq!(r.status(), 303);
    let (status, consent) = app.location(&next).await;
    assert_eq!(status, 303, "{consent}");
    assert!(consent.starts_with("/consent?"), "{consent}");
    let r = app.decide(&consent, "allow").await;
    assert_eq!(r.status(), 303);
    url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap()
}

/// The client's whole run: 401 and discovery, identification, sign-in,
/// token, tool call. Returns the client id it used and its access token.
async fn client_run(
    s: &Setup,
    sdk: &std::path::Path,
    metadata_url: Option<&str>,
) -> (String, String) {
    let redirect = format!("http://127.0.0.1:{}/callback", crate::harness::free_port());
    let mut client = McpClient::start(sdk, &s.mcp, &redirect, metadata_url);
    let identified = client.expect("client").await;
    let client_id = str_of(&identified, "client_id").to_string();
    let asked = client.expect("authorize").await;
    let back = person_signs_in_and_allows(&s.app, str_of(&asked, "url")).await;
    assert!(back.as_str().starts_with(&redirect), "{back}");
    let params: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
    // RFC 9207: the client can tell which server answered.
    assert_eq!(params["iss"], s.app.state.issuer);
    client.send(&params["code"]);
    let tokens = client.expect("tokens").await;
    assert_eq!(tokens["has_refresh_token"], true, "{tokens}");
    let result = client.expect("result").await;
    client.finish().await;
    assert_eq!(result["tools"], serde_json::json!(["whoami"]), "{result}");
    assert_eq!(result["is_error"], false, "{result}");
    assert!(
        str_of(&result, "text").contains(MCP_SCOPE),
        "the tool saw the token's scope: {result}"
    );
    (client_id, str_of(&tokens, "access_token").to_string())
}

/// RFC 8707 §2 and RFC 9068 §3: the token is for the MCP server alone.
async fn assert_bound_to(s: &Setup, token: &str, client_id: &str) {
    let claims = s.app.verify_jwt_for(token, &s.mcp).await;
    assert_eq!(claims["aud"], s.mcp.as_str(), "{claims}");
    assert_eq!(claims["client_id"], client_id, "{claims}");
    assert_eq!(claims["scope"], MCP_SCOPE, "{claims}");
}

/// draft-ietf-oauth-client-id-metadata-document: the client's id is the
/// URL of its metadata document, which gatehouse fetches; nothing is
/// registered beforehand.
async fn identified_by_document(backend: Backend, server: Server) {
    let Some(sdk) = sdk_dir() else { return };
    let Some(s) = setup(backend, server, Some(&sdk), |c| {
        c.client_documents = ClientDocuments::Open;
        c.client_documents_loopback = true;
        c.client_documents_roots = vec![test_ca().ca_pem.clone()];
        c.registration = Registration::Off;
    })
    .await
    else {
        return;
    };
    let docs = HttpsServer::start();
    let id = docs.url("/mcp-client.json");
    docs.set(
        "/mcp-client.json",
        Reply::json(format!(
            r#"{{"client_id":"{id}","client_name":"MCP test client","redirect_uris":["http://127.0.0.1/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}}"#
        )),
    );
    let (client_id, token) = client_run(&s, &sdk, Some(&id)).await;
    assert_eq!(
        client_id, id,
        "the SDK used its document's URL as client id"
    );
    assert_eq!(docs.hits(), 1, "gatehouse fetched the document once");
    assert_bound_to(&s, &token, &id).await;
}

/// RFC 7591 with `GATEHOUSE_REGISTRATION=open`: an MCP client without a
/// metadata document registers itself as a public client.
async fn registered_dynamically(backend: Backend, server: Server) {
    let Some(sdk) = sdk_dir() else { return };
    let Some(s) = setup(backend, server, Some(&sdk), |c| {
        c.registration = Registration::Open
    })
    .await
    else {
        return;
    };
    let (client_id, token) = client_run(&s, &sdk, None).await;
    let row = s
        .app
        .state
        .store
        .conn()
        .unwrap()
        .find_client(&client_id)
        .unwrap()
        .expect("the client is registered");
    assert!(
        row.is_public,
        "registered with token_endpoint_auth_method none"
    );
    assert_bound_to(&s, &token, &client_id).await;
}

async fn mcp_sdk_client_identifies_by_client_id_metadata_document(backend: Backend) {
    identified_by_document(backend, Server::RustGuard).await;
}

async fn mcp_sdk_client_registers_dynamically(backend: Backend) {
    registered_dynamically(backend, Server::RustGuard).await;
}

/// The README's TypeScript MCP server takes the same client, both ways.
async fn mcp_sdk_client_and_the_typescript_mcp_server_recipe(backend: Backend) {
    identified_by_document(backend, Server::TypeScript).await;
    registered_dynamically(backend, Server::TypeScript).await;
}

/// RFC 8707 §2 / RFC 9728 §5.1: the MCP server refuses a token gatehouse
/// issued for another resource (and one with the default audience),
/// answering with the challenge that names its metadata; its own token is
/// taken.
async fn refuses_other_audiences(backend: Backend, server: Server) {
    let sdk = match server {
        Server::RustGuard => None,
        Server::TypeScript => match sdk_dir() {
            Some(d) => Some(d),
            None => return,
        },
    };
    let Some(s) = setup(backend, server, sdk.as_deref(), |_| {}).await else {
        return;
    };
    let svc = s.app.client(NewClient {
        name: "Agent backend".into(),
        grant_types: vec!["client_credentials".into()],
        scope: MCP_SCOPE.into(),
        ..Default::default()
    });
    let token_for = |resource: Option<String>| {
        let app = &s.app;
        let svc = &svc;
        async move {
            let mut form = vec![("grant_type", "client_credentials".to_string())];
            if let Some(r) = resource {
                form.push(("resource", r));
            }
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = app.post_form_basic("/token", svc, &form).await;
            assert_eq!(r.status(), 200);
            let body: serde_json::Value = r.json().await.unwrap();
            str_of(&body, "access_token").to_string()
        }
    };
    let http = reqwest::Client::new();
    let call = |token: String| {
        let request = http
            .post(&s.mcp)
            .bearer_auth(token)
            .header("Accept", "application/json, text/event-stream")
            .json(&serde_json::json!({
                "jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "test", "version": "1"}}
            }));
        async move { request.send().await.unwrap() }
    };
    let metadata_url = {
        let u = url::Url::parse(&s.mcp).unwrap();
        format!(
            "{}/.well-known/oauth-protected-resource{}",
            u.origin().ascii_serialization(),
            u.path()
        )
    };
    for token in [
        token_for(Some(s.other.clone())).await,
        token_for(None).await,
    ] {
        let r = call(token).await;
        assert_eq!(r.status(), 401);
        let challenge = r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(challenge.contains("invalid_token"), "{challenge}");
        assert!(
            challenge.contains(&format!("resource_metadata=\"{metadata_url}\"")),
            "{challenge}"
        );
    }
    let r = call(token_for(Some(s.mcp.clone())).await).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["result"]["capabilities"]["tools"].is_object(),
        "{body}"
    );
    // The document the challenge names sends clients to gatehouse.
    let doc: serde_json::Value = reqwest::get(&metadata_url)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["resource"], s.mcp.as_str());
    assert_eq!(
        doc["authorization_servers"],
        serde_json::json!([s.app.state.issuer])
    );
}

async fn a_token_for_another_resource_is_refused_by_the_mcp_server(backend: Backend) {
    refuses_other_audiences(backend, Server::RustGuard).await;
}

async fn a_token_for_another_resource_is_refused_by_the_typescript_recipe(backend: Backend) {
    refuses_other_audiences(backend, Server::TypeScript).await;
}

/// `backend_tests!` for these tests, which start gatehouse themselves (the
/// MCP server's address must be known first: gatehouse allows it as a
/// resource): `sqlite::name` and `postgres::name`.
macro_rules! mcp_backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_rt::test]
                async fn $name() {
                    super::$name(crate::harness::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[actix_rt::test]
                #[cfg_attr(
                    not(gatehouse_test_postgres),
                    ignore = "GATEHOUSE_TEST_POSTGRES_URL is not set"
                )]
                async fn $name() {
                    super::$name(crate::harness::Backend::Postgres).await;
                }
            )*
        }
    };
}

mcp_backend_tests!(
    mcp_sdk_client_identifies_by_client_id_metadata_document,
    mcp_sdk_client_registers_dynamically,
    mcp_sdk_client_and_the_typescript_mcp_server_recipe,
    a_token_for_another_resource_is_refused_by_the_mcp_server,
    a_token_for_another_resource_is_refused_by_the_typescript_recipe,
);
