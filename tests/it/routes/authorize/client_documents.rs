//! `/authorize` with a `client_id` that is a Client ID Metadata Document's
//! URL (draft-ietf-oauth-client-id-metadata-document), fetched from an
//! HTTPS document server on loopback that each test starts (harness
//! `tls.rs`, a CA of the test's own), with the development setting that
//! admits loopback on: good and bad documents, what the fetch refuses
//! (redirects, size, time, private addresses), the cache and single-flight,
//! the consent page of a client that described itself, and the code flow
//! end to end.

use crate::harness::tls::{test_ca, HttpsServer, Reply};
use crate::harness::{html_unescape, pkce_pair, signed_in, str_of, url_params, TestApp};
use gatehouse::config::{ClientDocuments, Config};
use std::time::Duration;

/// Documents on, loopback admitted (development), the test CA trusted.
pub fn documents_on(c: &mut Config) {
    c.client_documents = ClientDocuments::Open;
    c.client_documents_loopback = true;
    c.client_documents_roots = vec![test_ca().ca_pem.clone()];
}

const LOCAL_CB: &str = "http://127.0.0.1/cb";

fn document(url: &str, redirect: &str, extra: &str) -> String {
    format!(
        r#"{{"client_id":"{url}","client_name":"Editor","redirect_uris":["{redirect}"],"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none"{extra}}}"#
    )
}

fn query(client_id: &str, redirect: &str, challenge: &str) -> String {
    serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect),
        ("scope", "read"),
        ("state", "st-1"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ])
    .unwrap()
}

/// GET /authorize for `client_id`; the status and the `Location` or page.
async fn authorize(app: &TestApp, client_id: &str) -> (u16, String) {
    let (_, challenge) = pkce_pair();
    let r = app
        .get(&format!(
            "/authorize?{}",
            query(client_id, "http://127.0.0.1:5555/cb", &challenge)
        ))
        .await;
    let status = r.status().as_u16();
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    match loc {
        Some(l) => (status, l),
        None => (status, html_unescape(&r.text().await.unwrap())),
    }
}

/// A refused document: an error page (never a redirect to an address the
/// document named), saying why.
async fn refused(app: &TestApp, client_id: &str, why: &str) {
    let (status, page) = authorize(app, client_id).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains(why), "expected '{why}' in {page}");
}

mod on {
    use super::*;

    /// draft-ietf-oauth-client-id-metadata-document §3-4 and RFC 8252 §7.3:
    /// the document is fetched, its loopback redirect URI matches on any
    /// port, the consent page says the app described itself and warns that
    /// it answers on localhost; then the code, with PKCE, is exchanged by
    /// the document client as a public client, and refreshed.
    async fn cimd_code_flow_end_to_end_with_a_self_described_consent_page(app: TestApp) {
        let docs = HttpsServer::start();
        let id = docs.url("/oauth/client.json");
        docs.set(
            "/oauth/client.json",
            Reply::json(document(&id, LOCAL_CB, "")),
        );
        signed_in(&app).await;
        let (verifier, challenge) = pkce_pair();
        let redirect = "http://127.0.0.1:5555/cb";
        let (status, loc) = app
            .location(&format!("/authorize?{}", query(&id, redirect, &challenge)))
            .await;
        assert_eq!(status, 303, "{loc}");
        assert!(loc.starts_with("/consent?"), "{loc}");
        let page = html_unescape(&app.get(&loc).await.text().await.unwrap());
        assert!(
            page.contains(r#"id="document-host">localhost</p>"#),
            "{page}"
        );
        assert!(page.contains("This app described itself"), "{page}");
        assert!(page.contains("has not checked who runs it"), "{page}");
        assert!(page.contains(r#"id="localhost-warning""#), "{page}");
        assert!(page.contains("Editor"), "{page}");

        let r = app.decide(&loc, "allow").await;
        assert_eq!(r.status(), 303);
        let back = r.headers()["location"].to_str().unwrap().to_string();
        assert!(back.starts_with(redirect), "{back}");
        let params = url_params(&back, false);
        let code = &params["code"];
        let r = app
            .post_form(
                "/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("code_verifier", verifier.as_str()),
                    ("redirect_uri", redirect),
                    ("client_id", id.as_str()),
                ],
            )
            .await;
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        let claims = app.verify_jwt(str_of(&body, "access_token")).await;
        assert_eq!(claims["client_id"], id.as_str());
        assert_eq!(claims["scope"], "read");
        // A public client: refresh with client_id alone.
        let r = app
            .post_form(
                "/token",
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", str_of(&body, "refresh_token")),
                    ("client_id", id.as_str()),
                ],
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(docs.hits(), 1, "the document came from the cache after");
    }

    /// The localhost warning is only for a client whose every redirect
    /// URI is on this computer.
    async fn cimd_consent_page_warns_only_when_every_redirect_is_local(app: TestApp) {
        let docs = HttpsServer::start();
        let id = docs.url("/web.json");
        docs.set(
            "/web.json",
            Reply::json(document(&id, "https://app.example/cb", "")),
        );
        signed_in(&app).await;
        let (_, challenge) = pkce_pair();
        let (status, loc) = app
            .location(&format!(
                "/authorize?{}",
                query(&id, "https://app.example/cb", &challenge)
            ))
            .await;
        assert_eq!(status, 303, "{loc}");
        let page = html_unescape(&app.get(&loc).await.text().await.unwrap());
        assert!(page.contains("This app described itself"), "{page}");
        assert!(!page.contains("localhost-warning"), "{page}");
    }

    /// §4: the document's `client_id` must equal the URL exactly.
    async fn cimd_client_id_mismatch_is_refused(app: TestApp) {
        let docs = HttpsServer::start();
        let id = docs.url("/c.json");
        docs.set(
            "/c.json",
            Reply::json(document(&docs.url("/other.json"), LOCAL_CB, "")),
        );
        refused(&app, &id, "not the URL it was fetched from").await;
    }

    /// A document over the size cap is refused; reading stops past it.
    async fn cimd_oversized_document_is_refused(app: TestApp) {
        let docs = HttpsServer::start();
        let id = docs.url("/big.json");
        let pad = format!(r#","description":"{}""#, "x".repeat(8 * 1024));
        docs.set("/big.json", Reply::json(document(&id, LOCAL_CB, &pad)));
        refused(&app, &id, "larger than 5120 bytes").await;
    }

    /// A server that does not answer in time is given up on.
    async fn cimd_slow_document_times_out(app: TestApp) {
        let docs = HttpsServer::start();
        let id = docs.url("/slow.json");
        let mut reply = Reply::json(document(&id, LOCAL_CB, ""));
        reply.delay = Duration::from_secs(15);
        docs.set("/slow.json", reply);
        refused(&app, &id, "timed out").await;
    }

    /// Redirects are not followed (the target could be anywhere).
    async fn cimd_redirecting_url_is_refused(app: TestApp) {
        let docs = HttpsServer::start();
        let id = docs.url("/moved.json");
        docs.set("/real.json", Reply::json(document(&id, LOCAL_CB, "")));
        let mut reply = Reply::json("").header("Location", &docs.url("/real.json"));
        reply.status = 302;
        docs.set("/moved.json", reply);
        refused(&app, &id, "redirects are not followed").await;
        assert_eq!(docs.hits(), 1, "the redirect was not followed");
    }

    async fn cimd_non_json_document_is_refused(app: TestApp) {
        let docs = HttpsServer::start();
        let id = docs.url("/page.html");
        docs.set("/page.html", Reply::json("<html>hello</html>"));
        refused(&app, &id, "not JSON").await;
    }

    /// `Cache-Control: max-age` is honoured: the second authorization
    /// request makes no request; after the age, the document is fetched
    /// again.
    async fn cimd_cache_control_is_honoured(app: TestApp) {
        let docs = HttpsServer::start();
        let id = docs.url("/cached.json");
        docs.set(
            "/cached.json",
            Reply::json(document(&id, LOCAL_CB, "")).header("Cache-Control", "max-age=600"),
        );
        signed_in(&app).await;
        assert_eq!(authorize(&app, &id).await.0, 303);
        assert_eq!(authorize(&app, &id).await.0, 303);
        assert_eq!(docs.hits(), 1);
        app.clock().advance(601);
        assert_eq!(authorize(&app, &id).await.0, 303);
        assert_eq!(docs.hits(), 2);
    }

    /// Concurrent first requests for one document share one fetch.
    async fn cimd_concurrent_first_fetches_make_one_request(app: TestApp) {
        let docs = HttpsServer::start();
        let id = docs.url("/popular.json");
        let mut reply = Reply::json(document(&id, LOCAL_CB, ""));
        reply.delay = Duration::from_millis(800);
        docs.set("/popular.json", reply);
        signed_in(&app).await;
        let (a, b, c, d, e) = tokio::join!(
            authorize(&app, &id),
            authorize(&app, &id),
            authorize(&app, &id),
            authorize(&app, &id),
            authorize(&app, &id)
        );
        for (status, loc) in [a, b, c, d, e] {
            assert_eq!(status, 303, "{loc}");
        }
        assert_eq!(docs.hits(), 1);
    }

    backend_tests!(
        with crate::routes::authorize::client_documents::documents_on;
        cimd_code_flow_end_to_end_with_a_self_described_consent_page,
        cimd_consent_page_warns_only_when_every_redirect_is_local,
        cimd_client_id_mismatch_is_refused,
        cimd_oversized_document_is_refused,
        cimd_slow_document_times_out,
        cimd_redirecting_url_is_refused,
        cimd_non_json_document_is_refused,
        cimd_cache_control_is_honoured,
        cimd_concurrent_first_fetches_make_one_request,
    );
}

mod no_loopback {
    use super::*;

    /// SSRF: without the development setting, a document whose host is a
    /// loopback (or any private) address is never fetched.
    async fn cimd_private_address_is_refused_without_the_development_setting(app: TestApp) {
        let docs = HttpsServer::start();
        let id = docs.url("/c.json");
        docs.set("/c.json", Reply::json(document(&id, LOCAL_CB, "")));
        refused(&app, &id, "an address documents are not fetched from").await;
        let ip = format!("https://127.0.0.1:{}/c.json", docs.port);
        refused(&app, &ip, "an address documents are not fetched from").await;
        assert_eq!(docs.hits(), 0);
    }

    backend_tests!(
        with |c| {
            crate::routes::authorize::client_documents::documents_on(c);
            c.client_documents_loopback = false;
        };
        cimd_private_address_is_refused_without_the_development_setting,
    );
}

mod allowlist {
    use super::*;

    /// `allowlist`: a host not on the list is never fetched.
    async fn cimd_allowlist_refuses_other_hosts(app: TestApp) {
        let docs = HttpsServer::start();
        let id = docs.url("/c.json");
        docs.set("/c.json", Reply::json(document(&id, LOCAL_CB, "")));
        refused(&app, &id, "documents from localhost are not allowed").await;
        assert_eq!(docs.hits(), 0);
    }

    backend_tests!(
        with |c| {
            crate::routes::authorize::client_documents::documents_on(c);
            c.client_documents = gatehouse::config::ClientDocuments::Allowlist;
            c.client_document_hosts = vec!["tools.example".into()];
        };
        cimd_allowlist_refuses_other_hosts,
    );
}

mod off {
    use super::*;

    /// Off by default: an https client_id is just an unknown client, and
    /// the token endpoint does not know it either.
    async fn cimd_off_by_default(app: TestApp) {
        let docs = HttpsServer::start();
        let id = docs.url("/c.json");
        docs.set("/c.json", Reply::json(document(&id, LOCAL_CB, "")));
        refused(&app, &id, "not enabled").await;
        assert_eq!(docs.hits(), 0);
        let r = app
            .post_form(
                "/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", "x"),
                    ("client_id", id.as_str()),
                ],
            )
            .await;
        assert_eq!(r.status(), 401);
    }

    backend_tests!(cimd_off_by_default);
}
