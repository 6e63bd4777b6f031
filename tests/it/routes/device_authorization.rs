//! `POST /device_authorization` (RFC 8628 §3.1–3.2).

use crate::harness::device::*;
use crate::harness::{expect_error, str_of, TestApp};

backend_tests!(
    rfc8628_3_2_response_has_codes_uris_lifetime_and_interval,
    rfc8628_3_2_device_code_is_stored_only_hashed,
    rfc8628_3_1_public_client_sends_client_id,
    rfc8628_3_1_confidential_client_must_authenticate,
    rfc8628_3_1_client_without_the_grant_is_unauthorized_client,
    rfc8628_3_1_scope_beyond_the_clients_is_invalid_scope,
);

async fn rfc8628_3_2_response_has_codes_uris_lifetime_and_interval(app: TestApp) {
    let c = device_client(&app, true, &[]);
    let body = start(&app, &c, Some("read")).await;
    // §3.2: device_code, user_code, verification_uri, expires_in REQUIRED.
    assert!(str_of(&body, "device_code").len() >= 43, "≥ 256 bits");
    let user_code = str_of(&body, "user_code");
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert!(user_code
        .chars()
        .filter(|c| *c != '-')
        .all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)));
    assert_eq!(body["verification_uri"], app.url("/device"));
    assert_eq!(
        body["verification_uri_complete"],
        format!("{}?user_code={user_code}", app.url("/device"))
    );
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["interval"], 5);
    // Codes are random.
    let again = start(&app, &c, None).await;
    assert_ne!(again["device_code"], body["device_code"]);
    assert_ne!(again["user_code"], body["user_code"]);
}

async fn rfc8628_3_2_device_code_is_stored_only_hashed(app: TestApp) {
    let c = device_client(&app, true, &[]);
    let body = start(&app, &c, Some("write")).await;
    let device_code = str_of(&body, "device_code");
    let stored = row(&app, device_code);
    assert_ne!(stored.device_code_hash, device_code);
    assert_eq!(
        stored.user_code,
        str_of(&body, "user_code").replace('-', "")
    );
    assert_eq!(stored.scope, "write");
    assert_eq!(stored.status, "pending");
    assert_eq!(stored.poll_interval, 5);
    assert_eq!(stored.expires_at - stored.created_at, 600);
    let dump = format!("{stored:?}");
    assert!(!dump.contains(device_code));
}

async fn rfc8628_3_1_public_client_sends_client_id(app: TestApp) {
    let c = device_client(&app, true, &[]);
    let body = start(&app, &c, None).await;
    // No scope asked: the client's scope.
    assert_eq!(row(&app, str_of(&body, "device_code")).scope, "read write");
    // A public client that sends a secret is refused.
    let r = app
        .post_form(
            "/device_authorization",
            &[("client_id", &c.client.id), ("client_secret", "guess")],
        )
        .await;
    expect_error(r, 401, "invalid_client").await;
}

async fn rfc8628_3_1_confidential_client_must_authenticate(app: TestApp) {
    let c = device_client(&app, false, &[]);
    start(&app, &c, None).await;
    let r = app
        .post_form("/device_authorization", &[("client_id", &c.client.id)])
        .await;
    expect_error(r, 401, "invalid_client").await;
    let r = app
        .post_form(
            "/device_authorization",
            &[("client_id", &c.client.id), ("client_secret", "wrong")],
        )
        .await;
    let r_headers = r.headers().clone();
    expect_error(r, 401, "invalid_client").await;
    assert!(r_headers.contains_key("www-authenticate"));
    let r = app.post_form("/device_authorization", &[]).await;
    expect_error(r, 401, "invalid_client").await;
}

async fn rfc8628_3_1_client_without_the_grant_is_unauthorized_client(app: TestApp) {
    let svc = app.service_client();
    let r = app
        .post_form_basic("/device_authorization", &svc, &[])
        .await;
    expect_error(r, 400, "unauthorized_client").await;
    // Nor may it poll with a device code issued to someone else.
    let tv = device_client(&app, true, &[]);
    let body = start(&app, &tv, None).await;
    let r = poll(&app, &svc, str_of(&body, "device_code")).await;
    expect_error(r, 400, "unauthorized_client").await;
}

async fn rfc8628_3_1_scope_beyond_the_clients_is_invalid_scope(app: TestApp) {
    let c = device_client(&app, true, &[]);
    let r = post_as(
        &app,
        "/device_authorization",
        &c,
        &[("scope", "read admin")],
    )
    .await;
    let body = expect_error(r, 400, "invalid_scope").await;
    // Described in gatehouse's words, never quoting the request (§5.2).
    assert!(!body["error_description"]
        .as_str()
        .unwrap()
        .contains("admin"));
}
