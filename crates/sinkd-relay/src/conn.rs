//! Connections to a relay target: resolving, connecting, and the three
//! kinds of link the engine drives.
//!
//! [`connect`] runs once per attempt and resolves the host again every
//! time, so a target that moved to a new address is found at the next
//! reconnect. Every resolved address is tried in order until one accepts.
//! The TLS connector is read from a shared slot at each attempt, so a
//! SIGHUP that re-reads the certificate files of a relay whose settings did
//! not change reaches its next connection without touching the current one.
//! TCP connections get keepalive (idle 30 s, then every 10 s, 3 probes) so
//! a target that vanished without a FIN or RST is noticed even when nothing
//! is being sent. TLS wraps the TCP stream in a rustls client from
//! `tls.rs`. The whole attempt is bounded by `send_timeout`.
//!
//! [`Conn`] is polled by hand from the engine's event loop (`engine.rs`),
//! which needs to wait for "writable, readable or closed" on the link
//! while also waiting for new messages and timers. Stream links count the
//! bytes handed to the kernel in [`Counted`]; together with
//! [`crate::sys::unacked_bytes`] that tells the engine how far the target's
//! TCP stack has acknowledged.

use crate::config::{RelayConfig, RelayTransport};
use crate::error::{ConnError, Fault};
use arc_swap::ArcSwap;
use rustls_pki_types::ServerName;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// A TCP stream that counts the bytes written to it.
#[derive(Debug)]
pub(crate) struct Counted {
    stream: TcpStream,
    written: u64,
}

impl Counted {
    /// Bytes written to the socket since it was connected.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    pub(crate) fn stream(&self) -> &TcpStream {
        &self.stream
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.written += n as u64;
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// An established link to the target.
pub(crate) enum Conn {
    Tcp(Counted),
    Tls(Box<TlsStream<Counted>>),
    Udp(UdpSocket),
}

/// What polling a link produced.
#[derive(Debug)]
pub(crate) enum Polled {
    /// `n` bytes (stream) or one datagram of `n` bytes (UDP) were written.
    Wrote(usize),
    /// Everything written so far has been handed to the kernel.
    Flushed,
    /// The target closed the connection or reading failed.
    Closed(ConnError),
    /// Writing failed.
    WriteFailed(io::Error),
}

impl Conn {
    /// Whether this is a stream (TCP or TLS) link.
    pub(crate) fn is_stream(&self) -> bool {
        !matches!(self, Conn::Udp(_))
    }

    /// Bytes handed to the kernel on this connection (streams; 0 for UDP).
    pub(crate) fn written(&self) -> u64 {
        match self {
            Conn::Tcp(counted) => counted.written(),
            Conn::Tls(tls) => tls.get_ref().0.written(),
            Conn::Udp(_) => 0,
        }
    }

    /// Bytes the target's TCP stack has acknowledged on this connection.
    pub(crate) fn acknowledged(&self) -> io::Result<u64> {
        let counted = match self {
            Conn::Tcp(counted) => counted,
            Conn::Tls(tls) => tls.get_ref().0,
            Conn::Udp(_) => return Ok(0),
        };
        let unacked = crate::sys::unacked_bytes(counted.stream())?;
        Ok(counted.written().saturating_sub(unacked))
    }

    /// Polls the link once: reading (to notice a close), then writing `out`
    /// (a datagram for UDP), or flushing when `flush` is set and `out` is
    /// empty. `Pending` registers interest in everything asked for.
    pub(crate) fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
        out: &[u8],
        flush: bool,
        scratch: &mut [u8],
    ) -> Poll<Polled> {
        match self {
            Conn::Udp(socket) => {
                if out.is_empty() {
                    return Poll::Pending;
                }
                match socket.poll_send(cx, out) {
                    Poll::Ready(Ok(n)) => Poll::Ready(Polled::Wrote(n)),
                    Poll::Ready(Err(error)) => Poll::Ready(Polled::WriteFailed(error)),
                    Poll::Pending => Poll::Pending,
                }
            }
            Conn::Tcp(counted) => poll_stream(counted, cx, out, flush, scratch),
            Conn::Tls(tls) => poll_stream(tls.as_mut(), cx, out, flush, scratch),
        }
    }
}

fn poll_stream<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    cx: &mut Context<'_>,
    out: &[u8],
    flush: bool,
    scratch: &mut [u8],
) -> Poll<Polled> {
    // A syslog receiver sends nothing; reading only tells us it has gone.
    loop {
        let mut buf = ReadBuf::new(scratch);
        match Pin::new(&mut *stream).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                return Poll::Ready(Polled::Closed(ConnError::new(
                    Fault::Downstream,
                    "read",
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the target closed the connection",
                    ),
                )))
            }
            Poll::Ready(Ok(())) => continue,
            Poll::Ready(Err(error)) => {
                return Poll::Ready(Polled::Closed(ConnError::new(
                    Fault::Downstream,
                    "read",
                    error,
                )))
            }
            Poll::Pending => break,
        }
    }
    if !out.is_empty() {
        return match Pin::new(&mut *stream).poll_write(cx, out) {
            Poll::Ready(Ok(0)) => Poll::Ready(Polled::WriteFailed(io::Error::new(
                io::ErrorKind::WriteZero,
                "the connection accepts no more bytes",
            ))),
            Poll::Ready(Ok(n)) => Poll::Ready(Polled::Wrote(n)),
            Poll::Ready(Err(error)) => Poll::Ready(Polled::WriteFailed(error)),
            Poll::Pending => Poll::Pending,
        };
    }
    if flush {
        return match Pin::new(&mut *stream).poll_flush(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Polled::Flushed),
            Poll::Ready(Err(error)) => Poll::Ready(Polled::WriteFailed(error)),
            Poll::Pending => Poll::Pending,
        };
    }
    Poll::Pending
}

/// The TLS side of a relay: connector and expected server name.
#[derive(Clone)]
pub(crate) struct TlsSetup {
    pub(crate) connector: TlsConnector,
    pub(crate) server_name: ServerName<'static>,
}

/// What a connection attempt needs, owned so the attempt can run as a
/// future of its own.
#[derive(Clone)]
pub(crate) struct Dialer {
    pub(crate) transport: RelayTransport,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) timeout: Duration,
    /// The TLS setup, replaceable while the relay runs.
    pub(crate) tls: Option<Arc<ArcSwap<TlsSetup>>>,
}

impl Dialer {
    pub(crate) fn new(config: &RelayConfig, tls: Option<Arc<ArcSwap<TlsSetup>>>) -> Dialer {
        Dialer {
            transport: config.transport,
            host: config.host.clone(),
            port: config.port,
            timeout: config.send_timeout,
            tls,
        }
    }

    /// One connection attempt, bounded by the timeout.
    pub(crate) async fn connect(self) -> Result<(Conn, SocketAddr), ConnError> {
        match tokio::time::timeout(self.timeout, self.connect_unbounded()).await {
            Ok(result) => result,
            Err(_) => Err(ConnError::timeout("connect")),
        }
    }

    async fn connect_unbounded(self) -> Result<(Conn, SocketAddr), ConnError> {
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|error| ConnError::new(Fault::Network, "resolve", error))?
            .collect();
        let mut last_error =
            io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address");
        for address in addresses {
            match self.transport {
                RelayTransport::Udp => match connect_udp(address).await {
                    Ok(socket) => return Ok((Conn::Udp(socket), address)),
                    Err(error) => last_error = error,
                },
                RelayTransport::Tcp | RelayTransport::Tls => {
                    match TcpStream::connect(address).await {
                        Ok(stream) => {
                            set_keepalive(&stream).map_err(|error| {
                                ConnError::new(Fault::Internal, "keepalive", error)
                            })?;
                            let counted = Counted { stream, written: 0 };
                            let conn = match self.tls.as_ref().map(|slot| slot.load_full()) {
                                None => Conn::Tcp(counted),
                                Some(tls) => {
                                    let stream = tls
                                        .connector
                                        .connect(tls.server_name.clone(), counted)
                                        .await
                                        .map_err(|error| {
                                            ConnError::new(Fault::Downstream, "handshake", error)
                                        })?;
                                    Conn::Tls(Box::new(stream))
                                }
                            };
                            return Ok((conn, address));
                        }
                        Err(error) => last_error = error,
                    }
                }
                // Kafka sinks reach their brokers through librdkafka
                // (`kafka.rs`), never through a dialer.
                RelayTransport::Kafka => {
                    last_error = io::Error::new(
                        io::ErrorKind::Unsupported,
                        "kafka sinks connect through librdkafka",
                    );
                }
            }
        }
        let fault = if last_error.kind() == io::ErrorKind::ConnectionRefused {
            Fault::Downstream
        } else {
            Fault::Network
        };
        Err(ConnError::new(fault, "connect", last_error))
    }
}

async fn connect_udp(address: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = if address.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(address).await?;
    Ok(socket)
}

fn set_keepalive(stream: &TcpStream) -> io::Result<()> {
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(30))
        .with_interval(Duration::from_secs(10))
        .with_retries(3);
    socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive)
}
