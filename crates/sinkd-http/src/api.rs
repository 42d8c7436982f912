//! The read API's endpoints under `/api/v1/`. Each one reads the store on
//! a blocking thread: the lookup, the query and the reader's start are
//! settled first, so a bad parameter or an unknown name is a 400 or 404
//! with a JSON `error`; only then does the listing (or the follow) stream.

use crate::body::{self, ResponseBody};
use crate::server::Site;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde::Serialize;
use sinkd_proto::ReceiveTime;
use sinkd_read::{DeviceView, FileView, Form, LookupError, Query, QueryText, ScanError};
use sinkd_store::{list_devices, DeviceInfo, StoreError, StreamReader};
use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

/// The largest `limit` (and follow `tail`): the newest N are kept in
/// memory until the scan ends.
const MAX_LIMIT: usize = 100_000;
/// The widest range a histogram counts.
const MAX_HISTOGRAM_RANGE: i64 = 24 * 3600 * 1_000_000;
/// The range a histogram counts without `since`.
const DEFAULT_HISTOGRAM_SINCE: &str = "1h";
/// Most lines a histogram reads (it says when it stopped there).
const MAX_HISTOGRAM_LINES: u64 = 5_000_000;
/// Bytes gathered before a piece goes to the connection.
const PIECE: usize = 64 * 1024;
/// How often a follow looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(200);
/// A response whose client has read nothing for this long is abandoned.
const STALLED: Duration = Duration::from_secs(30);
/// How often a full response channel is looked at again.
const SEND_RETRY: Duration = Duration::from_millis(20);
/// A comment line is sent when a follow has been quiet this long, so
/// proxies keep the stream and a gone client is noticed.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// A failed request: its status and message.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::warn!(%error, "read API");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: error.to_string(),
        }
    }
}

impl From<LookupError> for ApiError {
    fn from(error: LookupError) -> ApiError {
        match error {
            LookupError::NoDefaultFile(message) => ApiError::bad_request(message),
            LookupError::UnknownDevice(message) | LookupError::UnknownFile(message) => {
                ApiError::not_found(message)
            }
        }
    }
}

/// A JSON `{"error": message}` answer.
pub(crate) fn error(status: StatusCode, message: &str) -> Response<ResponseBody> {
    #[derive(Serialize)]
    struct ErrorView<'a> {
        error: &'a str,
    }
    let body = serde_json::to_vec(&ErrorView { error: message }).unwrap_or_default();
    json_response(status, body::full(body))
}

fn json_response(status: StatusCode, body: ResponseBody) -> Response<ResponseBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Routes a request the access rule let through.
pub(crate) async fn handle(
    site: &Arc<Site>,
    request: &Request<Incoming>,
) -> Response<ResponseBody> {
    let answered = route(site, request).await;
    answered.unwrap_or_else(|failure| error(failure.status, &failure.message))
}

async fn route(
    site: &Arc<Site>,
    request: &Request<Incoming>,
) -> Result<Response<ResponseBody>, ApiError> {
    let path = request.uri().path();
    let query = request.uri().query();
    let parts: Vec<&str> = path
        .strip_prefix("/api/v1/")
        .unwrap_or_default()
        .split('/')
        .collect();
    match parts.as_slice() {
        ["devices"] | ["devices", ""] => {
            params(query, &[])?;
            devices(site).await
        }
        ["devices", device] => {
            params(query, &[])?;
            files(site, decode(device)?).await
        }
        ["devices", device, "messages"] => {
            let params = params(
                query,
                &["file", "since", "until", "priority", "grep", "limit"],
            )?;
            messages(site, decode(device)?, params).await
        }
        ["devices", device, "histogram"] => {
            let params = params(query, &["file", "since", "until", "priority", "grep"])?;
            histogram(site, decode(device)?, params).await
        }
        ["stats", "devices"] => {
            params(query, &[])?;
            device_stats(site).await
        }
        ["devices", device, "follow"] => {
            let params = params(query, &["file", "since", "priority", "grep", "tail"])?;
            let last_event_id = request
                .headers()
                .get("last-event-id")
                .map(|value| {
                    value
                        .to_str()
                        .ok()
                        .and_then(|text| text.trim().parse::<u64>().ok())
                        .ok_or_else(|| {
                            ApiError::bad_request("Last-Event-ID is not a sequence number")
                        })
                })
                .transpose()?;
            follow(site, decode(device)?, params, last_event_id).await
        }
        _ => Err(ApiError::not_found(format!(
            "no endpoint {path}; there are /api/v1/devices, /api/v1/devices/DEVICE, \
             /api/v1/devices/DEVICE/messages, /api/v1/devices/DEVICE/follow, \
             /api/v1/devices/DEVICE/histogram and /api/v1/stats/devices"
        ))),
    }
}

/// A percent-decoded path segment.
fn decode(segment: &str) -> Result<String, ApiError> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| ApiError::bad_request("the device name is not UTF-8"))
}

/// The query string's parameters, each at most once and each one of
/// `allowed`.
fn params(query: Option<&str>, allowed: &[&str]) -> Result<BTreeMap<String, String>, ApiError> {
    let mut found = BTreeMap::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if !allowed.contains(&name.as_ref()) {
            return Err(ApiError::bad_request(if allowed.is_empty() {
                format!("unknown parameter {name:?}: this endpoint takes none")
            } else {
                format!(
                    "unknown parameter {name:?}; this endpoint takes {}",
                    allowed.join(", ")
                )
            }));
        }
        if found
            .insert(name.clone().into_owned(), value.into_owned())
            .is_some()
        {
            return Err(ApiError::bad_request(format!(
                "parameter {name:?} is given twice"
            )));
        }
    }
    Ok(found)
}

/// A count parameter: a number from 0 to [`MAX_LIMIT`].
fn count(params: &BTreeMap<String, String>, name: &str) -> Result<Option<usize>, ApiError> {
    params
        .get(name)
        .map(|text| match text.parse::<usize>() {
            Ok(n) if n <= MAX_LIMIT => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "{name} {text:?}: expected a number from 0 to {MAX_LIMIT}"
            ))),
        })
        .transpose()
}

/// One of the `what` that may run at once, or 503.
fn take_slot(slots: &Arc<Semaphore>, what: &str) -> Result<OwnedSemaphorePermit, ApiError> {
    Arc::clone(slots).try_acquire_owned().map_err(|_| ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: format!("too many {what} at once; try again later"),
    })
}

/// Runs `work` on a blocking thread.
async fn blocking<T, F>(work: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)?
}

/// Every device; a data directory not made yet has none.
fn all_devices(site: &Site) -> Result<Vec<DeviceInfo>, ApiError> {
    no_dir_is_empty(list_devices(&site.reading.data_dir))
}

/// The devices a lookup of `target` needs (see `sinkd_read::candidates`).
fn candidates(site: &Site, target: &str) -> Result<Vec<DeviceInfo>, ApiError> {
    no_dir_is_empty(sinkd_read::candidates(&site.reading.data_dir, target))
}

fn no_dir_is_empty(
    listed: Result<Vec<DeviceInfo>, StoreError>,
) -> Result<Vec<DeviceInfo>, ApiError> {
    match listed {
        Ok(devices) => Ok(devices),
        Err(StoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            Ok(Vec::new())
        }
        Err(error) => Err(ApiError::internal(error)),
    }
}

async fn devices(site: &Arc<Site>) -> Result<Response<ResponseBody>, ApiError> {
    let site = Arc::clone(site);
    let json = blocking(move || {
        let devices = all_devices(&site)?;
        let views: Vec<DeviceView<'_>> = devices.iter().map(DeviceView::new).collect();
        serde_json::to_vec(&views).map_err(ApiError::internal)
    })
    .await?;
    Ok(json_response(StatusCode::OK, body::full(json)))
}

async fn device_stats(site: &Arc<Site>) -> Result<Response<ResponseBody>, ApiError> {
    // Until the first listing is kept, a request lists the whole store:
    // it takes a listing slot like the other listings.
    let permit = take_slot(&site.listings, "listings")?;
    let site = Arc::clone(site);
    let json = blocking(move || {
        let _permit = permit;
        let listing = site
            .listing_cache
            .get(&site.reading.data_dir)
            .map_err(ApiError::internal)?;
        let activity = (site.reading.activity)();
        let now = (site.reading.now)()
            .local
            .unix_micros()
            .div_euclid(1_000_000);
        Ok(crate::stats::answer(&listing, &activity, now))
    })
    .await?;
    Ok(json_response(StatusCode::OK, body::full(json)))
}

/// Messages per minute by severity over `since` (default an hour ago) to
/// `until` (default now), at most [`MAX_HISTOGRAM_RANGE`] apart.
async fn histogram(
    site: &Arc<Site>,
    device: String,
    mut params: BTreeMap<String, String>,
) -> Result<Response<ResponseBody>, ApiError> {
    params
        .entry(String::from("since"))
        .or_insert_with(|| String::from(DEFAULT_HISTOGRAM_SINCE));
    let permit = take_slot(&site.listings, "listings")?;
    let site = Arc::clone(site);
    let json = blocking(move || {
        let _permit = permit;
        let received = (site.reading.now)();
        let mut prepared = prepare(&site, &device, &params)?;
        let from = prepared.query.since().unwrap_or_default();
        let until = prepared
            .query
            .until()
            .unwrap_or_else(|| received.local.unix_micros() + 1);
        if until <= from {
            return Err(ApiError::bad_request("until must be later than since"));
        }
        if until - from > MAX_HISTOGRAM_RANGE {
            return Err(ApiError::bad_request(
                "the range from since to until is at most 24 hours",
            ));
        }
        sinkd_read::start(&mut prepared.reader, &prepared.query).map_err(ApiError::internal)?;
        let stop = || *site.shutdown.borrow();
        let counted = sinkd_read::per_minute(
            &mut prepared.reader,
            &prepared.query,
            &received,
            (from, until),
            MAX_HISTOGRAM_LINES,
            &stop,
        );
        log_damage(&mut prepared.reader);
        let counted = counted.map_err(|error| match error {
            ScanError::Store(error) => ApiError::internal(error),
            ScanError::Emit(error) => ApiError::internal(error),
        })?;
        #[derive(Serialize)]
        struct Answer {
            /// The first minute's start, RFC 3339, UTC.
            first_minute: String,
            counts: Vec<[u64; 8]>,
            /// Every line was read (else the line bound stopped it).
            complete: bool,
        }
        let first_minute = jiff::Timestamp::from_second(counted.first_minute * 60)
            .map(|at| at.to_string())
            .unwrap_or_default();
        serde_json::to_vec(&Answer {
            first_minute,
            counts: counted.counts,
            complete: counted.complete,
        })
        .map_err(ApiError::internal)
    })
    .await?;
    Ok(json_response(StatusCode::OK, body::full(json)))
}

async fn files(site: &Arc<Site>, device: String) -> Result<Response<ResponseBody>, ApiError> {
    let site = Arc::clone(site);
    let json = blocking(move || {
        let devices = candidates(&site, &device)?;
        let device = sinkd_read::find_device(&devices, &device)?;
        let views: Vec<FileView<'_>> = device.files.iter().map(FileView::new).collect();
        serde_json::to_vec(&views).map_err(ApiError::internal)
    })
    .await?;
    Ok(json_response(StatusCode::OK, body::full(json)))
}

/// A read ready to stream: the reader at its start and what it needs.
struct Prepared {
    reader: StreamReader,
    query: Query,
    device: String,
    /// Where a follow without a start of its own begins: after the newest
    /// line the listing saw.
    end_seq: u64,
}

/// Finds the file, compiles the filters and opens the reader.
fn prepare(
    site: &Site,
    device: &str,
    params: &BTreeMap<String, String>,
) -> Result<Prepared, ApiError> {
    let received = (site.reading.now)();
    let text = |name: &str| params.get(name).map(String::as_str);
    let query = QueryText {
        since: text("since"),
        until: text("until"),
        priority: text("priority"),
        grep: text("grep"),
    }
    .compile(received.local.unix_micros(), &site.reading.zone)
    .map_err(|error| ApiError::bad_request(error.to_string()))?;
    let target = match text("file") {
        Some(file) => format!("{device}/{file}"),
        None => device.to_owned(),
    };
    let devices = candidates(site, &target)?;
    let (device_name, file) = sinkd_read::find_file(&devices, &target)?;
    let reader = StreamReader::open(&site.reading.data_dir, &file.stream.path).map_err(
        |error| match &error {
            StoreError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                ApiError::not_found(format!("{target}: removed while it was being opened"))
            }
            _ => ApiError::internal(error),
        },
    )?;
    Ok(Prepared {
        reader,
        query,
        device: device_name.to_owned(),
        end_seq: file
            .stream
            .last_seq
            .map_or(file.stream.first_seq, |last| last + 1),
    })
}

async fn messages(
    site: &Arc<Site>,
    device: String,
    params: BTreeMap<String, String>,
) -> Result<Response<ResponseBody>, ApiError> {
    let limit = count(&params, "limit")?;
    let permit = take_slot(&site.listings, "listings")?;
    let prepared = {
        let site = Arc::clone(site);
        blocking(move || {
            let mut prepared = prepare(&site, &device, &params)?;
            sinkd_read::start(&mut prepared.reader, &prepared.query).map_err(ApiError::internal)?;
            Ok(prepared)
        })
        .await?
    };
    let (sender, body) = body::channel();
    let now = Arc::clone(&site.reading.now);
    let stop = site.shutdown.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        list(prepared, limit, &now(), (&sender, &stop));
    });
    Ok(json_response(StatusCode::OK, body))
}

/// Hands `piece` to the connection, waiting while its channel is full —
/// but not for a client that stopped reading and keeps its connection
/// open: after [`STALLED`] without room, or once the server stops, the
/// response is abandoned (an error, as for a client gone).
fn send_or_give_up(
    sender: &mpsc::Sender<io::Result<Bytes>>,
    piece: io::Result<Bytes>,
    stop: &watch::Receiver<bool>,
) -> io::Result<()> {
    let gone = || io::Error::from(io::ErrorKind::BrokenPipe);
    let deadline = Instant::now() + STALLED;
    let mut piece = piece;
    loop {
        match sender.try_send(piece) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(gone()),
            Err(mpsc::error::TrySendError::Full(back)) => {
                if Instant::now() >= deadline || *stop.borrow() {
                    return Err(gone());
                }
                piece = back;
                std::thread::sleep(SEND_RETRY);
            }
        }
    }
}

/// Gathers bytes and hands them to the connection a piece at a time.
struct Pieces<'a> {
    sender: &'a mpsc::Sender<io::Result<Bytes>>,
    stop: &'a watch::Receiver<bool>,
    gathered: Vec<u8>,
}

impl<'a> Pieces<'a> {
    fn new(
        sender: &'a mpsc::Sender<io::Result<Bytes>>,
        stop: &'a watch::Receiver<bool>,
    ) -> Pieces<'a> {
        Pieces {
            sender,
            stop,
            gathered: Vec::with_capacity(PIECE),
        }
    }

    /// Sends what is gathered once it is a piece, or now with `force`;
    /// an error means the client went away.
    fn send(&mut self, force: bool) -> io::Result<()> {
        if self.gathered.is_empty() || (!force && self.gathered.len() < PIECE) {
            return Ok(());
        }
        let piece = Bytes::from(std::mem::replace(
            &mut self.gathered,
            Vec::with_capacity(PIECE),
        ));
        send_or_give_up(self.sender, Ok(piece), self.stop)
    }

    /// Ends the response abruptly, so the client sees it cut.
    fn fail(self, error: &StoreError) {
        tracing::warn!(%error, "read API: reading stopped");
        let _ = self
            .sender
            .blocking_send(Err(io::Error::other(error.to_string())));
    }
}

/// Streams the JSON array of the matching messages.
fn list(
    mut prepared: Prepared,
    limit: Option<usize>,
    received: &ReceiveTime,
    (sender, stop): (&mpsc::Sender<io::Result<Bytes>>, &watch::Receiver<bool>),
) {
    let mut pieces = Pieces::new(sender, stop);
    pieces.gathered.push(b'[');
    let mut first = true;
    let mut emit = |_seq: u64, line: &[u8]| {
        pieces
            .gathered
            .extend_from_slice(if first { b"\n" } else { b",\n" });
        first = false;
        pieces.gathered.extend_from_slice(line);
        pieces.send(false)
    };
    let scanned = sinkd_read::scan(
        &mut prepared.reader,
        &prepared.query,
        Form::Json,
        (&prepared.device, received),
        limit,
        (&mut emit, &|| sender.is_closed() || *stop.borrow()),
    );
    log_damage(&mut prepared.reader);
    match scanned {
        Ok(_) => {
            pieces.gathered.extend_from_slice(b"\n]\n");
            let _ = pieces.send(true);
        }
        Err(ScanError::Emit(_)) => {}
        Err(ScanError::Store(error)) => pieces.fail(&error),
    }
}

/// Logs the damaged files the reader went past.
fn log_damage(reader: &mut StreamReader) {
    for warning in reader.take_warnings() {
        tracing::warn!(%warning, "read API: damaged file skipped");
    }
}

async fn follow(
    site: &Arc<Site>,
    device: String,
    params: BTreeMap<String, String>,
    last_event_id: Option<u64>,
) -> Result<Response<ResponseBody>, ApiError> {
    let tail = count(&params, "tail")?;
    let permit = take_slot(&site.follows, "follows")?;
    let prepared = {
        let site = Arc::clone(site);
        let since = params.contains_key("since");
        blocking(move || {
            let mut prepared = prepare(&site, &device, &params)?;
            let reader = &mut prepared.reader;
            let started = match last_event_id {
                Some(seen) => reader.seek_seq(seen.saturating_add(1)),
                None if since => sinkd_read::start(reader, &prepared.query),
                None if tail.is_some() => Ok(()),
                None => reader.seek_seq(prepared.end_seq),
            };
            started.map_err(ApiError::internal)?;
            Ok(prepared)
        })
        .await?
    };
    let (sender, body) = body::channel();
    let site = Arc::clone(site);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let backlog = if last_event_id.is_some() { None } else { tail };
        stream_events(&site, prepared, backlog, &sender);
    });
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// Appends one SSE event carrying `line`'s JSON object, with `seq` as id.
fn push_event(out: &mut Vec<u8>, seq: u64, json: &[u8]) {
    out.extend_from_slice(b"id: ");
    out.extend_from_slice(seq.to_string().as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(json);
    out.extend_from_slice(b"\n\n");
}

/// The follow loop: the backlog (`tail`: the last N that pass), then new
/// lines every [`FOLLOW_POLL`], until the client goes or the server stops.
fn stream_events(
    site: &Site,
    mut prepared: Prepared,
    tail: Option<usize>,
    sender: &mpsc::Sender<io::Result<Bytes>>,
) {
    let mut pieces = Pieces::new(sender, &site.shutdown);
    let mut last_sent = Instant::now();
    let mut backlog = tail;
    let stop = || sender.is_closed() || *site.shutdown.borrow();
    // The stream's headers go out at once, before anything matches.
    pieces.gathered.extend_from_slice(b": following\n\n");
    loop {
        let received = (site.reading.now)();
        let mut emit = |seq: u64, json: &[u8]| {
            push_event(&mut pieces.gathered, seq, json);
            pieces.send(false)
        };
        // The first round gives the backlog (its last N with `tail`),
        // every later one what arrived since.
        let scanned = sinkd_read::scan(
            &mut prepared.reader,
            &prepared.query,
            Form::Json,
            (&prepared.device, &received),
            backlog.take(),
            (&mut emit, &stop),
        );
        match scanned {
            Ok(_) => {}
            Err(ScanError::Emit(_)) => return,
            Err(ScanError::Store(error)) => return pieces.fail(&error),
        }
        for warning in prepared.reader.take_warnings() {
            let json = serde_json::json!({ "warning": warning.to_string() });
            pieces.gathered.extend_from_slice(b"event: warning\ndata: ");
            pieces
                .gathered
                .extend_from_slice(json.to_string().as_bytes());
            pieces.gathered.extend_from_slice(b"\n\n");
        }
        if pieces.gathered.is_empty() && last_sent.elapsed() >= KEEP_ALIVE {
            pieces.gathered.extend_from_slice(b": keep-alive\n\n");
        }
        if !pieces.gathered.is_empty() {
            if pieces.send(true).is_err() {
                return;
            }
            last_sent = Instant::now();
        }
        std::thread::sleep(FOLLOW_POLL);
        if stop() {
            return;
        }
    }
}
