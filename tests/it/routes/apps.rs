//! The application pages (contract: `GET /apps`, `GET/POST /apps/new`,
//! `GET/POST /apps/{client_id}`, the app registration form): registering
//! apps that work at once, the field rules beside each field, who may see
//! and change which app, the secret shown once, deleting, CSRF.

use crate::harness::apps::{with, Fields, Person, StoreLook, WEB_APP};
use crate::harness::names::HIDDEN_TRICK_NAMES;
use crate::harness::{
    assert_accessible, client_credentials, element_value, error_beside, expect_error, field_errors,
    form_field, html_unescape, pkce_pair, url_params, TestApp, PASSWORD, REDIRECT,
};
use gatehouse::registry::CreatedClient;

backend_tests!(
    apps_pages_ask_a_signed_out_person_to_sign_in_first_and_come_back,
    rfc6749_4_4_a_confidential_app_registered_on_the_page_gets_a_token_at_once,
    rfc7636_a_public_app_registered_on_the_page_completes_the_code_flow_with_pkce,
    rfc6749_3_1_2_bad_fields_show_the_form_again_with_the_error_beside_the_field,
    a_person_who_is_not_an_admin_asks_only_for_the_registration_scopes,
    editing_an_app_saves_checked_values_and_refuses_bad_ones_beside_the_field,
    another_persons_app_is_404_for_every_action_but_an_admin_manages_every_app,
    rotating_the_secret_asks_first_then_shows_a_new_one_once_and_the_old_one_stops_working,
    rfc7009_deleting_an_app_needs_a_confirmation_and_revokes_its_tokens_and_consents,
    rfc6819_4_4_1_8_every_apps_post_without_a_csrf_token_is_403_and_changes_nothing,
    every_application_page_is_accessible,
    client_name_with_bidi_controls_or_invisible_characters_is_refused_beside_the_field,
    oidc_core_5_4_rfc7591_2_identity_scopes_are_registrable_and_the_page_shows_openid_discovery,
    a_registration_form_sent_twice_registers_one_app,
    the_one_time_secret_wraps_on_a_phone_and_has_a_copy_button_that_needs_no_script,
);

// ---- tests ------------------------------------------------------------

async fn apps_pages_ask_a_signed_out_person_to_sign_in_first_and_come_back(app: TestApp) {
    for (path, next) in [
        ("/apps", "/apps"),
        ("/apps/new", "/apps/new"),
        ("/apps/some-id", "/apps/some-id"),
    ] {
        let (status, loc) = app.location(path).await;
        assert_eq!(status, 303, "{path}");
        let params = url_params(&app.url(&loc), false);
        assert!(loc.starts_with("/login?"), "{path} → {loc}");
        assert_eq!(params["next"], next);
    }
    // A post while signed out (with a valid token) registers nothing.
    let page = app.get("/login").await.text().await.unwrap();
    let csrf = form_field(&page, "csrf_token").unwrap();
    let r = app
        .post_form(
            "/apps/new",
            &[("csrf_token", &csrf), ("client_name", "Sneaky")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(app
        .state
        .store
        .conn()
        .unwrap()
        .list_clients()
        .unwrap()
        .is_empty());

    // Signing in continues to the page that asked.
    app.user("alice", PASSWORD);
    let r = app.sign_in("alice", PASSWORD, "/apps/new").await;
    assert_eq!(r.headers()["location"], "/apps/new");
    let r = app.get("/apps/new").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    for name in [
        "client_name",
        "client_uri",
        "redirect_uris",
        "client_type",
        "grant_types",
        "scope",
    ] {
        assert!(html.contains(&format!("name=\"{name}\"")), "input {name}");
    }
    assert!(html.contains("<textarea id=\"redirect_uris\" name=\"redirect_uris\""));
    for grant in [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        assert!(
            html.contains("type=\"checkbox\" id=\"grant_")
                && html.contains(&format!("name=\"grant_types\" value=\"{grant}\"")),
            "checkbox {grant}"
        );
    }
    for legacy in ["value=\"implicit\"", "value=\"password\""] {
        assert!(!html.contains(legacy), "no legacy grant {legacy} offered");
    }
    // The account page links here.
    let account = app.get("/account").await.text().await.unwrap();
    assert!(account.contains("href=\"/apps\""));
}

async fn rfc6749_4_4_a_confidential_app_registered_on_the_page_gets_a_token_at_once(app: TestApp) {
    let alice = Person::in_app_browser(&app, "alice").await;
    let r = alice.post("/apps/new", WEB_APP).await;
    assert_eq!(r.status(), 201, "rendered on the POST, no redirect");
    assert!(r.headers().get("location").is_none());
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    let id = element_value(&html, "client_id").unwrap();
    let secret = element_value(&html, "client_secret").expect("a confidential app's secret");
    assert!(secret.len() >= 40, "{secret}");
    assert!(html.contains("<textarea id=\"client_secret\" class=\"secret\""));
    assert!(html.contains("readonly"));
    assert!(html.contains("shown only now"));
    // The examples: the authorization request and client_credentials,
    // neither with the secret in it.
    let authorize = html_unescape(&html);
    assert!(authorize.contains(&format!(
        "{}/authorize?response_type=code&client_id={id}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=read",
        app.base
    )));
    assert!(authorize.contains("code_challenge=CODE_CHALLENGE&code_challenge_method=S256"));
    assert!(authorize.contains("-d grant_type=client_credentials"));
    assert_eq!(
        authorize.matches(&secret).count(),
        1,
        "the secret appears once"
    );

    // The app works at once (RFC 6749 §4.4).
    let r = client_credentials(&app, &id, &secret).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let claims = app.verify_jwt(body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["scope"], "read");

    let stored = app.stored_client(&id).unwrap();
    assert_eq!(stored.owner.as_deref(), Some(alice.id.as_str()));
    assert_eq!(stored.website.as_deref(), Some("https://app.example"));
    assert!(!stored.is_public);

    // The list: name, id, type, redirect URIs, when.
    let list = alice.html("/apps").await;
    assert!(list.contains("Photo Printer"));
    assert!(list.contains(&id));
    assert!(list.contains("confidential"));
    assert!(list.contains(REDIRECT));
    assert!(list.contains("<time datetime=\""));
    assert!(list.contains("href=\"/apps/new\""));
    assert!(!list.contains(&secret), "the secret is never shown again");
    let page = alice.html(&format!("/apps/{id}")).await;
    assert!(!page.contains(&secret));
    assert!(element_value(&page, "client_secret").is_none());
}

async fn rfc7636_a_public_app_registered_on_the_page_completes_the_code_flow_with_pkce(
    app: TestApp,
) {
    let alice = Person::in_app_browser(&app, "alice").await;
    let (status, html) = alice
        .register(&[
            ("client_name", "Pocket"),
            (
                "redirect_uris",
                &format!("{REDIRECT}\r\nhttp://127.0.0.1/cb\r\n"),
            ),
            ("client_type", "public"),
            ("grant_types", "authorization_code"),
            ("grant_types", "refresh_token"),
            ("scope", ""),
        ])
        .await;
    assert_eq!(status, 201, "{html}");
    let id = element_value(&html, "client_id").unwrap();
    assert!(element_value(&html, "client_secret").is_none(), "no secret");
    assert!(!html.contains("id=\"client_secret\""));
    assert!(html_unescape(&html).contains(&format!("-d client_id='{id}'")));
    let client = app.stored_client(&id).unwrap();
    assert!(client.is_public);
    assert_eq!(
        client.scope.to_string(),
        "read",
        "an empty scope means the registration scopes"
    );
    assert_eq!(
        client.redirect_uri_list(),
        vec![REDIRECT, "http://127.0.0.1/cb"]
    );

    // The signed-in browser authorizes it at once (RFC 6749 §4.1, RFC 7636).
    let created = CreatedClient {
        client,
        secret: None,
    };
    let (verifier, challenge) = pkce_pair();
    let back = app
        .authorize_and_allow(&crate::harness::code_query(&created, &challenge, &[]))
        .await;
    let params = url_params(&back, false);
    let r = app
        .exchange(&created, &params["code"], Some(&verifier), Some(REDIRECT))
        .await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let claims = app.verify_jwt(body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["sub"], alice.id.as_str());
    assert!(body["refresh_token"].is_string());
}

async fn rfc6749_3_1_2_bad_fields_show_the_form_again_with_the_error_beside_the_field(
    app: TestApp,
) {
    let alice = Person::in_app_browser(&app, "alice").await;
    // (the form, the field whose error shows, a typed value kept)
    let cases: Vec<(Fields, &str, &str)> = vec![
        (
            with(WEB_APP, "redirect_uris", "javascript:alert(1)//"),
            "redirect_uris",
            "javascript:alert(1)//",
        ),
        (
            with(WEB_APP, "client_uri", "javascript:alert(1)//"),
            "client_uri",
            "javascript:alert(1)//",
        ),
        // RFC 8252 §8.3: only the loopback IPs and `localhost` itself.
        (
            with(WEB_APP, "redirect_uris", "http://localhost.evil.com/cb"),
            "redirect_uris",
            "http://localhost.evil.com/cb",
        ),
        // RFC 6749 §3.1.2: no fragment.
        (
            with(WEB_APP, "redirect_uris", "https://app.example#frag"),
            "redirect_uris",
            "https://app.example#frag",
        ),
        (
            with(WEB_APP, "redirect_uris", "https://user:pw@app.example/cb"),
            "redirect_uris",
            "https://user:pw@app.example/cb",
        ),
        (with(WEB_APP, "client_name", ""), "client_name", ""),
        (
            with(WEB_APP, "client_type", "public"),
            "grant_types",
            "Photo Printer",
        ),
        (
            with(WEB_APP, "client_type", "trusted"),
            "client_type",
            "Photo Printer",
        ),
        (
            with(WEB_APP, "grant_types", "implicit"),
            "grant_types",
            "Photo Printer",
        ),
        (
            WEB_APP
                .iter()
                .filter(|(k, _)| *k != "grant_types")
                .copied()
                .collect(),
            "grant_types",
            "Photo Printer",
        ),
    ];
    for (fields, field, typed) in cases {
        let (status, html) = alice.register(&fields).await;
        assert_eq!(status, 400, "{field}: {html}");
        let error =
            error_beside(&html, field).unwrap_or_else(|| panic!("an error beside {field}: {html}"));
        assert!(!error.is_empty());
        assert_eq!(field_errors(&html), 1, "only beside {field}");
        let page = html_unescape(&html);
        assert!(page.contains(typed), "keeps {typed:?}");
        assert!(page.contains("value=\"Photo Printer\"") || field == "client_name");
        assert!(page.contains("value=\"https://app.example\"") || field == "client_uri");
        assert!(page.contains("value=\"read\""), "keeps the scope");
        assert!(
            element_value(&html, "client_id").is_none(),
            "nothing registered"
        );
    }
    // The ticked boxes stay ticked.
    let (_, html) = alice
        .register(&with(WEB_APP, "redirect_uris", "javascript:alert(1)//"))
        .await;
    assert!(html.contains(
        "id=\"grant_client_credentials\" name=\"grant_types\" value=\"client_credentials\" checked"
    ));
    assert!(!html.contains("value=\"urn:ietf:params:oauth:grant-type:device_code\" checked"));
    assert!(app.clients_of(&alice.id).is_empty());
}

async fn a_person_who_is_not_an_admin_asks_only_for_the_registration_scopes(app: TestApp) {
    let alice = Person::in_app_browser(&app, "alice").await;
    for scope in ["admin", "read admin", "write"] {
        let (status, html) = alice.register(&with(WEB_APP, "scope", scope)).await;
        assert_eq!(status, 400, "{scope}");
        let error = error_beside(&html, "scope").unwrap();
        assert!(error.contains("you may ask for: read"), "{error}");
        assert!(html_unescape(&html).contains(&format!("value=\"{scope}\"")));
    }
    assert!(app.clients_of(&alice.id).is_empty());
    let c = alice.registered(&with(WEB_APP, "scope", "read")).await;
    assert_eq!(c.client.scope.to_string(), "read");

    // An admin may ask for any scope.
    let root = Person::new(&app, "root", true).await;
    let c = root.registered(&with(WEB_APP, "scope", "admin read")).await;
    assert_eq!(c.client.scope.to_string(), "admin read");
    assert_eq!(c.client.owner.as_deref(), Some(root.id.as_str()));
}

async fn editing_an_app_saves_checked_values_and_refuses_bad_ones_beside_the_field(app: TestApp) {
    let alice = Person::in_app_browser(&app, "alice").await;
    let c = alice.registered(WEB_APP).await;
    let path = format!("/apps/{}", c.client.id);
    let page = alice.html(&path).await;
    assert_eq!(
        element_value(&page, "client_name").unwrap(),
        "Photo Printer"
    );
    assert!(page.contains(">https://app.example/cb</textarea>"));
    assert!(!page.contains("name=\"client_type\""), "the type stays");

    let r = alice
        .post(
            &path,
            &[
                ("action", "save"),
                ("client_name", "Photo Printer 2"),
                ("client_uri", "https://photos.example"),
                (
                    "redirect_uris",
                    "https://photos.example/cb\nhttp://[::1]/cb",
                ),
                ("grant_types", "authorization_code"),
                ("scope", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], format!("{path}?saved=1").as_str());
    let saved = alice.html(&format!("{path}?saved=1")).await;
    assert!(saved.contains("Saved."));
    assert_eq!(
        element_value(&saved, "client_name").unwrap(),
        "Photo Printer 2"
    );
    let stored = app.stored_client(&c.client.id).unwrap();
    assert_eq!(stored.name, "Photo Printer 2");
    assert_eq!(stored.website.as_deref(), Some("https://photos.example"));
    assert_eq!(
        stored.redirect_uri_list(),
        vec!["https://photos.example/cb", "http://[::1]/cb"]
    );
    assert_eq!(stored.grant_types.to_string(), "authorization_code");
    assert_eq!(stored.scope.to_string(), "read");
    assert!(!stored.is_public);
    assert_eq!(stored.owner.as_deref(), Some(alice.id.as_str()));

    // A bad value: the edit form again, the error beside it, nothing saved.
    for (field, value) in [
        ("redirect_uris", "javascript:alert(1)//"),
        ("client_uri", "http://photos.example"),
        ("scope", "read write"),
        ("client_name", "   "),
    ] {
        let mut fields = vec![
            ("action", "save"),
            ("client_name", "Renamed"),
            ("redirect_uris", "https://photos.example/cb"),
            ("grant_types", "authorization_code"),
            ("scope", "read"),
        ];
        fields.retain(|(k, _)| *k != field);
        fields.push((field, value));
        let r = alice.post(&path, &fields).await;
        assert_eq!(r.status(), 400, "{field}");
        let html = r.text().await.unwrap();
        assert!(error_beside(&html, field).is_some(), "{field}: {html}");
        assert!(html_unescape(&html).contains(value.trim()), "keeps {value}");
        assert_eq!(
            app.stored_client(&c.client.id).unwrap().name,
            "Photo Printer 2"
        );
    }
    let r = alice.post(&path, &[("action", "fly")]).await;
    assert_eq!(r.status(), 400);
}

async fn another_persons_app_is_404_for_every_action_but_an_admin_manages_every_app(app: TestApp) {
    let alice = Person::in_app_browser(&app, "alice").await;
    let c = alice.registered(WEB_APP).await;
    let secret = c.secret.clone().unwrap();
    let operators = app.service_client();
    let path = format!("/apps/{}", c.client.id);

    let bob = Person::new(&app, "bob", false).await;
    let unknown = bob.get("/apps/4b1d0000-0000-4000-8000-000000000000").await;
    assert_eq!(unknown.status(), 404);
    let unknown_body = unknown.text().await.unwrap();
    let theirs = bob.get(&path).await;
    assert_eq!(theirs.status(), 404, "never 403");
    assert_eq!(theirs.text().await.unwrap(), unknown_body, "the same page");
    assert_eq!(
        bob.get(&format!("/apps/{}", operators.client.id))
            .await
            .status(),
        404
    );
    for action in [
        "save",
        "rotate",
        "confirm_rotate",
        "delete",
        "confirm_delete",
    ] {
        let r = bob
            .post(
                &path,
                &[
                    ("action", action),
                    ("client_name", "Taken over"),
                    ("redirect_uris", "https://evil.example/cb"),
                    ("grant_types", "authorization_code"),
                ],
            )
            .await;
        assert_eq!(r.status(), 404, "{action}");
        assert_eq!(r.text().await.unwrap(), unknown_body);
    }
    let stored = app.stored_client(&c.client.id).expect("still there");
    assert_eq!(stored.name, "Photo Printer");
    assert_eq!(stored.redirect_uris.to_string(), REDIRECT);
    assert_eq!(
        client_credentials(&app, &c.client.id, &secret)
            .await
            .status(),
        200
    );
    let list = bob.html("/apps").await;
    assert!(!list.contains(&c.client.id) && !list.contains("Photo Printer"));
    assert!(!list.contains(&operators.client.id));

    // An admin sees every app and whose it is.
    let root = Person::new(&app, "root", true).await;
    let list = root.html("/apps").await;
    assert!(list.contains(&c.client.id) && list.contains(&operators.client.id));
    assert!(list.contains("<td class=\"owner\" data-label=\"Whose\"><bdi>alice</bdi></td>"));
    assert!(list.contains("<td class=\"owner\" data-label=\"Whose\"><bdi>operator</bdi></td>"));
    let page = root.get(&path).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<dt>Registered by</dt><dd><bdi>alice</bdi></dd>"));
    // … and changes it: the owner stays alice.
    let r = root
        .post(
            &path,
            &[
                ("action", "save"),
                ("client_name", "Photo Printer (checked)"),
                ("redirect_uris", REDIRECT),
                ("grant_types", "authorization_code"),
                ("grant_types", "client_credentials"),
                ("scope", "read write"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let stored = app.stored_client(&c.client.id).unwrap();
    assert_eq!(stored.name, "Photo Printer (checked)");
    assert_eq!(stored.scope.to_string(), "read write");
    assert_eq!(stored.owner.as_deref(), Some(alice.id.as_str()));
    assert!(alice
        .html("/apps")
        .await
        .contains("Photo Printer (checked)"));
    // alice may keep the scope an admin gave her app.
    let r = alice
        .post(
            &path,
            &[
                ("action", "save"),
                ("client_name", "Photo Printer"),
                ("redirect_uris", REDIRECT),
                ("grant_types", "client_credentials"),
                ("scope", "read write"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = root.post(&path, &[("action", "confirm_rotate")]).await;
    assert_eq!(r.status(), 200);
    let new_secret = element_value(&r.text().await.unwrap(), "client_secret").unwrap();
    assert_eq!(
        client_credentials(&app, &c.client.id, &new_secret)
            .await
            .status(),
        200
    );
    let r = root
        .post(
            &format!("/apps/{}", operators.client.id),
            &[("action", "confirm_delete")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(app.stored_client(&operators.client.id).is_none());
}

async fn rotating_the_secret_asks_first_then_shows_a_new_one_once_and_the_old_one_stops_working(
    app: TestApp,
) {
    let alice = Person::in_app_browser(&app, "alice").await;
    let c = alice.registered(WEB_APP).await;
    let old = c.secret.clone().unwrap();
    let path = format!("/apps/{}", c.client.id);
    assert_eq!(
        client_credentials(&app, &c.client.id, &old).await.status(),
        200
    );

    // The button asks first, changing nothing.
    let page = alice.html(&path).await;
    assert!(page.contains("value=\"rotate\""));
    let r = alice.post(&path, &[("action", "rotate")]).await;
    assert_eq!(r.status(), 200);
    let ask = r.text().await.unwrap();
    assert!(ask.contains("<h1>Make a new secret for"), "{ask}");
    assert!(
        ask.contains("name=\"action\" value=\"confirm_rotate\""),
        "{ask}"
    );
    assert!(
        ask.contains(&format!("href=\"{path}\">Keep the current secret</a>")),
        "{ask}"
    );
    assert!(element_value(&ask, "client_secret").is_none());
    assert_eq!(
        client_credentials(&app, &c.client.id, &old).await.status(),
        200,
        "asking changed nothing"
    );

    let r = alice.post(&path, &[("action", "confirm_rotate")]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers().get("location").is_none());
    let html = r.text().await.unwrap();
    let new = element_value(&html, "client_secret").expect("the new secret, shown");
    assert_ne!(new, old);
    assert!(html.contains("shown only now"));

    let r = client_credentials(&app, &c.client.id, &old).await;
    expect_error(r, 401, "invalid_client").await;
    assert_eq!(
        client_credentials(&app, &c.client.id, &new).await.status(),
        200
    );
    let again = alice.html(&path).await;
    assert!(
        element_value(&again, "client_secret").is_none(),
        "shown once"
    );
    assert!(!again.contains(&new));

    // A public app has no secret to rotate.
    let (_, html) = alice
        .register(&[
            ("client_name", "Pocket"),
            ("redirect_uris", REDIRECT),
            ("client_type", "public"),
            ("grant_types", "authorization_code"),
        ])
        .await;
    let public_id = element_value(&html, "client_id").unwrap();
    let page = alice.html(&format!("/apps/{public_id}")).await;
    assert!(!page.contains("value=\"rotate\""));
    for action in ["rotate", "confirm_rotate"] {
        let r = alice
            .post(&format!("/apps/{public_id}"), &[("action", action)])
            .await;
        assert_eq!(r.status(), 400, "{action}");
    }
}

async fn rfc7009_deleting_an_app_needs_a_confirmation_and_revokes_its_tokens_and_consents(
    app: TestApp,
) {
    let alice = Person::in_app_browser(&app, "alice").await;
    let c = alice.registered(WEB_APP).await;
    let path = format!("/apps/{}", c.client.id);
    let (verifier, challenge) = pkce_pair();
    let back = app
        .authorize_and_allow(&crate::harness::code_query(&c, &challenge, &[]))
        .await;
    let code = url_params(&back, false)["code"].clone();
    let r = app
        .exchange(&c, &code, Some(&verifier), Some(REDIRECT))
        .await;
    let refresh = crate::harness::refresh_token_of(r).await;
    assert!(alice.html("/account").await.contains("Photo Printer"));

    // The first step only asks.
    let r = alice.post(&path, &[("action", "delete")]).await;
    assert_eq!(r.status(), 200);
    let confirm = r.text().await.unwrap();
    assert!(confirm.contains("Delete <span class=\"app-name\"><bdi>Photo Printer</bdi></span>?"));
    assert!(confirm.contains("name=\"action\" value=\"confirm_delete\""));
    assert!(app.stored_client(&c.client.id).is_some(), "not yet deleted");
    let refresh = crate::harness::refresh_token_of(app.refresh(&c, &refresh).await).await;

    let r = alice.post(&path, &[("action", "confirm_delete")]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/apps?deleted=1");
    assert!(alice
        .html("/apps?deleted=1")
        .await
        .contains("The app was deleted."));
    assert!(app.stored_client(&c.client.id).is_none());
    let r = app.refresh(&c, &refresh).await;
    // RFC 6749 §5.2: the client is unknown now.
    expect_error(r, 401, "invalid_client").await;
    let consent = app
        .state
        .store
        .conn()
        .unwrap()
        .find_consent(&alice.id, &c.client.id)
        .unwrap();
    assert!(consent.is_none(), "the consent went with it");
    assert!(!alice.html("/account").await.contains("Photo Printer"));
    assert_eq!(alice.get(&path).await.status(), 404);
    assert_eq!(
        alice
            .post(&path, &[("action", "confirm_delete")])
            .await
            .status(),
        404
    );
}

async fn rfc6819_4_4_1_8_every_apps_post_without_a_csrf_token_is_403_and_changes_nothing(
    app: TestApp,
) {
    let alice = Person::in_app_browser(&app, "alice").await;
    let c = alice.registered(WEB_APP).await;
    let secret = c.secret.clone().unwrap();
    let path = format!("/apps/{}", c.client.id);
    for token in [None, Some("forged")] {
        let mut fields: Vec<(&str, &str)> = WEB_APP.to_vec();
        if let Some(t) = token {
            fields.push(("csrf_token", t));
        }
        let r = alice.post_raw("/apps/new", &fields).await;
        assert_eq!(r.status(), 403);
        assert_eq!(app.clients_of(&alice.id).len(), 1, "nothing registered");
        for action in [
            "save",
            "rotate",
            "confirm_rotate",
            "delete",
            "confirm_delete",
        ] {
            let mut fields = vec![
                ("action", action),
                ("client_name", "Changed"),
                ("redirect_uris", "https://evil.example/cb"),
                ("grant_types", "authorization_code"),
            ];
            if let Some(t) = token {
                fields.push(("csrf_token", t));
            }
            let r = alice.post_raw(&path, &fields).await;
            assert_eq!(r.status(), 403, "{action}");
            let html = r.text().await.unwrap();
            assert!(element_value(&html, "client_secret").is_none());
        }
    }
    // A token from another person's browser does not do either.
    let bob = Person::new(&app, "bob", false).await;
    let bobs = form_field(&bob.html("/apps/new").await, "csrf_token").unwrap();
    let r = alice
        .post_raw(
            &path,
            &[("csrf_token", &bobs), ("action", "confirm_delete")],
        )
        .await;
    assert_eq!(r.status(), 403);
    let stored = app.stored_client(&c.client.id).expect("not deleted");
    assert_eq!(stored.name, "Photo Printer");
    assert_eq!(stored.redirect_uris.to_string(), REDIRECT);
    assert_eq!(
        client_credentials(&app, &c.client.id, &secret)
            .await
            .status(),
        200
    );
}

async fn every_application_page_is_accessible(app: TestApp) {
    let alice = Person::in_app_browser(&app, "alice").await;
    assert_accessible(&alice.html("/apps").await, "/apps (empty)");
    assert_accessible(&alice.html("/apps/new").await, "/apps/new");
    let (_, html) = alice
        .register(&with(WEB_APP, "redirect_uris", "javascript:alert(1)//"))
        .await;
    assert_accessible(&html, "/apps/new with an error");
    assert!(html.contains("aria-invalid=\"true\""));
    let r = alice.post("/apps/new", WEB_APP).await;
    let html = r.text().await.unwrap();
    assert_accessible(&html, "registered");
    let id = element_value(&html, "client_id").unwrap();
    let path = format!("/apps/{id}");
    assert_accessible(&alice.html("/apps").await, "/apps");
    assert_accessible(&alice.html(&path).await, "/apps/{id}");
    let r = alice.post(&path, &[("action", "rotate")]).await;
    assert_accessible(&r.text().await.unwrap(), "confirm rotate");
    let r = alice.post(&path, &[("action", "confirm_rotate")]).await;
    assert_accessible(&r.text().await.unwrap(), "rotated");
    let r = alice.post(&path, &[("action", "delete")]).await;
    assert_accessible(&r.text().await.unwrap(), "confirm delete");
    let r = alice
        .post(
            &path,
            &[("action", "save"), ("client_name", "x"), ("scope", "admin")],
        )
        .await;
    assert_accessible(&r.text().await.unwrap(), "edit with an error");
    assert_accessible(&alice.html("/account").await, "/account");
    let root = Person::new(&app, "root", true).await;
    assert_accessible(&root.html("/apps").await, "/apps (admin)");
    assert_accessible(&root.html(&path).await, "/apps/{id} (admin)");
    // The 404 page too.
    assert_accessible(
        &Person::new(&app, "bob", false).await.html(&path).await,
        "404",
    );
}

/// An app name that reorders or hides what people
/// read is refused beside `client_name`, when registering and editing, and
/// nothing is stored.
async fn client_name_with_bidi_controls_or_invisible_characters_is_refused_beside_the_field(
    app: TestApp,
) {
    let alice = Person::in_app_browser(&app, "alice").await;
    for name in HIDDEN_TRICK_NAMES {
        let (status, html) = alice.register(&with(WEB_APP, "client_name", name)).await;
        assert_eq!(status, 400, "{name:?}");
        let error = error_beside(&html, "client_name")
            .unwrap_or_else(|| panic!("{name:?}: an error beside client_name: {html}"));
        assert!(error.contains("U+"), "{error}");
        assert_eq!(field_errors(&html), 1);
    }
    assert!(app.clients_of(&alice.id).is_empty(), "nothing registered");

    let c = alice.registered(WEB_APP).await;
    let path = format!("/apps/{}", c.client.id);
    for name in HIDDEN_TRICK_NAMES {
        let r = alice
            .post(
                &path,
                &[
                    ("action", "save"),
                    ("client_name", name),
                    ("redirect_uris", REDIRECT),
                    ("grant_types", "authorization_code"),
                    ("scope", "read"),
                ],
            )
            .await;
        assert_eq!(r.status(), 400, "{name:?}");
        let html = r.text().await.unwrap();
        assert!(error_beside(&html, "client_name").is_some(), "{html}");
    }
    assert_eq!(
        app.stored_client(&c.client.id).unwrap().name,
        "Photo Printer"
    );
}

/// OIDC Core §5.4 (and §3.1.2.1 for `openid`): the identity scopes are each
/// person's to grant on the consent page, so a person who is not an admin
/// may register an app with them (RFC 7591 §2 `scope`), whatever the
/// registration scopes; the app's pages then point at OpenID Connect
/// Discovery (§4) rather than only the RFC 8414 metadata.
async fn oidc_core_5_4_rfc7591_2_identity_scopes_are_registrable_and_the_page_shows_openid_discovery(
    app: TestApp,
) {
    let alice = Person::in_app_browser(&app, "alice").await;
    let form = alice.html("/apps/new").await;
    assert!(
        form.contains("you may ask for: read, openid, profile, email"),
        "{form}"
    );
    let sign_in_with = with(WEB_APP, "scope", "openid profile email read");
    let (status, html) = alice.register(&sign_in_with).await;
    assert_eq!(status, 201, "{html}");
    let id = element_value(&html, "client_id").unwrap();
    let stored = app.stored_client(&id).unwrap();
    assert_eq!(stored.scope.to_string(), "openid profile email read");
    let discovery = app.url("/.well-known/openid-configuration");
    for page in [html, alice.html(&format!("/apps/{id}")).await] {
        assert!(page.contains("id=\"discovery-url\""), "{page}");
        assert!(
            page.contains(&format!("<code>{discovery}</code>")),
            "{page}"
        );
    }
    assert_eq!(
        app.get("/.well-known/openid-configuration").await.status(),
        200
    );
    // Only the identity scopes: offline_access is not one gatehouse has.
    let (status, html) = alice
        .register(&with(WEB_APP, "scope", "openid offline_access"))
        .await;
    assert_eq!(status, 400);
    assert!(error_beside(&html, "scope")
        .unwrap()
        .contains("offline_access"));
    // An app without openid is shown the OAuth metadata only.
    let c = alice.registered(WEB_APP).await;
    let page = alice.html(&format!("/apps/{}", c.client.id)).await;
    assert!(!page.contains("discovery-url"), "{page}");
    assert!(page.contains(&app.url("/.well-known/oauth-authorization-server")));
}

async fn a_registration_form_sent_twice_registers_one_app(app: TestApp) {
    let alice = Person::in_app_browser(&app, "alice").await;
    let form = alice.html("/apps/new").await;
    let csrf = form_field(&form, "csrf_token").unwrap();
    let form_id = form_field(&form, "form_id").expect("the form's one-time id");
    let mut fields: Vec<(&str, &str)> = vec![("csrf_token", &csrf), ("form_id", &form_id)];
    fields.extend_from_slice(WEB_APP);

    // A reload of the answer posts the form again.
    let first = alice.post_raw("/apps/new", &fields).await;
    assert_eq!(first.status(), 201);
    let html = first.text().await.unwrap();
    let id = element_value(&html, "client_id").unwrap();
    assert!(element_value(&html, "client_secret").is_some());
    let again = alice.post_raw("/apps/new", &fields).await;
    assert_eq!(again.status(), 303);
    let to = again.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(to, format!("/apps/{id}?registered=1"));
    let shown = alice.html(&to).await;
    assert!(shown.contains("id=\"registered-before\""), "{shown}");
    assert!(
        element_value(&shown, "client_secret").is_none(),
        "not shown again"
    );
    assert_eq!(app.clients_of(&alice.id).len(), 1);

    // A double click: both posts at once, one app.
    let form = alice.html("/apps/new").await;
    let form_id = form_field(&form, "form_id").unwrap();
    let mut fields: Vec<(&str, &str)> = vec![("csrf_token", &csrf), ("form_id", &form_id)];
    fields.extend_from_slice(&with(WEB_APP, "client_name", "Twice"));
    let (a, b) = tokio::join!(
        alice.post_raw("/apps/new", &fields),
        alice.post_raw("/apps/new", &fields)
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 303]);
    let twice: Vec<_> = app
        .clients_of(&alice.id)
        .into_iter()
        .filter(|c| c.name == "Twice")
        .collect();
    assert_eq!(twice.len(), 1);

    // A refused form keeps its id, and registers once it is put right.
    let form = alice.html("/apps/new").await;
    let form_id = form_field(&form, "form_id").unwrap();
    let mut bad: Vec<(&str, &str)> = vec![("csrf_token", &csrf), ("form_id", &form_id)];
    bad.extend_from_slice(&with(WEB_APP, "redirect_uris", "javascript:alert(1)//"));
    let r = alice.post_raw("/apps/new", &bad).await;
    assert_eq!(r.status(), 400);
    let refused = r.text().await.unwrap();
    assert_eq!(
        form_field(&refused, "form_id").as_deref(),
        Some(form_id.as_str())
    );
    let mut good: Vec<(&str, &str)> = vec![("csrf_token", &csrf), ("form_id", &form_id)];
    good.extend_from_slice(&with(WEB_APP, "client_name", "Put right"));
    assert_eq!(alice.post_raw("/apps/new", &good).await.status(), 201);

    // Another person's post of the same form id is their own app.
    let bob = Person::new(&app, "bob", false).await;
    let bob_csrf = form_field(&bob.html("/apps/new").await, "csrf_token").unwrap();
    let mut theirs: Vec<(&str, &str)> = vec![("csrf_token", &bob_csrf), ("form_id", &form_id)];
    theirs.extend_from_slice(WEB_APP);
    assert_eq!(bob.post_raw("/apps/new", &theirs).await.status(), 201);
    assert_eq!(app.clients_of(&bob.id).len(), 1);

    // A form without its id is out of date: nothing is registered.
    let mut stale: Vec<(&str, &str)> = vec![("csrf_token", &csrf)];
    stale.extend_from_slice(WEB_APP);
    let before = app.clients_of(&alice.id).len();
    let r = alice.post_raw("/apps/new", &stale).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("out of date"));
    assert_eq!(app.clients_of(&alice.id).len(), before);
}

async fn the_one_time_secret_wraps_on_a_phone_and_has_a_copy_button_that_needs_no_script(
    app: TestApp,
) {
    let alice = Person::in_app_browser(&app, "alice").await;
    let (_, html) = alice.register(WEB_APP).await;
    // The secret is wrapping text (a textarea, which the stylesheet breaks
    // anywhere), selectable without any script.
    assert!(
        html.contains("<textarea id=\"client_secret\" class=\"secret\""),
        "{html}"
    );
    // The button is hidden until the script shows it: without the script
    // there is no button that does nothing.
    assert!(
        html.contains("<button type=\"button\" data-copy=\"client_secret\" hidden>"),
        "{html}"
    );
    assert!(html.contains("<script src=\"/static/copy.js\" defer></script>"));
    // The script is this site's own (the CSP allows no other, and no
    // inline script).
    let r = app.get("/static/copy.js").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(r.text().await.unwrap().contains("navigator.clipboard"));
    assert!(!html.contains("<script>"));
    let css = app.get("/static/gatehouse.css").await.text().await.unwrap();
    let rule = &css[css
        .find("textarea.secret {")
        .expect("a rule for the secret")..];
    assert!(rule[..rule.find('}').unwrap()].contains("word-break: break-all"));
    // A page without a secret loads no script.
    let id = element_value(&html, "client_id").unwrap();
    assert!(!alice.html(&format!("/apps/{id}")).await.contains("<script"));
}
