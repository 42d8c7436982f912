//! Reading what sinkd stored, the part `sinkd show`/`follow`/`dir` and the
//! HTTP read API share. The store (`sinkd-store`) owns the layout and reads
//! lines back ([`sinkd_store::StreamReader`]); this crate puts a device's
//! view on top:
//!
//! - [`lookup`]: a device or `DEVICE/FILE` by name, and the "unknown name"
//!   answer that lists the existing names closest first;
//! - [`query`]: the filters (`since`, `until`, `priority` in the device's
//!   expression syntax, `grep`) compiled once, judged per line;
//! - [`view`]: a stored line as printed, or as its JSON object (the keys of
//!   `sinkd parse` plus `device`);
//! - [`scan`]: running a query over a reader, everything or the last N;
//! - [`histogram`]: messages per minute by severity over a time range.
//!
//! No sockets, no terminal: errors are values that the command line turns
//! into exit codes and the HTTP API into status codes.

pub mod histogram;
pub mod lookup;
pub mod query;
pub mod scan;
pub mod view;

pub use histogram::{per_minute, PerMinute};
pub use lookup::{candidates, find_device, find_file, LookupError};
pub use query::{Query, QueryError, QueryText};
pub use scan::{scan, start, ScanError, Scanned};
pub use view::{render, write_json, DeviceView, FileView, Form, LineView, MessageView};
