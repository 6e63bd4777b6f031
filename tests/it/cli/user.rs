//! The `gatehouse user` commands behind OpenID Connect's standard claims
//! (OIDC Core §5.1): `user create --name`, `user update`.

use crate::cli::serve::{stdout_json as json, Workdir};
use std::process::Output;

/// Runs the binary in `w`'s folder with `stdin`.
fn gatehouse(w: &Workdir, args: &[&str], stdin: &str) -> Output {
    w.run_with_stdin(args, stdin)
}

fn one_line_failure(o: &Output, code: i32, mentions: &str) {
    assert_eq!(o.status.code(), Some(code));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains(mentions), "{err}");
}

#[test]
fn oidc_core_5_1_user_create_name_and_user_update() {
    let d = &Workdir::new();
    let created = json(&gatehouse(
        d,
        &[
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "alice@example.com",
            "--name",
            "Alice Liddell",
            "--password-stdin",
            "--json",
        ],
        "correct horse\n",
    ));
    assert_eq!(created["name"], "Alice Liddell");
    assert_eq!(created["email_verified"], false);

    let updated = json(&gatehouse(
        d,
        &[
            "user",
            "update",
            "alice",
            "--email-verified",
            "true",
            "--json",
        ],
        "",
    ));
    assert_eq!(updated["email_verified"], true);
    assert_eq!(updated["name"], "Alice Liddell");

    // A new address is unverified unless said otherwise in the same command.
    let updated = json(&gatehouse(
        d,
        &[
            "user",
            "update",
            "alice",
            "--email",
            "a@example.org",
            "--name",
            "Alice L.",
            "--json",
        ],
        "",
    ));
    assert_eq!(updated["email"], "a@example.org");
    assert_eq!(updated["email_verified"], false);
    assert_eq!(updated["name"], "Alice L.");
    let id = updated["id"].as_str().unwrap().to_string();
    let updated = json(&gatehouse(
        d,
        &[
            "user",
            "update",
            &id,
            "--email",
            "b@example.org",
            "--email-verified",
            "true",
            "--json",
        ],
        "",
    ));
    assert_eq!(updated["email_verified"], true);

    // An empty name removes it.
    let updated = json(&gatehouse(
        d,
        &["user", "update", "alice", "--name", "", "--json"],
        "",
    ));
    assert!(updated["name"].is_null());
    let shown = gatehouse(d, &["user", "show", "alice"], "");
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("b@example.org (verified)"), "{text}");

    one_line_failure(
        &gatehouse(d, &["user", "update", "alice"], ""),
        2,
        "nothing to change",
    );
    one_line_failure(
        &gatehouse(
            d,
            &["user", "update", "alice", "--email", "not an address"],
            "",
        ),
        1,
        "e-mail",
    );
    one_line_failure(
        &gatehouse(d, &["user", "update", "nobody", "--name", "N"], ""),
        1,
        "no user",
    );
    let removed = json(&gatehouse(
        d,
        &["user", "update", "alice", "--email", "", "--json"],
        "",
    ));
    assert!(removed["email"].is_null());
    assert_eq!(removed["email_verified"], false);
    one_line_failure(
        &gatehouse(
            d,
            &["user", "update", "alice", "--email-verified", "true"],
            "",
        ),
        1,
        "no e-mail address",
    );
    // A value clap refuses: its usage error, exit 2.
    let o = gatehouse(
        d,
        &["user", "update", "alice", "--email-verified", "maybe"],
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("maybe"));
    one_line_failure(
        &gatehouse(
            d,
            &["user", "update", "alice", "--name", &"x".repeat(201)],
            "",
        ),
        1,
        "display name",
    );
}

#[test]
fn rp_initiated_logout_3_1_client_create_post_logout_redirect_uri() {
    let d = &Workdir::new();
    let created = json(&gatehouse(
        d,
        &[
            "client",
            "create",
            "--name",
            "rp",
            "--redirect-uri",
            "https://app.example/cb",
            "--grant-type",
            "authorization_code",
            "--scope",
            "openid profile",
            "--post-logout-redirect-uri",
            "https://app.example/bye",
            "https://app.example/bye2",
            "--json",
        ],
        "",
    ));
    assert_eq!(
        created["post_logout_redirect_uris"],
        serde_json::json!(["https://app.example/bye", "https://app.example/bye2"])
    );
    let id = created["client_id"].as_str().unwrap();
    let shown = json(&gatehouse(d, &["client", "show", id, "--json"], ""));
    assert_eq!(
        shown["post_logout_redirect_uris"],
        created["post_logout_redirect_uris"]
    );
    for bad in [
        "javascript:alert(1)",
        "http://evil.example/bye",
        "https://app.example/#x",
    ] {
        one_line_failure(
            &gatehouse(
                d,
                &[
                    "client",
                    "create",
                    "--name",
                    "rp",
                    "--redirect-uri",
                    "https://app.example/cb",
                    "--grant-type",
                    "authorization_code",
                    "--post-logout-redirect-uri",
                    bad,
                ],
                "",
            ),
            1,
            "",
        );
    }
}
