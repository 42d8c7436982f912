//! Bringing a stream directory back to a consistent state when a writer
//! thread first touches the stream after a start (or after a write error).
//!
//! After `kill -9` or a power cut, the active segment may end in a torn
//! line and its index may lag behind the text or point past it. Recovery:
//!
//! 1. finds the active segment: the newest one that has a `.log` and no
//!    `.log.zst`;
//! 2. cuts everything after its last `\n` (a torn line), and fsyncs the cut;
//! 3. keeps the index records that still describe complete lines, and
//!    rebuilds records for the lines after them (with an unknown timestamp,
//!    `i64::MAX`, which keeps the index's promise);
//! 4. continues the sequence: next seq = the last record's seq + the lines
//!    after it.
//!
//! The index is lazy (see `writer/index.rs`): an active segment in which
//! no line starts `index_interval_bytes` in has no `N.idx`, and recovery
//! does not create one for it. Its creation time then comes from the
//! `.log`'s birth time (its modification time where the filesystem keeps
//! none).
//!
//! Older segments still in `.log` form are reported so the compressor can
//! (re)compress them; half-written compression temp files are the
//! compressor's to remove. Nothing here runs on the hot path.

use crate::beneath::{Beneath, How};
use crate::error::StoreError;
use crate::layout::{self, FileKind, IndexHeader, IndexRecord, INDEX_HEADER_LEN, INDEX_RECORD_LEN};
use crate::segment::{self, SegmentFiles};
use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::UNIX_EPOCH;

#[cfg(test)]
mod tests;

/// What the writer needs to continue an active segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ActiveSegment {
    pub(crate) first_seq: u64,
    /// Bytes of complete lines in the file.
    pub(crate) size: u64,
    pub(crate) created_micros: i64,
    /// Largest timestamp of the lines so far (`i64::MAX` when unknown).
    pub(crate) running_max: i64,
    /// Offset at or after which the next line start gets an index record.
    pub(crate) next_index_at: u64,
    /// Offset of the last index record on disk, if any.
    pub(crate) last_index_offset: Option<u64>,
    /// Whether `N.idx` exists after recovery.
    pub(crate) index_on_disk: bool,
}

/// The state of a stream directory after recovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Recovered {
    /// First seqs of every segment with data, oldest first, active included.
    pub(crate) segments: VecDeque<u64>,
    /// The segment to keep appending to, if any.
    pub(crate) active: Option<ActiveSegment>,
    /// Sequence number of the next line.
    pub(crate) next_seq: u64,
    /// Closed segments still (also) present as `.log`: to be compressed, or
    /// to lose their `.log` if the `.log.zst` is already complete.
    pub(crate) closed_logs: Vec<u64>,
    /// Bytes cut from a torn last line.
    pub(crate) torn_bytes: u64,
}

impl Recovered {
    /// What an empty (for instance just created) directory recovers to.
    pub(crate) fn empty() -> Recovered {
        Recovered {
            segments: VecDeque::new(),
            active: None,
            next_seq: 1,
            closed_logs: Vec::new(),
            torn_bytes: 0,
        }
    }
}

/// Recovers the stream directory `dir`, which must exist.
pub(crate) fn recover_stream(
    beneath: &Beneath,
    dir: &Path,
    index_interval: u64,
    now_micros: i64,
) -> Result<Recovered, StoreError> {
    let scanned =
        segment::scan_dir(dir).map_err(|error| StoreError::io("read directory", dir, error))?;
    let mut segments = VecDeque::new();
    for (&seq, files) in &scanned {
        if files.has_data() {
            segments.push_back(seq);
        } else if files.index {
            // The data of this segment was deleted but a crash kept its index.
            let path = layout::file_path(dir, seq, FileKind::Index);
            beneath
                .remove_if_exists(&path)
                .map_err(|error| StoreError::io("remove", &path, error))?;
        }
    }
    let Some(&newest) = segments.back() else {
        return Ok(Recovered::empty());
    };
    let newest_files = scanned.get(&newest).copied().unwrap_or_default();
    let is_active = newest_files.log && !newest_files.zst;
    let closed_logs = segments
        .iter()
        .copied()
        .filter(|&seq| {
            let files: SegmentFiles = scanned.get(&seq).copied().unwrap_or_default();
            files.log && !(is_active && seq == newest)
        })
        .collect();
    if is_active {
        let (active, next_seq, torn_bytes) = recover_active(
            beneath,
            dir,
            newest,
            newest_files.index,
            index_interval,
            now_micros,
        )?;
        return Ok(Recovered {
            segments,
            active: Some(active),
            next_seq,
            closed_logs,
            torn_bytes,
        });
    }
    let next_seq = segment::segment_next_seq(dir, newest)
        .map_err(|error| {
            StoreError::io(
                "read segment",
                layout::file_path(dir, newest, FileKind::Zst),
                error,
            )
        })?
        .unwrap_or(newest);
    Ok(Recovered {
        segments,
        active: None,
        next_seq,
        closed_logs,
        torn_bytes: 0,
    })
}

/// Recovers the active segment `first_seq` (`index_exists`: whether the
/// directory listed its `N.idx`): returns its state, the next sequence
/// number and the torn bytes cut.
fn recover_active(
    beneath: &Beneath,
    dir: &Path,
    first_seq: u64,
    index_exists: bool,
    index_interval: u64,
    now_micros: i64,
) -> Result<(ActiveSegment, u64, u64), StoreError> {
    let log_path = layout::file_path(dir, first_seq, FileKind::Log);
    let io_error = |op: &'static str| {
        let path = log_path.clone();
        move |error| StoreError::io(op, path, error)
    };
    let file = beneath
        .open(&log_path, How::ReadWrite)
        .map_err(io_error("open"))?;
    let metadata = file.metadata().map_err(io_error("stat"))?;
    let len = metadata.len();
    let cut = segment::last_line_end(&file, len).map_err(io_error("read"))?;
    let torn_bytes = len - cut;
    if torn_bytes > 0 {
        file.set_len(cut).map_err(io_error("truncate"))?;
        file.sync_all().map_err(io_error("fsync"))?;
        tracing::warn!(segment = %log_path.display(), torn_bytes, "cut torn last line");
    }

    let index = segment::read_index(dir, first_seq).map_err(|error| {
        StoreError::io(
            "read",
            layout::file_path(dir, first_seq, FileKind::Index),
            error,
        )
    })?;
    let (header, mut records, rewrite_all) = match index {
        Some((header, records)) => (header, records, false),
        None => {
            // The `.log` was created with the segment: its birth time is the
            // creation time the header would have held.
            let created_micros = metadata
                .created()
                .or_else(|_| metadata.modified())
                .ok()
                .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
                .map_or(now_micros, |since| {
                    i64::try_from(since.as_micros()).unwrap_or(now_micros)
                });
            (
                // Records rebuilt here and after are "unknown"
                // (`i64::MAX`), true whatever keyed the lost index.
                IndexHeader {
                    first_seq,
                    created_micros,
                    message_time: true,
                },
                Vec::new(),
                true,
            )
        }
    };
    let kept_on_disk = records.len();
    records.retain(|record| record.offset <= cut);
    while let Some(last) = records.last() {
        if is_line_start(&file, last.offset).map_err(io_error("read"))? {
            break;
        }
        records.pop();
    }

    let (mut seq, start) = records
        .last()
        .map_or((first_seq, 0), |record| (record.seq, record.offset));
    let running_max = match records.last() {
        _ if cut == 0 => i64::MIN,
        Some(record) if record.offset == cut => record.max_timestamp_micros,
        _ => i64::MAX,
    };
    // The line at offset 0 needs no record: the first one is due one
    // interval in.
    let mut next_index_at = records.last().map_or(0, |record| record.offset) + index_interval;
    let mut rebuilt = Vec::new();
    let mut reader = io::BufReader::with_capacity(64 * 1024, &file);
    reader
        .seek(SeekFrom::Start(start))
        .map_err(io_error("seek"))?;
    let mut reader = reader.take(cut - start);
    let mut buf = vec![0u8; 64 * 1024];
    let mut line_start = start;
    let mut pos = start;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(StoreError::io("read", &log_path, error)),
        };
        for &byte in &buf[..n] {
            pos += 1;
            if byte != b'\n' {
                continue;
            }
            // A complete line spans line_start..pos.
            if line_start >= next_index_at && line_start > start {
                rebuilt.push(IndexRecord {
                    max_timestamp_micros: i64::MAX,
                    seq,
                    offset: line_start,
                });
                next_index_at = line_start + index_interval;
            }
            seq += 1;
            line_start = pos;
        }
    }

    // A missing index stays missing while there is nothing to put in it.
    let index_on_disk = index_exists || !rebuilt.is_empty();
    if index_on_disk {
        write_index(
            beneath,
            (dir, &header),
            &records,
            kept_on_disk,
            &rebuilt,
            rewrite_all,
        )?;
    }
    let last_index_offset = rebuilt
        .last()
        .or(records.last())
        .map(|record| record.offset);
    Ok((
        ActiveSegment {
            first_seq,
            size: cut,
            created_micros: header.created_micros,
            running_max,
            next_index_at,
            last_index_offset,
            index_on_disk,
        },
        seq,
        torn_bytes,
    ))
}

/// Brings the index file of a recovered segment in line: either rewritten
/// whole (it was missing or invalid) or truncated to the records kept, then
/// extended with the rebuilt ones.
fn write_index(
    beneath: &Beneath,
    (dir, header): (&Path, &IndexHeader),
    kept: &[IndexRecord],
    kept_on_disk: usize,
    rebuilt: &[IndexRecord],
    rewrite_all: bool,
) -> Result<(), StoreError> {
    let path = layout::file_path(dir, header.first_seq, FileKind::Index);
    let io_error = |op: &'static str| {
        let path = path.clone();
        move |error| StoreError::io(op, path, error)
    };
    if !rewrite_all && kept.len() == kept_on_disk && rebuilt.is_empty() {
        let expected = (INDEX_HEADER_LEN + kept.len() * INDEX_RECORD_LEN) as u64;
        let len = fs::metadata(&path).map_err(io_error("stat"))?.len();
        if len == expected {
            return Ok(());
        }
    }
    let mut bytes =
        Vec::with_capacity(INDEX_HEADER_LEN + (kept.len() + rebuilt.len()) * INDEX_RECORD_LEN);
    let file = if rewrite_all {
        bytes.extend_from_slice(&header.encode());
        bytes.extend(kept.iter().flat_map(IndexRecord::encode));
        beneath
            .open(&path, How::Truncate)
            .map_err(io_error("create"))?
    } else {
        let file = beneath
            .open(&path, How::ReadWrite)
            .map_err(io_error("open"))?;
        let keep_len = (INDEX_HEADER_LEN + kept.len() * INDEX_RECORD_LEN) as u64;
        file.set_len(keep_len).map_err(io_error("truncate"))?;
        file
    };
    bytes.extend(rebuilt.iter().flat_map(IndexRecord::encode));
    let mut file = file;
    file.seek(SeekFrom::End(0)).map_err(io_error("seek"))?;
    file.write_all(&bytes).map_err(io_error("write"))?;
    file.sync_data().map_err(io_error("fsync"))?;
    Ok(())
}

fn is_line_start(file: &File, offset: u64) -> io::Result<bool> {
    if offset == 0 {
        return Ok(true);
    }
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, offset - 1)?;
    Ok(byte[0] == b'\n')
}
