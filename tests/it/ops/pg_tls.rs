//! TLS to PostgreSQL: the real `gatehouse` binary against a private
//! PostgreSQL cluster that this file starts under a temporary folder
//! (`initdb` / `pg_ctl`, on a random port; the machine's shared server is
//! never touched), with a certificate made for the test by the `openssl`
//! command and a CA of its own.
//!
//! The rules checked are libpq's `sslmode` (PostgreSQL documentation,
//! libpq "SSL Support", table "SSL Mode Descriptions"): `require` encrypts,
//! `verify-full` also checks that a trusted CA (`sslrootcert`) signed the
//! server's certificate and that it names the host, and a server that
//! cannot encrypt is refused rather than used in clear.
//!
//! Needs the PostgreSQL server programs (`/usr/lib/postgresql/*/bin`) and
//! `openssl`; as root the cluster runs as the `postgres` user (`initdb`
//! refuses root). Without them the tests print SKIPPED, unless CI=true,
//! where they fail (`.ci/run` installs what they need).

use crate::harness::cli::BIN;
use crate::harness::free_port;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// Fails under CI=true, else prints why and skips.
fn unavailable(why: &str) -> Option<Cluster> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but a private PostgreSQL cluster cannot be started: {why}");
    }
    eprintln!("SKIPPED (PostgreSQL TLS): {why}");
    None
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

/// The folder of `initdb` and `pg_ctl`: Debian's newest
/// /usr/lib/postgresql/N/bin, else wherever PATH has them.
fn pg_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let p = std::env::var_os("PATH")?;
    std::env::split_paths(&p).find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
}

fn is_root() -> bool {
    rustix::process::getuid().is_root()
}

fn ok(o: Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A private PostgreSQL cluster, stopped and removed on drop.
struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl Cluster {
    /// Starts a cluster listening on 127.0.0.1 that takes TCP connections
    /// only over TLS (`hostssl`, as a managed PostgreSQL does), with a
    /// certificate for `localhost` signed by the folder's `ca.crt`; with
    /// `tls` false it has TLS off and takes plain connections.
    fn start(tls: bool) -> Option<Cluster> {
        let Some(bin) = pg_bin_dir() else {
            return unavailable("no initdb (the postgresql package)");
        };
        if !on_path("openssl") {
            return unavailable("no openssl command");
        }
        if is_root() && (!on_path("runuser") || !postgres_user_exists()) {
            return unavailable("running as root without runuser or a postgres user");
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        if tls {
            make_certificates(d);
        }
        if is_root() {
            ok(
                Command::new("chown")
                    .args(["-R", "postgres:"])
                    .arg(d)
                    .output()
                    .unwrap(),
                "chown",
            );
        }
        let data = d.join("data");
        let o = as_cluster_owner(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "--no-sync"])
            .output()
            .unwrap();
        ok(o, "initdb");
        let port = free_port();
        let mut conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nfsync = off\n",
            d.display()
        );
        let mut hba = String::from("local all all trust\n");
        if tls {
            conf += &format!(
                "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
                d.join("server.crt").display(),
                d.join("server.key").display()
            );
            hba += "hostssl all all 127.0.0.1/32 trust\n";
        } else {
            conf += "ssl = off\n";
            hba += "host all all 127.0.0.1/32 trust\n";
        }
        append(&data.join("postgresql.conf"), &conf);
        std::fs::write(data.join("pg_hba.conf"), hba).unwrap();
        let o = as_cluster_owner(&bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(d.join("log"))
            .args(["-w", "start"])
            .output()
            .unwrap();
        let log = std::fs::read_to_string(d.join("log")).unwrap_or_default();
        ok(o, &format!("pg_ctl start (log: {log})"));
        Some(Cluster { dir, bin, port })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A URL for the cluster's `postgres` database by host name
    /// (`localhost`, the name in the certificate), with `query` appended.
    fn url(&self, query: &str) -> String {
        format!(
            "postgres://postgres@localhost:{}/postgres?{query}",
            self.port
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_cluster_owner(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn postgres_user_exists() -> bool {
    Command::new("id")
        .arg("postgres")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `program`, run as `postgres` when the tests run as root.
fn as_cluster_owner(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn append(file: &Path, text: &str) {
    let mut s = std::fs::read_to_string(file).unwrap();
    s.push('\n');
    s.push_str(text);
    std::fs::write(file, s).unwrap();
}

fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    ok(o, &format!("openssl {args:?}"));
}

/// `ca.crt` (self-signed), `server.crt`/`server.key` for DNS name
/// `localhost` signed by it, and `other-ca.crt`, a CA that signed nothing
/// here.
fn make_certificates(d: &Path) {
    for (ca, cn) in [
        ("ca", "gatehouse test CA"),
        ("other-ca", "someone else's CA"),
    ] {
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN={cn}"),
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.crt"),
            ],
        );
    }
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(d.join("server.ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ],
    );
    // PostgreSQL refuses a key that others can read.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// `gatehouse ARGS` in a fresh folder with the given database URL.
fn gatehouse(work: &Path, url: &str, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(work)
        .env("GATEHOUSE_DATABASE_URL", url)
        .env_remove("GATEHOUSE_BIND")
        .env_remove("GATEHOUSE_ISSUER")
        .env_remove("GATEHOUSE_KEYS_DIR")
        .env_remove("GATEHOUSE_LOG")
        .stdin(Stdio::null());
    c
}

/// A served gatehouse, killed on drop.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `serve` on `url` and returns it with its port once it listens
/// (it has connected and migrated by then).
fn serve(work: &Path, url: &str) -> (Served, u16) {
    let mut child = gatehouse(work, url, &["serve"])
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .env("GATEHOUSE_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let served = Served(child);
    let port = loop {
        let line = lines
            .next()
            .expect("server printed its address before exiting")
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if v["message"] == "gatehouse listening" {
            assert_eq!(v["database"], "postgres", "{line}");
            let listen = v["listen"].as_str().unwrap();
            break listen.rsplit(':').next().unwrap().parse::<u16>().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (served, port)
}

/// Registers a client with the CLI over `url`, serves on `url` from the
/// folder `work` (its keys folder must be the database's), and returns the
/// /token response to a client_credentials grant.
fn token_over(work: &tempfile::TempDir, url: &str) -> serde_json::Value {
    let created = crate::harness::cli::stdout_json(
        &gatehouse(
            work.path(),
            url,
            &[
                "client",
                "create",
                "--name",
                "svc",
                "--grant-type",
                "client_credentials",
                "--scope",
                "read",
                "--json",
            ],
        )
        .output()
        .unwrap(),
    );
    let id = created["client_id"].as_str().unwrap().to_string();
    let secret = created["client_secret"].as_str().unwrap().to_string();
    let (_served, port) = serve(work.path(), url);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials"), ("scope", "read")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    })
}

/// Runs `gatehouse migrate` on `url`, expecting start-up to be refused:
/// exit 2 and one line on stderr that names the setting, no panic.
fn refused(url: &str) -> String {
    let work = tempfile::tempdir().unwrap();
    let o = gatehouse(work.path(), url, &["migrate"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{url}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("GATEHOUSE_DATABASE_URL"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// libpq SSL support: `sslmode=require` and `sslmode=verify-full` (with
/// the server's CA as `sslrootcert` and the host name of the certificate)
/// reach a server that takes TLS connections only, and gatehouse serves a
/// token over them; `verify-full` with a CA that did not sign the server's
/// certificate, or with a host name the certificate does not carry, stops
/// start-up with libpq's reason.
#[test]
fn require_and_verify_full_serve_tokens_and_a_wrong_ca_or_host_is_refused() {
    let Some(pg) = Cluster::start(true) else {
        return;
    };
    // The cluster takes no unencrypted TCP connection, so what follows
    // works only over TLS.
    let err = refused(&pg.url("sslmode=disable"));
    assert!(err.contains("no encryption"), "{err}");

    let work = tempfile::tempdir().unwrap();
    let t = token_over(&work, &pg.url("sslmode=require"));
    assert_eq!(t["token_type"], "Bearer");
    assert!(t["access_token"].as_str().is_some_and(|s| s.len() > 20));

    let ca = pg.path("ca.crt");
    let t = token_over(
        &work,
        &pg.url(&format!("sslmode=verify-full&sslrootcert={}", ca.display())),
    );
    assert_eq!(t["token_type"], "Bearer");

    let err = refused(&pg.url(&format!(
        "sslmode=verify-full&sslrootcert={}",
        pg.path("other-ca.crt").display()
    )));
    assert!(err.contains("certificate verify failed"), "{err}");

    // Right CA, but reached by an address the certificate does not name.
    let by_address = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=verify-full&sslrootcert={}",
        pg.port,
        ca.display()
    );
    let err = refused(&by_address);
    assert!(err.contains("does not match host name"), "{err}");
}

/// libpq SSL support: with `sslmode=require` a server that does not
/// offer TLS is refused, not used in clear.
#[test]
fn require_against_a_server_without_tls_stops_start_up_clearly() {
    let Some(pg) = Cluster::start(false) else {
        return;
    };
    // The same server is reachable without TLS (the control)...
    let work = tempfile::tempdir().unwrap();
    let o = gatehouse(work.path(), &pg.url("sslmode=disable"), &["migrate"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // ...but not when TLS is required.
    let err = refused(&pg.url("sslmode=require"));
    assert!(err.contains("server does not support SSL"), "{err}");
}
