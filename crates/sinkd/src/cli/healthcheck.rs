//! `sinkd healthcheck`: asks a running sinkd for `GET /healthz` and exits
//! 0 when it answers 200, 1 otherwise — the container image's HEALTHCHECK,
//! which has no curl. Plain HTTP/1.1 over a blocking `TcpStream`, with a
//! timeout on connecting, writing and reading.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

/// An answer longer than this is not a `/healthz` answer.
const MAX_HEAD: usize = 4096;

#[derive(clap::Args, Debug)]
pub(crate) struct HealthcheckArgs {
    /// The `metrics` address of the sinkd to ask.
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:9514")]
    address: SocketAddr,
    /// Seconds to wait for the connection and for the answer, each.
    #[arg(long, value_name = "SECONDS", default_value_t = 3)]
    timeout: u64,
}

pub(crate) fn run(args: &HealthcheckArgs) -> anyhow::Result<ExitCode> {
    let timeout = Duration::from_secs(args.timeout.max(1));
    match probe(args.address, timeout) {
        Ok(()) => {
            println!("{}: healthy", args.address);
            Ok(ExitCode::SUCCESS)
        }
        Err(reason) => {
            eprintln!("{}: unhealthy: {reason}", args.address);
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `Ok` when `/healthz` at `address` answers with status 200.
fn probe(address: SocketAddr, timeout: Duration) -> Result<(), String> {
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .map_err(|error| format!("cannot connect: {error}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|error| format!("cannot set a timeout: {error}"))?;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|error| format!("cannot send the request: {error}"))?;
    let mut head = Vec::new();
    let mut chunk = [0_u8; 512];
    while !head.contains(&b'\n') && head.len() < MAX_HEAD {
        let n = stream
            .read(&mut chunk)
            .map_err(|error| format!("no answer: {error}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    status_ok(&head)
}

/// Judges the status line at the start of `head`.
fn status_ok(head: &[u8]) -> Result<(), String> {
    let line = head.split(|&byte| byte == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let line = line.trim_end();
    let mut fields = line.split(' ');
    let version = fields.next().unwrap_or_default();
    let status = fields.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP answer: {line:?}"));
    }
    if status == "200" {
        Ok(())
    } else {
        Err(format!("answered {line:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::status_ok;

    #[test]
    fn only_status_200_is_healthy() {
        assert!(status_ok(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n").is_ok());
        assert!(status_ok(b"HTTP/1.0 200 OK\r\n").is_ok());
        assert!(status_ok(b"HTTP/1.1 404 Not Found\r\n").is_err());
        assert!(status_ok(b"HTTP/1.1 2000 OK\r\n").is_err());
        assert!(status_ok(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(status_ok(b"").is_err());
    }
}
