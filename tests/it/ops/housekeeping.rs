//! `DbConn::prune_expired`: the periodic clean-up removes dead rows and
//! only those, and running it twice (as several instances do) is harmless.

use crate::harness::TestApp;
use diesel::prelude::*;
use gatehouse::app::throttle::{BACKOFF, FORGET_AFTER};
use gatehouse::store::models::housekeeping::Pruned;
use gatehouse::store::models::refresh_token::{IssuedAccess, NewFamily};
use gatehouse::store::schema::{
    authorization_codes, browser_sessions, device_codes, refresh_families, refresh_tokens,
    revoked_access_tokens, sign_in_throttle,
};
use gatehouse::store::DbConn;

backend_tests!(
    prune_expired_removes_dead_rows_only,
    account_links_are_pruned_a_day_after_they_expire,
    document_clients_unused_for_a_week_are_pruned_unless_something_refers_to_them,
);

fn count_all(c: &mut DbConn) -> [i64; 7] {
    db!(c, c => [
        authorization_codes::table.count().get_result(c).unwrap(),
        device_codes::table.count().get_result(c).unwrap(),
        browser_sessions::table.count().get_result(c).unwrap(),
        refresh_tokens::table.count().get_result(c).unwrap(),
        refresh_families::table.count().get_result(c).unwrap(),
        revoked_access_tokens::table.count().get_result(c).unwrap(),
        sign_in_throttle::table.count().get_result(c).unwrap(),
    ])
}

fn insert_code(
    c: &mut DbConn,
    hash: &str,
    client: &str,
    user: &str,
    exp: i64,
    jti_exp: Option<i64>,
) {
    db!(c, c => diesel::insert_into(authorization_codes::table)
        .values((
            authorization_codes::code_hash.eq(hash),
            authorization_codes::client_id.eq(client),
            authorization_codes::user_id.eq(user),
            authorization_codes::scope.eq("read"),
            authorization_codes::auth_time.eq(exp - 60),
            authorization_codes::created_at.eq(exp - 60),
            authorization_codes::expires_at.eq(exp),
            authorization_codes::issued_jti.eq(jti_exp.map(|_| "jti")),
            authorization_codes::issued_jti_expires_at.eq(jti_exp),
        ))
        .execute(c))
    .unwrap();
}

fn insert_device_code(c: &mut DbConn, hash: &str, client: &str, exp: i64) {
    db!(c, c => diesel::insert_into(device_codes::table)
        .values((
            device_codes::device_code_hash.eq(hash),
            device_codes::user_code.eq(hash),
            device_codes::client_id.eq(client),
            device_codes::scope.eq("read"),
            device_codes::status.eq("pending"),
            device_codes::poll_interval.eq(5i64),
            device_codes::created_at.eq(exp - 600),
            device_codes::expires_at.eq(exp),
        ))
        .execute(c))
    .unwrap();
}

fn insert_session(c: &mut DbConn, hash: &str, user: &str, idle_exp: i64, exp: i64) {
    db!(c, c => diesel::insert_into(browser_sessions::table)
        .values((
            browser_sessions::id_hash.eq(hash),
            browser_sessions::user_id.eq(user),
            browser_sessions::auth_time.eq(0i64),
            browser_sessions::last_seen_at.eq(0i64),
            browser_sessions::idle_expires_at.eq(idle_exp),
            browser_sessions::expires_at.eq(exp),
        ))
        .execute(c))
    .unwrap();
}

fn family(c: &mut DbConn, client: &str, user: &str, start: i64, idle: i64, max: i64) -> String {
    c.transaction(|c| {
        c.issue_refresh_token(NewFamily {
            client_id: client,
            user_id: Some(user),
            scope: "read",
            auth_code_hash: None,
            now: start,
            idle_ttl: idle,
            max_ttl: max,
            access: IssuedAccess {
                jti: "jti-family",
                expires_at: start,
            },
            resource: None,
        })
    })
    .unwrap()
}

async fn prune_expired_removes_dead_rows_only(app: TestApp) {
    let now = app.state.clock.now();
    let user = app.alice();
    let client = app.password_client().client.id;
    let mut c = app.state.store.conn().unwrap();
    let (u, cl) = (user.id.as_str(), client.as_str());

    // Authorization codes: expired; expired but its access token still
    // lives (kept for replay detection); live.
    insert_code(&mut c, "code-dead", cl, u, now - 1, None);
    insert_code(&mut c, "code-jti-live", cl, u, now - 1, Some(now + 100));
    insert_code(&mut c, "code-jti-dead", cl, u, now - 1, Some(now - 1));
    insert_code(&mut c, "code-live", cl, u, now + 60, None);
    insert_device_code(&mut c, "dev-dead", cl, now - 1);
    insert_device_code(&mut c, "dev-live", cl, now + 1);
    insert_session(&mut c, "s-idle", u, now - 1, now + 100);
    insert_session(&mut c, "s-over", u, now + 100, now - 1);
    insert_session(&mut c, "s-live", u, now + 100, now + 100);
    // Refresh families: past the absolute end; idle (its only token
    // expired); live with a spent and a live token.
    family(&mut c, cl, u, now - 1000, 900, 500);
    family(&mut c, cl, u, now - 200, 100, 1000);
    let live = family(&mut c, cl, u, now - 10, 100, 1000);
    let hash = gatehouse::crypto::token_hash(&live);
    let (token, fam) = c.find_refresh_token(&hash).unwrap().unwrap();
    assert!(c.write(|c| c.spend_refresh_token(&hash, now - 5)).unwrap());
    c.write(|c| {
        c.insert_child_refresh_token(gatehouse::store::models::refresh_token::NewChild {
            family: &fam,
            parent_hash: &token.token_hash,
            scope: "read",
            now: now - 5,
            idle_ttl: 100,
            access: IssuedAccess {
                jti: "jti-child",
                expires_at: now - 5,
            },
        })
    })
    .unwrap();
    c.revoke_access_token("jti-dead", now - 1).unwrap();
    c.revoke_access_token("jti-live", now + 1).unwrap();
    c.write(|c| c.record_user_access_token("ua-dead", u, cl, now - 1))
        .unwrap();
    c.write(|c| c.record_user_access_token("ua-live", u, cl, now + 1))
        .unwrap();
    // WebAuthn ceremonies: one never finished and expired, one live.
    for (id, expires_at) in [("wc-dead", now - 1), ("wc-live", now + 100)] {
        let row = gatehouse::store::models::webauthn_ceremony::WebauthnCeremony {
            id_hash: id.into(),
            user_id: None,
            kind: "passwordless".into(),
            state: "{}".into(),
            created_at: now - 300,
            expires_at,
        };
        c.write(|c| c.insert_webauthn_ceremony(&row)).unwrap();
    }
    c.throttle_failure("user:stale", &BACKOFF, (now - 3600) * 1000)
        .unwrap();
    c.throttle_failure("user:fresh", &BACKOFF, (now - 10) * 1000)
        .unwrap();

    assert_eq!(count_all(&mut c), [4, 2, 3, 4, 3, 2, 2]);
    let pruned = c.prune_expired(now, FORGET_AFTER).unwrap();
    assert_eq!(
        pruned,
        Pruned {
            authorization_codes: 2,
            device_codes: 1,
            browser_sessions: 2,
            refresh_tokens: 2,
            refresh_families: 2,
            revoked_access_tokens: 1,
            user_access_tokens: 1,
            throttle_rows: 1,
            webauthn_ceremonies: 1,
            document_clients: 0,
        }
    );
    assert_eq!(count_all(&mut c), [2, 1, 1, 2, 1, 1, 1]);
    assert!(c.is_access_token_revoked("jti-live").unwrap());
    // The live family's spent token is still there, so replaying it is
    // still detected.
    assert!(c.find_refresh_token(&hash).unwrap().is_some());
    // Idempotent: a second pass (another instance) finds nothing.
    assert_eq!(c.prune_expired(now, FORGET_AFTER).unwrap().total(), 0);
}

/// Issue 29: reset, verification and invitation links are deleted a day
/// after they expire (kept that long so opening one still says "expired"),
/// used or not; a live one stays.
async fn account_links_are_pruned_a_day_after_they_expire(app: TestApp) {
    use gatehouse::store::models::account_token::{AccountToken, Purpose};
    let now = app.state.clock.now();
    let user = app.alice();
    let mut c = app.state.store.conn().unwrap();
    let link = |hash: &str, purpose: Purpose, expires_at: i64, used_at: Option<i64>| AccountToken {
        token_hash: hash.to_string(),
        user_id: user.id.clone(),
        purpose: purpose.as_stored().to_string(),
        email: None,
        created_at: expires_at - 60,
        expires_at,
        used_at,
    };
    let day = gatehouse::app::background::KEEP_DEAD_LINKS;
    c.transaction(|tx| {
        tx.insert_account_token(&link("dead", Purpose::ResetPassword, now - day - 1, None))?;
        tx.insert_account_token(&link(
            "used",
            Purpose::VerifyEmail,
            now - day - 1,
            Some(now - day - 30),
        ))?;
        tx.insert_account_token(&link(
            "expired-today",
            Purpose::ResetPassword,
            now - 10,
            None,
        ))?;
        tx.insert_account_token(&link("live", Purpose::Invite, now + 600, None))
    })
    .unwrap();
    assert_eq!(c.prune_dead_account_tokens(now - day).unwrap(), 2);
    for (hash, kept) in [
        ("dead", false),
        ("used", false),
        ("expired-today", true),
        ("live", true),
    ] {
        assert_eq!(
            c.find_account_token(hash).unwrap().is_some(),
            kept,
            "{hash}"
        );
    }
    // Twice, as several instances do: nothing more goes.
    assert_eq!(c.prune_dead_account_tokens(now - day).unwrap(), 0);
}

/// A Client ID Metadata Document's row is a copy of the document: unused
/// for a week and referred to by nothing, it is pruned (the next use
/// fetches the document and writes it again), so a flood of documents
/// cannot grow the table for ever. A use refreshes it at most once a day;
/// a consent, a refresh family or a code keeps it; a registered client is
/// never pruned, however old.
async fn document_clients_unused_for_a_week_are_pruned_unless_something_refers_to_them(
    app: TestApp,
) {
    use gatehouse::store::models::housekeeping::DOCUMENT_CLIENT_IDLE;
    use gatehouse::store::models::Client;
    let now = app.state.clock.now();
    let user = app.alice();
    let registered = app.password_client().client.id;
    let mut c = app.state.store.conn().unwrap();
    let base = c.find_client(&registered).unwrap().unwrap();
    let old = now - DOCUMENT_CLIENT_IDLE - 60;
    // The registered client, as old as the others.
    c.write(|tx| tx.touch_client(&registered, old)).unwrap();
    let doc = |id: &str, updated_at: i64| Client {
        id: format!("https://app.example/{id}"),
        secret_hash: None,
        owner: None,
        created_at: updated_at,
        updated_at,
        ..base.clone()
    };
    for (id, at) in [
        ("idle", old),
        ("recent", now - 86_400),
        ("consented", old),
        ("refreshing", old),
        ("used-today", old),
    ] {
        let row = doc(id, at);
        c.write(|tx| tx.insert_client(&row)).unwrap();
    }
    let id = |name: &str| format!("https://app.example/{name}");
    c.write(|tx| tx.grant_consent(&user.id, &id("consented"), &["read".to_string()], now))
        .unwrap();
    family(&mut c, &id("refreshing"), &user.id, now - 10, 100, 1000);
    // Used today: the same document again touches the row.
    let same = doc("used-today", now);
    gatehouse::app::client_documents::upsert_client(&mut c, same).unwrap();
    assert_eq!(
        c.find_client(&id("used-today"))
            .unwrap()
            .unwrap()
            .updated_at,
        now
    );

    let pruned = c.prune_expired(now, FORGET_AFTER).unwrap();
    assert_eq!(pruned.document_clients, 1, "{pruned:?}");
    assert!(c.find_client(&id("idle")).unwrap().is_none());
    for kept in ["recent", "consented", "refreshing", "used-today"] {
        assert!(c.find_client(&id(kept)).unwrap().is_some(), "{kept}");
    }
    assert!(c.find_client(&registered).unwrap().is_some());
    assert_eq!(
        c.prune_expired(now, FORGET_AFTER).unwrap().document_clients,
        0
    );
}
