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

/// In an empty folder `user create` must not make a new
/// `gatehouse.db` the running server never saw. Every command but `serve`
/// and `migrate` now refuses a missing database with one line naming the
/// file and the setting, and creates nothing.
#[test]
fn commands_other_than_serve_and_migrate_refuse_a_missing_database_and_create_nothing() {
    let w = Workdir::new();
    let commands: &[&[&str]] = &[
        &["client", "list"],
        &[
            "client",
            "create",
            "--name",
            "x",
            "--grant-type",
            "client_credentials",
        ],
        &["registration-token", "create"],
        &["keys", "rotate"],
        &[
            "user",
            "create",
            "--username",
            "ops",
            "--admin",
            "--password-stdin",
        ],
    ];
    let expected = w.dir.path().join("gatehouse.db");
    for args in commands {
        // A password on standard input, which the command may not read.
        let mut child = w
            .cmd(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let _ = std::io::Write::write_all(
            &mut child.stdin.take().unwrap(),
            b"a long enough password\n",
        );
        let o = child.wait_with_output().unwrap();
        one_line_failure(&o, 2, "GATEHOUSE_DATABASE_URL");
        let err = stderr(&o);
        assert!(
            err.contains(&expected.display().to_string()),
            "{args:?}: {err}"
        );
        assert!(err.contains("--database-url"), "{args:?}: {err}");
        assert!(w.files().is_empty(), "{args:?} created {:?}", w.files());
    }
    // The same for a path given in the setting.
    let o = w
        .cmd(&["client", "list"])
        .env("GATEHOUSE_DATABASE_URL", "sqlite://elsewhere.db")
        .output()
        .unwrap();
    one_line_failure(&o, 2, "elsewhere.db");
    assert!(w.files().is_empty(), "{:?}", w.files());
    // `migrate` creates it; then the commands work on it.
    assert!(w.run(&["migrate"]).status.success());
    let o = w.run(&["client", "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A misspelled setting (`GATEHOUSE_SINGUP=open`) must not pass silently. A variable that
/// is not a setting is warned about, with the nearest setting; the test
/// harness's `GATEHOUSE_TEST_*` variables are not.
#[test]
fn a_misspelled_variable_is_warned_about_with_the_setting_it_resembles() {
    let w = Workdir::with_database();
    let o = w
        .cmd(&["client", "list"])
        .env("GATEHOUSE_SINGUP", "open")
        .env("GATEHOUSE_ACESS_TOKEN_TTL", "5")
        .env("GATEHOUSE_TEST_SOMETHING", "1")
        .env("GATEHOUSE_WHATEVER_THIS_IS", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.lines()
            .any(|l| l.contains("GATEHOUSE_SINGUP") && l.contains("did you mean GATEHOUSE_SIGNUP?")),
        "{err}"
    );
    assert!(
        err.lines().any(|l| l.contains("GATEHOUSE_ACESS_TOKEN_TTL")
            && l.contains("did you mean GATEHOUSE_ACCESS_TOKEN_TTL?")),
        "{err}"
    );
    assert!(
        err.lines().any(
            |l| l.contains("GATEHOUSE_WHATEVER_THIS_IS is not a setting")
                && !l.contains("did you mean")
        ),
        "{err}"
    );
    assert!(!err.contains("GATEHOUSE_TEST_SOMETHING"), "{err}");
    // A well-spelled environment says nothing.
    let o = w.run(&["client", "list"]);
    assert!(!stderr(&o).contains("not a setting"), "{}", stderr(&o));
}

#[test]
fn an_unknown_file_key_names_the_key_it_resembles() {
    let w = Workdir::new();
    std::fs::write(w.dir.path().join("gatehouse.toml"), "singup = \"open\"\n").unwrap();
    let o = w.run(&["migrate"]);
    one_line_failure(&o, 2, "unknown key 'singup'; did you mean 'signup'?");
    assert!(!w.dir.path().join("gatehouse.db").exists());
}

#[test]
fn a_file_syntax_error_names_its_line_and_column() {
    let w = Workdir::new();
    std::fs::write(
        w.dir.path().join("gatehouse.toml"),
        "bind = \"127.0.0.1:8080\"\nsignup = open\n",
    )
    .unwrap();
    let o = w.run(&["migrate"]);
    one_line_failure(&o, 2, "gatehouse.toml: line 2, column 10");
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// `gatehouse config check` (contract, last section): every setting with
/// its value and where it came from, a database password never shown;
/// exit 1 on any problem, 0 when there is none.
#[test]
fn config_check_shows_where_each_setting_came_from_and_exits_1_on_a_problem() {
    let w = Workdir::new();
    std::fs::write(w.dir.path().join("gatehouse.toml"), "signup = \"open\"\n").unwrap();
    let o = w
        .cmd(&["config", "check", "--access-token-ttl", "30"])
        .env(
            "GATEHOUSE_DATABASE_URL",
            "postgres://gatehouse:hunter2@127.0.0.1:1/gatehouse",
        )
        .output()
        .unwrap();
    let out = stdout(&o);
    let line = |key: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key} in {out}"))
            .to_string()
    };
    assert!(line("signup").contains("= open"), "{out}");
    assert!(line("signup").contains("[file gatehouse.toml]"), "{out}");
    assert!(line("access_token_ttl").contains("= 30"), "{out}");
    assert!(
        line("access_token_ttl").contains("[flag --access-token-ttl]"),
        "{out}"
    );
    assert!(line("bind").contains("= 127.0.0.1:8080"), "{out}");
    assert!(line("bind").contains("[default]"), "{out}");
    assert!(
        line("database_url").contains("postgres://gatehouse:***@127.0.0.1:1/gatehouse"),
        "{out}"
    );
    assert!(
        line("database_url").contains("[env GATEHOUSE_DATABASE_URL]"),
        "{out}"
    );
    let all = format!("{out}{}", stderr(&o));
    assert!(!all.contains("hunter2"), "{all}");
    // The database is unreachable: a problem.
    assert_eq!(o.status.code(), Some(1), "{all}");
    assert!(stderr(&o).contains("GATEHOUSE_DATABASE_URL"), "{all}");

    // A missing SQLite database is a problem, and is not created.
    let o = w.run(&["config", "check"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("no database at"), "{}", stderr(&o));
    assert!(!w.dir.path().join("gatehouse.db").exists());

    // Clean: exit 0.
    assert!(w.run(&["migrate"]).status.success());
    let o = w.run(&["config", "check"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("no problems found"), "{}", stdout(&o));

    // An unknown variable and a bad value are problems, each named.
    let o = w
        .cmd(&["config", "check"])
        .env("GATEHOUSE_SINGUP", "open")
        .env("GATEHOUSE_ACCESS_TOKEN_TTL", "soon")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("did you mean GATEHOUSE_SIGNUP?"), "{err}");
    assert!(err.contains("GATEHOUSE_ACCESS_TOKEN_TTL"), "{err}");
}

/// Every subcommand's `--help` listed all the server's
/// settings. Now a command shows its own options and the settings every
/// command reads; `serve --help` lists the server's; every command still
/// accepts them.
#[test]
fn help_shows_a_commands_own_options_and_serve_lists_the_server_settings() {
    let w = Workdir::with_database();
    let help = |args: &[&str]| {
        let o = w.run(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        stdout(&o)
    };
    for args in [
        &["client", "create", "--help"][..],
        &["user", "create", "--help"],
        &["registration-token", "create", "--help"],
        &["migrate", "--help"],
    ] {
        let h = help(args);
        assert!(h.contains("--database-url"), "{args:?}: {h}");
        assert!(h.contains("--config"), "{args:?}: {h}");
        for server_only in [
            "--bind",
            "--access-token-ttl",
            "--signup",
            "--workers",
            "--issuer",
        ] {
            assert!(
                !h.contains(server_only),
                "{args:?} shows {server_only}: {h}"
            );
        }
    }
    let serve = help(&["serve", "--help"]);
    for s in [
        "--bind",
        "--access-token-ttl",
        "--signup",
        "--workers",
        "--new-keys",
        "--database-url",
    ] {
        assert!(serve.contains(s), "serve --help lacks {s}: {serve}");
    }
    assert!(help(&["--help"]).contains("gatehouse serve --help"));
    assert!(help(&["keys", "rotate", "--help"]).contains("--keys-dir"));
    // Still accepted where they were.
    let o = w.run(&[
        "--bind",
        "127.0.0.1:0",
        "client",
        "list",
        "--access-token-ttl",
        "30",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The operator's look is checked at start: each bad value stops it with
/// one line naming the setting and what is wrong, and creates nothing.
#[test]
fn the_operators_look_is_checked_at_start() {
    let w = Workdir::new();
    std::fs::write(w.dir.path().join("page.html"), "<html><script></script>").unwrap();
    std::fs::write(w.dir.path().join("huge.png"), vec![0x89; 300 * 1024]).unwrap();
    std::fs::write(
        w.dir.path().join("logo.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .unwrap();
    for (var, value, says) in [
        ("GATEHOUSE_LOGO", "missing.png", "cannot read"),
        (
            "GATEHOUSE_LOGO",
            "page.html",
            "is not a PNG, JPEG, WebP, ICO or SVG image",
        ),
        ("GATEHOUSE_FAVICON", "huge.png", "at most 262144"),
        ("GATEHOUSE_ACCENT_COLOR", "#ffd700", "below the 4.5:1"),
        ("GATEHOUSE_ACCENT_COLOR", "green", "is not a colour"),
        (
            "GATEHOUSE_PRIVACY_URL",
            "http://example.com/privacy",
            "must be an https address",
        ),
        ("GATEHOUSE_TERMS_URL", "terms", "is not a URL"),
        (
            "GATEHOUSE_FOOTER_TEXT",
            "a\u{202e}b",
            "GATEHOUSE_FOOTER_TEXT",
        ),
    ] {
        let o = w.cmd(&["migrate"]).env(var, value).output().unwrap();
        one_line_failure(&o, 2, var);
        assert!(stderr(&o).contains(says), "{var}={value}: {}", stderr(&o));
    }
    assert!(
        w.files().iter().all(|f| f != "gatehouse.db"),
        "{:?}",
        w.files()
    );
    // Good values start.
    let o = w
        .cmd(&["migrate"])
        .env("GATEHOUSE_LOGO", "logo.svg")
        .env("GATEHOUSE_ACCENT_COLOR", "#14532d")
        .env("GATEHOUSE_PRIVACY_URL", "https://example.com/privacy")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}
