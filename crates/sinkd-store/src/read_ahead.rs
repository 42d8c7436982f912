//! Read-ahead for [`crate::StreamReader`]: the next closed segments
//! decompressed on helper threads while the caller works through the
//! current one, so a long read (`sinkd show --grep` over a month) uses the
//! cores it has instead of one.
//!
//! The reader asks for it ([`crate::StreamReader::set_read_ahead`]); by
//! default it reads alone. At most `depth` segments are in flight, each
//! decompressed by a thread of its own into memory, up to
//! [`SEGMENT_BUDGET`] bytes: a segment larger than that hands the rest of
//! its decoder to the reader, which goes on decompressing it itself. So
//! memory stays below `depth` × the budget whatever the segment size. A
//! segment whose frame states its size (the store's compressor always
//! pledges it) is decompressed in one call into a buffer of that size,
//! which is faster than streaming; buffers the reader is done with are
//! used again, so their pages are not faulted in anew for every segment.
//! Segments are handed over in order and read exactly as a sequential
//! reader would: a decoding error after some bytes comes out after those
//! bytes, with the same error, so damage is reported the same way. A
//! segment whose `.zst` cannot be opened or decoded from the start is left
//! to the reader, which then meets (and reports) it itself. A seek or the
//! end of the reader cancels what is in flight.

use crate::layout::{self, FileKind};
use crate::segment::SegmentText;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};

/// Most text one segment decompressed ahead holds in memory.
pub(crate) const SEGMENT_BUDGET: usize = 64 * 1024 * 1024;

/// Bytes decompressed between two looks at the cancel flag.
const STEP: u64 = 1024 * 1024;

type Decoder = zstd::stream::read::Decoder<'static, BufReader<File>>;

/// What follows the decompressed bytes of a segment.
pub(crate) enum Rest {
    /// The end of the segment.
    End,
    /// The error the decoder stopped with (given out once).
    Error(Option<io::Error>),
    /// The budget was reached: the decoder, where it stopped.
    More(Box<Decoder>),
}

impl Read for Rest {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Rest::End => Ok(0),
            Rest::Error(error) => match error.take() {
                Some(error) => Err(error),
                None => Ok(0),
            },
            Rest::More(decoder) => decoder.read(buf),
        }
    }
}

/// A segment's text, decompressed ahead (up to the budget) or not.
pub(crate) enum Text {
    /// Read as it comes (no read-ahead, or the reader's own segment).
    Segment(SegmentText),
    /// What follows the bytes decompressed ahead.
    Rest(Rest),
}

impl Read for Text {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Text::Segment(text) => text.read(buf),
            Text::Rest(rest) => rest.read(buf),
        }
    }
}

/// One segment decompressed ahead: its first bytes and what follows.
pub(crate) struct Prefetched {
    pub(crate) bytes: Vec<u8>,
    pub(crate) rest: Rest,
}

/// Buffers the reader is done with, for the helpers to fill again.
type Pool = Arc<Mutex<Vec<Vec<u8>>>>;

/// The segments in flight, oldest first.
pub(crate) struct ReadAhead {
    depth: usize,
    pool: Pool,
    in_flight: VecDeque<(u64, mpsc::Receiver<Option<Prefetched>>)>,
    /// Newest segment scheduled since the last reset.
    newest: Option<u64>,
    cancel: Arc<AtomicBool>,
}

impl ReadAhead {
    pub(crate) fn new(depth: usize) -> ReadAhead {
        ReadAhead {
            depth,
            pool: Arc::new(Mutex::new(Vec::new())),
            in_flight: VecDeque::new(),
            newest: None,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    pub(crate) fn depth(&self) -> usize {
        self.depth
    }

    /// Takes back the buffer of a segment the reader finished, to be
    /// filled again (at most `depth` + 1 are kept).
    pub(crate) fn recycle(&self, mut buf: Vec<u8>) {
        if buf.capacity() < STEP as usize {
            return;
        }
        buf.clear();
        if let Ok(mut pool) = self.pool.lock() {
            if pool.len() <= self.depth {
                pool.push(buf);
            }
        }
    }

    /// Drops everything in flight (after a seek); the helpers stop at
    /// their next step.
    pub(crate) fn reset(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        self.cancel = Arc::new(AtomicBool::new(false));
        self.in_flight.clear();
        self.newest = None;
    }

    /// The text of `segment` if it was decompressed ahead (waiting for its
    /// helper if need be); segments before it that were not taken are
    /// dropped. `None`: read it as usual.
    pub(crate) fn take(&mut self, segment: u64) -> Option<Prefetched> {
        while let Some((first, _)) = self.in_flight.front() {
            if *first >= segment {
                break;
            }
            self.in_flight.pop_front();
        }
        match self.in_flight.front() {
            Some((first, _)) if *first == segment => {
                let (_, receiver) = self.in_flight.pop_front()?;
                receiver.recv().ok().flatten()
            }
            _ => None,
        }
    }

    /// Starts decompressing the segments after `current` among `segments`
    /// (first seqs, oldest first) until `depth` are in flight. Only closed
    /// compressed segments are taken: never the newest one (the active
    /// segment), nor one whose `.log` is still there.
    pub(crate) fn schedule(&mut self, dir: &Path, segments: &[u64], current: u64) {
        let Some((_, closed)) = segments.split_last() else {
            return;
        };
        for &segment in closed {
            if self.in_flight.len() >= self.depth {
                break;
            }
            if segment <= current || self.newest.is_some_and(|newest| segment <= newest) {
                continue;
            }
            self.newest = Some(segment);
            if layout::file_path(dir, segment, FileKind::Log).exists() {
                continue;
            }
            let path = layout::file_path(dir, segment, FileKind::Zst);
            let (sender, receiver) = mpsc::sync_channel(1);
            let cancel = Arc::clone(&self.cancel);
            let pool = Arc::clone(&self.pool);
            let spawned = std::thread::Builder::new()
                .name(String::from("sinkd-read-ahead"))
                .spawn(move || {
                    let _ = sender.send(decompress(&path, &cancel, &pool));
                });
            if spawned.is_err() {
                // No thread to be had: the reader reads it itself.
                break;
            }
            self.in_flight.push_back((segment, receiver));
        }
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// Decompresses the segment at `path` up to the budget. `None` when it
/// cannot be opened or its decoder cannot start (the reader then meets
/// that itself), or when cancelled.
fn decompress(path: &Path, cancel: &AtomicBool, pool: &Pool) -> Option<Prefetched> {
    let mut bytes = pool
        .lock()
        .ok()
        .and_then(|mut pool| pool.pop())
        .unwrap_or_default();
    if let Some(whole) = decompress_whole(path, &mut bytes) {
        return whole;
    }
    // Streamed, as the reader itself would: so damage comes out after the
    // same bytes, with the same error.
    bytes.clear();
    let file = crate::sys::open_regular(path).ok()?;
    let mut decoder = zstd::stream::read::Decoder::new(file).ok()?;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return None;
        }
        if bytes.len() >= SEGMENT_BUDGET {
            return Some(Prefetched {
                bytes,
                rest: Rest::More(Box::new(decoder)),
            });
        }
        // `read_to_end` keeps what it read before an error.
        bytes.reserve(STEP as usize);
        match (&mut decoder).take(STEP).read_to_end(&mut bytes) {
            Ok(0) => {
                return Some(Prefetched {
                    bytes,
                    rest: Rest::End,
                })
            }
            Ok(_) => {}
            Err(error) => {
                return Some(Prefetched {
                    bytes,
                    rest: Rest::Error(Some(error)),
                })
            }
        }
    }
}

/// Decompresses the segment at `path` in one call into `bytes`, when its
/// frame states a size within the budget and it decodes whole. `None`
/// otherwise (damaged, several frames, no stated size): then it is
/// streamed. `Some(None)` when the file cannot be read.
fn decompress_whole(path: &Path, bytes: &mut Vec<u8>) -> Option<Option<Prefetched>> {
    let compressed = match std::fs::read(path) {
        Ok(compressed) => compressed,
        Err(_) => return Some(None),
    };
    let size = zstd::zstd_safe::get_frame_content_size(&compressed).ok()??;
    let size = usize::try_from(size)
        .ok()
        .filter(|&size| size <= SEGMENT_BUDGET)?;
    bytes.clear();
    bytes.reserve(size);
    let mut decompressor = zstd::bulk::Decompressor::new().ok()?;
    match decompressor.decompress_to_buffer(&compressed[..], bytes) {
        Ok(written) if written == size => Some(Some(Prefetched {
            bytes: std::mem::take(bytes),
            rest: Rest::End,
        })),
        _ => None,
    }
}
