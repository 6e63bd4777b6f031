//! `GET /`: the landing page (what this server is, sign in, one's apps and
//! account, under the operator's site name), and the icon every page links.

use crate::harness::{assert_accessible, signed_in, TestApp};

backend_tests!(
    the_landing_page_says_what_this_is_and_leads_to_sign_in_apps_and_account,
    the_landing_page_of_a_signed_in_person_leads_to_their_apps_account_and_sign_out,
    every_page_links_an_icon_that_is_served,
);

mod named_site {
    use super::*;
    backend_tests!(with |c| c.site_name = "Acme <Sign-In>".into();
        the_landing_page_and_page_titles_use_the_site_name,
    );
}

mod open_signup {
    use super::*;
    backend_tests!(with |c| c.signup_open = true;
        the_landing_page_offers_sign_up_while_it_is_open,
    );
}

async fn landing(app: &TestApp) -> String {
    let r = app.get("/").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert_accessible(&html, "/");
    html
}

async fn the_landing_page_says_what_this_is_and_leads_to_sign_in_apps_and_account(app: TestApp) {
    let html = landing(&app).await;
    assert!(
        html.contains("<title>Welcome · gatehouse</title>"),
        "{html}"
    );
    assert!(html.contains("<h1>gatehouse</h1>"), "{html}");
    assert!(html.contains("id=\"what-this-is\""), "{html}");
    for link in [
        "href=\"/login?next=%2Faccount\" id=\"link-sign-in\">Sign in</a>",
        "href=\"/account\" id=\"link-account\">Your account</a>",
        "href=\"/apps\" id=\"link-apps\">Your apps</a>",
    ] {
        assert!(html.contains(link), "{link}\n{html}");
    }
    assert!(!html.contains("link-signup"), "sign-up is off: {html}");
    assert!(!html.contains("Signed in as"), "{html}");
    // Developers find the discovery document from here.
    assert!(html.contains(&app.url("/.well-known/openid-configuration")));
    // The sign-in link works, and continues to the account page.
    let r = app.get("/login?next=%2Faccount").await;
    assert_eq!(r.status(), 200);
}

async fn the_landing_page_of_a_signed_in_person_leads_to_their_apps_account_and_sign_out(
    app: TestApp,
) {
    signed_in(&app).await;
    let html = landing(&app).await;
    assert!(
        html.contains("Signed in as <strong><bdi>alice</bdi></strong>"),
        "{html}"
    );
    for link in [
        "href=\"/account\" id=\"link-account\">Your account</a>",
        "href=\"/apps\" id=\"link-apps\">Your apps</a>",
        "href=\"/logout\" id=\"link-logout\">Sign out</a>",
    ] {
        assert!(html.contains(link), "{link}\n{html}");
    }
    assert!(!html.contains("link-sign-in"), "{html}");
    assert_eq!(app.get("/apps").await.status(), 200);
}

async fn the_landing_page_offers_sign_up_while_it_is_open(app: TestApp) {
    let html = landing(&app).await;
    assert!(
        html.contains("href=\"/signup\" id=\"link-signup\">Create an account</a>"),
        "{html}"
    );
}

async fn the_landing_page_and_page_titles_use_the_site_name(app: TestApp) {
    let html = landing(&app).await;
    // Escaped like any text.
    let name = "Acme &#60;Sign-In&#62;";
    assert!(
        html.contains(&format!("<title>Welcome · {name}</title>")),
        "{html}"
    );
    assert!(html.contains(&format!("<h1>{name}</h1>")), "{html}");
    assert!(!html.contains("gatehouse<"), "{html}");
    let login = app.get("/login").await.text().await.unwrap();
    assert!(
        login.contains(&format!("<title>Sign in · {name}</title>")),
        "{login}"
    );
}

async fn every_page_links_an_icon_that_is_served(app: TestApp) {
    for page in ["/", "/login"] {
        let html = app.get(page).await.text().await.unwrap();
        assert!(
            html.contains("<link rel=\"icon\" href=\"/static/favicon\">"),
            "{page}"
        );
    }
    // Also where browsers look without reading a page.
    for path in ["/static/favicon", "/static/icon.svg", "/favicon.ico"] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], "image/svg+xml", "{path}");
        assert!(r.text().await.unwrap().starts_with("<svg"), "{path}");
    }
}
