//! What operators do to people (`gatehouse user disable|enable|delete|
//! set-password`, through the same `admin` functions): a disabled or
//! deleted person is signed out everywhere and their tokens stop at once.
//! And who a username is (RFC 8265): its case and width variants are the
//! same person, its look-alikes nobody new (issue 26).

use crate::harness::{pkce_pair, url_params, TestApp, PASSWORD, USERNAME};
use gatehouse::admin;
use serde_json::Value;

backend_tests!(
    disabling_a_person_ends_sessions_refresh_tokens_and_access_tokens,
    enabling_a_person_lets_them_sign_in_again,
    deleting_a_person_revokes_everything_and_their_apps_pass_to_the_operator,
    a_new_password_replaces_the_old_and_signs_out_everywhere,
    rfc8265_3_3_case_and_width_variants_sign_in_as_the_person_and_share_her_throttle,
    rfc8265_look_alikes_of_a_username_are_refused_and_other_names_accepted,
);

/// The usernames that looked like `alice` and were accepted before issue
/// 26 (finding 3): case variants, zero-width space and joiner, word
/// joiner, byte order mark, soft hyphen, U+180E, a right-to-left override
/// (`ecila` shown reversed), Cyrillic `а` and `е`, fullwidth, a combining
/// accent.
pub(crate) const ALICE_LOOK_ALIKES: [&str; 13] = [
    "Alice",
    "ALICE",
    "ali\u{200B}ce",
    "ali\u{200D}ce",
    "ali\u{2060}ce",
    "\u{FEFF}alice",
    "ali\u{AD}ce",
    "ali\u{180E}ce",
    "\u{202E}ecila",
    "\u{430}lice",
    "alic\u{435}",
    "\u{FF41}\u{FF4C}\u{FF49}\u{FF43}\u{FF45}",
    "alice\u{301}",
];

/// `alice`, signed in, who has authorized the web app: returns its
/// client, the token response and alice's id.
async fn alice_with_tokens(app: &TestApp) -> (gatehouse::admin::CreatedClient, Value, String) {
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

async fn signed_in(app: &TestApp) -> bool {
    let r = app.get("/account").await;
    r.status() == 200
}

async fn assert_tokens_dead(app: &TestApp, client: &admin::CreatedClient, tokens: &Value) {
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let r = app.refresh(client, refresh).await;
    assert_eq!(r.status(), 400, "refresh must fail");
    let introspector = app.introspector();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.introspect(&introspector, access).await["active"], false);
}

async fn disabling_a_person_ends_sessions_refresh_tokens_and_access_tokens(app: TestApp) {
    let (client, tokens, _) = alice_with_tokens(&app).await;
    assert!(signed_in(&app).await);
    let u =
        admin::set_person_disabled(&app.state.store, USERNAME, true, app.clock().now()).unwrap();
    assert!(u.disabled);
    assert!(!signed_in(&app).await, "the browser session ended");
    assert_tokens_dead(&app, &client, &tokens).await;
    let r = app.sign_in(USERNAME, PASSWORD, "/account").await;
    assert_eq!(r.status(), 401, "a disabled person cannot sign in");
}

async fn enabling_a_person_lets_them_sign_in_again(app: TestApp) {
    app.alice();
    admin::set_person_disabled(&app.state.store, USERNAME, true, app.clock().now()).unwrap();
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
        401
    );
    let u =
        admin::set_person_disabled(&app.state.store, USERNAME, false, app.clock().now()).unwrap();
    assert!(!u.disabled);
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
        303
    );
}

async fn deleting_a_person_revokes_everything_and_their_apps_pass_to_the_operator(app: TestApp) {
    let (client, tokens, alice_id) = alice_with_tokens(&app).await;
    let theirs = app.client(admin::NewClient {
        name: "Alice's tool".into(),
        grant_types: vec!["client_credentials".into()],
        scope: "read".into(),
        owner: Some(alice_id.clone()),
        ..Default::default()
    });
    // By id, as well as by username.
    let gone = admin::delete_person(&app.state.store, &alice_id, app.clock().now()).unwrap();
    assert_eq!(gone.username, USERNAME);
    assert!(!signed_in(&app).await);
    assert_tokens_dead(&app, &client, &tokens).await;
    let mut conn = app.state.store.conn().unwrap();
    assert!(conn.find_user(&alice_id).unwrap().is_none());
    let tool = conn.find_client(&theirs.client.id).unwrap().unwrap();
    assert_eq!(tool.owner, None, "the app stays, owned by the operator");
    assert!(matches!(
        admin::delete_person(&app.state.store, USERNAME, app.clock().now()),
        Err(admin::AdminError::NotFound(_))
    ));
}

async fn a_new_password_replaces_the_old_and_signs_out_everywhere(app: TestApp) {
    app.alice();
    app.sign_in(USERNAME, PASSWORD, "/account").await;
    assert!(signed_in(&app).await);
    assert!(matches!(
        admin::set_person_password(&app.state.store, USERNAME, "short", app.clock().now()),
        Err(admin::AdminError::Field {
            field: "password",
            ..
        })
    ));
    admin::set_person_password(
        &app.state.store,
        USERNAME,
        "a new long one",
        app.clock().now(),
    )
    .unwrap();
    assert!(!signed_in(&app).await);
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

async fn rfc8265_3_3_case_and_width_variants_sign_in_as_the_person_and_share_her_throttle(
    app: TestApp,
) {
    app.clock().freeze();
    app.alice();
    for variant in ["ALICE", "Alice", "\u{FF41}\u{FF4C}\u{FF49}\u{FF43}\u{FF45}"] {
        let r = app.sign_in(variant, PASSWORD, "/account").await;
        assert_eq!(r.status(), 303, "{variant} is alice");
        assert!(signed_in(&app).await);
        let r = app.get("/account").await.text().await.unwrap();
        assert!(r.contains("<bdi>alice</bdi>"), "signed in as alice: {r}");
    }
    // One throttle budget for every form of the name: wrong passwords
    // under two spellings count for her together.
    for variant in ["ALICE", "alice", "Alice"] {
        assert_eq!(
            app.sign_in(variant, "wrong", "/account").await.status(),
            401
        );
    }
    assert_eq!(app.throttle_failures("user:alice"), 3);
    assert_eq!(app.throttle_failures("user:ALICE"), 0);
}

async fn rfc8265_look_alikes_of_a_username_are_refused_and_other_names_accepted(app: TestApp) {
    let alice = app.alice();
    let now = app.clock().now();
    for name in ALICE_LOOK_ALIKES {
        let r = admin::create_person(&app.state.store, name, None, PASSWORD, false, now);
        match r {
            Err(admin::AdminError::Field {
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
        let u = admin::create_person(&app.state.store, name, None, PASSWORD, false, now).unwrap();
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
