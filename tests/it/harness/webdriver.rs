//! A small WebDriver client for headless Chromium through chromedriver:
//! just what the browser tests need (navigate, type, click, read, run a
//! script, screenshot).
//! Under CI=true a missing browser fails the test; elsewhere it skips with a
//! visible message.

use super::free_port;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Runs axe-core (already injected) on the page for WCAG 2 A and AA rules
/// and hands back each violation with its failing nodes' selectors.
const AXE_RUN: &str = "const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}}).then(
  r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target, summary: n.failureSummary}))}))),
  e => done({error: String(e)}));";

pub struct Browser {
    http: reqwest::Client,
    base: String,
    driver_port: u16,
    session: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn which(name: &str) -> Option<String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !path.is_empty()).then_some(path)
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session, or returns None
    /// (with a message) when they are not installed and CI is not set.
    pub async fn start() -> Option<Browser> {
        let (Some(chromium), Some(driver)) = (which("chromium"), which("chromedriver")) else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "CI=true but chromium/chromedriver are not installed (.ci/run installs them)"
                );
            }
            eprintln!("SKIPPED (browser): chromium and chromedriver are not installed");
            return None;
        };
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let profile = tempfile::tempdir().unwrap();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{base}/status")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_string();
        Some(Browser {
            http,
            base: format!("{base}/session/{session}"),
            driver_port: port,
            session,
            driver: child,
            _profile: profile,
        })
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        if let Some(err) = v["value"].get("error") {
            panic!("WebDriver {path}: {err}: {}", v["value"]["message"]);
        }
        v["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT].as_str().unwrap().to_string()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Waits (bounded) until the current URL satisfies `pred`.
    pub async fn wait_for_url(&self, pred: impl Fn(&str) -> bool) -> String {
        for _ in 0..100 {
            let u = self.url().await;
            if pred(&u) {
                return u;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the browser never reached the expected page; at {}",
            self.url().await
        );
    }

    /// Waits (bounded) until the page contains `text`.
    pub async fn wait_for_text(&self, text: &str) {
        for _ in 0..100 {
            if self.source().await.contains(text) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page never showed {text:?}; at {}", self.url().await);
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page
    /// and returns what it returns.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Whether the page is as wide as the window or narrower: nothing
    /// makes a phone scroll sideways.
    pub async fn fits_the_window(&self) -> bool {
        self.execute(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            json!([]),
        )
        .await
            == json!(true)
    }

    /// The WCAG 2 A and AA violations axe-core finds on the current page
    /// (each reduced to id, impact, help and the failing nodes), or None
    /// when axe-core is not installed: .ci/run installs it into
    /// `$GATEHOUSE_TEST_RECIPES_DIR/node`, so under CI=true it must be there;
    /// elsewhere the check is skipped with a visible message.
    pub async fn axe_violations(&self) -> Option<Vec<Value>> {
        let dir = std::env::var_os("GATEHOUSE_TEST_RECIPES_DIR");
        let file =
            dir.map(|d| std::path::PathBuf::from(d).join("node/node_modules/axe-core/axe.min.js"));
        let source = match file.as_ref().map(std::fs::read_to_string) {
            Some(Ok(source)) => source,
            _ if std::env::var("CI").as_deref() == Ok("true") => panic!(
                "CI=true but axe-core is missing at {file:?} (.ci/run installs it into \
                 $GATEHOUSE_TEST_RECIPES_DIR/node)"
            ),
            _ => {
                static ONCE: std::sync::Once = std::sync::Once::new();
                ONCE.call_once(|| {
                    eprintln!(
                        "SKIPPED (accessibility): axe-core is not installed; set \
                         GATEHOUSE_TEST_RECIPES_DIR to a folder with node/node_modules/axe-core"
                    )
                });
                return None;
            }
        };
        let loaded = self
            .execute("return typeof window.axe === 'object';", json!([]))
            .await;
        if loaded != json!(true) {
            self.execute(&format!("{source}\nreturn true;"), json!([]))
                .await;
        }
        let found = self
            .cmd(
                reqwest::Method::POST,
                "/execute/async",
                Some(json!({"script": AXE_RUN, "args": []})),
            )
            .await;
        match found {
            Value::Array(v) => Some(v),
            other => panic!("axe-core did not run: {other}"),
        }
    }

    /// Fails the test when axe-core finds WCAG 2 A or AA violations on the
    /// current page (`page` names it in the message).
    pub async fn assert_accessible(&self, page: &str) {
        let Some(violations) = self.axe_violations().await else {
            return;
        };
        if violations.is_empty() {
            return;
        }
        let mut report = String::new();
        for v in &violations {
            report.push_str(&format!(
                "\n- {} ({}): {} <{}>",
                v["id"].as_str().unwrap_or("?"),
                v["impact"].as_str().unwrap_or("?"),
                v["help"].as_str().unwrap_or("?"),
                v["helpUrl"].as_str().unwrap_or(""),
            ));
            for n in v["nodes"].as_array().into_iter().flatten() {
                report.push_str(&format!(
                    "\n    {}: {}",
                    n["target"],
                    n["summary"].as_str().unwrap_or("").replace('\n', " ")
                ));
            }
        }
        panic!(
            "{page} ({}) has {} accessibility violation(s) (WCAG 2 A/AA, axe-core):{report}",
            self.url().await,
            violations.len()
        );
    }

    /// Adds a virtual authenticator (W3C WebAuthn Level 3 §11, the
    /// WebDriver extension chromedriver implements): CTAP2, built in,
    /// with resident keys and user verification that succeeds. Its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/webauthn/authenticator",
                Some(json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                    "automaticPresenceSimulation": true,
                })),
            )
            .await;
        v.as_str().unwrap().to_string()
    }

    /// The credentials a virtual authenticator holds (each with
    /// `credentialId`, `rpId`, `privateKey` PKCS#8, `userHandle`, all
    /// base64url, and `isResidentCredential`, `signCount`).
    pub async fn authenticator_credentials(&self, authenticator: &str) -> Vec<Value> {
        let v = self
            .cmd(
                reqwest::Method::GET,
                &format!("/webauthn/authenticator/{authenticator}/credentials"),
                None,
            )
            .await;
        v.as_array().cloned().unwrap_or_default()
    }

    /// The page at both widths (1280 and 375 px): a screenshot, no
    /// sideways scrolling, no axe-core violations; `scroll` names an
    /// element to bring to the top first. Back to 1280 px afterwards.
    pub async fn check_page(&self, name: &str, what: &str, scroll: Option<&str>) {
        for (w, h, suffix) in [(1280, 900, "desktop"), (375, 812, "phone")] {
            self.resize(w, h).await;
            if let Some(id) = scroll {
                self.execute(
                    "document.getElementById(arguments[0]).scrollIntoView();",
                    json!([id]),
                )
                .await;
            }
            self.screenshot(&format!("{name}-{suffix}")).await;
            assert!(self.fits_the_window().await, "{what} fits {w} px");
            self.assert_accessible(&format!("{what} at {w} px")).await;
        }
        self.resize(1280, 900).await;
    }

    /// Deletes every cookie of the current page's site: signed out.
    pub async fn delete_cookies(&self) {
        self.cmd(reqwest::Method::DELETE, "/cookie", None).await;
    }

    /// Waits (bounded) until `script` (a function body) returns true.
    pub async fn wait_for_script(&self, script: &str) {
        for _ in 0..100 {
            if self.execute(script, json!([])).await == json!(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("never true: {script}; at {}", self.url().await);
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// Saves a PNG screenshot into $GATEHOUSE_TEST_SCREENSHOTS when it is set.
    pub async fn screenshot(&self, name: &str) {
        let Ok(dir) = std::env::var("GATEHOUSE_TEST_SCREENSHOTS") else {
            return;
        };
        use base64::Engine;
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(format!("{dir}/{name}.png"), png).unwrap();
    }
}

impl Drop for Browser {
    /// Ends the WebDriver session first, which closes Chromium: killing only
    /// chromedriver would leave the browser processes running.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.driver_port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = write!(
                s,
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session, self.driver_port
            );
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A client app's redirect endpoint: records each request target it gets.
pub struct Callback {
    pub url: String,
    rx: std::sync::mpsc::Receiver<String>,
}

impl Callback {
    pub fn start() -> Callback {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://127.0.0.1:{}/cb",
            listener.local_addr().unwrap().port()
        );
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(20) {
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                if BufReader::new(&stream).read_line(&mut line).is_err() {
                    continue;
                }
                let target = line.split(' ').nth(1).unwrap_or("").to_string();
                let body = "<!doctype html><title>Signed in</title><p>Back in the app.</p>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                if target.starts_with("/cb") && tx.send(target).is_err() {
                    return;
                }
            }
        });
        Callback { url, rx }
    }

    /// The query parameters of the next request to the callback.
    pub fn next_params(&self) -> std::collections::HashMap<String, String> {
        let target = self
            .rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the callback was called");
        let q = target.split_once('?').map(|(_, q)| q).unwrap_or("");
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect()
    }
}
