//! `gatehouse healthcheck`: asks the running server's `/healthz` and exits
//! 0 when it answers 200. For container health checks: the slim image has
//! no curl. Plain HTTP/1.1 on the bind address, so no client library.

use super::Failure;
use crate::config::Config;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

pub fn run(config: &Config, path: &str) -> Result<(), Failure> {
    let addr = target(&config.bind)?;
    let timeout = Duration::from_secs(3);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| Failure::other(format!("cannot reach gatehouse at {addr}: {e}")))?;
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: gatehouse-healthcheck\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| Failure::other(format!("writing to {addr}: {e}")))?;
    let mut head = [0u8; 64];
    let n = stream
        .read(&mut head)
        .map_err(|e| Failure::other(format!("reading from {addr}: {e}")))?;
    let status_line = String::from_utf8_lossy(&head[..n]);
    let status = status_line.split(' ').nth(1).unwrap_or("");
    if status == "200" {
        println!("healthy: {path} answered 200");
        Ok(())
    } else {
        Err(Failure::other(format!(
            "unhealthy: {path} answered {}",
            if status.is_empty() { "nothing" } else { status }
        )))
    }
}

/// The address to call: the bind address, with a wildcard host replaced
/// by the loopback one.
fn target(bind: &str) -> Result<SocketAddr, Failure> {
    let addr = bind
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            Failure::usage(format!("GATEHOUSE_BIND (bind): '{bind}' is not an address"))
        })?;
    Ok(match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => {
            SocketAddr::from(([127, 0, 0, 1], a.port()))
        }
        SocketAddr::V6(a) if a.ip().is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port()))
        }
        other => other,
    })
}
