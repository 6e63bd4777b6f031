//! The operator's look on every page: the logo (served by gatehouse, so
//! the pages make no outside request), the favicon, the accent colour's
//! stylesheet and the footer; without settings, the built-in look; and in
//! Chromium with axe-core, a page in the operator's look at 1280 and
//! 375 px.

use crate::harness::webdriver::Browser;
use crate::harness::{code_query, pkce_pair, signed_in, TestApp};
use gatehouse::config::look::{read_image, Look};
use gatehouse::config::Config;

backend_tests!(with crate::all_routes::look::operator_look;
    every_page_carries_the_operators_logo_footer_favicon_and_accent,
    browser_a_page_in_the_operators_look_is_accessible_at_desktop_and_phone_widths,
);

mod built_in {
    use super::*;
    backend_tests!(without_settings_the_pages_keep_the_built_in_look);
}

/// A small SVG logo (with a script, which must never run in the site's
/// origin), a PNG favicon, a dark green accent, and a footer.
const LOGO: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="32"><rect width="120" height="32" fill="#14532d"/><script>alert(1)</script></svg>"##;
const FAVICON: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR-not-a-real-png";
const FOOTER: &str = "Example Health Ltd · 1 Main St";
const PRIVACY: &str = "https://example.com/privacy";
const TERMS: &str = "https://example.com/terms";

fn operator_look(c: &mut Config) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("logo.svg"), LOGO).unwrap();
    std::fs::write(dir.path().join("icon.png"), FAVICON).unwrap();
    let (accent, accent_text) = gatehouse::config::look::check_accent("#14532d").unwrap();
    c.look = Look {
        logo: Some(read_image(&dir.path().join("logo.svg")).unwrap()),
        favicon: Some(read_image(&dir.path().join("icon.png")).unwrap()),
        accent: Some(accent),
        accent_text: Some(accent_text),
        footer_text: Some(FOOTER.into()),
        privacy_url: Some(PRIVACY.into()),
        terms_url: Some(TERMS.into()),
    };
}

/// The pages a person meets, signed out and signed in.
async fn pages(app: &TestApp) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for path in ["/", "/login", "/password/forgot", "/device"] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        out.push((path.to_string(), r.text().await.unwrap()));
    }
    signed_in(app).await;
    // An admin, for the console.
    crate::harness::wait(app.state.registry().update_user(
        crate::harness::USERNAME,
        gatehouse::registry::UserChange {
            admin: Some(true),
            ..Default::default()
        },
    ))
    .unwrap();
    for path in [
        "/account",
        "/apps",
        "/apps/new",
        "/admin",
        "/admin/people",
        "/admin/registration-tokens",
        "/admin/keys",
        "/admin/audit",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        out.push((path.to_string(), r.text().await.unwrap()));
    }
    let web = app.web_client(false);
    let (_, challenge) = pkce_pair();
    let (_, consent) = app
        .location(&format!("/authorize?{}", code_query(&web, &challenge, &[])))
        .await;
    assert!(consent.starts_with("/consent?"), "{consent}");
    out.push((
        consent.clone(),
        app.get(&consent).await.text().await.unwrap(),
    ));
    // An error page too.
    let r = app.get("/apps/no-such-app").await;
    assert_eq!(r.status(), 404);
    out.push(("a 404 page".into(), r.text().await.unwrap()));
    out
}

async fn every_page_carries_the_operators_logo_footer_favicon_and_accent(app: TestApp) {
    for (path, html) in pages(&app).await {
        assert!(
            html.contains(r#"<img class="logo" src="/static/logo" alt="">"#),
            "logo on {path}"
        );
        assert!(
            html.contains(r#"<link rel="icon" href="/static/favicon">"#),
            "favicon on {path}"
        );
        assert!(
            html.contains(r#"href="/static/site.css""#),
            "accent on {path}"
        );
        let footer = &html[html
            .find(r#"id="site-footer""#)
            .unwrap_or_else(|| panic!("footer on {path}"))..];
        assert!(footer.contains(FOOTER), "{path}: {footer}");
        assert!(footer.contains(&format!(r#"href="{PRIVACY}""#)), "{path}");
        assert!(footer.contains(&format!(r#"href="{TERMS}""#)), "{path}");
        // Nothing from elsewhere: every src and stylesheet is gatehouse's.
        for attr in [" src=\"http", "href=\"http://", "stylesheet\" href=\"http"] {
            assert!(!html.contains(attr), "{path} loads from elsewhere: {attr}");
        }
    }
    // The logo as given, unable to run its script in the site's origin.
    let r = app.get("/static/logo").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("sandbox") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(r.text().await.unwrap(), LOGO);
    for path in ["/static/favicon", "/favicon.ico"] {
        let r = app.get(path).await;
        assert_eq!(r.headers()["content-type"], "image/png", "{path}");
        assert_eq!(r.bytes().await.unwrap().as_ref(), FAVICON, "{path}");
    }
    let css = app.get("/static/site.css").await.text().await.unwrap();
    assert!(css.contains("--accent: #14532d;"), "{css}");
    assert!(css.contains("--accent-text: #ffffff;"), "{css}");
}

async fn without_settings_the_pages_keep_the_built_in_look(app: TestApp) {
    for (path, html) in pages(&app).await {
        assert!(!html.contains("class=\"logo\""), "{path}");
        assert!(!html.contains("site-footer"), "{path}");
        assert!(!html.contains("/static/site.css"), "{path}");
        assert!(
            html.contains(r#"<link rel="icon" href="/static/favicon">"#),
            "{path}"
        );
    }
    assert_eq!(app.get("/static/logo").await.status(), 404);
    let r = app.get("/static/favicon").await;
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    assert_eq!(r.text().await.unwrap(), gatehouse::pages::ICON);
    assert_eq!(app.get("/static/site.css").await.text().await.unwrap(), "");
}

async fn browser_a_page_in_the_operators_look_is_accessible_at_desktop_and_phone_widths(
    app: TestApp,
) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.goto(&app.url("/login")).await;
    browser.wait_for_text("Sign in").await;
    // The logo loaded (from gatehouse) and the accent applies.
    let shown = browser
        .execute(
            "const i = document.querySelector('img.logo'); return [i.complete, i.naturalWidth, getComputedStyle(document.querySelector('button[type=submit]')).backgroundColor];",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(shown[0], true, "{shown}");
    assert_eq!(shown[1], 120, "{shown}");
    assert_eq!(shown[2], "rgb(20, 83, 45)", "{shown}");
    browser
        .check_page(
            "look-login",
            "the sign-in page in the operator's look",
            Some("site-footer"),
        )
        .await;
}
