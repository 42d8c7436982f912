//! The per-device segment store of sinkd: where file sinks put their lines.
//!
//! Every `file PATH` sink expands its [`PathTemplate`] per message into a
//! *stream path* (`router1/messages`); each stream is a directory of
//! append-only segments under `data_dir`, named by the sequence number of
//! their first line. The active segment is plain text, one message per line;
//! closed segments are zstd-compressed; a sparse index per segment maps time
//! and sequence numbers to byte offsets. The index is created lazily, with
//! its first record one interval into the segment or at rotation, so every
//! closed segment has one and a quiet device's active segment is a single
//! file. `docs/adr/0001-segment-layout.md` fixes the layout.
//!
//! This crate runs on its own OS threads and never on the async runtime:
//! fsync and compression can block for milliseconds. The pieces:
//!
//! - [`path`]: templates, [`sanitize_component`], and the guarantee that no
//!   field value can name a path outside `data_dir`.
//! - [`AppendBatch`]: lines for many streams in one arena, built without
//!   per-message allocation.
//! - [`Store`] / [`StoreWriter`]: writer threads (one per stream set, so
//!   order is kept per stream), bounded queues with blocking and non-blocking
//!   submission, rotation by size, count and age, a compressor thread, crash
//!   recovery, fsync policies, and [`StoreStats`] counters. A full disk (or
//!   free space below `min_free`) pauses the writers instead of dropping
//!   lines; [`StoreHealth`] says so and why.
//! - [`StreamReader`] and [`list_streams`]: reading back, across compressed
//!   and active segments, with index-based seeking; [`list_devices`] groups
//!   the streams by device for `sinkd dir` and `sinkd show`.
//! - [`hint::prefetch`]: the cache prefetch the writer threads use, shared
//!   with the other stages.
//!
//! ```
//! use sinkd_store::{AppendBatch, Store, StoreConfig, StreamReader};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let store = Store::open(StoreConfig::new(dir.path()))?;
//! let writer = store.writer();
//! let mut batch = AppendBatch::new();
//! batch.push("router1/messages", 1_700_000_000_000_000, b"<13>Nov 14 22:13:20 router1 hello");
//! writer.submit(batch)?;
//! store.shutdown()?;
//!
//! let mut reader = StreamReader::open(dir.path(), "router1/messages")?;
//! let (seq, line) = reader.next_line()?.unwrap();
//! assert_eq!((seq, line), (1, &b"<13>Nov 14 22:13:20 router1 hello"[..]));
//! # Ok(())
//! # }
//! ```

mod batch;
mod beneath;
mod chunks;
mod compress;
mod config;
mod devices;
mod error;
mod fdcache;
mod health;
pub mod hint;
mod key;
mod layout;
pub mod path;
mod read_ahead;
mod reader;
mod recover;
mod segment;
mod stats;
mod store;
mod syncer;
mod sys;
mod warnings;
mod writer;

pub use batch::{AppendBatch, Completion};
pub use beneath::{escape, Beneath, How};
pub use config::{
    files_allowed, FsyncPolicy, MinFree, SpaceFn, SpaceProbe, StoreConfig, WriteObserver,
};
pub use devices::{find_device, list_devices, DeviceFile, DeviceInfo};
pub use error::{StoreError, SubmitError, TemplateError, TrySubmitError};
pub use health::{PauseReason, StoreHealth};
pub use path::{
    sanitize_component, sanitize_component_bytes, validate_stream_path, Field, PathTemplate,
    TemplateFields,
};
pub use reader::{
    list_device_streams, list_streams, ReadWarning, StreamInfo, StreamReader,
    RECEIVE_TIME_MARGIN_MICROS,
};
pub use stats::{StoreStats, StoreStatsSnapshot};
pub use store::{Store, StoreWriter};
