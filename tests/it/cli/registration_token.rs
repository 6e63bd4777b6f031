//! `gatehouse registration-token create`: an initial access token for
//! `POST /register` (RFC 7591 §3), made by the operator.

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
