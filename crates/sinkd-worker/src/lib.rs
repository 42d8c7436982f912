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
//! the backpressure chain of docs/ARCHITECTURE.md ("Threads, queues and
//! their bounds").
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
//!
//! This crate owns the settings of its stage: [`WorkerConfig`] (the
//! `workers` key) and the sinks ([`SinkConfig`], [`Target`]), which
//! `sinkd-config` fills from the TOML file.

mod devices;
mod routes;
mod worker;
mod zone;

pub use devices::{Activity, DeviceSet, MAX_LAST_SEEN_DEVICES, MAX_TRACKED_DEVICES, SEVERITIES};
pub use routes::{RouteError, Routes, SinkConfig, SinkFormat, Target};
pub use worker::{SharedRoutes, Worker};
pub use zone::LocalZone;

pub use sinkd_listen::RawBatch;

/// Batches that may wait in each worker's queue before the listeners wait
/// too: a TCP/TLS connection stops reading (the sender feels TCP
/// backpressure), a UDP receive thread stops reading and datagrams queue in
/// its socket buffer.
pub const DEFAULT_QUEUE_BATCHES: usize = 32;

/// The worker pool's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Worker threads; 0 (the default) means one per CPU the process may
    /// use.
    pub threads: usize,
    /// Batches each worker's queue holds.
    pub queue_batches: usize,
}

impl Default for WorkerConfig {
    fn default() -> WorkerConfig {
        WorkerConfig {
            threads: 0,
            queue_batches: DEFAULT_QUEUE_BATCHES,
        }
    }
}

impl WorkerConfig {
    /// The number of worker threads to start.
    pub fn resolved_threads(&self) -> usize {
        if self.threads == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            self.threads
        }
    }
}
