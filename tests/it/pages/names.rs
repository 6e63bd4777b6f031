//! Names people read (issue 26, finding 4): a display name that would
//! reorder or hide text is refused on `/account`; names stored before the
//! rules (or by an older gatehouse) are shown isolated in `<bdi>`, so they
//! cannot reorder the page around them.

use crate::harness::{code_query, form_field, pkce_pair, TestApp, PASSWORD, REDIRECT, USERNAME};
use crate::routes::apps::error_beside;
use diesel::prelude::*;
use gatehouse::admin::NewClient;
use gatehouse::store::schema::users;

backend_tests!(
    display_name_with_bidi_controls_or_invisible_characters_is_refused_beside_the_field,
    names_from_before_the_rules_are_shown_isolated_in_bdi,
);

/// Posts the display-name form of `/account`.
async fn save_name(app: &TestApp, name: &str) -> reqwest::Response {
    let page = app.get("/account").await.text().await.unwrap();
    let csrf = form_field(&page, "csrf_token").unwrap();
    app.post_form("/account/profile", &[("csrf_token", &csrf), ("name", name)])
        .await
}

async fn display_name_with_bidi_controls_or_invisible_characters_is_refused_beside_the_field(
    app: TestApp,
) {
    app.alice();
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
        303
    );
    for name in crate::routes::register::HIDDEN_TRICK_NAMES {
        let r = save_name(&app, name).await;
        assert_eq!(r.status(), 400, "{name:?}");
        let html = r.text().await.unwrap();
        let error = error_beside(&html, "name")
            .unwrap_or_else(|| panic!("{name:?}: an error beside name: {html}"));
        assert!(error.contains("U+"), "{error}");
    }
    let mut c = app.state.store.conn().unwrap();
    let alice = c.find_user_by_username(USERNAME).unwrap().unwrap();
    assert_eq!(alice.name, None, "nothing saved");
    drop(c);
    // Right-to-left text itself is a fine name.
    assert_eq!(save_name(&app, "אליס ליד").await.status(), 303);
    let mut c = app.state.store.conn().unwrap();
    let alice = c.find_user_by_username(USERNAME).unwrap().unwrap();
    assert_eq!(alice.name.as_deref(), Some("אליס ליד"));
}

async fn names_from_before_the_rules_are_shown_isolated_in_bdi(app: TestApp) {
    // A person and an app whose names were stored before the rules.
    let old_name = "\u{202E}gnp.exe Bank";
    let old_user = "\u{202E}ecila";
    let owner = app.user("owner", PASSWORD);
    let mut c = app.state.store.conn().unwrap();
    db!(c, conn => diesel::update(users::table.find(&owner.id))
        .set(users::username.eq(old_user))
        .execute(conn))
    .unwrap();
    drop(c);
    let mut client = app.client(NewClient {
        name: "Photo Printer".into(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        redirect_uris: vec![REDIRECT.into()],
        scope: "read write".into(),
        owner: Some(owner.id.clone()),
        ..Default::default()
    });
    client.client.name = old_name.into();
    let mut c = app.state.store.conn().unwrap();
    c.update_client_metadata(&client.client).unwrap();
    drop(c);

    // The consent page: the app's name, who registered it, who is asked.
    app.alice();
    assert_eq!(
        app.sign_in(USERNAME, PASSWORD, "/account").await.status(),
        303
    );
    let (_, challenge) = pkce_pair();
    let (status, consent) = app
        .location(&format!(
            "/authorize?{}",
            code_query(&client, &challenge, &[])
        ))
        .await;
    assert_eq!(status, 303);
    let html = app.get(&consent).await.text().await.unwrap();
    assert!(
        html.contains(&format!(
            "<span class=\"app-name\"><bdi>{old_name}</bdi></span>"
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!("Registered by <bdi>{old_user}</bdi>.")),
        "{html}"
    );
    assert!(html.contains("<strong><bdi>alice</bdi></strong>"), "{html}");
    assert!(
        html.contains(&format!("<title>Allow &#x2068;{old_name}&#x2069;?")),
        "isolated in the title too: {html}"
    );

    // The person's own pages: their username.
    let r = app.sign_in(old_user, PASSWORD, "/account").await;
    assert_eq!(r.status(), 303, "still signs in by the exact name");
    let html = app.get("/account").await.text().await.unwrap();
    assert!(
        html.contains(&format!("<strong><bdi>{old_user}</bdi></strong>")),
        "{html}"
    );
    let html = app.get("/apps").await.text().await.unwrap();
    assert!(
        html.contains(&format!("<bdi>{old_name}</bdi></a>")),
        "{html}"
    );
}
