//! `gatehouse healthcheck`: the exit code a container health check reads.

use crate::harness::cli::*;
use std::process::Stdio;

#[test]
fn healthcheck_exits_0_while_the_server_answers_and_1_after() {
    let w = Workdir::new();
    let (mut child, port) = start_server(&w);
    let bind = format!("127.0.0.1:{port}");
    let check = |path: &str| {
        w.cmd(&["healthcheck", "--path", path])
            .env("GATEHOUSE_BIND", &bind)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    assert!(check("/healthz").status.success());
    assert!(check("/readyz").status.success());
    assert_eq!(check("/no-such-page").status.code(), Some(1));
    child.kill().unwrap();
    child.wait().unwrap();
    let o = check("/healthz");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
}
