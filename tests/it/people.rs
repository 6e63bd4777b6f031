//! What operators do to people (`gatehouse user disable|enable|delete|
//! set-password`, through the same `admin` functions): a disabled or
//! deleted person is signed out everywhere and their tokens stop at once.

use crate::harness::{pkce_pair, url_params, TestApp, PASSWORD, USERNAME};
use gatehouse::admin;
use serde_json::Value;

backend_tests!(
    disabling_a_person_ends_sessions_refresh_tokens_and_access_tokens,
    enabling_a_person_lets_them_sign_in_again,
    deleting_a_person_revokes_everything_and_their_apps_pass_to_the_operator,
    a_new_password_replaces_the_old_and_signs_out_everywhere,
);

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
