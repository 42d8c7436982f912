//! `data_dir` and the `[storage]` table into `sinkd-store`'s
//! [`StoreConfig`], starting from the store's defaults
//! ([`StoreConfig::new`]): rotation, fsync policy, flushing, memory and
//! descriptor budgets, compression, writer threads, `min_free`, and when
//! idle streams are let go.

use super::Checker;
use crate::model::ConfigError;
use crate::raw::RawStorage;
use crate::units::{self, SizeOrPercent};
use sinkd_store::{FsyncPolicy, MinFree, StoreConfig};
use std::path::PathBuf;

/// Smallest `rotate_size`; smaller settings are raised to it.
const MIN_ROTATE_SIZE: u64 = 4096;

pub(super) fn check_storage(
    checker: &Checker<'_>,
    raw: &RawStorage,
    data_dir: PathBuf,
) -> Result<StoreConfig, ConfigError> {
    let mut config = StoreConfig::new(data_dir);
    if let Some(text) = &raw.fsync {
        config.fsync = match text.get_ref().as_str() {
            "never" => FsyncPolicy::Never,
            "batch" => FsyncPolicy::EveryBatch,
            other => units::parse_duration(other)
                .map(FsyncPolicy::Interval)
                .map_err(|_| {
                    checker.invalid(
                        text.span(),
                        format!("fsync {other:?}: expected \"never\", \"batch\" or an interval such as \"1s\""),
                    )
                })?,
        };
    }
    if let Some(level) = &raw.compression_level {
        if !(1..=19).contains(level.get_ref()) {
            return Err(checker.invalid(level.span(), "compression_level must be 1 to 19 (zstd)"));
        }
        config.compression_level = *level.get_ref();
    }
    if let Some(size) = raw.rotate_size {
        config.segment_max_bytes = size.0.max(MIN_ROTATE_SIZE);
    }
    if let Some(count) = raw.rotate_count {
        config.segment_max_count = count;
    }
    if let Some(age) = raw.rotate_age {
        config.segment_max_age = Some(age.0);
    }
    if let Some(idle) = raw.stream_idle_timeout {
        config.stream_idle_timeout = (!idle.0.is_zero()).then_some(idle.0);
    }
    if let Some(interval) = raw.flush_interval {
        config.flush_interval = interval.0;
    }
    if let Some(files) = &raw.max_open_files {
        config.max_open_files = *files.get_ref();
    }
    if let Some(size) = raw.max_buffered {
        config.max_buffered_bytes = usize::try_from(size.0).unwrap_or(usize::MAX);
    }
    if let Some(threads) = &raw.writer_threads {
        config.writer_threads = *threads.get_ref();
    }
    if let Some(threads) = &raw.compress_threads {
        if *threads.get_ref() > 256 {
            return Err(checker.invalid(threads.span(), "compress_threads must be at most 256"));
        }
        config.compress_threads = *threads.get_ref();
    }
    if let Some(min_free) = raw.min_free {
        config.min_free = match min_free {
            SizeOrPercent::Bytes(bytes) => MinFree::bytes(bytes),
            SizeOrPercent::Percent(percent) => MinFree::percent(percent),
        };
    }
    Ok(config)
}
