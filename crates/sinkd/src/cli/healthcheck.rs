//! `sinkd healthcheck`: asks a running sinkd for `GET /healthz` and exits
//! 0 when it answers 200, 1 otherwise (printing the reason it gave, such
//! as a store paused for lack of space) — the container image's
//! HEALTHCHECK, which has no curl. HTTP/1.1 over a blocking `TcpStream`,
//! with a timeout on connecting, writing and reading.
//!
//! With `--config FILE` it asks the http address of that configuration,
//! over HTTPS when `[http]` has a certificate: the server must then present
//! exactly the certificate the file names (pinned, so no CA is needed for a
//! probe of one's own server).

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use sinkd_config::Config;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// An answer longer than this is not a `/healthz` answer.
const MAX_ANSWER: usize = 4096;

#[derive(clap::Args, Debug)]
pub(crate) struct HealthcheckArgs {
    /// The http (`metrics`) address of the sinkd to ask (default: the
    /// --config file's, else 127.0.0.1:9514).
    #[arg(long, value_name = "IP:PORT")]
    address: Option<SocketAddr>,
    /// Seconds to wait for the connection and for the answer, each.
    #[arg(long, value_name = "SECONDS", default_value_t = 3)]
    timeout: u64,
}

pub(crate) fn run(args: &HealthcheckArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let timeout = Duration::from_secs(args.timeout.max(1));
    let (configured, pinned) = match config {
        Some(file) => {
            let config = Config::from_file(file)?;
            let Some(http) = config.http else {
                eprintln!(
                    "{}: the http address is off; nothing to ask",
                    file.display()
                );
                return Ok(ExitCode::FAILURE);
            };
            let pinned = match &http.tls {
                Some(tls) => Some(
                    sinkd_tls::read_certificates(&tls.cert)
                        .map_err(|reason| anyhow::anyhow!("{}: {reason}", tls.cert.display()))?
                        .remove(0),
                ),
                None => None,
            };
            (Some(http.address), pinned)
        }
        None => (None, None),
    };
    let address = args
        .address
        .or(configured)
        .unwrap_or(sinkd_http::DEFAULT_ADDRESS);
    match probe(address, pinned, timeout) {
        Ok(()) => {
            println!("{address}: healthy");
            Ok(ExitCode::SUCCESS)
        }
        Err(reason) => {
            eprintln!("{address}: unhealthy: {reason}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `Ok` when `/healthz` at `address` answers with status 200; over TLS
/// when `pinned` is the certificate the server must present.
fn probe(
    address: SocketAddr,
    pinned: Option<CertificateDer<'static>>,
    timeout: Duration,
) -> Result<(), String> {
    let stream = TcpStream::connect_timeout(&address, timeout)
        .map_err(|error| format!("cannot connect: {error}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|error| format!("cannot set a timeout: {error}"))?;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    let answer = match pinned {
        None => exchange(stream, request.as_bytes()),
        Some(certificate) => {
            let provider = sinkd_tls::provider();
            let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
                .with_safe_default_protocol_versions()
                .map_err(|error| format!("TLS: {error}"))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pinned {
                    certificate,
                    provider,
                }))
                .with_no_client_auth();
            let name = ServerName::IpAddress(address.ip().into());
            let connection = ClientConnection::new(Arc::new(config), name)
                .map_err(|error| format!("TLS: {error}"))?;
            exchange(StreamOwned::new(connection, stream), request.as_bytes())
        }
    }?;
    judge(&answer)
}

/// Writes `request` and reads the answer (at most [`MAX_ANSWER`] bytes).
fn exchange(
    mut stream: impl std::io::Read + std::io::Write,
    request: &[u8],
) -> Result<Vec<u8>, String> {
    stream
        .write_all(request)
        .and_then(|()| stream.flush())
        .map_err(|error| format!("cannot send the request: {error}"))?;
    let mut answer = Vec::new();
    let mut chunk = [0_u8; 512];
    while answer.len() < MAX_ANSWER {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            // A TLS peer closing without close_notify: what came is kept.
            Err(error)
                if !answer.is_empty() && error.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                break
            }
            Err(error) if answer.is_empty() => return Err(format!("no answer: {error}")),
            Err(_) => break,
        }
    }
    Ok(answer)
}

/// Judges the status line at the start of `answer`; otherwise names the
/// status and the reason in the body.
fn judge(answer: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let line = head.lines().next().unwrap_or_default().trim_end();
    let mut fields = line.split(' ');
    let version = fields.next().unwrap_or_default();
    let status = fields.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP answer: {line:?}"));
    }
    if status == "200" {
        return Ok(());
    }
    let reason = body.trim();
    if reason.is_empty() {
        Err(format!("answered {line:?}"))
    } else {
        Err(format!("answered {line:?}: {reason}"))
    }
}

/// Accepts exactly one certificate, still checking the handshake's
/// signatures with the provider's algorithms.
#[derive(Debug)]
struct Pinned {
    certificate: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.certificate.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(String::from(
                "the server presented another certificate than the configured one",
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::judge;

    #[test]
    fn only_status_200_is_healthy() {
        assert!(judge(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n").is_ok());
        assert!(judge(b"HTTP/1.0 200 OK\r\n").is_ok());
        assert!(judge(b"HTTP/1.1 404 Not Found\r\n").is_err());
        assert!(judge(b"HTTP/1.1 2000 OK\r\n").is_err());
        assert!(judge(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(judge(b"").is_err());
        let paused =
            judge(b"HTTP/1.1 503 Service Unavailable\r\n\r\nstore paused: no space left\n")
                .unwrap_err();
        assert!(
            paused.contains("503") && paused.contains("no space left"),
            "{paused}"
        );
    }
}
