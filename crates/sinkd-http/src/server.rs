//! The listener: accepting connections (plain or TLS), serving each with
//! hyper's HTTP/1 server, and routing a request to `/metrics`, `/healthz`
//! (503 with the reasons while a health check fails, such as the store
//! paused for lack of space) or the read API after the access rule.
//!
//! Bounds: at most [`MAX_CONNECTIONS`] connections at once, and
//! [`MAX_PER_ADDRESS`] from one address (more are closed on accept), a request head must arrive within
//! [`HEAD_TIMEOUT`], a TLS handshake within [`HANDSHAKE_TIMEOUT`].

use crate::access::{Access, Client, Verdict};
use crate::api;
use crate::body::{self, ResponseBody};
use crate::config::HttpConfig;
use crate::console;
use crate::error::HttpError;
use crate::stats::{DeviceActivity, ListingCache};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use jiff::tz::TimeZone;
use sinkd_metrics::Metrics;
use sinkd_proto::ReceiveTime;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

/// Connections served at once.
const MAX_CONNECTIONS: usize = 512;
/// Connections served at once from one address, so that one client cannot
/// take every slot (and lock out the health probe).
const MAX_PER_ADDRESS: usize = 64;
/// SSE follows at once (each holds a blocking thread polling the store).
const MAX_FOLLOWS: usize = 64;
/// Message listings read at once (more get 503).
const MAX_LISTINGS: usize = 16;
/// Time allowed for a request's head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the read API reads, and the clock it completes timestamps with.
pub struct Reading {
    /// The data directory of the running configuration.
    pub data_dir: PathBuf,
    /// The zone local times (`since=2026-12-04 10:00`) are read in.
    pub zone: TimeZone,
    /// Now, as the receivers complete timestamps without year or zone.
    pub now: Arc<dyn Fn() -> ReceiveTime + Send + Sync>,
    /// What the workers keep of the devices they saw since start.
    pub activity: Arc<dyn Fn() -> Vec<DeviceActivity> + Send + Sync>,
}

/// What every connection shares.
pub(crate) struct Site {
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) reading: Reading,
    access: Access,
    pub(crate) follows: Arc<Semaphore>,
    /// Message listings being read at once (each decompressing on a
    /// blocking thread).
    pub(crate) listings: Arc<Semaphore>,
    pub(crate) listing_cache: Arc<ListingCache>,
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// The bound, configured HTTP surface, ready to run.
pub struct HttpServer {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    access: Access,
}

impl HttpServer {
    /// Reads the token and TLS files and binds the address; every error
    /// names what failed.
    pub async fn bind(config: &HttpConfig) -> Result<HttpServer, HttpError> {
        let token = config.token_file.as_deref().map(read_token).transpose()?;
        let tls = config.tls.as_ref().map(crate::tls::acceptor).transpose()?;
        let client_certs = config
            .tls
            .as_ref()
            .is_some_and(|tls| tls.client_ca.is_some());
        let listener =
            TcpListener::bind(config.address)
                .await
                .map_err(|source| HttpError::Bind {
                    address: config.address,
                    source,
                })?;
        Ok(HttpServer {
            listener,
            tls,
            access: Access::new(token, client_certs),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` turns true; follows then end within a poll.
    pub async fn run(
        self,
        metrics: Arc<Metrics>,
        reading: Reading,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let site = Arc::new(Site {
            metrics,
            reading,
            access: self.access,
            follows: Arc::new(Semaphore::new(MAX_FOLLOWS)),
            listings: Arc::new(Semaphore::new(MAX_LISTINGS)),
            listing_cache: Arc::new(ListingCache::default()),
            shutdown: shutdown.clone(),
        });
        // The devices page's first answer need not wait for a listing.
        site.listing_cache
            .refresh_in_background(site.reading.data_dir.clone());
        let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let per_address = Arc::new(Mutex::new(HashMap::new()));
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                _ = shutdown.changed() => return,
            };
            let (stream, peer) = match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    tracing::warn!(%error, "http accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(share) = PerAddress::take(&per_address, peer.ip()) else {
                tracing::debug!(%peer, "http: too many connections from one address, closing one");
                continue;
            };
            let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
                tracing::debug!(%peer, "http: too many connections, closing one");
                continue;
            };
            let site = Arc::clone(&site);
            let tls = self.tls.clone();
            tokio::spawn(async move {
                connection(stream, peer, tls, site).await;
                drop((permit, share));
            });
        }
    }
}

/// One connection's share of its address's [`MAX_PER_ADDRESS`]; given
/// back on drop.
struct PerAddress {
    table: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl PerAddress {
    fn take(table: &Arc<Mutex<HashMap<IpAddr, usize>>>, ip: IpAddr) -> Option<PerAddress> {
        let mut counts = table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if *count >= MAX_PER_ADDRESS {
            return None;
        }
        *count += 1;
        Some(PerAddress {
            table: Arc::clone(table),
            ip,
        })
    }
}

impl Drop for PerAddress {
    fn drop(&mut self) {
        let mut counts = self
            .table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// The bearer token in `path`, surrounding whitespace removed; an empty
/// file, or one with spaces or control characters inside, is an error.
pub fn read_token(path: &Path) -> Result<Vec<u8>, HttpError> {
    let error = |reason: String| HttpError::File {
        role: "token file",
        path: path.to_owned(),
        reason,
    };
    let content = std::fs::read(path).map_err(|e| error(e.to_string()))?;
    let token = content.trim_ascii();
    if token.is_empty() {
        return Err(error(String::from("it is empty")));
    }
    if token.iter().any(|byte| !byte.is_ascii_graphic()) {
        return Err(error(String::from(
            "the token must be printable ASCII without spaces",
        )));
    }
    Ok(token.to_vec())
}

/// What the connection tells about its client.
#[derive(Clone, Copy)]
struct Peer {
    address: SocketAddr,
    verified_cert: bool,
}

async fn connection(
    stream: TcpStream,
    address: SocketAddr,
    tls: Option<TlsAcceptor>,
    site: Arc<Site>,
) {
    match tls {
        None => {
            let peer = Peer {
                address,
                verified_cert: false,
            };
            serve_http(stream, peer, site).await;
        }
        Some(acceptor) => {
            let stream =
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(error)) => {
                        tracing::debug!(%address, %error, "http TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%address, "http TLS handshake timed out");
                        return;
                    }
                };
            let verified_cert = stream
                .get_ref()
                .1
                .peer_certificates()
                .is_some_and(|chain| !chain.is_empty());
            let peer = Peer {
                address,
                verified_cert,
            };
            serve_http(stream, peer, site).await;
        }
    }
}

async fn serve_http<IO>(io: IO, peer: Peer, site: Arc<Site>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let site = Arc::clone(&site);
        async move { Ok::<_, Infallible>(respond(&site, &request, peer).await) }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .serve_connection(TokioIo::new(io), service)
        .await;
    if let Err(error) = served {
        tracing::debug!(peer = %peer.address, %error, "http connection ended");
    }
}

async fn respond(
    site: &Arc<Site>,
    request: &Request<Incoming>,
    peer: Peer,
) -> Response<ResponseBody> {
    let path = request.uri().path();
    let api = path == "/api" || path.starts_with("/api/");
    if request.method() != Method::GET {
        let mut response = if api {
            api::error(StatusCode::METHOD_NOT_ALLOWED, "only GET is served")
        } else {
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
        };
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    match path {
        "/metrics" => {
            let mut response = text(StatusCode::OK, site.metrics.encode());
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
        "/healthz" => healthz(&site.metrics),
        _ if console::serves(path) => match site.access.judge(client(request, peer)) {
            Verdict::LoopbackOnly => text(
                StatusCode::FORBIDDEN,
                "the console answers loopback clients only; configure [http] token_file or client_ca to open it to others\n",
            ),
            // The pages hold no logs; they ask for the token themselves.
            Verdict::Allowed | Verdict::Unauthenticated => console::respond(path, request.headers()),
        },
        _ if api => {
            match site.access.judge(client(request, peer)) {
                Verdict::Allowed => api::handle(site, request).await,
                Verdict::LoopbackOnly => api::error(
                    StatusCode::FORBIDDEN,
                    "the read API answers loopback clients only; configure [http] token_file or client_ca to open it to others",
                ),
                Verdict::Unauthenticated => {
                    let mut response = api::error(
                        StatusCode::UNAUTHORIZED,
                        "authentication required: a bearer token or a client certificate",
                    );
                    response.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Bearer realm=\"sinkd\""),
                    );
                    response
                }
            }
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /, /metrics, /healthz or /api/v1/devices\n",
        ),
    }
}

/// What the access rule judges of a request.
fn client(request: &Request<Incoming>, peer: Peer) -> Client<'_> {
    Client {
        ip: peer.address.ip(),
        verified_cert: peer.verified_cert,
        authorization: request
            .headers()
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes),
    }
}

/// `/healthz`: 200 `ok` while every health check passes (the store can
/// write), else 503 with one line per problem, so a probe and an operator
/// both learn why.
fn healthz(metrics: &Metrics) -> Response<ResponseBody> {
    let problems = metrics.health_problems();
    if problems.is_empty() {
        return text(StatusCode::OK, "ok\n");
    }
    let mut report = String::new();
    for problem in problems {
        report.push_str("unhealthy: ");
        report.push_str(&problem);
        report.push('\n');
    }
    text(StatusCode::SERVICE_UNAVAILABLE, report)
}

/// A plain-text answer.
fn text(status: StatusCode, content: impl Into<Bytes>) -> Response<ResponseBody> {
    let mut response = Response::new(body::full(content));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_gets_its_share_and_gives_it_back() {
        let table = Arc::new(Mutex::new(HashMap::new()));
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        let mut held: Vec<PerAddress> = (0..MAX_PER_ADDRESS)
            .map(|_| PerAddress::take(&table, ip).expect("within the share"))
            .collect();
        assert!(PerAddress::take(&table, ip).is_none());
        assert!(PerAddress::take(&table, "10.0.0.8".parse().unwrap()).is_some());
        held.pop();
        assert!(PerAddress::take(&table, ip).is_some());
        drop(held);
        assert!(table.lock().unwrap().is_empty());
    }
}
