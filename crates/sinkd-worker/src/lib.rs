//! The per-core workers: where a received frame becomes a stored line.
//!
//! Listeners (`sinkd-listen`) hand [`RawBatch`]es to one bounded queue per
//! worker. A [`Worker`] thread takes a batch, parses every frame with
//! `sinkd-proto`, picks the device key (the message's hostname, else the
//! source address), asks each sink's compiled `PriorityTable` whether it
//! wants the message, and formats the message straight into an
//! `AppendBatch` for the store (`sinkd-store`), which it submits once per
//! batch. Submitting blocks while the store is behind; the worker then stops
//! taking batches, its queue fills, and TCP readers stop reading — that is
//! the backpressure chain of design.md §2.
//!
//! Relay sinks get the message in their format as it goes on the wire
//! (unescaped), in one `RelayBatch` per relay per batch, handed to the
//! relay with a non-blocking `offer`: a slow relay target never slows a
//! worker (`sinkd-relay` spills to disk instead, and counts what it cannot
//! keep).
//!
//! The sinks a worker routes to are a [`Routes`] snapshot behind an
//! `ArcSwap`: a SIGHUP builds new routes and swaps them in between two
//! batches, without stopping anything. Counters are summed per batch and
//! added to the shared metrics once.

mod devices;
mod routes;
mod worker;
mod zone;

pub use devices::{DeviceSet, MAX_TRACKED_DEVICES};
pub use routes::{RouteError, Routes};
pub use worker::{SharedRoutes, Worker};
pub use zone::LocalZone;

pub use sinkd_listen::RawBatch;
