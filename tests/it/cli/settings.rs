//! The settings every command reads (flag > environment > file >
//! default, contract "Configuration") and how a bad one stops start-up:
//! one line naming the setting, exit code 2.

use crate::harness::cli::*;

#[test]
fn bad_bind_address_stops_start_up_with_one_line_and_exit_2() {
    let w = Workdir::new();
    let o = w
        .cmd(&["serve"])
        .env("GATEHOUSE_BIND", "nonsense")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("GATEHOUSE_BIND"), "{err}");
}

#[test]
fn bad_lifetime_names_the_setting() {
    let w = Workdir::new();
    let o = w
        .cmd(&["serve"])
        .env("GATEHOUSE_ACCESS_TOKEN_TTL", "soon")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("GATEHOUSE_ACCESS_TOKEN_TTL"));
}

#[test]
fn unreachable_database_stops_start_up_with_one_line_and_exit_2() {
    let w = Workdir::new();
    let o = w
        .cmd(&["serve"])
        .env(
            "GATEHOUSE_DATABASE_URL",
            "postgres://postgres@127.0.0.1:1/nowhere",
        )
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("GATEHOUSE_DATABASE_URL"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn flag_overrides_environment_and_config_file() {
    let w = Workdir::new();
    std::fs::write(
        w.dir.path().join("gatehouse.toml"),
        "bind = \"also nonsense\"\n",
    )
    .unwrap();
    // The file's bad value is used when nothing overrides it...
    let o = w.run(&["migrate"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("GATEHOUSE_BIND"));
    // ...the environment beats the file, and a flag beats both.
    let o = w
        .cmd(&["migrate"])
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = w
        .cmd(&["--bind", "127.0.0.1:0", "migrate"])
        .env("GATEHOUSE_BIND", "bad")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // Unknown keys in the file are an error, not silently ignored.
    std::fs::write(w.dir.path().join("gatehouse.toml"), "bindd = \"x\"\n").unwrap();
    let o = w.run(&["migrate"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bindd"));
}
