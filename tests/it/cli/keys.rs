//! `gatehouse keys list|rotate`: which key signs, which are published,
//! and the new key published beside the old one.

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

/// `keys list`: the key the server made signs (the one /jwks.json
/// publishes); after `keys rotate` the new key is listed as published,
/// waiting to sign, and the old one still signs.
#[test]
fn rfc7517_keys_list_shows_the_signing_key_and_after_rotate_both_with_states() {
    let w = Workdir::new();
    assert!(w.run(&["migrate"]).status.success());
    let none = w.run(&["keys", "list"]);
    assert!(none.status.success(), "{}", stderr(&none));
    assert!(String::from_utf8_lossy(&none.stdout).contains("no signing keys yet"));

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
    let served = jwks["keys"][0]["kid"].as_str().unwrap().to_string();

    let listed = stdout_json(&w.run(&["keys", "list", "--json"]));
    let keys = listed.as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], served.as_str());
    assert_eq!(keys[0]["state"], "signing");
    assert!(keys[0]["published_until"].is_null());
    assert_eq!(keys[0]["key_file"], true);

    let o = w.run(&["keys", "rotate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let listed = stdout_json(&w.run(&["keys", "list", "--json"]));
    let keys = listed.as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let old = keys.iter().find(|k| k["kid"] == served.as_str()).unwrap();
    let new = keys.iter().find(|k| k["kid"] != served.as_str()).unwrap();
    assert_eq!(old["state"], "signing", "until the rotation delay is over");
    assert_eq!(new["state"], "published", "published before it signs");
    let new_kid = new["kid"].as_str().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains(new_kid));
    // The old key stays published after it stops signing.
    assert!(
        old["published_until"].as_i64().unwrap() > new["created_at"].as_i64().unwrap(),
        "{old}"
    );

    let table = w.run(&["keys", "list"]);
    let text = String::from_utf8_lossy(&table.stdout);
    let line_of = |kid: &str| {
        text.lines()
            .find(|l| l.starts_with(kid))
            .unwrap()
            .to_string()
    };
    assert!(line_of(&served).contains("signing"), "{text}");
    assert!(line_of(new_kid).contains("published"), "{text}");
    assert!(line_of(new_kid).contains("signs from"), "{text}");
}
