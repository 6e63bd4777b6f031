//! A PostgreSQL outage while serving, through a TCP proxy the test
//! controls (the machine's shared PostgreSQL keeps running): endpoints
//! that need the database answer 503 `temporarily_unavailable` with
//! `Retry-After`, pages a plain 503 page, `/readyz` fails and `/healthz`
//! stays up; when the database is back, service returns by itself.

use crate::harness::{client_credentials, form_field, Backend, TestApp};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Forwards connections to PostgreSQL until told to drop them all and
/// refuse new ones (`down`), and back (`up`).
struct Proxy {
    port: u16,
    open: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (o, c) = (open.clone(), conns.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !o.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let mut kept = c.lock().unwrap();
                kept.push(client.try_clone().unwrap());
                kept.push(server.try_clone().unwrap());
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Proxy { port, open, conns }
    }

    fn down(&self) {
        self.open.store(false, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    fn up(&self) {
        self.open.store(true, Ordering::SeqCst);
    }

    /// Closes every open connection but keeps accepting new ones: what
    /// gatehouse sees when PostgreSQL restarts between two requests.
    fn drop_connections(&self) {
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

#[cfg_attr(
    not(gatehouse_test_postgres),
    ignore = "GATEHOUSE_TEST_POSTGRES_URL is not set"
)]
#[actix_rt::test]
async fn a_postgresql_outage_answers_503_quickly_and_service_recovers_by_itself() {
    let proxy: Arc<Mutex<Option<Proxy>>> = Arc::default();
    let slot = proxy.clone();
    let Some(app) = TestApp::spawn_with(Backend::Postgres, move |cfg| {
        let mut url = url::Url::parse(&cfg.database_url).unwrap();
        let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
        let p = Proxy::start(upstream);
        url.set_port(Some(p.port)).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        cfg.database_url = url.to_string();
        *slot.lock().unwrap() = Some(p);
    })
    .await
    else {
        return;
    };
    let proxy = proxy.lock().unwrap().take().unwrap();
    let c = app.service_client();
    let secret = c.secret.clone().unwrap();
    let token = || client_credentials(&app, &c.client.id, &secret);
    assert_eq!(token().await.status(), 200);
    let login = app.get("/login").await.text().await.unwrap();
    let csrf = form_field(&login, "csrf_token").unwrap();
    let discovery = app.metadata().await;

    proxy.down();
    // Discovery needs no database (RFC 8414 §3: the whole document, never
    // a part of it), on every worker, whether it answered before or not.
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ]
    .repeat(4)
    {
        let r = app.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        let doc: serde_json::Value = r.json().await.unwrap();
        assert_eq!(doc, discovery, "{path}");
    }
    // RFC 6749 §4.1.2.1 temporarily_unavailable, as JSON, with Retry-After;
    // and again (the breaker answers without waiting for a connection).
    for _ in 0..3 {
        let r = token().await;
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "1");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    }
    assert_eq!(app.get("/readyz").await.status(), 503);
    assert_eq!(app.get("/healthz").await.status(), 200);
    // A page that needs the database shows a plain page, not a JSON error.
    let r = app
        .post_form(
            "/login",
            &[
                ("csrf_token", csrf.as_str()),
                ("next", "/account"),
                ("username", "alice"),
                ("password", "correct horse"),
            ],
        )
        .await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("try again"));

    proxy.up();
    // Back by itself: no restart, within a few retry periods.
    let mut recovered = false;
    for _ in 0..50 {
        actix_rt::time::sleep(std::time::Duration::from_millis(200)).await;
        if token().await.status() == 200 {
            recovered = true;
            break;
        }
    }
    assert!(
        recovered,
        "service did not come back after the database did"
    );
    assert_eq!(app.get("/readyz").await.status(), 200);
}

/// Pooled connections are not checked with a query on every request; when
/// PostgreSQL drops them all (a restart), the pool notices on the first
/// one and checks the rest, so a restart costs at most one request a 503
/// `temporarily_unavailable` (never a 500), and a write transaction that
/// finds its connection gone begins again on a fresh one.
#[cfg_attr(
    not(gatehouse_test_postgres),
    ignore = "GATEHOUSE_TEST_POSTGRES_URL is not set"
)]
#[actix_rt::test]
async fn dropped_postgresql_connections_cost_at_most_one_request() {
    let proxy: Arc<Mutex<Option<Proxy>>> = Arc::default();
    let slot = proxy.clone();
    let Some(app) = TestApp::spawn_with(Backend::Postgres, move |cfg| {
        let mut url = url::Url::parse(&cfg.database_url).unwrap();
        let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
        let p = Proxy::start(upstream);
        url.set_port(Some(p.port)).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        cfg.database_url = url.to_string();
        *slot.lock().unwrap() = Some(p);
    })
    .await
    else {
        return;
    };
    let proxy = proxy.lock().unwrap().take().unwrap();
    let c = app.service_client();
    let secret = c.secret.clone().unwrap();
    for round in 0..3 {
        assert_eq!(
            client_credentials(&app, &c.client.id, &secret)
                .await
                .status(),
            200
        );
        proxy.drop_connections();
        let mut statuses = Vec::new();
        for _ in 0..10 {
            statuses.push(
                client_credentials(&app, &c.client.id, &secret)
                    .await
                    .status()
                    .as_u16(),
            );
        }
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 503),
            "round {round}: {statuses:?}"
        );
        assert!(
            statuses.iter().filter(|s| **s != 200).count() <= 1,
            "round {round}: {statuses:?}"
        );
    }
}
