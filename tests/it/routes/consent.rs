//! `GET/POST /consent`: the page a signed-in person allows or denies a
//! client's request on (RFC 6749 §4.1.1–4.1.2), its CSRF token, and what
//! it says about the app.

use crate::harness::apps::{with, Person, WEB_APP};
use crate::harness::{
    assert_accessible, code_query, form_field, pkce_pair, signed_in, url_params, TestApp, PASSWORD,
    REDIRECT, USERNAME,
};
use diesel::prelude::*;
use gatehouse::registry::NewClient;
use gatehouse::store::schema::users;

backend_tests!(
    rfc6749_4_1_2_1_deny_redirects_access_denied,
    consent_without_csrf_token_is_403_and_issues_nothing,
    consent_page_names_the_app_its_scopes_and_offers_sign_out,
    the_consent_page_shows_the_website_and_who_registered_the_app,
    names_from_before_the_rules_are_shown_isolated_in_bdi,
);

mod named_site {
    use super::*;
    backend_tests!(with |c| c.site_name = "Acme ID".into();
        the_consent_page_uses_the_site_name,
    );
}

async fn the_consent_page_uses_the_site_name(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (_, ch) = pkce_pair();
    let (_, loc) = app
        .location(&format!("/authorize?{}", code_query(&c, &ch, &[])))
        .await;
    let html = app.get(&loc).await.text().await.unwrap();
    assert!(
        html.contains("wants to access your Acme ID account</h1>"),
        "{html}"
    );
    assert!(html.contains("? · Acme ID</title>"), "{html}");
    assert!(
        html.contains("<a href=\"/\" tabindex=\"-1\">Acme ID</a>"),
        "{html}"
    );
    assert!(!html.contains("gatehouse<"), "{html}");
}

async fn rfc6749_4_1_2_1_deny_redirects_access_denied(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (_, ch) = pkce_pair();
    let (_, loc) = app
        .location(&format!("/authorize?{}", code_query(&c, &ch, &[])))
        .await;
    let r = app.decide(&loc, "deny").await;
    assert_eq!(r.status(), 303);
    let p = url_params(r.headers()["location"].to_str().unwrap(), false);
    assert_eq!(p["error"], "access_denied");
    assert_eq!(p["state"], "st-123");
    assert!(!p.contains_key("code"));
    // Nothing was remembered: the next request asks again.
    let (_, loc) = app
        .location(&format!("/authorize?{}", code_query(&c, &ch, &[])))
        .await;
    assert!(loc.starts_with("/consent?"));
}

async fn consent_without_csrf_token_is_403_and_issues_nothing(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (_, ch) = pkce_pair();
    let q = code_query(&c, &ch, &[]);
    let r = app
        .post_form("/consent", &[("request", &q), ("decision", "allow")])
        .await;
    assert_eq!(r.status(), 403);
    let r = app
        .post_form(
            "/consent",
            &[("request", &q), ("decision", "allow"), ("csrf_token", "x")],
        )
        .await;
    assert_eq!(r.status(), 403);
    let (_, loc) = app.location(&format!("/authorize?{q}")).await;
    assert!(loc.starts_with("/consent?"), "no consent was recorded");
}

async fn consent_page_names_the_app_its_scopes_and_offers_sign_out(app: TestApp) {
    let c = app.web_client(false);
    signed_in(&app).await;
    let (_, ch) = pkce_pair();
    let (_, loc) = app
        .location(&format!(
            "/authorize?{}",
            code_query(&c, &ch, &[("scope", "read write")])
        ))
        .await;
    let r = app.get(&loc).await;
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let html = r.text().await.unwrap();
    assert!(html.contains("Photo Printer"));
    assert!(html.contains("https://app.example"));
    assert!(html.contains("Read your data") && html.contains("Change your data"));
    assert!(html.contains("name=\"decision\" value=\"allow\""));
    assert!(html.contains("name=\"decision\" value=\"deny\""));
    assert!(html.contains("action=\"/logout\"") && html.contains("Not you?"));
    assert!(form_field(&html, "csrf_token").is_some());
}

async fn the_consent_page_shows_the_website_and_who_registered_the_app(app: TestApp) {
    let alice = Person::new(&app, "alice", false).await;
    let c = alice
        .registered(&with(WEB_APP, "client_uri", "https://photos.example"))
        .await;
    let bob = Person::in_app_browser(&app, "bob").await;
    let (_, challenge) = pkce_pair();
    let (status, consent) = app
        .location(&format!(
            "/authorize?{}",
            crate::harness::code_query(&c, &challenge, &[])
        ))
        .await;
    assert_eq!(status, 303);
    assert!(consent.starts_with("/consent?"), "{consent}");
    let html = bob.html(&consent).await;
    assert!(html.contains("Photo Printer"));
    assert!(html.contains("href=\"https://photos.example\""));
    assert!(html.contains("Registered by <bdi>alice</bdi>"));
    assert_accessible(&html, "consent");

    // The operator's apps name no person.
    let web = app.web_client(false);
    let (_, consent) = app
        .location(&format!(
            "/authorize?{}",
            crate::harness::code_query(&web, &challenge, &[])
        ))
        .await;
    let html = bob.html(&consent).await;
    assert!(html.contains("Photo Printer") && !html.contains("Registered by"));

    // A client stored before the rules existed, with a javascript:
    // "website", is shown without the link.
    let mut old = app.web_client(false);
    old.client.id = "stored-before-the-rules".into();
    old.client.website = Some("javascript:alert(1)//".into());
    app.state
        .store
        .conn()
        .unwrap()
        .write(|c| c.insert_client(&old.client))
        .unwrap();
    let (_, consent) = app
        .location(&format!(
            "/authorize?{}",
            crate::harness::code_query(&old, &challenge, &[])
        ))
        .await;
    let html = bob.html(&consent).await;
    assert!(html.contains("Photo Printer"), "{html}");
    assert!(!html.contains("javascript:"), "{html}");
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
    c.write(|c| c.update_client_metadata(&client.client))
        .unwrap();
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
