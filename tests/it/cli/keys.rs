//! `gatehouse keys rotate`: the new key is published beside the old one.

use crate::harness::cli::*;

#[test]
fn keys_rotate_publishes_both_keys_after_restart() {
    let w = Workdir::new();
    assert!(w.run(&["migrate"]).status.success());
    let (mut child, _) = start_server(&w);
    child.kill().unwrap();
    child.wait().unwrap();
    let o = w.run(&["keys", "rotate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (mut child, port) = start_server(&w);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let jwks: serde_json::Value = rt.block_on(async {
        reqwest::get(format!("http://127.0.0.1:{port}/jwks.json"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
}
