//! `gatehouse audit`: each event type the trail has so far, produced by
//! its action (through the pages, the token endpoint or the command line)
//! and read back with `gatehouse audit --json`; a failed action leaves no
//! success event; the filters; the retention; the log line.

use crate::harness::cli::*;
use crate::harness::factors::code_at;
use crate::harness::sessions::{Device, FIREFOX_LINUX};
use crate::harness::{code_query, form_field, pkce_pair, signed_in, TestApp, PASSWORD, USERNAME};
use gatehouse::registry::NewClient;

backend_tests!(
    with |c| c.signup_open = true;
    every_event_so_far_is_read_back_with_who_what_and_where,
    a_persons_own_consents_and_factors_and_a_refresh_reuse_are_recorded,
    a_failed_action_leaves_no_success_event,
    audit_filters_by_person_type_and_time,
    attempts_a_throttle_refuses_unchecked_write_nothing,
);

mod open_registration {
    use super::*;
    backend_tests!(with |c| c.registration = gatehouse::config::Registration::Open;
        client_changes_are_recorded_by_who_made_them);
}

/// `gatehouse audit --json ARGS` on `app`'s database: one object a line.
fn audit(app: &TestApp, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["audit", "--json"];
    all.extend_from_slice(args);
    let o = gatehouse_on(&app.state.config.database_url, &all, "");
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect()
}

/// The one event of `kind` (asserting there is exactly one).
fn one<'a>(events: &'a [serde_json::Value], kind: &str, outcome: &str) -> &'a serde_json::Value {
    let found: Vec<_> = events
        .iter()
        .filter(|e| e["type"] == kind && e["outcome"] == outcome)
        .collect();
    assert_eq!(found.len(), 1, "one {kind} {outcome} in {events:#?}");
    found[0]
}

fn cli(app: &TestApp, args: &[&str], stdin: &str) {
    let o = gatehouse_on(&app.state.config.database_url, args, stdin);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
}

async fn sign_up(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    let page = app.get("/signup").await.text().await.unwrap();
    let csrf = form_field(&page, "csrf_token").unwrap();
    let next = form_field(&page, "next").unwrap();
    app.post_form(
        "/signup",
        &[
            ("csrf_token", csrf.as_str()),
            ("next", next.as_str()),
            ("username", username),
            ("password", password),
        ],
    )
    .await
}

async fn every_event_so_far_is_read_back_with_who_what_and_where(app: TestApp) {
    // Through the pages: a sign-up (and the sign-in it starts), failed
    // sign-ins (a wrong password, an unknown name), a sign-in, and a
    // password change.
    assert_eq!(
        sign_up(&app, "bob", "a long enough password")
            .await
            .status(),
        303
    );
    let alice = app.alice();
    let device = Device::new(&app, FIREFOX_LINUX);
    assert_eq!(device.sign_in(USERNAME, "wrong horse").await, 401);
    assert_eq!(device.sign_in("nobody-here", "wrong horse").await, 401);
    assert_eq!(device.sign_in(USERNAME, PASSWORD).await, 303);
    assert_eq!(
        device
            .change_password(PASSWORD, "a brand new passphrase")
            .await
            .status(),
        303
    );
    // The password grant.
    let legacy = app.client(NewClient {
        name: "Legacy".into(),
        grant_types: vec!["password".into()],
        scope: "read".into(),
        ..Default::default()
    });
    let r = app
        .post_form_basic(
            "/token",
            &legacy,
            &[
                ("grant_type", "password"),
                ("username", USERNAME),
                ("password", "a brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    // The command line.
    cli(
        &app,
        &["user", "create", "--username", "carol", "--password-stdin"],
        "correct horse carol\n",
    );
    cli(&app, &["user", "update", "carol", "--name", "Carol C."], "");
    cli(&app, &["user", "update", "carol", "--admin"], "");
    cli(&app, &["user", "update", "carol", "--no-admin"], "");
    cli(&app, &["user", "disable", "carol"], "");
    cli(&app, &["user", "enable", "carol"], "");
    cli(
        &app,
        &["user", "set-password", "carol", "--password-stdin"],
        "another fine password\n",
    );
    cli(&app, &["user", "reset-factors", "carol"], "");
    cli(&app, &["user", "delete", "carol"], "");
    cli(&app, &["user", "reset-link", USERNAME], "");
    let o = gatehouse_on(
        &app.state.config.database_url,
        &["registration-token", "create", "--uses", "2", "--json"],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let made: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let token_id = made["id"].as_str().unwrap().to_string();
    cli(&app, &["registration-token", "revoke", &token_id], "");

    let events = audit(&app, &[]);
    let bob = one(&events, "sign_up", "success");
    assert!(
        bob["actor"].as_str().unwrap().starts_with("person:"),
        "{bob}"
    );
    assert_eq!(bob["actor"], bob["subject"], "signed themselves up: {bob}");
    assert_eq!(bob["ip"], "127.0.0.1");

    let wrong = events
        .iter()
        .find(|e| e["type"] == "sign_in" && e["detail"]["reason"] == "wrong_password")
        .expect("a wrong password is recorded");
    assert_eq!(wrong["outcome"], "failure");
    assert_eq!(wrong["actor"], "anonymous");
    assert_eq!(wrong["subject"], format!("person:{}", alice.id));
    assert_eq!(wrong["detail"]["via"], "login_page");
    let unknown = events
        .iter()
        .find(|e| e["type"] == "sign_in" && e["detail"]["reason"] == "unknown_username")
        .expect("an unknown username is recorded");
    let shown = unknown.to_string();
    assert!(
        !shown.contains("nobody-here"),
        "never the typed name: {shown}"
    );
    assert!(
        !shown.contains("wrong horse"),
        "never the password: {shown}"
    );

    let signed_in: Vec<_> = events
        .iter()
        .filter(|e| {
            e["type"] == "sign_in"
                && e["outcome"] == "success"
                && e["subject"] == format!("person:{}", alice.id)
        })
        .collect();
    assert_eq!(
        signed_in.len(),
        2,
        "the page and the password grant: {signed_in:#?}"
    );
    assert_eq!(signed_in[0]["detail"]["via"], "browser");
    assert_eq!(signed_in[0]["detail"]["amr"], "pwd");
    assert!(signed_in[0]["user_agent"]
        .as_str()
        .unwrap()
        .contains("Firefox"));
    assert_eq!(signed_in[1]["detail"]["via"], "password_grant");
    assert_eq!(signed_in[1]["client_id"], legacy.client.id.as_str());

    let changed = one(&events, "password_changed", "success");
    assert_eq!(changed["actor"], format!("person:{}", alice.id));
    assert_eq!(changed["subject"], format!("person:{}", alice.id));

    for kind in [
        "user_created",
        "user_updated",
        "admin_granted",
        "admin_revoked",
        "user_disabled",
        "user_enabled",
        "password_set",
        "factors_reset",
        "user_deleted",
    ] {
        let e = one(&events, kind, "success");
        assert_eq!(e["actor"], "operator", "{e}");
        assert!(e["subject"].as_str().unwrap().starts_with("person:"), "{e}");
        assert!(e["ip"].is_null(), "{e}");
    }
    assert_eq!(
        one(&events, "user_deleted", "success")["detail"]["username"],
        "carol"
    );
    let link = one(&events, "reset_link_issued", "success");
    assert_eq!(link["actor"], "operator");
    assert_eq!(link["subject"], format!("person:{}", alice.id));
    assert_eq!(link["detail"]["mailed"], false, "printed: {link}");
    // An initial access token by its id, never the token itself.
    let subject = format!("registration_token:{token_id}");
    for kind in ["registration_token_created", "registration_token_revoked"] {
        let e = one(&events, kind, "success");
        assert_eq!(e["actor"], "operator", "{e}");
        assert_eq!(e["subject"], subject.as_str(), "{e}");
        assert!(!e.to_string().contains(made["token"].as_str().unwrap()));
    }
    assert_eq!(
        one(&events, "registration_token_created", "success")["detail"]["uses"],
        2
    );
    assert_eq!(
        one(&events, "user_updated", "success")["detail"]["fields"],
        serde_json::json!(["name"])
    );
    // /metrics counts what this instance committed (the command line's
    // changes were another process's).
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for (kind, n) in [
        ("sign_up", 1),
        ("password_changed", 1),
        ("sign_in", 5),
        ("user_created", 0),
    ] {
        let line = format!("gatehouse_audit_events_total{{type=\"{kind}\"}} {n}");
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
    // Oldest first, each with an RFC 3339 time.
    let times: Vec<&str> = events.iter().map(|e| e["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(chrono::DateTime::parse_from_rfc3339(times[0]).is_ok());
}

async fn a_failed_action_leaves_no_success_event(app: TestApp) {
    app.alice();
    let device = Device::new(&app, FIREFOX_LINUX);
    assert_eq!(device.sign_in(USERNAME, PASSWORD).await, 303);
    // A wrong current password: nothing changes, nothing is recorded but
    // the failed check.
    assert_eq!(
        device
            .change_password("wrong horse", "a brand new passphrase")
            .await
            .status(),
        400
    );
    // A taken username, a refused new password, an unknown person.
    let url = app.state.config.database_url.clone();
    let o = gatehouse_on(
        &url,
        &["user", "create", "--username", USERNAME, "--password-stdin"],
        "another fine password\n",
    );
    assert!(!o.status.success());
    let o = gatehouse_on(
        &url,
        &["user", "set-password", USERNAME, "--password-stdin"],
        "short\n",
    );
    assert!(!o.status.success());
    let o = gatehouse_on(&url, &["user", "delete", "nobody-here"], "");
    assert!(!o.status.success());
    // A sign-up with a taken name.
    assert_eq!(
        sign_up(&app, USERNAME, "a long enough password")
            .await
            .status(),
        400
    );

    let events = audit(&app, &[]);
    let kinds: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["type"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        ["sign_in success", "sign_in failure"],
        "the sign-in, and the wrong current password counted as a failed sign-in"
    );
    assert_eq!(events[1]["detail"]["via"], "account_page");
}

async fn audit_filters_by_person_type_and_time(app: TestApp) {
    let alice = app.alice();
    let device = Device::new(&app, FIREFOX_LINUX);
    assert_eq!(device.sign_in(USERNAME, "wrong horse").await, 401);
    cli(
        &app,
        &["user", "create", "--username", "dave", "--password-stdin"],
        "correct horse dave\n",
    );
    app.clock().advance(7200);
    assert_eq!(device.sign_in(USERNAME, PASSWORD).await, 303);

    let by_person = audit(&app, &["--person", USERNAME]);
    assert_eq!(by_person.len(), 2, "{by_person:#?}");
    assert!(by_person
        .iter()
        .all(|e| e["subject"] == format!("person:{}", alice.id)));
    let by_id = audit(&app, &["--person", &alice.id]);
    assert_eq!(by_id, by_person);

    let created = audit(&app, &["--type", "user_created"]);
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["actor"], "operator");

    // The clock moved two hours: --since 1h sees only the last sign-in.
    // (The CLI reads the real time, so this asks by the event's own time.)
    let last = by_person[1]["time"].as_str().unwrap().to_string();
    let recent = audit(&app, &["--since", &last]);
    assert_eq!(recent.len(), 1, "{recent:#?}");
    assert_eq!(recent[0]["outcome"], "success");
    let newest = audit(&app, &["--limit", "1"]);
    assert_eq!(newest, recent);

    let o = gatehouse_on(
        &app.state.config.database_url,
        &["audit", "--type", "coffee"],
        "",
    );
    one_line_failure(&o, 2, "not an event type");
    let o = gatehouse_on(
        &app.state.config.database_url,
        &["audit", "--since", "yesterday"],
        "",
    );
    one_line_failure(&o, 2, "is not a time");

    // Housekeeping drops what is older than the retention.
    let before_ms = app.clock().now_millis() - 3600 * 1000;
    let pruned = app
        .state
        .store
        .conn()
        .unwrap()
        .write(|tx| tx.prune_audit(before_ms))
        .unwrap();
    assert_eq!(pruned, 2);
    assert_eq!(audit(&app, &[]).len(), 1);
}

async fn a_persons_own_consents_and_factors_and_a_refresh_reuse_are_recorded(app: TestApp) {
    app.clock().freeze();
    let alice = signed_in(&app).await;
    let me = format!("person:{}", alice.id);
    // Consent given, then withdrawn on /account.
    let web = app.web_client(false);
    let (_, challenge) = pkce_pair();
    app.authorize_and_allow(&code_query(&web, &challenge, &[]))
        .await;
    let html = app.get("/account").await.text().await.unwrap();
    let csrf = form_field(&html, "csrf_token").unwrap();
    let r = app
        .post_form(
            "/account/revoke",
            &[("csrf_token", &csrf), ("client_id", &web.client.id)],
        )
        .await;
    assert_eq!(r.status(), 303);
    // An authenticator app: set up, new recovery codes, a wrong code and
    // a recovery code at the second step, then removed.
    let enrolled = app.enrol_totp().await;
    let r = app.totp_action("regenerate").await;
    assert_eq!(r.status(), 200);
    let codes = crate::harness::factors::recovery_codes(&r.text().await.unwrap());
    app.sign_out().await;
    app.sign_in(USERNAME, PASSWORD, "/account").await;
    let wrong = code_at(&enrolled.secret, app.clock().now() + 600);
    assert_eq!(app.second_step(&wrong, "/account").await.status(), 401);
    // (A recovery code's answer is a page saying how many are left.)
    assert_eq!(app.second_step(&codes[0], "/account").await.status(), 200);
    let r = app.totp_action("remove").await;
    assert_eq!(r.status(), 303);
    // A spent refresh token presented again.
    let legacy = app.password_client();
    let first = app.password_refresh_token(&legacy).await;
    assert_eq!(app.refresh(&legacy, &first).await.status(), 200);
    assert_eq!(app.refresh(&legacy, &first).await.status(), 400);

    let events = audit(&app, &[]);
    let given = one(&events, "consent_given", "success");
    assert_eq!(given["actor"], me.as_str());
    assert_eq!(given["client_id"], web.client.id.as_str());
    assert_eq!(given["detail"]["scope"], "read");
    let withdrawn = one(&events, "consent_withdrawn", "success");
    assert_eq!(withdrawn["client_id"], web.client.id.as_str());
    let factors: Vec<(String, String)> = events
        .iter()
        .filter(|e| e["type"] == "factor_enrolled" || e["type"] == "factor_removed")
        .map(|e| {
            assert_eq!(e["actor"], me.as_str(), "{e}");
            (
                e["type"].as_str().unwrap().to_string(),
                e["detail"]["factor"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        factors,
        [
            ("factor_enrolled".into(), "totp".into()),
            ("factor_enrolled".into(), "recovery_codes".into()),
            ("factor_removed".into(), "totp".into()),
        ]
    );
    let wrong = events
        .iter()
        .find(|e| e["type"] == "sign_in" && e["detail"]["reason"] == "wrong_code")
        .expect("a wrong code at the second step");
    assert_eq!(wrong["outcome"], "failure");
    assert_eq!(wrong["detail"]["via"], "second_step");
    let used = one(&events, "recovery_code_used", "success");
    assert_eq!(used["detail"]["left"], 9);
    let after_step = events
        .iter()
        .filter(|e| e["type"] == "sign_in" && e["outcome"] == "success")
        .find(|e| {
            e["detail"]["amr"]
                .as_str()
                .is_some_and(|a| a.contains("mfa"))
        })
        .expect("the second step's sign-in");
    assert_eq!(after_step["subject"], me.as_str());
    let reused = one(&events, "refresh_token_reused", "success");
    assert_eq!(reused["actor"], "gatehouse");
    assert_eq!(reused["subject"], me.as_str());
    assert_eq!(reused["client_id"], legacy.client.id.as_str());
}

/// Clients: the operator's (command line), a client's own through RFC 7591
/// and RFC 7592, each with the client as subject.
async fn client_changes_are_recorded_by_who_made_them(app: TestApp) {
    let url = app.state.config.database_url.clone();
    let made = stdout_json(&gatehouse_on(
        &url,
        &[
            "client",
            "create",
            "--name",
            "Billing",
            "--grant-type",
            "client_credentials",
            "--scope",
            "read",
            "--json",
        ],
        "",
    ));
    let billing = made["client_id"].as_str().unwrap().to_string();
    cli(
        &app,
        &["client", "update", &billing, "--name", "Billing v2"],
        "",
    );
    cli(&app, &["client", "rotate-secret", &billing], "");
    cli(&app, &["client", "delete", &billing], "");
    // A client registers itself, changes and deletes its registration.
    let r = app
        .http
        .post(app.url("/register"))
        .json(&serde_json::json!({
            "client_name": "Editor",
            "redirect_uris": ["http://127.0.0.1/callback"],
            "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": "none"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let reg: serde_json::Value = r.json().await.unwrap();
    let editor = reg["client_id"].as_str().unwrap().to_string();
    let manage = reg["registration_access_token"].as_str().unwrap();
    let at = reg["registration_client_uri"].as_str().unwrap();
    let mut doc = reg.clone();
    doc["client_name"] = "Editor 2".into();
    for k in [
        "registration_access_token",
        "registration_client_uri",
        "client_id_issued_at",
    ] {
        doc.as_object_mut().unwrap().remove(k);
    }
    let r = app
        .http
        .put(at)
        .bearer_auth(manage)
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = app
        .http
        .delete(at)
        .bearer_auth(manage)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    let events = audit(&app, &["--client", &billing]);
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "client_created",
            "client_updated",
            "client_secret_rotated",
            "client_deleted"
        ]
    );
    assert!(
        events.iter().all(|e| e["actor"] == "operator"),
        "{events:#?}"
    );
    assert!(events
        .iter()
        .all(|e| e["subject"] == format!("client:{billing}")));
    assert_eq!(events[3]["detail"]["name"], "Billing v2");

    let events = audit(&app, &["--client", &editor]);
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["client_registered", "client_updated", "client_deleted"]
    );
    let me = format!("client:{editor}");
    assert!(
        events.iter().all(|e| e["actor"] == me.as_str()),
        "{events:#?}"
    );
    assert_eq!(events[0]["ip"], "127.0.0.1");
    assert_eq!(events[0]["detail"]["public"], true);
}

/// A flood the throttle answers without checking a password must not
/// fill the trail: such attempts are counted on /metrics only.
async fn attempts_a_throttle_refuses_unchecked_write_nothing(app: TestApp) {
    app.clock().freeze();
    app.alice();
    for _ in 0..5 {
        assert_eq!(
            app.sign_in(USERNAME, "nope nope", "/account")
                .await
                .status(),
            401
        );
    }
    for _ in 0..20 {
        assert_eq!(
            app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
            429
        );
    }
    let events = audit(&app, &[]);
    assert_eq!(events.len(), 5, "{events:#?}");
    assert!(events
        .iter()
        .all(|e| e["detail"]["reason"] == "wrong_password"));
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == "gatehouse_throttled_attempts_total{throttle=\"sign_in\"} 20"),
        "{metrics}"
    );
}
