//! Running the `gatehouse` binary as an operator does: a working folder
//! of its own, commands with and without standard input, `serve` on a
//! random port, and what they print.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};

/// The `gatehouse` binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");

pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Workdir {
        Workdir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .current_dir(self.dir.path())
            .env_remove("GATEHOUSE_DATABASE_URL")
            .env_remove("GATEHOUSE_BIND")
            .env_remove("GATEHOUSE_ISSUER")
            .env_remove("GATEHOUSE_KEYS_DIR")
            .env_remove("GATEHOUSE_LOG");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).stdin(Stdio::null()).output().unwrap()
    }

    pub fn run_with_url(&self, args: &[&str], url: Option<&str>) -> Output {
        let mut c = self.cmd(args);
        if let Some(url) = url {
            c.env("GATEHOUSE_DATABASE_URL", url);
        }
        c.stdin(Stdio::null()).output().unwrap()
    }

    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A command that refuses before reading its input may have exited
        // already: its closed pipe is part of what the test watches.
        match child.stdin.take().unwrap().write_all(input.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.unwrap(),
        }
        child.wait_with_output().unwrap()
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

pub fn stdout_json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "failed: {}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Runs `gatehouse ARGS` on the database at `url` (a test server's, on
/// either backend), `stdin` on its standard input.
pub fn gatehouse_on(url: &str, args: &[&str], stdin: &str) -> Output {
    let w = Workdir::new();
    let mut child = w
        .cmd(args)
        .env("GATEHOUSE_DATABASE_URL", url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A refusal: exit 1 and one line on stderr that says why.
pub fn assert_refused(o: &Output, why: &str, what: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{what}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{what}: {err}");
    assert!(err.contains(why), "{what}: {err}");
}

/// A failure: exit `code` and one line on stderr that mentions `mentions`.
pub fn one_line_failure(o: &Output, code: i32, mentions: &str) {
    assert_eq!(o.status.code(), Some(code));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains(mentions), "{err}");
}

/// Starts `gatehouse serve` on a random port and returns the child and port.
pub fn start_server(w: &Workdir) -> (std::process::Child, u16) {
    let (child, port, _) = start_server_logging(w);
    (child, port)
}

/// Starts `serve`; also returns the log lines printed before it listened.
pub fn start_server_logging(w: &Workdir) -> (std::process::Child, u16, Vec<String>) {
    let mut child = w
        .cmd(&["serve"])
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .env("GATEHOUSE_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut early = Vec::new();
    let port = loop {
        let line = lines.next().expect("server printed its address").unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if v["message"] == "gatehouse listening" {
            assert_eq!(v["database"], "sqlite");
            assert!(v["kid"].as_str().is_some());
            let listen = v["listen"].as_str().unwrap();
            break listen.rsplit(':').next().unwrap().parse::<u16>().unwrap();
        }
        early.push(line);
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, port, early)
}

/// Starts `serve`; returns its port and every log line it prints, kept
/// as they come (the lines before it listened, and each later one).
pub fn start_server_keeping_log(
    w: &Workdir,
) -> (
    std::process::Child,
    u16,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    let mut child = w
        .cmd(&["serve"])
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .env("GATEHOUSE_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let port = loop {
        let line = lines.next().expect("server printed its address").unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        log.lock().unwrap().push(line);
        if v["message"] == "gatehouse listening" {
            let listen = v["listen"].as_str().unwrap();
            break listen.rsplit(':').next().unwrap().parse::<u16>().unwrap();
        }
    };
    let kept = log.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            kept.lock().unwrap().push(line);
        }
    });
    (child, port, log)
}

/// The permission bits of a file or folder (`0o600`, …).
pub fn file_mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

impl Workdir {
    /// A folder with a migrated database, as `gatehouse migrate` leaves
    /// it: commands other than `serve` and `migrate` refuse a missing one.
    pub fn with_database() -> Workdir {
        let w = Workdir::new();
        let o = w.run(&["migrate"]);
        assert!(o.status.success(), "{}", stderr(&o));
        w
    }

    /// The names in the folder, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        names.sort();
        names
    }
}

/// Starts `gatehouse serve ARGS` (JSON logs, a random port) with `env`,
/// and returns the child and the log lines up to and including the one
/// that says it listens.
pub fn serve_with(
    w: &Workdir,
    args: &[&str],
    env: &[(&str, &str)],
) -> (std::process::Child, Vec<String>) {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    let mut cmd = w.cmd(&all);
    cmd.env("GATEHOUSE_BIND", "127.0.0.1:0")
        .env("GATEHOUSE_LOG_FORMAT", "json");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        let listening = v["message"] == "gatehouse listening";
        seen.push(line);
        if listening {
            break;
        }
    }
    assert!(
        seen.iter().any(|l| l.contains("gatehouse listening")),
        "serve did not start: {seen:#?}"
    );
    std::thread::spawn(move || for _ in lines {});
    (child, seen)
}

/// Runs `gatehouse serve` with its standard error on a terminal (a
/// pseudo-terminal this process reads) and `env`, and returns what it
/// printed up to the line that says it listens.
pub fn serve_on_a_terminal(w: &Workdir, env: &[(&str, &str)]) -> String {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    use std::io::Read;
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().unwrap())
        .unwrap();
    let mut cmd = w.cmd(&["serve"]);
    cmd.env("GATEHOUSE_BIND", "127.0.0.1:0")
        .env_remove("NO_COLOR")
        .env_remove("GATEHOUSE_LOG_FORMAT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    drop(cmd);
    let mut master = std::fs::File::from(master);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&out).contains("gatehouse listening") {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    String::from_utf8_lossy(&out).to_string()
}
