//! `gatehouse registration-token create|list|revoke`: initial access
//! tokens for `POST /register` (RFC 7591 §3), made, listed and revoked by
//! the operator.

use crate::harness::cli::*;

/// RFC 7591 §3: the operator's initial access token, made by the CLI,
/// registers exactly as many clients as it has uses at a served gatehouse.
#[test]
fn registration_token_create_registers_one_client_through_a_served_gatehouse() {
    let w = Workdir::with_database();
    for bad in [["--uses", "0"], ["--ttl", "0"]] {
        let o = w.run(&["registration-token", "create", bad[0], bad[1]]);
        assert_eq!(o.status.code(), Some(1), "{bad:?}");
    }
    let made = stdout_json(&w.run(&["registration-token", "create", "--uses", "1", "--json"]));
    let token = made["token"].as_str().unwrap().to_string();
    let (mut child, port) = start_server(&w);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let statuses: Vec<u16> = rt.block_on(async {
        let http = reqwest::Client::new();
        let mut out = Vec::new();
        for _ in 0..2 {
            let r = http
                .post(format!("http://127.0.0.1:{port}/register"))
                .bearer_auth(&token)
                .json(&serde_json::json!({
                    "client_name": "Printer",
                    "grant_types": ["client_credentials"],
                    "scope": "read",
                }))
                .send()
                .await
                .unwrap();
            out.push(r.status().as_u16());
        }
        out
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(statuses, vec![201, 401]);
    let listed = stdout_json(&w.run(&["client", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["client_name"], "Printer");
}

/// `POST /register` with `token` as the initial access token: the status
/// and the JSON body.
async fn register_with(port: u16, token: &str) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/register"))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "client_name": "Printer",
            "grant_types": ["client_credentials"],
            "scope": "read",
        }))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

/// RFC 7591 §3: `list` names each token by an id and never prints the
/// token; `revoke` makes `POST /register` refuse it as an invalid token
/// (401 `invalid_token`, RFC 6750 §3.1) while the others still register.
#[test]
fn rfc7591_3_registration_token_list_hides_tokens_and_revoke_makes_register_refuse_it() {
    let w = Workdir::new();
    assert!(w.run(&["migrate"]).status.success());
    let empty = w.run(&["registration-token", "list"]);
    assert!(empty.status.success(), "{}", stderr(&empty));
    assert_eq!(
        String::from_utf8_lossy(&empty.stdout).trim(),
        "no registration tokens"
    );
    let a = stdout_json(&w.run(&["registration-token", "create", "--uses", "3", "--json"]));
    let b = stdout_json(&w.run(&["registration-token", "create", "--ttl", "3600", "--json"]));
    let (token_a, id_a) = (a["token"].as_str().unwrap(), a["id"].as_str().unwrap());
    let (token_b, id_b) = (b["token"].as_str().unwrap(), b["id"].as_str().unwrap());

    let listed = w.run(&["registration-token", "list", "--json"]);
    let table = w.run(&["registration-token", "list"]);
    for out in [&listed, &table] {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", stderr(out));
        assert!(!text.contains(token_a) && !text.contains(token_b), "{text}");
        assert!(text.contains(id_a) && text.contains(id_b), "{text}");
    }
    let listed = stdout_json(&listed);
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let row_a = rows.iter().find(|r| r["id"] == id_a).unwrap();
    assert_eq!(row_a["uses_left"], 3);
    assert!(row_a["expires_at"].is_null());
    assert_eq!(row_a["usable"], true);
    let row_b = rows.iter().find(|r| r["id"] == id_b).unwrap();
    assert_eq!(row_b["uses_left"], 1);
    assert_eq!(
        row_b["expires_at"].as_i64().unwrap() - row_b["created_at"].as_i64().unwrap(),
        3600
    );

    // Too short an id, or one that names no token: refused, nothing gone.
    assert_refused(
        &w.run(&["registration-token", "revoke", &id_a[..5]]),
        "hex digits",
        "short id",
    );
    assert_refused(
        &w.run(&["registration-token", "revoke", "zzzzzzzz"]),
        "hex digits",
        "not hex",
    );
    let unknown = if id_a.starts_with("000000") || id_b.starts_with("000000") {
        "ffffff"
    } else {
        "000000"
    };
    assert_refused(
        &w.run(&["registration-token", "revoke", unknown]),
        "no registration token",
        "unknown id",
    );
    let revoked = stdout_json(&w.run(&["registration-token", "revoke", &id_a[..8], "--json"]));
    assert_eq!(revoked["id"], id_a);
    let left = stdout_json(&w.run(&["registration-token", "list", "--json"]));
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["id"], id_b);

    let (mut child, port) = start_server(&w);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (refused, taken) = rt.block_on(async {
        (
            register_with(port, token_a).await,
            register_with(port, token_b).await,
        )
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(refused.0, 401, "{}", refused.1);
    assert_eq!(refused.1["error"], "invalid_token");
    assert_eq!(taken.0, 201, "{}", taken.1);
}
