//! `gatehouse client create|update|list|show|delete|rotate-secret`: what
//! they print, the registrations they refuse with one line, and what an
//! update changes at a served gatehouse.

use crate::harness::cli::*;
use crate::harness::{code_query, pkce_pair, TestApp, REDIRECT};

backend_tests!(
    rfc6749_3_1_2_client_update_replaces_a_redirect_uri_at_authorize,
    client_update_refuses_a_bad_value_and_changes_nothing,
);

#[test]
fn client_commands_create_show_list_rotate_delete() {
    let w = Workdir::with_database();
    let created = stdout_json(&w.run(&[
        "client",
        "create",
        "--name",
        "svc",
        "--grant-type",
        "client_credentials",
        "--scope",
        "read write",
        "--json",
    ]));
    let id = created["client_id"].as_str().unwrap().to_string();
    let secret = created["client_secret"].as_str().unwrap();
    assert!(secret.len() >= 43, "256 bits of randomness");
    assert_eq!(
        created["grant_types"],
        serde_json::json!(["client_credentials"])
    );
    assert_eq!(created["scope"], "read write");
    assert_eq!(created["redirect_uris"], serde_json::json!([]));

    let shown = stdout_json(&w.run(&["client", "show", &id, "--json"]));
    assert_eq!(shown["client_id"], id.as_str());
    assert!(
        shown.get("client_secret").is_none(),
        "secret is shown only once"
    );

    let listed = stdout_json(&w.run(&["client", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let rotated = stdout_json(&w.run(&["client", "rotate-secret", &id, "--json"]));
    assert_ne!(rotated["client_secret"].as_str().unwrap(), secret);

    assert!(w.run(&["client", "delete", &id]).status.success());
    let o = w.run(&["client", "show", &id]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).trim().lines().count(), 1);
}

#[test]
fn public_client_has_no_secret() {
    let w = Workdir::with_database();
    let created = stdout_json(&w.run(&[
        "client",
        "create",
        "--name",
        "spa",
        "--public",
        "--redirect-uri",
        "http://localhost:3000/cb",
        "--grant-type",
        "authorization_code",
        "--scope",
        "read",
        "--json",
    ]));
    assert!(created.get("client_secret").is_none());
    assert_eq!(created["token_endpoint_auth_method"], "none");
}

#[test]
fn invalid_client_registration_is_refused_with_one_line() {
    let w = Workdir::with_database();
    for args in [
        vec!["client", "create", "--name", "x", "--grant-type", "magic"],
        vec![
            "client",
            "create",
            "--name",
            "x",
            "--grant-type",
            "authorization_code",
        ],
        vec![
            "client",
            "create",
            "--name",
            "x",
            "--grant-type",
            "authorization_code",
            "--redirect-uri",
            "/relative",
        ],
        vec![
            "client",
            "create",
            "--name",
            "x",
            "--grant-type",
            "authorization_code",
            "--redirect-uri",
            "https://a/cb#frag",
        ],
    ] {
        let o = w.run(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert_eq!(
            stderr(&o).trim().lines().count(),
            1,
            "{args:?}: {}",
            stderr(&o)
        );
    }
    let listed = stdout_json(&w.run(&["client", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 0, "nothing was written");
}

#[test]
fn client_create_refuses_dangerous_redirect_uris_and_websites() {
    let w = Workdir::with_database();
    let create = |redirect: &str, website: Option<&str>| {
        let mut args = vec![
            "client",
            "create",
            "--name",
            "x",
            "--grant-type",
            "authorization_code",
            "--redirect-uri",
            redirect,
            "--json",
        ];
        if let Some(site) = website {
            args.extend(["--website", site]);
        }
        w.run(&args)
    };
    for bad in [
        "javascript:alert(1)//",
        "data:text/html,hi",
        "http://localhost.evil.com/cb",
        "http://app.example/cb",
        "https://user@app.example/cb",
    ] {
        let o = create(bad, None);
        assert_eq!(o.status.code(), Some(1), "{bad} was accepted");
        assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    }
    for site in ["javascript:alert(1)//", "http://app.example"] {
        let o = create("https://app.example/cb", Some(site));
        assert_eq!(o.status.code(), Some(1), "website {site} was accepted");
    }
    // RFC 8252 §7.3 / §7.1: loopback http and a native app's scheme.
    for ok in ["http://127.0.0.1:8765/cb", "com.example.app:/cb"] {
        let o = create(ok, Some("https://app.example"));
        assert_eq!(stdout_json(&o)["redirect_uris"][0], ok);
    }
    let listed = stdout_json(&w.run(&["client", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 2, "only the good ones");
}

#[test]
fn rp_initiated_logout_3_1_client_create_post_logout_redirect_uri() {
    let d = &Workdir::with_database();
    let created = stdout_json(&d.run_with_stdin(
        &[
            "client",
            "create",
            "--name",
            "rp",
            "--redirect-uri",
            "https://app.example/cb",
            "--grant-type",
            "authorization_code",
            "--scope",
            "openid profile",
            "--post-logout-redirect-uri",
            "https://app.example/bye",
            "https://app.example/bye2",
            "--json",
        ],
        "",
    ));
    assert_eq!(
        created["post_logout_redirect_uris"],
        serde_json::json!(["https://app.example/bye", "https://app.example/bye2"])
    );
    let id = created["client_id"].as_str().unwrap();
    let shown = stdout_json(&d.run_with_stdin(&["client", "show", id, "--json"], ""));
    assert_eq!(
        shown["post_logout_redirect_uris"],
        created["post_logout_redirect_uris"]
    );
    for bad in [
        "javascript:alert(1)",
        "http://evil.example/bye",
        "https://app.example/#x",
    ] {
        one_line_failure(
            &d.run_with_stdin(
                &[
                    "client",
                    "create",
                    "--name",
                    "rp",
                    "--redirect-uri",
                    "https://app.example/cb",
                    "--grant-type",
                    "authorization_code",
                    "--post-logout-redirect-uri",
                    bad,
                ],
                "",
            ),
            1,
            "",
        );
    }
}

/// RFC 6749 §3.1.2.2: the authorization server matches the redirect URI
/// against those registered: after `client update --redirect-uri NEW`,
/// /authorize refuses the old one (a page, never a redirect) and takes
/// the new one. Fields not given keep their values.
async fn rfc6749_3_1_2_client_update_replaces_a_redirect_uri_at_authorize(app: TestApp) {
    let url = app.state.config.database_url.clone();
    let c = app.web_client(false);
    let new_uri = "https://app.example/new-cb";
    let updated = stdout_json(&gatehouse_on(
        &url,
        &[
            "client",
            "update",
            &c.client.id,
            "--redirect-uri",
            new_uri,
            "--json",
        ],
        "",
    ));
    assert_eq!(updated["redirect_uris"], serde_json::json!([new_uri]));
    assert_eq!(updated["client_name"], "Photo Printer", "name kept");
    assert_eq!(updated["client_id"], c.client.id.as_str());
    assert!(updated.get("client_secret").is_none(), "no secret printed");
    // The same document as `client show --json`.
    let shown = stdout_json(&gatehouse_on(
        &url,
        &["client", "show", &c.client.id, "--json"],
        "",
    ));
    assert_eq!(shown, updated);

    let (_, ch) = pkce_pair();
    let old = app
        .get(&format!("/authorize?{}", code_query(&c, &ch, &[])))
        .await;
    assert_eq!(old.status(), 400, "the old redirect URI is refused");
    assert!(old.headers().get("location").is_none());
    let (status, loc) = app
        .location(&format!(
            "/authorize?{}",
            code_query(&c, &ch, &[("redirect_uri", new_uri)])
        ))
        .await;
    assert_eq!(status, 303, "the new redirect URI is taken: {loc}");
    assert!(loc.starts_with("/login"), "{loc}");

    // The operator's own fields: introspection and post-logout URIs;
    // an empty --website removes the home page.
    let updated = stdout_json(&gatehouse_on(
        &url,
        &[
            "client",
            "update",
            &c.client.id,
            "--introspect",
            "--post-logout-redirect-uri",
            "https://app.example/bye",
            "--website",
            "",
            "--scope",
            "read write",
            "--auth-method",
            "post",
            "--json",
        ],
        "",
    ));
    assert_eq!(updated["introspect"], true);
    assert_eq!(
        updated["post_logout_redirect_uris"],
        serde_json::json!(["https://app.example/bye"])
    );
    assert!(updated["website"].is_null());
    assert_eq!(updated["scope"], "read write");
    assert_eq!(updated["token_endpoint_auth_method"], "client_secret_post");
    assert_eq!(updated["redirect_uris"], serde_json::json!([new_uri]));
    let stored = app
        .state
        .store
        .conn()
        .unwrap()
        .find_client(&c.client.id)
        .unwrap()
        .unwrap();
    assert!(stored.can_introspect);
    assert_eq!(
        stored.post_logout_redirect_uris.to_string(),
        "https://app.example/bye"
    );
    let updated = stdout_json(&gatehouse_on(
        &url,
        &[
            "client",
            "update",
            &c.client.id,
            "--no-introspect",
            "--auth-method",
            "both",
            "--json",
        ],
        "",
    ));
    assert_eq!(updated["introspect"], false);
    assert_eq!(
        updated["post_logout_redirect_uris"],
        serde_json::json!(["https://app.example/bye"]),
        "kept"
    );
}

/// A value the registration rules refuse (an http redirect URI that is
/// not loopback, RFC 8252 §8.3; a grant type that needs a redirect URI
/// left without one; a secret method for a public client) exits non-zero
/// with one line, and the client is as it was.
async fn client_update_refuses_a_bad_value_and_changes_nothing(app: TestApp) {
    let url = app.state.config.database_url.clone();
    let c = app.web_client(false);
    let before = stdout_json(&gatehouse_on(
        &url,
        &["client", "show", &c.client.id, "--json"],
        "",
    ));
    for args in [
        vec!["--redirect-uri", "http://app.example/cb"],
        vec![
            "--name",
            "Renamed",
            "--redirect-uri",
            "http://app.example/cb",
        ],
        vec!["--redirect-uri", ""],
        vec!["--grant-type", "magic"],
        vec!["--auth-method", "none"],
        vec!["--website", "http://app.example"],
        vec!["--post-logout-redirect-uri", "javascript:alert(1)"],
    ] {
        let mut all = vec!["client", "update", c.client.id.as_str()];
        all.extend(&args);
        assert_refused(&gatehouse_on(&url, &all, ""), "", &format!("{args:?}"));
    }
    let after = stdout_json(&gatehouse_on(
        &url,
        &["client", "show", &c.client.id, "--json"],
        "",
    ));
    assert_eq!(after, before, "nothing changed");
    assert_eq!(after["redirect_uris"], serde_json::json!([REDIRECT]));
    one_line_failure(
        &gatehouse_on(&url, &["client", "update", &c.client.id], ""),
        2,
        "nothing to change",
    );
    one_line_failure(
        &gatehouse_on(&url, &["client", "update", "nope", "--name", "x"], ""),
        1,
        "no client",
    );
}
