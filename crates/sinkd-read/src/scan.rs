//! Running a [`Query`] over a stream: where reading starts, and every
//! matching line, or only the last N, handed to the caller rendered.

use crate::query::Query;
use crate::view::{render, Form};
use sinkd_proto::ReceiveTime;
use sinkd_store::{StoreError, StreamReader};
use std::collections::VecDeque;
use std::io;

/// Most bytes of rendered lines a tail keeps (the oldest go first past
/// it, so a `--tail N` of very long lines returns fewer than N).
pub const MAX_TAIL_BYTES: usize = 64 << 20;
/// Lines read between two looks at whether the reader still wants more.
const CHECK_EVERY: u64 = 4096;

/// Where a scan hands each rendered line, with its sequence number.
pub type Emit<'e> = &'e mut dyn FnMut(u64, &[u8]) -> io::Result<()>;

/// What a scan went through.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Scanned {
    /// Lines read from the stream (with a needle: those holding it).
    pub read: u64,
    /// Lines that passed and were handed over (with a tail: kept).
    pub matched: u64,
}

/// Why a scan stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The caller's `emit` failed (the output went away), or `stop` said
    /// to stop.
    #[error(transparent)]
    Emit(io::Error),
}

/// Positions `reader` for `query`: through the sparse index (keyed by
/// the stored lines' own timestamps) at the first line that can be at or
/// after `since`, or where it is when there is no `since`.
pub fn start(reader: &mut StreamReader, query: &Query) -> Result<(), StoreError> {
    if let Some(since) = query.since() {
        reader.seek_time(since)?;
    }
    Ok(())
}

/// The reader's next line that may pass `query`: with a literal every
/// match holds, the reader skips the other lines over whole buffers.
pub(crate) fn next_candidate<'r>(
    reader: &'r mut StreamReader,
    query: &Query,
) -> Result<Option<(u64, &'r [u8])>, StoreError> {
    match query.needle() {
        Some(needle) => reader.next_line_containing(needle),
        None => reader.next_line(),
    }
}

/// Hands every line the reader has now that passes `query`, rendered in
/// `form` without a line ending, to `emit`, oldest first; with `tail`,
/// only the last N (kept in memory: at most N rendered lines and
/// [`MAX_TAIL_BYTES`]). `stop`, looked at every few thousand lines read,
/// ends the scan early (a client that went away).
pub fn scan(
    reader: &mut StreamReader,
    query: &Query,
    form: Form,
    (device, received): (&str, &ReceiveTime),
    tail: Option<usize>,
    (emit, stop): (Emit<'_>, &dyn Fn() -> bool),
) -> Result<Scanned, ScanError> {
    let mut scanned = Scanned::default();
    let mut kept: VecDeque<(u64, Vec<u8>)> = VecDeque::new();
    let mut kept_bytes = 0usize;
    let mut rendered = Vec::with_capacity(1024);
    while let Some((seq, line)) = next_candidate(reader, query)? {
        scanned.read += 1;
        if scanned.read % CHECK_EVERY == 0 && stop() {
            return Err(ScanError::Emit(io::Error::from(io::ErrorKind::BrokenPipe)));
        }
        rendered.clear();
        if !render(line, query, form, device, received, &mut rendered) {
            continue;
        }
        match tail {
            Some(0) => {}
            Some(keep) => {
                if kept.len() == keep {
                    if let Some((_, old)) = kept.pop_front() {
                        kept_bytes -= old.len();
                    }
                } else {
                    scanned.matched += 1;
                }
                kept_bytes += rendered.len();
                kept.push_back((seq, rendered.clone()));
                while kept_bytes > MAX_TAIL_BYTES && kept.len() > 1 {
                    if let Some((_, old)) = kept.pop_front() {
                        kept_bytes -= old.len();
                        scanned.matched -= 1;
                    }
                }
            }
            None => {
                scanned.matched += 1;
                emit(seq, &rendered).map_err(ScanError::Emit)?;
            }
        }
    }
    for (seq, line) in kept {
        emit(seq, &line).map_err(ScanError::Emit)?;
    }
    Ok(scanned)
}
