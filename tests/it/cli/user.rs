//! `gatehouse user create|update|list|show|disable|enable|set-password|
//! delete`: what they print and refuse (usernames by RFC 8265, names
//! people read, OpenID Connect's standard claims, OIDC Core §5.1), and,
//! through the same registry functions, what they do to a person: a
//! disabled or deleted person is signed out everywhere and their tokens
//! stop at once.

use crate::harness::apps::Person;
use crate::harness::cli::*;
use crate::harness::names::ALICE_LOOK_ALIKES;
use crate::harness::{expect_error, pkce_pair, url_params, TestApp, PASSWORD, USERNAME};
use gatehouse::registry;
use serde_json::Value;

backend_tests!(
    rfc8265_user_create_and_update_refuse_look_alike_usernames,
    user_and_client_commands_refuse_names_with_bidi_controls_or_invisible_characters,
    disabling_a_user_ends_sessions_refresh_tokens_and_access_tokens,
    enabling_a_user_lets_them_sign_in_again,
    deleting_a_user_revokes_everything_and_their_apps_pass_to_the_operator,
    a_new_password_replaces_the_old_and_signs_out_everywhere,
    rfc8265_look_alikes_of_a_username_are_refused_and_other_names_accepted,
    user_update_admin_lets_a_person_see_every_app_and_no_admin_takes_it_back,
    user_reset_factors_removes_the_factors_and_ends_every_sign_in,
);

#[test]
fn oidc_core_5_1_user_create_name_and_user_update() {
    let d = &Workdir::with_database();
    let created = stdout_json(&d.run_with_stdin(
        &[
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "alice@example.com",
            "--name",
            "Alice Liddell",
            "--password-stdin",
            "--json",
        ],
        "correct horse\n",
    ));
    assert_eq!(created["name"], "Alice Liddell");
    assert_eq!(created["email_verified"], false);

    let updated = stdout_json(&d.run_with_stdin(
        &[
            "user",
            "update",
            "alice",
            "--email-verified",
            "true",
            "--json",
        ],
        "",
    ));
    assert_eq!(updated["email_verified"], true);
    assert_eq!(updated["name"], "Alice Liddell");

    // A new address is unverified unless said otherwise in the same command.
    let updated = stdout_json(&d.run_with_stdin(
        &[
            "user",
            "update",
            "alice",
            "--email",
            "a@example.org",
            "--name",
            "Alice L.",
            "--json",
        ],
        "",
    ));
    assert_eq!(updated["email"], "a@example.org");
    assert_eq!(updated["email_verified"], false);
    assert_eq!(updated["name"], "Alice L.");
    let id = updated["id"].as_str().unwrap().to_string();
    let updated = stdout_json(&d.run_with_stdin(
        &[
            "user",
            "update",
            &id,
            "--email",
            "b@example.org",
            "--email-verified",
            "true",
            "--json",
        ],
        "",
    ));
    assert_eq!(updated["email_verified"], true);

    // An empty name removes it.
    let updated =
        stdout_json(&d.run_with_stdin(&["user", "update", "alice", "--name", "", "--json"], ""));
    assert!(updated["name"].is_null());
    let shown = d.run_with_stdin(&["user", "show", "alice"], "");
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("b@example.org (verified)"), "{text}");

    one_line_failure(
        &d.run_with_stdin(&["user", "update", "alice"], ""),
        2,
        "nothing to change",
    );
    one_line_failure(
        &d.run_with_stdin(
            &["user", "update", "alice", "--email", "not an address"],
            "",
        ),
        1,
        "e-mail",
    );
    one_line_failure(
        &d.run_with_stdin(&["user", "update", "nobody", "--name", "N"], ""),
        1,
        "no user",
    );
    let removed =
        stdout_json(&d.run_with_stdin(&["user", "update", "alice", "--email", "", "--json"], ""));
    assert!(removed["email"].is_null());
    assert_eq!(removed["email_verified"], false);
    one_line_failure(
        &d.run_with_stdin(&["user", "update", "alice", "--email-verified", "true"], ""),
        1,
        "no e-mail address",
    );
    // A value clap refuses: its usage error, exit 2.
    let o = d.run_with_stdin(
        &["user", "update", "alice", "--email-verified", "maybe"],
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("maybe"));
    one_line_failure(
        &d.run_with_stdin(&["user", "update", "alice", "--name", &"x".repeat(201)], ""),
        1,
        "display name",
    );
}

async fn rfc8265_user_create_and_update_refuse_look_alike_usernames(app: crate::harness::TestApp) {
    let url = app.state.config.database_url.clone();
    app.alice();
    let bob = app.user("bob", "correct horse");
    for name in ALICE_LOOK_ALIKES {
        let o = gatehouse_on(
            &url,
            &["user", "create", "--username", name, "--password-stdin"],
            "correct horse battery\n",
        );
        assert_refused(&o, "username", name);
        let o = gatehouse_on(&url, &["user", "update", "bob", "--username", name], "");
        assert_refused(&o, "username", name);
    }
    let mut c = app.state.store.conn().unwrap();
    assert_eq!(c.list_users().unwrap().len(), 2, "nobody new");
    assert_eq!(c.find_user(&bob.id).unwrap().unwrap().username, "bob");
    drop(c);
    // Other names are accepted, by both commands.
    let made = stdout_json(&gatehouse_on(
        &url,
        &[
            "user",
            "create",
            "--username",
            "Alicia",
            "--password-stdin",
            "--json",
        ],
        "correct horse battery\n",
    ));
    assert_eq!(made["username"], "Alicia");
    let renamed = stdout_json(&gatehouse_on(
        &url,
        &["user", "update", "bob", "--username", "Robert", "--json"],
        "",
    ));
    assert_eq!(renamed["username"], "Robert");
    assert_eq!(renamed["id"], bob.id.as_str());
    // Bob signs in by his new name (any case); his old one is free again.
    assert_eq!(
        app.sign_in("robert", "correct horse", "/account")
            .await
            .status(),
        303
    );
    let o = gatehouse_on(
        &url,
        &["user", "create", "--username", "bob", "--password-stdin"],
        "correct horse battery\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

async fn user_and_client_commands_refuse_names_with_bidi_controls_or_invisible_characters(
    app: crate::harness::TestApp,
) {
    let url = app.state.config.database_url.clone();
    app.alice();
    for name in [
        "\u{202E}gnp.exe Bank",
        "Bank\u{2066}",
        "Ali\u{200F}ce",
        "Al\u{200B}ice",
        "\u{FEFF}Alice",
    ] {
        let o = gatehouse_on(
            &url,
            &[
                "user",
                "create",
                "--username",
                "carol",
                "--name",
                name,
                "--password-stdin",
            ],
            "correct horse battery\n",
        );
        assert_refused(&o, "U+", name);
        let o = gatehouse_on(&url, &["user", "update", "alice", "--name", name], "");
        assert_refused(&o, "U+", name);
        let o = gatehouse_on(
            &url,
            &[
                "client",
                "create",
                "--name",
                name,
                "--grant-type",
                "client_credentials",
                "--scope",
                "read",
            ],
            "",
        );
        assert_refused(&o, "U+", name);
    }
    let mut c = app.state.store.conn().unwrap();
    assert_eq!(c.list_users().unwrap().len(), 1, "no carol");
    assert_eq!(
        c.find_user_by_username("alice").unwrap().unwrap().name,
        None
    );
    assert!(c.list_clients().unwrap().is_empty(), "no client");
    drop(c);
    // Right-to-left text itself is welcome.
    let o = gatehouse_on(&url, &["user", "update", "alice", "--name", "אליס"], "");
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn user_create_reads_stdin_and_refuses_short_and_duplicate() {
    let w = Workdir::with_database();
    let o = w.run_with_stdin(
        &["user", "create", "--username", "alice", "--password-stdin"],
        "short\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("too short"), "{}", stderr(&o));
    let o = w.run_with_stdin(
        &[
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "a@example.com",
            "--password-stdin",
            "--json",
        ],
        "correct horse battery\n",
    );
    let user = stdout_json(&o);
    assert_eq!(user["username"], "alice");
    let o = w.run_with_stdin(
        &["user", "create", "--username", "alice", "--password-stdin"],
        "another long one\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is taken"), "{}", stderr(&o));
}

#[test]
fn user_commands_list_show_disable_enable_set_password_and_delete() {
    let w = Workdir::with_database();
    let made = stdout_json(&w.run_with_stdin(
        &[
            "user",
            "create",
            "--username",
            "carol",
            "--admin",
            "--password-stdin",
            "--json",
        ],
        "correct horse battery\n",
    ));
    assert_eq!(made["admin"], true);
    let id = made["id"].as_str().unwrap().to_string();
    let list = stdout_json(&w.run(&["user", "list", "--json"]));
    assert_eq!(list[0]["username"], "carol");
    assert_eq!(
        stdout_json(&w.run(&["user", "show", &id, "--json"]))["username"],
        "carol"
    );
    let off = stdout_json(&w.run(&["user", "disable", "carol", "--json"]));
    assert_eq!(off["disabled"], true);
    let on = stdout_json(&w.run(&["user", "enable", "carol", "--json"]));
    assert_eq!(on["disabled"], false);
    let o = w.run_with_stdin(
        &["user", "set-password", "carol", "--password-stdin"],
        "short\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("too short"), "{}", stderr(&o));
    let o = w.run_with_stdin(
        &["user", "set-password", "carol", "--password-stdin"],
        "another long one\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(w.run(&["user", "delete", &id]).status.success());
    let o = w.run(&["user", "show", "carol"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).trim().lines().count(), 1);
    assert_eq!(
        stdout_json(&w.run(&["user", "list", "--json"])),
        serde_json::json!([])
    );
}

/// `alice`, signed in, who has authorized the web app: returns its
/// client, the token response and alice's id.
async fn alice_with_tokens(app: &TestApp) -> (gatehouse::registry::CreatedClient, Value, String) {
    let alice = app.alice();
    let r = app.sign_in(USERNAME, PASSWORD, "/account").await;
    assert_eq!(r.status(), 303);
    let client = app.web_client(false);
    let (verifier, challenge) = pkce_pair();
    let loc = app
        .authorize_and_allow(&crate::harness::code_query(&client, &challenge, &[]))
        .await;
    let code = url_params(&loc, false)["code"].clone();
    let r = app
        .exchange(
            &client,
            &code,
            Some(&verifier),
            Some(crate::harness::REDIRECT),
        )
        .await;
    assert_eq!(r.status(), 200);
    (client, r.json().await.unwrap(), alice.id)
}

async fn assert_tokens_dead(app: &TestApp, client: &registry::CreatedClient, tokens: &Value) {
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let r = app.refresh(client, refresh).await;
    expect_error(r, 400, "invalid_grant").await;
    let introspector = app.introspector();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.introspect(&introspector, access).await["active"], false);
}

async fn disabling_a_user_ends_sessions_refresh_tokens_and_access_tokens(app: TestApp) {
    let (client, tokens, _) = alice_with_tokens(&app).await;
    assert!(app.is_signed_in().await);
    let u = app
        .state
        .registry()
        .set_user_disabled(USERNAME, true)
        .await
        .unwrap();
    assert!(u.disabled);
    assert!(!app.is_signed_in().await, "the browser session ended");
    assert_tokens_dead(&app, &client, &tokens).await;
    let r = app.sign_in(USERNAME, PASSWORD, "/account").await;
    assert_eq!(r.status(), 401, "a disabled person cannot sign in");
}

async fn enabling_a_user_lets_them_sign_in_again(app: TestApp) {
    app.alice();
    app.state
        .registry()
        .set_user_disabled(USERNAME, true)
        .await
        .unwrap();
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
        401
    );
    let u = app
        .state
        .registry()
        .set_user_disabled(USERNAME, false)
        .await
        .unwrap();
    assert!(!u.disabled);
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
        303
    );
}

async fn deleting_a_user_revokes_everything_and_their_apps_pass_to_the_operator(app: TestApp) {
    let (client, tokens, alice_id) = alice_with_tokens(&app).await;
    let theirs = app.client(registry::NewClient {
        name: "Alice's tool".into(),
        grant_types: vec!["client_credentials".into()],
        scope: "read".into(),
        owner: Some(alice_id.clone()),
        ..Default::default()
    });
    // By id, as well as by username.
    let gone = app.state.registry().delete_user(&alice_id).await.unwrap();
    assert_eq!(gone.username, USERNAME);
    assert!(!app.is_signed_in().await);
    assert_tokens_dead(&app, &client, &tokens).await;
    let mut conn = app.state.store.conn().unwrap();
    assert!(conn.find_user(&alice_id).unwrap().is_none());
    let tool = conn.find_client(&theirs.client.id).unwrap().unwrap();
    assert_eq!(tool.owner, None, "the app stays, owned by the operator");
    assert!(matches!(
        app.state.registry().delete_user(USERNAME).await,
        Err(registry::RegistryError::NotFound(_))
    ));
}

async fn a_new_password_replaces_the_old_and_signs_out_everywhere(app: TestApp) {
    app.alice();
    app.sign_in(USERNAME, PASSWORD, "/account").await;
    assert!(app.is_signed_in().await);
    assert!(matches!(
        app.state
            .registry()
            .set_user_password(USERNAME, "short")
            .await,
        Err(registry::RegistryError::Field {
            field: "password",
            ..
        })
    ));
    app.state
        .registry()
        .set_user_password(USERNAME, "a new long one")
        .await
        .unwrap();
    assert!(!app.is_signed_in().await);
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
        401
    );
    assert_eq!(
        app.sign_in(USERNAME, "a new long one", "/account")
            .await
            .status(),
        303
    );
}

async fn rfc8265_look_alikes_of_a_username_are_refused_and_other_names_accepted(app: TestApp) {
    let alice = app.alice();
    let create = |name: &str| {
        let new = registry::NewUser {
            username: name.into(),
            password: PASSWORD.into(),
            ..Default::default()
        };
        async { app.state.registry().create_user(new).await }
    };
    for name in ALICE_LOOK_ALIKES {
        let r = create(name).await;
        match r {
            Err(registry::RegistryError::Field {
                field: "username", ..
            }) => {}
            other => panic!("{name:?}: {other:?}"),
        }
    }
    let mut c = app.state.store.conn().unwrap();
    assert_eq!(c.list_users().unwrap().len(), 1, "nobody new");
    drop(c);
    // Different names are still welcome, and keep their case as typed.
    for name in ["alicia", "Bob", "José", "Дмитрий"] {
        let u = create(name).await.unwrap();
        assert_eq!(u.username, name);
    }
    let stored = app
        .state
        .store
        .conn()
        .unwrap()
        .find_user_by_username("ALICE")
        .unwrap()
        .unwrap();
    assert_eq!(stored.id, alice.id);
    assert_eq!(stored.username_key.as_deref(), Some("alice"));
}

/// `user update --admin`: the person sees and manages every app on the
/// application pages at their next request; `--no-admin` takes it back.
/// Taking it from the last admin is allowed (the operator keeps the
/// command line), with a warning on stderr.
async fn user_update_admin_lets_a_person_see_every_app_and_no_admin_takes_it_back(app: TestApp) {
    let url = app.state.config.database_url.clone();
    let operators = app.service_client();
    let app_page = format!("/apps/{}", operators.client.id);
    let bob = Person::new(&app, "bob", false).await;
    assert!(!bob.html("/apps").await.contains(&operators.client.id));
    assert_eq!(bob.get(&app_page).await.status(), 404);

    let o = gatehouse_on(&url, &["user", "update", "bob", "--admin", "--json"], "");
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    assert_eq!(stdout_json(&o)["admin"], true);
    assert!(bob.html("/apps").await.contains(&operators.client.id));
    assert_eq!(bob.get(&app_page).await.status(), 200);
    assert_eq!(
        stdout_json(&gatehouse_on(&url, &["user", "show", "bob", "--json"], ""))["admin"],
        true
    );

    // bob is the only admin: allowed, with a warning.
    let o = gatehouse_on(&url, &["user", "update", "bob", "--no-admin", "--json"], "");
    assert_eq!(stdout_json(&o)["admin"], false);
    let warning = stderr(&o);
    assert_eq!(warning.trim().lines().count(), 1, "{warning}");
    assert!(warning.contains("no admin"), "{warning}");
    assert!(!bob.html("/apps").await.contains(&operators.client.id));
    assert_eq!(bob.get(&app_page).await.status(), 404);

    // With another admin left, no warning; the last flag given wins.
    Person::new(&app, "root", true).await;
    let o = gatehouse_on(
        &url,
        &["user", "update", "bob", "--no-admin", "--admin", "--json"],
        "",
    );
    assert_eq!(stdout_json(&o)["admin"], true);
    let o = gatehouse_on(&url, &["user", "update", "bob", "--no-admin"], "");
    assert!(
        o.status.success() && stderr(&o).is_empty(),
        "{}",
        stderr(&o)
    );
}

/// Without `--password-stdin`, a password is asked for only at a terminal;
/// with standard input not a terminal (a script, a pipe, nothing), the
/// commands say so in one line (exit 2) rather than wait.
#[test]
fn user_create_and_set_password_without_a_terminal_need_password_stdin() {
    let w = Workdir::new();
    assert!(w.run(&["migrate"]).status.success());
    for args in [
        vec!["user", "create", "--username", "alice"],
        vec!["user", "set-password", "alice"],
    ] {
        let o = w.run(&args);
        one_line_failure(&o, 2, "--password-stdin");
        let o = w.run_with_stdin(&args, "correct horse battery\n");
        one_line_failure(&o, 2, "--password-stdin");
    }
    assert_eq!(
        stdout_json(&w.run(&["user", "list", "--json"])),
        serde_json::json!([]),
        "nobody was created"
    );
}

// ---- user invite, user reset-link (issue 29) ---------------------------

mod links {
    use crate::harness::cli::*;
    use crate::harness::smtp::shared_sink;
    use crate::harness::{form_field, TestApp, PASSWORD, USERNAME};

    backend_tests!(
        user_invite_without_mail_needs_print_link_and_the_printed_link_sets_the_password,
        user_reset_link_prints_a_single_use_link_that_signs_out_everywhere,
    );

    mod mailed {
        use super::*;
        backend_tests!(with crate::harness::smtp::shared_sink_config; user_invite_mails_the_invitation_through_the_running_server);
    }

    /// Runs `gatehouse ARGS` on `app`'s database, keys and issuer (and its
    /// SMTP URL, when it has one).
    fn gatehouse(app: &TestApp, args: &[&str]) -> std::process::Output {
        let w = Workdir::new();
        let mut c = w.cmd(args);
        c.env("GATEHOUSE_DATABASE_URL", &app.state.config.database_url)
            .env("GATEHOUSE_KEYS_DIR", &app.state.config.keys_dir)
            .env("GATEHOUSE_ISSUER", &app.state.issuer)
            .env_remove("GATEHOUSE_SMTP_URL");
        if let Some(smtp) = &app.state.config.smtp_url {
            c.env("GATEHOUSE_SMTP_URL", smtp);
        }
        c.stdin(std::process::Stdio::null()).output().unwrap()
    }

    /// Opens a link the CLI printed or mailed and sets `password` there;
    /// returns the page's status and text.
    async fn set_password_through(app: &TestApp, link: &str, password: &str) -> (u16, String) {
        let path = link
            .strip_prefix(&app.state.issuer)
            .unwrap_or_else(|| panic!("{link} starts with the issuer"));
        assert!(path.starts_with("/password/reset?token="), "{link}");
        let page = app.get(path).await;
        let status = page.status().as_u16();
        let page = page.text().await.unwrap();
        if status != 200 {
            return (status, page);
        }
        let csrf = form_field(&page, "csrf_token").unwrap();
        let token = form_field(&page, "token").unwrap();
        let r = app
            .post_form(
                "/password/reset",
                &[
                    ("csrf_token", csrf.as_str()),
                    ("token", token.as_str()),
                    ("password", password),
                    ("password_confirm", password),
                ],
            )
            .await;
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn user_invite_without_mail_needs_print_link_and_the_printed_link_sets_the_password(
        app: TestApp,
    ) {
        let o = gatehouse(&app, &["user", "invite", "--email", "bob@example.com"]);
        one_line_failure(&o, 2, "--print-link");
        assert!(stderr(&o).contains("GATEHOUSE_SMTP_URL"), "{}", stderr(&o));
        assert!(
            app.state.registry().find_user("bob").await.is_err(),
            "nobody was created"
        );

        let o = gatehouse(
            &app,
            &[
                "user",
                "invite",
                "--email",
                "bob@example.com",
                "--name",
                "Bob",
                "--print-link",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let link = String::from_utf8(o.stdout).unwrap().trim().to_string();
        let bob = app.state.registry().find_user("bob").await.unwrap();
        assert_eq!(bob.email.as_deref(), Some("bob@example.com"));
        assert!(!bob.email_verified);
        // Nobody can sign in before the link is used.
        assert_eq!(app.sign_in("bob", PASSWORD, "/account").await.status(), 401);

        let page = app
            .get(link.strip_prefix(&app.state.issuer).unwrap())
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("Choose your password"), "{page}");
        let (status, done) = set_password_through(&app, &link, "bob's own passphrase").await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(
            app.sign_in("bob", "bob's own passphrase", "/account")
                .await
                .status(),
            303
        );
        let o = gatehouse(&app, &["user", "show", "bob"]);
        let shown = String::from_utf8(o.stdout).unwrap();
        assert!(shown.contains("bob@example.com (verified)"), "{shown}");
        // The invitation worked once.
        assert_eq!(
            set_password_through(&app, &link, "another passphrase")
                .await
                .0,
            410
        );
    }

    async fn user_invite_mails_the_invitation_through_the_running_server(app: TestApp) {
        let email = format!("carol-{}@example.com", uuid::Uuid::new_v4().simple());
        let o = gatehouse(
            &app,
            &["user", "invite", "--email", &email, "--username", "carol"],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains("queued"));
        // The CLI queued it; the running server's sender delivers it.
        app.state.outbox.wake();
        let mail = shared_sink().wait_for_mail_to(&email);
        assert!(mail.subject.contains("invited"), "{}", mail.subject);
        assert!(mail.text.contains("carol"), "{}", mail.text);
        let link = mail.link_starting_with(&app.state.issuer);
        let (status, _) = set_password_through(&app, &link, "carol's passphrase").await;
        assert_eq!(status, 200);
        let carol = app.state.registry().find_user("carol").await.unwrap();
        assert!(carol.email_verified, "the invitation confirms the address");
    }

    async fn user_reset_link_prints_a_single_use_link_that_signs_out_everywhere(app: TestApp) {
        app.alice();
        assert_eq!(
            app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
            303
        );
        let o = gatehouse(&app, &["user", "reset-link", USERNAME]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("single-use"), "{}", stderr(&o));
        let link = String::from_utf8(o.stdout).unwrap().trim().to_string();
        let (status, done) = set_password_through(&app, &link, "handed-over passphrase").await;
        assert_eq!(status, 200, "{done}");
        assert!(!app.is_signed_in().await, "signed out everywhere");
        assert_eq!(
            app.sign_in(USERNAME, "handed-over passphrase", "/account")
                .await
                .status(),
            303
        );
        assert_eq!(
            set_password_through(&app, &link, "again passphrase")
                .await
                .0,
            410
        );
        let o = gatehouse(&app, &["user", "reset-link", "nobody"]);
        assert!(!o.status.success());
    }
}

/// `user reset-factors`: alice lost her phone. Her app and recovery codes
/// go, her session and tokens end, and she signs in with her password
/// alone again.
async fn user_reset_factors_removes_the_factors_and_ends_every_sign_in(app: TestApp) {
    app.clock().freeze();
    let (client, tokens, alice_id) = alice_with_tokens(&app).await;
    app.enrol_totp().await;
    assert!(app.is_signed_in().await);
    let url = app.state.config.database_url.clone();
    let o = gatehouse_on(&url, &["user", "reset-factors", USERNAME, "--json"], "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let done: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(done["id"], alice_id.as_str());
    assert_eq!(done["removed"]["totp"], true);
    assert_eq!(done["removed"]["recovery_codes"], 10);
    assert_eq!(done["removed"]["passkeys"], 0);
    let factors = app
        .state
        .store
        .conn()
        .unwrap()
        .user_factors(&alice_id)
        .unwrap();
    assert!(!factors.any());
    assert_eq!(factors.recovery_codes_left, 0);
    assert!(
        !app.is_signed_in().await,
        "the session cookie no longer works"
    );
    assert_tokens_dead(&app, &client, &tokens).await;
    let r = app.sign_in(USERNAME, PASSWORD, "/account").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account", "no second step now");

    // Plain output says what it did; an unknown name fails.
    let o = gatehouse_on(&url, &["user", "reset-factors", USERNAME], "");
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("reset the sign-in factors of user alice"));
    let o = gatehouse_on(&url, &["user", "reset-factors", "nobody-here"], "");
    assert_refused(&o, "no user 'nobody-here'", "an unknown name");
}
