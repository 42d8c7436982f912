//! The sparse index of the active segment, as the writer thread writes it.
//!
//! The index is lazy. A new segment is only its `N.log`: its first line is
//! at offset 0 by definition, so no record is needed until a line starts
//! `index_interval_bytes` in. The `N.idx` is created, header and pending
//! records in one write, the first time records must be written, or at
//! rotation for the end record, so every closed segment keeps an index
//! while a quiet device's active segment costs one inode instead of two.
//! After that the index is appended to by open-write-close, which happens
//! about once per interval (64 KiB) and so costs nothing worth caching a
//! descriptor for.
//!
//! Whether a line gets a record is decided as it is appended
//! ([`super::append`]); records wait in the stream's `pending_index` until
//! its buffer is written ([`super::flush`]), and are written here. The end
//! record is queued at rotation and, for a segment that has an index, at
//! shutdown. A write that fails part-way is cut back to where the file
//! ended, so a retry after a full disk appends whole records.

use super::Writer;
use crate::beneath::How;
use crate::layout::{self, FileKind, IndexHeader, IndexRecord};
use std::io::{self, Write};
use std::path::PathBuf;

impl Writer {
    /// Queues the record that marks the end of the active segment (or of
    /// what has been written so far), unless the newest record already
    /// does.
    pub(super) fn push_end_record(&mut self, id: u32) {
        let stream = &mut self.streams[id as usize];
        let Some(active) = stream.active.as_mut() else {
            return;
        };
        if active.size == 0 || active.last_index_offset == Some(active.size) {
            return;
        }
        stream.pending_index.push(IndexRecord {
            max_timestamp_micros: active.running_max,
            seq: stream.next_seq,
            offset: active.size,
        });
        active.last_index_offset = Some(active.size);
    }

    /// Appends the pending records to the active segment's index, creating
    /// it (header and records in one write) if it does not exist yet.
    pub(super) fn write_pending_index(&mut self, id: u32) -> Result<(), (PathBuf, io::Error)> {
        let dir = self.stream_dir(id);
        let stream = &mut self.streams[id as usize];
        let Some(active) = stream.active.as_mut() else {
            stream.pending_index.clear();
            return Ok(());
        };
        let path = layout::file_path(&dir, active.first_seq, FileKind::Index);
        self.index_bytes.clear();
        let create = !active.index_on_disk;
        if create {
            let header = IndexHeader {
                first_seq: active.first_seq,
                created_micros: active.created_micros,
                message_time: true,
            };
            self.index_bytes.extend_from_slice(&header.encode());
        }
        for record in stream.pending_index.records() {
            self.index_bytes.extend_from_slice(&record.encode());
        }
        // Creating: nothing valid can be there (recovery keeps an existing
        // index and reports it as on disk), so truncating clears a leftover
        // that is not one.
        let how = if create { How::Truncate } else { How::Append };
        let result = self.shared.beneath.open(&path, how).and_then(|mut file| {
            let before = if create { 0 } else { file.metadata()?.len() };
            file.write_all(&self.index_bytes).inspect_err(|_| {
                // Records cut short by a full disk would read as garbage:
                // what landed is taken back, and the records, still
                // pending, are written whole on the retry.
                let _ = file.set_len(before);
            })
        });
        if let Err(error) = result {
            return Err((path, error));
        }
        active.index_on_disk = true;
        stream.pending_index.clear();
        stream.index_unsynced = true;
        if create {
            stream.dir_unsynced = true;
        }
        self.mark_unsynced(id);
        Ok(())
    }
}

/// Index records noted but not yet written, of one stream: nothing (one
/// pointer, no allocation) for the many streams that have none, which is
/// most of them most of the time (a record is due once per
/// `index_interval_bytes` of a stream's data).
#[derive(Default)]
#[expect(
    clippy::box_collection,
    reason = "one pointer in every stream's state instead of a 24-byte Vec"
)]
pub(super) struct PendingIndex(Option<Box<Vec<IndexRecord>>>);

impl PendingIndex {
    pub(super) fn push(&mut self, record: IndexRecord) {
        self.0.get_or_insert_with(Box::default).push(record);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Forgets the records and their allocation.
    pub(super) fn clear(&mut self) {
        self.0 = None;
    }

    pub(super) fn records(&self) -> &[IndexRecord] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
}
