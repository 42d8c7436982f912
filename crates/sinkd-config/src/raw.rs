//! The configuration exactly as written: serde structs mirroring the TOML
//! keys, with spans kept on every value that is checked after parsing.
//!
//! `deny_unknown_fields` everywhere makes a misspelled key an error with its
//! line. Values whose syntax serde can check (sizes, durations, numbers) are
//! checked here; values that need context (priority expressions need the
//! templates, targets need their transport) stay strings with spans and are
//! checked in `lib.rs`.

use crate::units::{ByteSize, HumanDuration, SizeOrPercent};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub(crate) data_dir: Option<Spanned<String>>,
    pub(crate) metrics: Option<Spanned<String>>,
    pub(crate) user: Option<Spanned<String>>,
    pub(crate) group: Option<Spanned<String>>,
    pub(crate) workers: Option<Spanned<usize>>,
    pub(crate) max_input_buffered: Option<Spanned<ByteSize>>,
    #[serde(default)]
    pub(crate) listen: Vec<Spanned<RawListen>>,
    #[serde(default)]
    pub(crate) templates: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub(crate) sink: Vec<Spanned<RawSink>>,
    #[serde(default)]
    pub(crate) storage: RawStorage,
    pub(crate) http: Option<Spanned<RawHttp>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp {
    pub(crate) address: Option<Spanned<String>>,
    pub(crate) token_file: Option<Spanned<String>>,
    pub(crate) cert: Option<Spanned<String>>,
    pub(crate) key: Option<Spanned<String>>,
    pub(crate) client_ca: Option<Spanned<String>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawListen {
    pub(crate) transport: Spanned<String>,
    pub(crate) address: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) allow: Vec<Spanned<String>>,
    pub(crate) recv_buffer: Option<ByteSize>,
    pub(crate) batch_size: Option<Spanned<usize>>,
    pub(crate) threads: Option<Spanned<usize>>,
    pub(crate) framing: Option<Spanned<String>>,
    pub(crate) max_frame: Option<Spanned<ByteSize>>,
    pub(crate) idle_timeout: Option<HumanDuration>,
    pub(crate) max_connections: Option<Spanned<usize>>,
    pub(crate) max_connections_per_source: Option<Spanned<usize>>,
    pub(crate) handshake_timeout: Option<Spanned<HumanDuration>>,
    pub(crate) rate_limit: Option<Spanned<String>>,
    pub(crate) rate_burst: Option<Spanned<usize>>,
    pub(crate) cert: Option<Spanned<String>>,
    pub(crate) key: Option<Spanned<String>>,
    pub(crate) client_ca: Option<Spanned<String>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSink {
    pub(crate) name: Option<Spanned<String>>,
    pub(crate) target: Spanned<String>,
    pub(crate) priority: Option<Spanned<String>>,
    pub(crate) format: Option<Spanned<String>>,
    // Relay sinks only (`udp|tcp|tls address ...`); checked in lib.rs.
    pub(crate) framing: Option<Spanned<String>>,
    pub(crate) ca: Option<Spanned<String>>,
    pub(crate) cert: Option<Spanned<String>>,
    pub(crate) key: Option<Spanned<String>>,
    pub(crate) server_name: Option<Spanned<String>>,
    pub(crate) queue_memory: Option<Spanned<usize>>,
    pub(crate) queue_disk: Option<Spanned<ByteSize>>,
    pub(crate) overflow: Option<Spanned<String>>,
    pub(crate) send_timeout: Option<Spanned<HumanDuration>>,
    // Kafka sinks only (`kafka address ... topic ...`).
    pub(crate) compression: Option<Spanned<String>>,
    pub(crate) linger: Option<Spanned<HumanDuration>>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStorage {
    pub(crate) rotate_size: Option<ByteSize>,
    pub(crate) rotate_count: Option<usize>,
    pub(crate) rotate_age: Option<HumanDuration>,
    pub(crate) stream_idle_timeout: Option<HumanDuration>,
    pub(crate) fsync: Option<Spanned<String>>,
    pub(crate) flush_interval: Option<HumanDuration>,
    pub(crate) max_open_files: Option<Spanned<usize>>,
    pub(crate) max_buffered: Option<ByteSize>,
    pub(crate) compression_level: Option<Spanned<i32>>,
    pub(crate) writer_threads: Option<Spanned<usize>>,
    pub(crate) compress_threads: Option<Spanned<usize>>,
    pub(crate) min_free: Option<SizeOrPercent>,
}
