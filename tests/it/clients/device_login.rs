//! The sample device client `examples/device_login.rs`, in-process and as
//! the built example.

use crate::harness::device::*;
use crate::harness::{signed_in, TestApp};
use gatehouse::registry::CreatedClient;

/// On a server whose devices poll every second, so the sample client
/// (which really sleeps) finishes quickly.
mod with_fast_polling {
    use super::*;

    backend_tests!(with super::fast_polling;
        sample_client_gets_tokens_while_a_person_approves,
        sample_client_reports_a_denial,
    );
}

fn fast_polling(cfg: &mut gatehouse::Config) {
    cfg.device_interval = 1;
}

#[allow(dead_code)]
#[path = "../../../examples/device_login.rs"]
mod example;

fn sample_options(app: &TestApp, client: &CreatedClient) -> example::Options {
    example::Options {
        issuer: app.base.clone(),
        client_id: client.client.id.clone(),
        client_secret: client.secret.clone(),
        scope: Some("read".into()),
        no_qr: false,
    }
}

async fn sample_client_gets_tokens_while_a_person_approves(app: TestApp) {
    let c = device_client(&app, false, &["refresh_token"]);
    let user = signed_in(&app).await;
    let login = example::DeviceLogin::discover(sample_options(&app, &c))
        .await
        .unwrap();
    let auth = login.start().await.unwrap();
    assert_eq!(auth.interval, 1);
    let shown = example::instructions(&auth, true);
    assert!(shown.contains(&auth.user_code));
    assert!(shown.contains(&auth.verification_uri));
    assert!(shown.contains('█'), "a QR code");
    let mut log = Vec::new();
    let (tokens, (status, _)) = tokio::join!(login.wait_for_tokens(&auth, &mut log), async {
        // The person approves once the client has been told to wait.
        told_authorization_pending(&app, &auth.device_code).await;
        person_decides(&app, &auth.user_code, "allow").await
    });
    assert_eq!(status, 200);
    let tokens = tokens.unwrap();
    assert_eq!(tokens.scope.as_deref(), Some("read"));
    assert!(tokens.refresh_token.is_some());
    let claims = app.verify_jwt(&tokens.access_token).await;
    assert_eq!(claims["sub"], user.id);
    let log = String::from_utf8(log).unwrap();
    assert!(
        !log.contains("slow down"),
        "the client kept the interval: {log}"
    );
    run_built_example(&app, &c).await;
}

async fn sample_client_reports_a_denial(app: TestApp) {
    let c = device_client(&app, true, &[]);
    signed_in(&app).await;
    let login = example::DeviceLogin::discover(sample_options(&app, &c))
        .await
        .unwrap();
    let auth = login.start().await.unwrap();
    let mut log = Vec::new();
    let (result, _) = tokio::join!(
        login.wait_for_tokens(&auth, &mut log),
        person_decides(&app, &auth.user_code, "deny")
    );
    let failure = result.unwrap_err();
    assert!(failure.0.contains("denied"), "{failure}");
    // A client the server does not know: one clear line.
    let mut opts = sample_options(&app, &c);
    opts.client_id = "nobody".into();
    let login = example::DeviceLogin::discover(opts).await.unwrap();
    let failure = login.start().await.unwrap_err();
    assert!(failure.0.contains("invalid_client"), "{failure}");
}

/// Waits (up to 10 s) until the server has answered a poll of
/// `device_code` with RFC 8628 §3.5 `authorization_pending`: the poll is
/// recorded on the code, which is still pending. (The sample client
/// prints nothing on that answer, so the code's row is where it shows.)
async fn told_authorization_pending(app: &TestApp, device_code: &str) {
    for _ in 0..500 {
        let code = row(app, device_code);
        if code.last_poll_at.is_some() {
            assert_eq!(
                code.status,
                gatehouse::oauth::device::status::PENDING,
                "polled, and still pending"
            );
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the sample client never polled");
}

/// Runs the built example binary as a child process (`cargo test` builds
/// examples; a run limited to `--test it` does not, and this part skips)
/// while a person approves the code it prints.
async fn run_built_example(app: &TestApp, client: &CreatedClient) {
    let exe = std::env::current_exe().unwrap();
    let Some(bin) = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|d| d.join("examples").join("device_login"))
        .filter(|p| p.exists())
    else {
        eprintln!("SKIPPED (child process): the device_login example is not built");
        return;
    };
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut child = Command::new(bin)
        .args(["--issuer", &app.base, "--client-id", &client.client.id])
        .args(["--scope", "write"])
        .env("GATEHOUSE_CLIENT_SECRET", client.secret.as_deref().unwrap())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    // Read what the person reads until the code appears.
    let is_code = |l: &str| {
        let l = l.trim();
        l.len() == 9
            && l.as_bytes()[4] == b'-'
            && l.chars().all(|c| c == '-' || c.is_ascii_uppercase())
    };
    let mut seen = Vec::new();
    let code = loop {
        match rx.try_recv() {
            Ok(line) if is_code(&line) => break line.trim().to_string(),
            Ok(line) => seen.push(line),
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await
            }
            Err(e) => panic!("example ended before showing a code ({e}): {seen:?}"),
        }
    };
    let (status, _) = person_decides(app, &code, "allow").await;
    assert_eq!(status, 200);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "exit {:?}; saw {seen:?}", out.status);
    let tokens: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tokens["scope"], "write");
    app.verify_jwt(tokens["access_token"].as_str().unwrap())
        .await;
}
