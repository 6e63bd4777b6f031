//! `/admin`, the admin console: every action through its form, by an admin
//! (it works, and the audit trail names the admin as its actor and says
//! from where) and by anyone else (404, as for another person's app, and
//! nothing changes); a post without the CSRF token is refused and changes
//! nothing; sudo mode (`GATEHOUSE_ADMIN_REAUTH`) sends an admin whose
//! sign-in is too old to sign in again, for pages and posts alike.

use crate::harness::sessions::{Device, FIREFOX_LINUX};
use crate::harness::{audit_events_of, element_value, form_field, TestApp, PASSWORD, USERNAME};
use gatehouse::registry::UserChange;
use gatehouse::store::models::User;

backend_tests!(
    an_admin_manages_a_person_and_each_action_is_recorded_as_theirs,
    deleting_or_resetting_factors_needs_the_confirmation_box,
    an_admin_cannot_disable_delete_or_unmake_themselves_in_the_console,
    anyone_but_an_admin_gets_404_and_changes_nothing,
    a_console_post_without_the_csrf_token_is_refused_and_changes_nothing,
    sudo_mode_asks_for_a_fresh_sign_in_after_the_setting,
    people_are_searched_by_name_or_address_and_paged,
    rfc_7591_3_registration_tokens_are_made_listed_and_revoked,
    signing_keys_rotate_staged_or_at_once_with_a_confirmation,
    the_audit_trail_filters_by_person_app_type_and_time,
    malformed_console_requests_get_4xx_never_5xx,
);

mod with_mail {
    use super::*;
    backend_tests!(with crate::harness::smtp::shared_sink_config;
        the_console_mails_a_reset_link_and_the_notice_of_a_factor_reset);
}

mod mfa_for_admins {
    use super::*;
    backend_tests!(with |c| c.mfa = gatehouse::config::MfaPolicy::Admins;
        an_admin_without_a_second_factor_is_sent_to_set_one_up_first);
}

const BOB: &str = "bob";
const BOB_PASSWORD: &str = "bob's long password";

/// `alice`, an admin, signed in on `app.http`; `bob`, a person.
async fn admin_and_bob(app: &TestApp) -> (User, User) {
    let alice = app.alice();
    make_admin(app, USERNAME);
    let bob = app.user(BOB, BOB_PASSWORD);
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/admin").await.status(),
        303
    );
    (alice, bob)
}

fn make_admin(app: &TestApp, username: &str) {
    crate::harness::wait(app.state.registry().update_user(
        username,
        UserChange {
            admin: Some(true),
            ..Default::default()
        },
    ))
    .unwrap();
}

fn user(app: &TestApp, id: &str) -> Option<User> {
    app.state.store.conn().unwrap().find_user(id).unwrap()
}

/// Loads `page` on `http` and posts its form with `fields` (and the
/// page's CSRF token) to `to`.
async fn post_from(
    app: &TestApp,
    http: &reqwest::Client,
    page: &str,
    to: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let r = http.get(app.url(page)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{page}");
    let html = r.text().await.unwrap();
    let csrf = form_field(&html, "csrf_token").expect("a form with a CSRF token");
    let mut all = vec![("csrf_token", csrf.as_str())];
    all.extend_from_slice(fields);
    http.post(app.url(to)).form(&all).send().await.unwrap()
}

/// Posts an action on `person`'s console page as the admin on `app.http`.
async fn act_on(app: &TestApp, person: &User, fields: &[(&str, &str)]) -> reqwest::Response {
    let page = format!("/admin/people/{}", person.id);
    post_from(app, &app.http, &page, &page, fields).await
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The one event of `kind`, asserting the admin made it from this machine
/// about `subject`.
fn recorded_by(
    app: &TestApp,
    kind: &str,
    admin: &User,
    subject: &str,
) -> gatehouse::store::models::audit_event::AuditEvent {
    let events = audit_events_of(app, kind);
    assert_eq!(events.len(), 1, "one {kind}: {events:#?}");
    let e = events.into_iter().next().unwrap();
    assert_eq!(e.actor, format!("person:{}", admin.id), "{kind}");
    assert_eq!(e.subject.as_deref(), Some(subject), "{kind}");
    assert_eq!(e.ip.as_deref(), Some("127.0.0.1"), "{kind}");
    assert_eq!(e.outcome, "success");
    e
}

async fn an_admin_manages_a_person_and_each_action_is_recorded_as_theirs(app: TestApp) {
    let (alice, bob) = admin_and_bob(&app).await;
    let bob_subject = format!("person:{}", bob.id);
    let phone = Device::new(&app, FIREFOX_LINUX);
    assert_eq!(phone.sign_in(BOB, BOB_PASSWORD).await, 303);

    // The person's page shows who they are and where they are signed in.
    let page = app
        .get(&format!("/admin/people/{}", bob.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Firefox on Linux"), "{page}");
    assert!(page.contains(&bob.id), "{page}");

    // Disable: bob's browser is signed out and he cannot sign in.
    let r = act_on(&app, &bob, &[("action", "disable")]).await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).ends_with("?done=disabled"), "{}", location(&r));
    assert!(user(&app, &bob.id).unwrap().disabled);
    assert!(!phone.signed_in().await, "disabling ends his sessions");
    assert_eq!(phone.sign_in(BOB, BOB_PASSWORD).await, 401);
    recorded_by(&app, "user_disabled", &alice, &bob_subject);
    let shown = app.get(&location(&r)).await.text().await.unwrap();
    assert!(
        shown.contains("id=\"person-state\"><strong>disabled</strong>"),
        "{shown}"
    );
    assert!(shown.contains("id=\"admin-note\""), "{shown}");

    // Enable: he signs in again.
    assert_eq!(
        act_on(&app, &bob, &[("action", "enable")]).await.status(),
        303
    );
    assert!(!user(&app, &bob.id).unwrap().disabled);
    assert_eq!(phone.sign_in(BOB, BOB_PASSWORD).await, 303);
    recorded_by(&app, "user_enabled", &alice, &bob_subject);

    // Make admin, and back.
    assert_eq!(
        act_on(&app, &bob, &[("action", "make_admin")])
            .await
            .status(),
        303
    );
    assert!(user(&app, &bob.id).unwrap().is_admin);
    recorded_by(&app, "admin_granted", &alice, &bob_subject);
    assert_eq!(
        act_on(&app, &bob, &[("action", "unmake_admin")])
            .await
            .status(),
        303
    );
    assert!(!user(&app, &bob.id).unwrap().is_admin);
    recorded_by(&app, "admin_revoked", &alice, &bob_subject);

    // Sign out of every browser.
    assert!(phone.signed_in().await);
    assert_eq!(
        act_on(&app, &bob, &[("action", "sign_out")]).await.status(),
        303
    );
    assert!(!phone.signed_in().await, "his browser is signed out");
    let e = recorded_by(&app, "sessions_ended", &alice, &bob_subject);
    assert!(e.detail.contains("\"sessions\":1"), "{}", e.detail);

    // A reset link: no mail here, so the page shows it once, and it works.
    let r = act_on(&app, &bob, &[("action", "reset_link")]).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let link = element_value(&html, "reset-link").expect("the link is shown");
    assert!(
        link.starts_with(&app.url("/password/reset?token=")),
        "{link}"
    );
    let opened = reqwest::get(&link).await.unwrap();
    assert_eq!(opened.status(), 200);
    assert!(opened.text().await.unwrap().contains("name=\"password\""));
    let e = recorded_by(&app, "reset_link_issued", &alice, &bob_subject);
    assert!(e.detail.contains("\"mailed\":false"), "{}", e.detail);
    assert!(!e.detail.contains(link.split("token=").nth(1).unwrap()));

    // Reset factors (confirmed).
    assert_eq!(
        act_on(
            &app,
            &bob,
            &[("action", "reset_factors"), ("confirm", "yes")]
        )
        .await
        .status(),
        303
    );
    recorded_by(&app, "factors_reset", &alice, &bob_subject);

    // Delete (confirmed): back to the list, which no longer has him.
    let r = act_on(&app, &bob, &[("action", "delete"), ("confirm", "yes")]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/admin/people?done=deleted");
    assert!(user(&app, &bob.id).is_none());
    let e = recorded_by(&app, "user_deleted", &alice, &bob_subject);
    assert!(e.detail.contains("\"username\":\"bob\""), "{}", e.detail);
    let list = app.get(&location(&r)).await.text().await.unwrap();
    assert!(!list.contains(">bob<"), "{list}");
    assert!(list.contains("was deleted"), "{list}");
    // His page is now the console's 404.
    assert_eq!(
        app.get(&format!("/admin/people/{}", bob.id)).await.status(),
        404
    );
    // The command line reads the same trail: each action, the admin's.
    let o = crate::harness::cli::gatehouse_on(
        &app.state.config.database_url,
        &["audit", "--json", "--person", &bob.id],
        "",
    );
    assert!(o.status.success(), "{}", crate::harness::cli::stderr(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for kind in [
        "user_disabled",
        "user_enabled",
        "admin_granted",
        "admin_revoked",
        "sessions_ended",
        "reset_link_issued",
        "factors_reset",
        "user_deleted",
    ] {
        let e = lines
            .iter()
            .find(|e| e["type"] == kind)
            .unwrap_or_else(|| panic!("{kind} in {lines:#?}"));
        assert_eq!(e["actor"], format!("person:{}", alice.id), "{e}");
        assert_eq!(e["ip"], "127.0.0.1", "{e}");
        assert_eq!(e["outcome"], "success", "{e}");
    }
}

async fn deleting_or_resetting_factors_needs_the_confirmation_box(app: TestApp) {
    let (_, bob) = admin_and_bob(&app).await;
    for action in ["delete", "reset_factors"] {
        let r = act_on(&app, &bob, &[("action", action)]).await;
        assert_eq!(r.status(), 400, "{action}");
        assert!(r.text().await.unwrap().contains("Tick the box"));
        assert!(audit_events_of(&app, "user_deleted").is_empty());
        assert!(audit_events_of(&app, "factors_reset").is_empty());
    }
    assert!(user(&app, &bob.id).is_some(), "still there");
}

async fn an_admin_cannot_disable_delete_or_unmake_themselves_in_the_console(app: TestApp) {
    let (alice, _) = admin_and_bob(&app).await;
    let page = app
        .get(&format!("/admin/people/{}", alice.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("value=\"disable\""), "no button: {page}");
    assert!(!page.contains("value=\"delete\""), "no button: {page}");
    for fields in [
        vec![("action", "disable")],
        vec![("action", "delete"), ("confirm", "yes")],
        vec![("action", "unmake_admin")],
    ] {
        let r = act_on(&app, &alice, &fields).await;
        assert_eq!(r.status(), 400, "{fields:?}");
    }
    let me = user(&app, &alice.id).unwrap();
    assert!(me.is_admin && !me.disabled);
    assert_eq!(app.get("/admin").await.status(), 200, "still in");
}

async fn anyone_but_an_admin_gets_404_and_changes_nothing(app: TestApp) {
    let alice = app.alice();
    let bob = app.user(BOB, BOB_PASSWORD);
    let pages = [
        "/admin".to_string(),
        "/admin/people".to_string(),
        format!("/admin/people/{}", alice.id),
        "/admin/registration-tokens".to_string(),
        "/admin/keys".to_string(),
        "/admin/audit".to_string(),
    ];
    // Not signed in: sent to sign in first.
    for p in &pages {
        let r = app.get(p).await;
        assert_eq!(r.status(), 303, "{p}");
        assert!(location(&r).starts_with("/login?next="), "{p}");
    }
    // Signed in, not an admin: 404, as for another person's app.
    let device = Device::new(&app, FIREFOX_LINUX);
    assert_eq!(device.sign_in(BOB, BOB_PASSWORD).await, 303);
    for p in &pages {
        let r = device.get(p).await;
        assert_eq!(r.status(), 404, "{p}");
        let body = r.text().await.unwrap();
        assert!(body.contains("There is no such page."), "{p}: {body}");
        assert!(!body.contains("csrf_token"), "{p}");
    }
    // Posts with his own valid CSRF token change nothing either.
    let account = device.account().await;
    let csrf = form_field(&account, "csrf_token").unwrap();
    let posts: [(String, Vec<(&str, &str)>); 4] = [
        (
            format!("/admin/people/{}", alice.id),
            vec![("action", "disable")],
        ),
        (
            format!("/admin/people/{}", bob.id),
            vec![("action", "make_admin")],
        ),
        (
            "/admin/registration-tokens".into(),
            vec![("action", "create"), ("uses", "1")],
        ),
        (
            "/admin/keys".into(),
            vec![("action", "rotate_now"), ("confirm", "yes")],
        ),
    ];
    let keys_before = app.state.store.conn().unwrap().list_signing_keys().unwrap();
    for (path, fields) in &posts {
        let mut all = vec![("csrf_token", csrf.as_str())];
        all.extend_from_slice(fields);
        let r = device
            .http
            .post(app.url(path))
            .form(&all)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    assert!(!user(&app, &alice.id).unwrap().disabled);
    assert!(!user(&app, &bob.id).unwrap().is_admin);
    let tokens = app
        .state
        .store
        .conn()
        .unwrap()
        .list_registration_tokens()
        .unwrap();
    assert!(tokens.is_empty());
    let keys_after = app.state.store.conn().unwrap().list_signing_keys().unwrap();
    assert_eq!(keys_before.len(), keys_after.len());
    for kind in [
        "user_disabled",
        "admin_granted",
        "registration_token_created",
        "key_rotated",
    ] {
        assert!(audit_events_of(&app, kind).is_empty(), "{kind}");
    }
}

async fn a_console_post_without_the_csrf_token_is_refused_and_changes_nothing(app: TestApp) {
    let (_, bob) = admin_and_bob(&app).await;
    let path = format!("/admin/people/{}", bob.id);
    for token in [None, Some("forged")] {
        let mut form = vec![("action", "disable")];
        if let Some(t) = token {
            form.push(("csrf_token", t));
        }
        let r = app.post_form(&path, &form).await;
        assert_eq!(r.status(), 403, "{token:?}");
    }
    let r = app.post_form("/admin/keys", &[("action", "rotate")]).await;
    assert_eq!(r.status(), 403);
    assert!(!user(&app, &bob.id).unwrap().disabled);
    assert!(audit_events_of(&app, "user_disabled").is_empty());
    assert!(audit_events_of(&app, "key_rotated").is_empty());
}

async fn sudo_mode_asks_for_a_fresh_sign_in_after_the_setting(app: TestApp) {
    let (_, bob) = admin_and_bob(&app).await;
    assert_eq!(app.get("/admin/people").await.status(), 200);
    let csrf = form_field(
        &app.get(&format!("/admin/people/{}", bob.id))
            .await
            .text()
            .await
            .unwrap(),
        "csrf_token",
    )
    .unwrap();
    // Past the setting, the session is still good for the account page…
    app.clock().advance(app.state.config.admin_reauth + 1);
    assert_eq!(app.get("/account").await.status(), 200);
    // …but the console sends the admin to sign in again, and a post
    // changes nothing.
    let r = app.get("/admin/people").await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login?next=%2Fadmin%2Fpeople");
    let path = format!("/admin/people/{}", bob.id);
    let r = app
        .post_form(
            &path,
            &[("csrf_token", csrf.as_str()), ("action", "disable")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/login?next="), "{}", location(&r));
    assert!(!user(&app, &bob.id).unwrap().disabled);
    let login = app.get(&location(&r)).await.text().await.unwrap();
    assert!(login.contains("id=\"sign-in-again-admin\""), "{login}");
    // Signing in again lets the admin through.
    let r = app.sign_in(USERNAME, PASSWORD, &path).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), path);
    assert_eq!(app.get(&path).await.status(), 200);
    assert_eq!(
        act_on(&app, &bob, &[("action", "disable")]).await.status(),
        303
    );
    assert!(user(&app, &bob.id).unwrap().disabled);
}

async fn an_admin_without_a_second_factor_is_sent_to_set_one_up_first(app: TestApp) {
    app.alice();
    make_admin(&app, USERNAME);
    // The policy's own sign-in rules still let the admin reach /account.
    let _ = app.sign_in(USERNAME, PASSWORD, "/account").await;
    let r = app.get("/admin").await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account?enrol=policy");
}

async fn people_are_searched_by_name_or_address_and_paged(app: TestApp) {
    admin_and_bob(&app).await;
    for i in 0..30 {
        crate::harness::wait(
            app.state
                .registry()
                .create_user(gatehouse::registry::NewUser {
                    username: format!("member{i:02}"),
                    email: Some(format!("m{i:02}@Example.org")),
                    password: "a fine long password".into(),
                    ..Default::default()
                }),
        )
        .unwrap();
    }
    let first = app.get("/admin/people").await.text().await.unwrap();
    assert_eq!(
        first.matches("href=\"/admin/people/").count(),
        25,
        "{first}"
    );
    assert!(first.contains("1–25 of 32"), "{first}");
    assert!(first.contains("rel=\"next\""), "{first}");
    let second = app.get("/admin/people?page=2").await.text().await.unwrap();
    assert_eq!(second.matches("href=\"/admin/people/").count(), 7);
    assert!(second.contains("26–32 of 32"), "{second}");
    assert!(second.contains("rel=\"prev\"") && !second.contains("rel=\"next\""));
    // By username, by address in any case; % and _ are plain characters.
    let found = app
        .get("/admin/people?q=MEMBER0")
        .await
        .text()
        .await
        .unwrap();
    assert!(found.contains("1–10 of 10"), "{found}");
    let found = app
        .get("/admin/people?q=m07%40example")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        found.contains("1–1 of 1") && found.contains("member07"),
        "{found}"
    );
    let none = app.get("/admin/people?q=%25").await.text().await.unwrap();
    assert!(none.contains("id=\"no-people\""), "{none}");
    let none = app
        .get("/admin/people?q=member_")
        .await
        .text()
        .await
        .unwrap();
    assert!(none.contains("id=\"no-people\""), "{none}");
}

async fn rfc_7591_3_registration_tokens_are_made_listed_and_revoked(app: TestApp) {
    let (alice, _) = admin_and_bob(&app).await;
    let page = "/admin/registration-tokens";
    // A bad count is refused beside the form; nothing is made.
    let r = post_from(
        &app,
        &app.http,
        page,
        page,
        &[("action", "create"), ("uses", "0")],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("id=\"token-error\""));
    assert!(audit_events_of(&app, "registration_token_created").is_empty());
    // Made: shown once, and POST /register takes it.
    let r = post_from(
        &app,
        &app.http,
        page,
        page,
        &[("action", "create"), ("uses", "1"), ("ttl", "3600")],
    )
    .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let token = element_value(&html, "registration-token").expect("the token, once");
    let list = app.get(page).await.text().await.unwrap();
    assert!(!list.contains(&token), "never shown again");
    let created = audit_events_of(&app, "registration_token_created");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].actor, format!("person:{}", alice.id));
    let id = created[0]
        .subject
        .as_deref()
        .unwrap()
        .strip_prefix("registration_token:")
        .unwrap()
        .to_string();
    assert!(list.contains(&id), "listed by id: {list}");
    let register = |token: String| {
        let url = app.url("/register");
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .json(&serde_json::json!({
                    "client_name": "Console-made",
                    "redirect_uris": ["https://app.example/cb"],
                }))
                .send()
                .await
                .unwrap()
        }
    };
    let r = register(token.clone()).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    // Another, revoked from the list: POST /register refuses it.
    let r = post_from(
        &app,
        &app.http,
        page,
        page,
        &[("action", "create"), ("uses", "5")],
    )
    .await;
    let second = element_value(&r.text().await.unwrap(), "registration-token").unwrap();
    let second_id = audit_events_of(&app, "registration_token_created")[1]
        .subject
        .clone()
        .unwrap()
        .replace("registration_token:", "");
    let r = post_from(
        &app,
        &app.http,
        page,
        page,
        &[("action", "revoke"), ("id", second_id.as_str())],
    )
    .await;
    assert_eq!(r.status(), 303);
    let r = register(second).await;
    assert_eq!(r.status(), 401, "revoked (RFC 7591 §3)");
    recorded_by(
        &app,
        "registration_token_revoked",
        &alice,
        &format!("registration_token:{second_id}"),
    );
}

async fn signing_keys_rotate_staged_or_at_once_with_a_confirmation(app: TestApp) {
    let (alice, _) = admin_and_bob(&app).await;
    let page = "/admin/keys";
    let kids = |app: &TestApp| -> Vec<String> {
        app.state
            .store
            .conn()
            .unwrap()
            .list_signing_keys()
            .unwrap()
            .into_iter()
            .map(|k| k.kid)
            .collect()
    };
    let before = kids(&app);
    let shown = app.get(page).await.text().await.unwrap();
    assert!(
        shown.contains(&before[0]) && shown.contains("signing"),
        "{shown}"
    );
    let signer = |app: &TestApp| app.state.keys.current().signer.kid.clone();
    let first_signer = signer(&app);

    // Staged: published now, still signing with the old key.
    let r = post_from(&app, &app.http, page, page, &[("action", "rotate")]).await;
    assert_eq!(r.status(), 303);
    let after = kids(&app);
    assert_eq!(after.len(), before.len() + 1);
    let staged = after.iter().find(|k| !before.contains(k)).unwrap().clone();
    let jwks: serde_json::Value = app.get("/jwks.json").await.json().await.unwrap();
    assert!(jwks.to_string().contains(&staged), "published at once");
    assert_eq!(signer(&app), first_signer, "signs after the delay");
    let listed = app.get(page).await.text().await.unwrap();
    assert!(listed.contains("(staged: published now"), "{listed}");
    let e = recorded_by(&app, "key_rotated", &alice, &format!("key:{staged}"));
    assert!(e.detail.contains("\"now\":false"), "{}", e.detail);

    // At once: refused without the box, then the new key signs.
    let r = post_from(&app, &app.http, page, page, &[("action", "rotate_now")]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(kids(&app).len(), after.len(), "nothing made");
    let r = post_from(
        &app,
        &app.http,
        page,
        page,
        &[("action", "rotate_now"), ("confirm", "yes")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let now_kids = kids(&app);
    let newest = now_kids
        .iter()
        .find(|k| !after.contains(k))
        .unwrap()
        .clone();
    assert_eq!(signer(&app), newest, "this server signs with it at once");
    let svc = app.service_client();
    let token = app.client_credentials_token(&svc, Some("read")).await;
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(newest.as_str()));
    assert_eq!(audit_events_of(&app, "key_rotated").len(), 2);
}

async fn the_audit_trail_filters_by_person_app_type_and_time(app: TestApp) {
    let (alice, bob) = admin_and_bob(&app).await;
    act_on(&app, &bob, &[("action", "disable")]).await;
    act_on(&app, &bob, &[("action", "enable")]).await;
    let all = app.get("/admin/audit").await.text().await.unwrap();
    assert!(all.contains("user_disabled") && all.contains("user_enabled"));
    // People are shown by username beside their id.
    let named = format!(
        "<bdi>alice</bdi><br><code class=\"id\">person:{}</code>",
        alice.id
    );
    assert!(all.contains(&named), "{all}");
    // By person (a username): bob's events only.
    let his = app
        .get("/admin/audit?person=bob")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(his.matches("class=\"event\"").count(), 2, "{his}");
    // By type.
    let typed = app
        .get("/admin/audit?type=user_enabled")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(typed.matches("class=\"event\"").count(), 1, "{typed}");
    // By time: from tomorrow, none; until tomorrow, all of them.
    let tomorrow = chrono::DateTime::from_timestamp(app.clock().now() + 86_400, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let later = app
        .get(&format!("/admin/audit?since={tomorrow}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(later.contains("id=\"no-events\""), "{later}");
    let before = app
        .get(&format!("/admin/audit?until={tomorrow}&person={}", bob.id))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(before.matches("class=\"event\"").count(), 2, "{before}");
    // By app: a client's own events.
    let svc = app.service_client();
    let by_app = app
        .get(&format!("/admin/audit?client={}", svc.client.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(by_app.contains("id=\"no-events\""), "{by_app}");
    // A bad filter is said, not guessed at.
    let r = app.get("/admin/audit?since=yesterday").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("id=\"filter-error\""));
    let r = app.get("/admin/audit?type=no_such_type").await;
    assert_eq!(r.status(), 400);
}

async fn malformed_console_requests_get_4xx_never_5xx(app: TestApp) {
    let (_, bob) = admin_and_bob(&app).await;
    let long = "x".repeat(5000);
    let gets = [
        "/admin/people?page=-5".to_string(),
        "/admin/people?page=abc".to_string(),
        "/admin/people?page=99999999999999999999".to_string(),
        "/admin/people?q=%00%01%ff".to_string(),
        format!("/admin/people?q={long}"),
        "/admin/people/%00".to_string(),
        format!("/admin/people/{long}"),
        "/admin/audit?person=%00".to_string(),
        "/admin/audit?client=%00&type=%ff".to_string(),
        "/admin/audit?since=%ff&until=2026-13-45".to_string(),
        format!("/admin/audit?person={long}"),
        "/admin/keys?done=%00".to_string(),
    ];
    for path in &gets {
        let s = app.get(path).await.status().as_u16();
        assert!(s < 500, "GET {path} → {s}");
    }
    let person = format!("/admin/people/{}", bob.id);
    let page_csrf = |html: &str| form_field(html, "csrf_token").unwrap();
    let csrf = page_csrf(&app.get(&person).await.text().await.unwrap());
    for (path, fields) in [
        (person.as_str(), vec![("action", "nonsense")]),
        (person.as_str(), vec![("action", "\u{0}")]),
        (
            "/admin/registration-tokens",
            vec![("action", "create"), ("uses", "1e9"), ("ttl", "-1")],
        ),
        (
            "/admin/registration-tokens",
            vec![("action", "create"), ("uses", "99999999999999999999999")],
        ),
        (
            "/admin/registration-tokens",
            vec![("action", "revoke"), ("id", "\u{0}zz")],
        ),
        (
            "/admin/keys",
            vec![("action", "rotate_now"), ("confirm", "no")],
        ),
    ] {
        let mut all = vec![("csrf_token", csrf.as_str())];
        all.extend_from_slice(&fields);
        let s = app.post_form(path, &all).await.status().as_u16();
        assert!((400..500).contains(&s), "POST {path} {fields:?} → {s}");
    }
    assert!(!user(&app, &bob.id).unwrap().disabled);
}

async fn the_console_mails_a_reset_link_and_the_notice_of_a_factor_reset(app: TestApp) {
    use crate::harness::smtp::shared_sink;
    let alice = app.alice();
    make_admin(&app, USERNAME);
    let email = format!("dora-{}@example.com", uuid::Uuid::new_v4().simple());
    let dora = crate::harness::wait(app.state.registry().create_user(
        gatehouse::registry::NewUser {
            username: "dora".into(),
            email: Some(email.clone()),
            password: "dora's long password".into(),
            ..Default::default()
        },
    ))
    .unwrap();
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/admin").await.status(),
        303
    );
    let page = app
        .get(&format!("/admin/people/{}", dora.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Mail a password reset link"), "{page}");
    let r = act_on(&app, &dora, &[("action", "reset_link")]).await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).ends_with("?done=reset_link"));
    // Over a real SMTP conversation: the link sets a new password.
    let mail = shared_sink().wait_for_mail_to(&email);
    let link = mail.link_starting_with(&format!("{}/password/reset?token=", app.state.issuer));
    assert_eq!(reqwest::get(&link).await.unwrap().status(), 200);
    let e = recorded_by(
        &app,
        "reset_link_issued",
        &alice,
        &format!("person:{}", dora.id),
    );
    assert!(e.detail.contains("\"mailed\":true"), "{}", e.detail);
    // A factor reset mails her that it happened.
    let r = act_on(
        &app,
        &dora,
        &[("action", "reset_factors"), ("confirm", "yes")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let notice = shared_sink().wait_for_mail_to(&email);
    assert!(
        notice.text.contains("/password/forgot"),
        "the notice says where to get back in: {}",
        notice.text
    );
    recorded_by(
        &app,
        "factors_reset",
        &alice,
        &format!("person:{}", dora.id),
    );
}
