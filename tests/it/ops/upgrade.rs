//! Upgrades from any earlier version (issue 14 item 8): a database is built
//! with each prefix of the migration list, filled with the rows the
//! gatehouse of that schema level wrote, and the current server is started
//! on it (it migrates on start). Every row must still work over HTTP:
//! clients authenticate (RFC 6749 §2.3.1), refresh tokens refresh and
//! rotate (§6), an unexpired code is exchanged (§4.1.3), a person signs in
//! with her old password and her remembered consent holds (no consent page,
//! §4.1.1), and at the levels that had them, registration access tokens
//! (RFC 7592 §2.1) and initial access tokens (RFC 7591 §3) work.
//!
//! The old rows are written by this test, in the format the gatehouse of
//! each level wrote them (`git show <commit>:src/...`): client secrets and
//! passwords as argon2id PHC strings (`hasher::hash_password_blocking`,
//! unchanged since the first commit), codes and tokens as the base64url
//! SHA-256 of the plain value (`crypto::token_hash`, unchanged), lists
//! space-separated, times in Unix seconds, ids UUIDs. They are not written
//! by an old binary.

use crate::harness::{pkce_pair, url_params, TestApp, REDIRECT};
use diesel::RunQueryDsl;
use diesel_migrations::MigrationHarness;
use gatehouse::crypto::{b64url, sha256, token_hash};
use gatehouse::hasher::hash_password_blocking;
use gatehouse::store::{Backend, DbConn, DbKind, PG_MIGRATIONS, SQLITE_MIGRATIONS};
use serde_json::{json, Value};

const SVC_ID: &str = "0b7f3a7e-8a53-4d7e-9a53-5f0c6a3f1a01";
const SVC_SECRET: &str = "old-service-secret-c2VjcmV0LXNlY3JldC1zZWNyZXQ";
const WEB_ID: &str = "0b7f3a7e-8a53-4d7e-9a53-5f0c6a3f1a02";
const WEB_SECRET: &str = "old-web-secret-c2VjcmV0LXNlY3JldC1zZWNyZXQtd2Vi";
const NATIVE_ID: &str = "0b7f3a7e-8a53-4d7e-9a53-5f0c6a3f1a04";
/// A native app's redirect URIs as any level stored them: loopback http
/// and a private-use scheme beside an https one.
const NATIVE_REDIRECTS: &str =
    "https://notes.example/cb http://127.0.0.1/callback com.example.notes:/cb";
const REG_ID: &str = "0b7f3a7e-8a53-4d7e-9a53-5f0c6a3f1a03";
const REG_SECRET: &str = "old-registered-secret-c2VjcmV0LXNlY3JldC1yZWc";
const REG_ACCESS: &str = "old-registration-access-token-cmVnaXN0cmF0aW9u";
const INITIAL_TOKEN: &str = "old-initial-access-token-aW5pdGlhbC1hY2Nlc3M";
const USER_ID: &str = "0b7f3a7e-8a53-4d7e-9a53-5f0c6a3f1b01";
const PASSWORD: &str = "correct horse";
const REFRESH: &str = "old-refresh-token-cmVmcmVzaC1yZWZyZXNoLXJlZnJlc2g";
const CODE: &str = "old-authorization-code-Y29kZS1jb2RlLWNvZGUtY29kZQ";
const VERIFIER: &str = "old-pkce-verifier-dmVyaWZpZXItdmVyaWZpZXItdmVyaWZpZXI";

/// The migration sets, oldest first (one folder each, same names on both
/// backends).
const SETS: [&str; 12] = [
    "2026-11-23-000001_init",
    "2026-11-23-000002_refresh_access_token",
    "2026-11-28-000001_user_access_tokens",
    "2026-11-28-000002_registration",
    "2026-11-28-000003_oidc",
    "2026-12-06-000001_throttle_millis",
    "2026-12-06-000002_username_key",
    "2026-12-06-000003_accounts",
    "2026-12-06-000004_factors",
    "2026-12-06-000005_resources",
    "2026-12-06-000006_application_type",
    "2026-12-06-000007_audit",
];

fn exec(conn: &mut DbConn, sql: &str) {
    db!(conn, c => diesel::sql_query(sql).execute(c)).unwrap_or_else(|e| panic!("{e}: {sql}"));
}

/// Builds the database of `config` with the first `level` migration sets
/// and fills it as the gatehouse of that level did; the server the harness
/// then starts migrates it to the current schema.
fn old_database(config: &mut gatehouse::Config, level: usize) {
    let (kind, target) = DbKind::from_url(&config.database_url).unwrap();
    let mut conn = DbConn::establish(kind, &target).unwrap();
    for _ in 0..level {
        match &mut conn.backend {
            Backend::Pg(c) => c.run_next_migration(PG_MIGRATIONS).map(|_| ()),
            Backend::Sqlite(c) => c.run_next_migration(SQLITE_MIGRATIONS).map(|_| ()),
        }
        .unwrap();
    }
    assert_eq!(conn.pending_migrations().unwrap(), &SETS[level..]);
    // The migration list in this test is the one the binary embeds.
    assert_eq!(
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
            .unwrap()
            .count(),
        SETS.len()
    );

    let now = gatehouse::Clock::default().now();
    let q = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let svc_hash = q(&hash_password_blocking(SVC_SECRET).unwrap());
    let web_hash = q(&hash_password_blocking(WEB_SECRET).unwrap());
    let pw_hash = q(&hash_password_blocking(PASSWORD).unwrap());
    // Clients and people as `client create` / `user create` wrote them
    // (auth method `any` unless one was named).
    exec(
        &mut conn,
        &format!(
            "INSERT INTO clients (id, secret_hash, name, website, redirect_uris, grant_types, \
             scope, is_public, auth_method, can_introspect, owner, created_at, updated_at) VALUES \
             ('{SVC_ID}', {svc_hash}, 'old service', NULL, '', 'client_credentials', 'read write', \
              FALSE, 'any', FALSE, NULL, {now}, {now}), \
             ('{WEB_ID}', {web_hash}, 'old web app', 'https://app.example', '{REDIRECT}', \
              'authorization_code refresh_token', 'read write', FALSE, 'any', FALSE, NULL, {now}, {now}), \
             ('{NATIVE_ID}', NULL, 'old native app', NULL, '{NATIVE_REDIRECTS}', \
              'authorization_code refresh_token', 'read', TRUE, 'none', FALSE, NULL, {now}, {now})"
        ),
    );
    // From level 7 with the comparison keys `user create` writes.
    let (key_cols, key_vals) = if level >= 7 {
        (", username_key, username_skeleton", ", 'alice', 'alice'")
    } else {
        ("", "")
    };
    exec(
        &mut conn,
        &format!(
            "INSERT INTO users (id, username, email, password_hash, is_admin, disabled, \
             created_at, updated_at{key_cols}) VALUES \
             ('{USER_ID}', 'alice', 'alice@example.com', {pw_hash}, FALSE, FALSE, {now}, \
              {now}{key_vals})"
        ),
    );
    exec(
        &mut conn,
        &format!(
            "INSERT INTO consents (user_id, client_id, scope, granted_at) \
             VALUES ('{USER_ID}', '{WEB_ID}', 'read', {now})"
        ),
    );
    // A refresh family from a code exchange, its live token (the access
    // token issued with it recorded from level 2, and as a user's access
    // token from level 3), and an unexpired, unspent PKCE code.
    let family = "0b7f3a7e-8a53-4d7e-9a53-5f0c6a3f1c01";
    let (sign_in_cols, sign_in_vals) = if level >= 5 {
        (", auth_time, sid", format!(", {now}, 'old-sid'"))
    } else {
        ("", String::new())
    };
    exec(
        &mut conn,
        &format!(
            "INSERT INTO refresh_families (id, client_id, user_id, scope, auth_code_hash, \
             created_at, expires_at, revoked_at{sign_in_cols}) VALUES \
             ('{family}', '{WEB_ID}', '{USER_ID}', 'read', '{}', {now}, {}, NULL{sign_in_vals})",
            token_hash("an-earlier-code"),
            now + 30 * 86400
        ),
    );
    let jti = "0b7f3a7e-8a53-4d7e-9a53-5f0c6a3f1d01";
    let (access_cols, access_vals) = if level >= 2 {
        (
            ", access_jti, access_expires_at",
            format!(", '{jti}', {}", now + 600),
        )
    } else {
        ("", String::new())
    };
    exec(
        &mut conn,
        &format!(
            "INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, scope, created_at, \
             expires_at, used_at, grace_used_at, revoked_at{access_cols}) VALUES \
             ('{}', '{family}', NULL, 'read', {now}, {}, NULL, NULL, NULL{access_vals})",
            token_hash(REFRESH),
            now + 14 * 86400
        ),
    );
    if level >= 3 {
        exec(
            &mut conn,
            &format!(
                "INSERT INTO user_access_tokens (jti, user_id, client_id, expires_at) \
                 VALUES ('{jti}', '{USER_ID}', '{WEB_ID}', {})",
                now + 600
            ),
        );
    }
    let (sid_col, sid_val) = if level >= 5 {
        (", sid", ", 'old-sid'")
    } else {
        ("", "")
    };
    exec(
        &mut conn,
        &format!(
            "INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, scope, \
             code_challenge, code_challenge_method, nonce, auth_time, created_at, expires_at, \
             consumed_at, issued_jti, issued_jti_expires_at{sid_col}) VALUES \
             ('{}', '{WEB_ID}', '{USER_ID}', '{REDIRECT}', 'read', '{}', 'S256', NULL, {now}, \
              {now}, {}, NULL, NULL, NULL{sid_val})",
            token_hash(CODE),
            b64url(&sha256(VERIFIER.as_bytes())),
            now + 300
        ),
    );
    // From level 4: a client registered at POST /register, with its
    // registration access token, and an unused initial access token.
    if level >= 4 {
        let reg_hash = q(&hash_password_blocking(REG_SECRET).unwrap());
        exec(
            &mut conn,
            &format!(
                "INSERT INTO clients (id, secret_hash, name, website, redirect_uris, grant_types, \
                 scope, is_public, auth_method, can_introspect, owner, created_at, updated_at, \
                 logo_uri, contacts, registration_token_hash) VALUES \
                 ('{REG_ID}', {reg_hash}, 'old registered', NULL, '', 'client_credentials', \
                  'read', FALSE, 'client_secret_basic', FALSE, NULL, {now}, {now}, NULL, \
                  'ops@example.com', '{}')",
                token_hash(REG_ACCESS)
            ),
        );
        exec(
            &mut conn,
            &format!(
                "INSERT INTO registration_tokens (token_hash, uses_left, expires_at, created_at) \
                 VALUES ('{}', 1, {}, {now})",
                token_hash(INITIAL_TOKEN),
                now + 3600
            ),
        );
    }
}

async fn token(app: &TestApp, id: &str, secret: &str, form: &[(&str, &str)]) -> Value {
    let r = app
        .http
        .post(app.url("/token"))
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{form:?}: {body}");
    body
}

/// Everything the old rows stand for works on the migrated database.
async fn old_rows_work(app: TestApp, level: usize) {
    let mut conn = app.state.store.conn().unwrap();
    assert!(conn.pending_migrations().unwrap().is_empty());
    // OpenID Connect DCR §2 `application_type`, from before it was stored:
    // what the redirect URIs make it (a loopback or private-use one:
    // native), as for a registration that names none.
    for (id, expected) in [(SVC_ID, "web"), (WEB_ID, "web"), (NATIVE_ID, "native")] {
        let c = conn.find_client(id).unwrap().unwrap();
        assert_eq!(c.application_type.as_str(), expected, "{}", c.name);
    }
    drop(conn);

    // RFC 6749 §2.3.1 / §4.4: the old client's secret still authenticates.
    let t = token(
        &app,
        SVC_ID,
        SVC_SECRET,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(t["scope"], "read write");

    // RFC 6749 §6: the old refresh token refreshes, and its successor too.
    let t = token(
        &app,
        WEB_ID,
        WEB_SECRET,
        &[("grant_type", "refresh_token"), ("refresh_token", REFRESH)],
    )
    .await;
    let next = t["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(next, REFRESH);
    token(
        &app,
        WEB_ID,
        WEB_SECRET,
        &[("grant_type", "refresh_token"), ("refresh_token", &next)],
    )
    .await;

    // RFC 6749 §4.1.3 with RFC 7636 §4.6: the unspent code is exchanged.
    let t = token(
        &app,
        WEB_ID,
        WEB_SECRET,
        &[
            ("grant_type", "authorization_code"),
            ("code", CODE),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert!(t["refresh_token"].is_string());

    // RFC 8265 §3.3: her username as compared, filled in by the migration
    // for an ASCII name, so a case variant finds her from the start.
    assert_eq!(
        app.sign_in("ALICE", PASSWORD, "/account").await.status(),
        303
    );
    // Alice signs in with her old password; her remembered consent holds:
    // the authorization request goes straight back with a code.
    assert_eq!(
        app.sign_in("alice", PASSWORD, "/account").await.status(),
        303
    );
    let (verifier, challenge) = pkce_pair();
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", WEB_ID),
        ("redirect_uri", REDIRECT),
        ("scope", "read"),
        ("state", "st"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    let (status, loc) = app.location(&format!("/authorize?{query}")).await;
    assert_eq!(status, 303);
    assert!(loc.starts_with(REDIRECT), "consent not remembered: {loc}");
    let code = url_params(&loc, false)["code"].clone();
    token(
        &app,
        WEB_ID,
        WEB_SECRET,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;

    if level >= 4 {
        // RFC 7592 §2.1: the registration access token reads the client.
        let r = app
            .http
            .get(app.url(&format!("/register/{REG_ID}")))
            .bearer_auth(REG_ACCESS)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["client_id"], REG_ID);
        assert_eq!(body["contacts"], json!(["ops@example.com"]));
        assert_eq!(body["application_type"], "web");
        token(
            &app,
            REG_ID,
            REG_SECRET,
            &[("grant_type", "client_credentials")],
        )
        .await;
        // RFC 7591 §3: the operator's initial access token registers once.
        let r = app
            .http
            .post(app.url("/register"))
            .bearer_auth(INITIAL_TOKEN)
            .json(&json!({
                "client_name": "after upgrade",
                "grant_types": ["client_credentials"],
                "scope": "read",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
}

async fn upgrade_from_set_1_keeps_every_row_working(app: TestApp) {
    old_rows_work(app, 1).await;
}
async fn upgrade_from_set_2_keeps_every_row_working(app: TestApp) {
    old_rows_work(app, 2).await;
}
async fn upgrade_from_set_3_keeps_every_row_working(app: TestApp) {
    old_rows_work(app, 3).await;
}
async fn upgrade_from_set_4_keeps_every_row_working(app: TestApp) {
    old_rows_work(app, 4).await;
}
async fn upgrade_from_set_5_keeps_every_row_working(app: TestApp) {
    old_rows_work(app, 5).await;
}
async fn upgrade_from_set_6_keeps_every_row_working(app: TestApp) {
    old_rows_work(app, 6).await;
}
async fn rows_written_at_the_current_set_work(app: TestApp) {
    old_rows_work(app, 7).await;
}

mod level1 {
    use super::*;
    backend_tests!(with |c| super::old_database(c, 1); upgrade_from_set_1_keeps_every_row_working);
}
mod level2 {
    use super::*;
    backend_tests!(with |c| super::old_database(c, 2); upgrade_from_set_2_keeps_every_row_working);
}
mod level3 {
    use super::*;
    backend_tests!(with |c| super::old_database(c, 3); upgrade_from_set_3_keeps_every_row_working);
}
mod level4 {
    use super::*;
    backend_tests!(with |c| super::old_database(c, 4); upgrade_from_set_4_keeps_every_row_working);
}
mod level5 {
    use super::*;
    backend_tests!(with |c| super::old_database(c, 5); upgrade_from_set_5_keeps_every_row_working);
}
/// Before the username rules, people named `Alice`, `аlice` (Cyrillic `а`) and
/// `ali\u{200B}ce` (a zero-width space) could all sign up beside `alice`
/// (`old_database`'s, password `PASSWORD`). Their rows, oldest first, each
/// with its own password, and an unrelated `bob`.
const LOOK_ALIKES: [(&str, &str); 4] = [
    ("alice", PASSWORD),
    ("Alice", "Alice's password"),
    ("\u{430}lice", "Cyrillic password"),
    ("ali\u{200B}ce", "invisible password"),
];

fn old_database_with_look_alikes(config: &mut gatehouse::Config) {
    old_database(config, 6);
    let (kind, target) = DbKind::from_url(&config.database_url).unwrap();
    let mut conn = DbConn::establish(kind, &target).unwrap();
    let now = gatehouse::Clock::default().now();
    let q = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let rows = LOOK_ALIKES[1..]
        .iter()
        .chain([("bob", "bob's password")].iter());
    for (i, (name, password)) in rows.enumerate() {
        exec(
            &mut conn,
            &format!(
                "INSERT INTO users (id, username, email, password_hash, is_admin, disabled, \
                 created_at, updated_at) VALUES \
                 ('0b7f3a7e-8a53-4d7e-9a53-5f0c6a3f1e0{i}', {}, NULL, {}, FALSE, FALSE, {t}, {t})",
                q(name),
                q(&hash_password_blocking(password).unwrap()),
                t = now + 1 + i as i64,
            ),
        );
    }
}

/// Look-alike usernames stored before the rules: each person
/// keeps signing in by exactly their own name; a case variant finds the
/// oldest; `gatehouse user list --collisions` names the group, oldest
/// first; and no new look-alike can join them.
async fn rfc8265_look_alike_usernames_from_before_keep_signing_in_and_are_listed(app: TestApp) {
    for (name, password) in LOOK_ALIKES {
        assert_eq!(
            app.sign_in(name, password, "/account").await.status(),
            303,
            "{name:?}"
        );
    }
    // They are different people: alice's password is not Alice's.
    assert_eq!(
        app.sign_in("Alice", PASSWORD, "/account").await.status(),
        401
    );
    // The migration keyed the oldest ASCII `alice`: ALICE is her.
    assert_eq!(
        app.sign_in("ALICE", PASSWORD, "/account").await.status(),
        303
    );

    let url = app.state.config.database_url.clone();
    let o =
        crate::harness::cli::gatehouse_on(&url, &["user", "list", "--collisions", "--json"], "");
    let groups = crate::harness::cli::stdout_json(&o);
    let groups = groups.as_array().unwrap();
    assert_eq!(groups.len(), 1, "{groups:?}");
    let names: Vec<&str> = groups[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    let shown: Vec<&str> = LOOK_ALIKES.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, shown, "oldest first");
    let o = crate::harness::cli::gatehouse_on(&url, &["user", "list", "--collisions"], "");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("1 group(s)"), "{text}");
    assert!(
        text.contains("ali\\u{200b}ce"),
        "invisible characters shown escaped: {text}"
    );

    // Everyone still signs in after the keys are filled in.
    for (name, password) in LOOK_ALIKES {
        assert_eq!(
            app.sign_in(name, password, "/account").await.status(),
            303,
            "{name:?}"
        );
    }
    // Nobody new joins them, whoever they look like.
    for name in [
        "ALICE",
        "aIice",
        "\u{430}lic\u{435}",
        "alicé",
        "b\u{43E}b",
        "BOB",
    ] {
        let r = app
            .state
            .registry()
            .create_user(gatehouse::registry::NewUser {
                username: name.into(),
                password: "long password".into(),
                ..Default::default()
            })
            .await;
        assert!(
            matches!(
                r,
                Err(gatehouse::registry::RegistryError::Field {
                    field: "username",
                    ..
                })
            ),
            "{name:?}: {r:?}"
        );
    }
}

mod level5_look_alikes {
    use super::*;
    backend_tests!(with super::old_database_with_look_alikes;
        rfc8265_look_alike_usernames_from_before_keep_signing_in_and_are_listed);
}
mod level6 {
    use super::*;
    backend_tests!(with |c| super::old_database(c, 6); upgrade_from_set_6_keeps_every_row_working);
}
mod level7 {
    use super::*;
    backend_tests!(with |c| super::old_database(c, 7); rows_written_at_the_current_set_work);
}
