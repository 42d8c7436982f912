//! sinkd's HTTP surface, served on the http address (the `metrics` key or
//! `[http]`): `GET /metrics` (Prometheus text format), `GET /healthz`, and
//! the read API under `/api/v1/`:
//!
//! - `GET /api/v1/devices`: every device (name, last modified, bytes,
//!   files);
//! - `GET /api/v1/devices/{device}`: its files;
//! - `GET /api/v1/devices/{device}/messages?file=&since=&until=&priority=
//!   &grep=&limit=`: the stored messages as a JSON array of `sinkd show
//!   --json` objects, oldest first (`limit` keeps the newest N);
//! - `GET /api/v1/devices/{device}/follow?file=&since=&priority=&grep=
//!   &tail=`: Server-Sent Events, one `data:` object per new message, its
//!   sequence number as the event id (a reconnecting client's
//!   `Last-Event-ID` resumes after it).
//!
//! - `GET /api/v1/devices/{device}/histogram?file=&since=&until=&priority=
//!   &grep=`: messages per minute by severity over at most a day;
//! - `GET /api/v1/stats/devices`: every device at a glance (last message,
//!   messages per minute and by severity, from what the workers keep).
//!
//! The web console ([`console`]) is served at `/` and `/devices/{device}`,
//! its files under `/console/`.
//!
//! Bad parameters get 400 and unknown devices or files 404, with a JSON
//! `{"error": ...}`. Who may use the read API is [`access`]'s rule.
//!
//! One hyper HTTP/1 connection per client on the collector's tokio
//! runtime; reading the store is blocking file I/O, so it runs on tokio's
//! blocking threads and streams through bounded channels ([`body`]).

mod access;
mod api;
mod body;
mod config;
mod console;
mod error;
mod server;
mod stats;
mod tls;

pub use config::{HttpConfig, HttpTlsConfig, DEFAULT_ADDRESS, DEFAULT_PORT};
pub use error::HttpError;
pub use server::{read_token, HttpServer, Reading};
pub use stats::DeviceActivity;
