//! Reading streams back: [`list_streams`] for `sinkd dir`, and
//! [`StreamReader`] for `sinkd show`, `sinkd follow`, the relay's spill and
//! the tests.
//!
//! A reader walks a stream's segments oldest first. A closed segment is read
//! through a zstd streaming decoder; a segment still in `.log` form (the
//! active one, or a closed one not yet compressed) is memory-mapped and read
//! only up to its last `\n`, so a line the writer is halfway through is
//! never returned. The reader holds each segment open while reading it, so
//! the compressor renaming or the writer deleting it underneath does no
//! harm; when a `.log` has vanished by the time the reader reaches it, the
//! `.log.zst` is opened instead, and a segment deleted by count rotation is
//! skipped (the sequence numbers then jump, which the caller can see).
//!
//! Seeking uses the sparse index: by sequence number (exact), or by time
//! (starts at a line no later than the first line with a timestamp at or
//! after the one asked for; see `docs/adr/0001-segment-layout.md` for the
//! guarantee), skipping whole segments whose index proves them older. The
//! index is keyed by the lines' own timestamps; one written by an older
//! sinkd, keyed by receive time, is read with a day's allowance for clocks
//! running ahead. A
//! segment without an index (an active one still smaller than one index
//! interval) has no records: it is entered at offset 0 with its first
//! sequence number, which is always right.
//!
//! Damaged files do not stop a reader: an index that is not valid is
//! ignored (the segment is read from its start), a compressed segment that
//! ends early or fails to decompress gives the lines decoded before the
//! damage and the reader goes on with the next segment, and a segment
//! deleted between listing and opening is skipped. Each is reported once,
//! naming the file, through [`StreamReader::take_warnings`].

use crate::error::StoreError;
use crate::layout::{self, FileKind, IndexRecord};
use crate::path::validate_stream_path;
use crate::read_ahead::{Prefetched, ReadAhead, Text};
use crate::segment::{self, SegmentText};
use memchr::memmem;
use std::collections::HashSet;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Longest line a reader accepts from a compressed segment.
const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// Line feeds in `bytes` (a loop the compiler vectorises).
fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&byte| byte == b'\n').count() as u64
}

/// Bytes a compressed segment is decompressed into at a time.
const STREAM_BUF_BYTES: usize = 64 * 1024;

/// Deepest directory nesting [`list_streams`] descends into.
const MAX_LIST_DEPTH: usize = 32;

/// How far ahead of its receive time a line's own timestamp may be, as
/// [`StreamReader::seek_time`] allows for in a segment whose index an older
/// sinkd keyed by receive time: one day.
pub const RECEIVE_TIME_MARGIN_MICROS: i64 = 86_400 * 1_000_000;

/// One stream found under `data_dir`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    /// Path relative to `data_dir`, `/`-separated (e.g. `router1/messages`).
    pub path: String,
    /// Segments on disk.
    pub segments: usize,
    /// Bytes on disk: segments (compressed or not) and indexes.
    pub total_bytes: u64,
    /// Sequence number of the oldest line still on disk.
    pub first_seq: u64,
    /// Sequence number of the newest complete line; `None` when empty.
    pub last_seq: Option<u64>,
    /// Newest modification time among the stream's files.
    pub last_modified: Option<SystemTime>,
}

/// Lists every stream under `data_dir` (every directory that holds at least
/// one segment), sorted by path.
pub fn list_streams(data_dir: &Path) -> Result<Vec<StreamInfo>, StoreError> {
    let mut streams = Vec::new();
    let mut relative = String::new();
    walk(data_dir, &mut relative, 0, &mut streams)?;
    streams.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(streams)
}

/// Lists the streams of one device: those under `data_dir/device` (the
/// directory itself included), paths relative to `data_dir` as
/// [`list_streams`] gives them. `device` must be one plain directory
/// name, not hidden; anything else, or a device with no directory, has
/// none.
pub fn list_device_streams(data_dir: &Path, device: &str) -> Result<Vec<StreamInfo>, StoreError> {
    let plain = !device.is_empty() && !device.starts_with('.') && !device.contains(['/', '\0']);
    let dir = data_dir.join(device);
    if !plain || !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut streams = Vec::new();
    let mut relative = device.to_owned();
    walk(&dir, &mut relative, 1, &mut streams)?;
    streams.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(streams)
}

fn walk(
    dir: &Path,
    relative: &mut String,
    depth: usize,
    out: &mut Vec<StreamInfo>,
) -> Result<(), StoreError> {
    if depth > MAX_LIST_DEPTH {
        return Ok(());
    }
    let entries =
        fs::read_dir(dir).map_err(|error| StoreError::io("read directory", dir, error))?;
    let mut subdirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| StoreError::io("read directory", dir, error))?;
        let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
        // Hidden directories (relay spools) are not device streams.
        if let (true, Some(name)) = (is_dir, entry.file_name().to_str()) {
            if !name.starts_with('.') {
                subdirs.push(name.to_owned());
            }
        }
    }
    if depth > 0 {
        if let Some(info) = stream_info(dir, relative)? {
            out.push(info);
        }
    }
    for name in subdirs {
        let saved = relative.len();
        if !relative.is_empty() {
            relative.push('/');
        }
        relative.push_str(&name);
        walk(&dir.join(&name), relative, depth + 1, out)?;
        relative.truncate(saved);
    }
    Ok(())
}

fn stream_info(dir: &Path, relative: &str) -> Result<Option<StreamInfo>, StoreError> {
    let scanned =
        segment::scan_dir(dir).map_err(|error| StoreError::io("read directory", dir, error))?;
    let with_data: Vec<u64> = scanned
        .iter()
        .filter(|(_, files)| files.has_data())
        .map(|(&seq, _)| seq)
        .collect();
    let (Some(&first_seq), Some(&newest)) = (with_data.first(), with_data.last()) else {
        return Ok(None);
    };
    let mut total_bytes = 0;
    let mut last_modified: Option<SystemTime> = None;
    for &seq in &with_data {
        for kind in [FileKind::Log, FileKind::Zst, FileKind::Index] {
            let Ok(metadata) = fs::metadata(layout::file_path(dir, seq, kind)) else {
                continue;
            };
            total_bytes += metadata.len();
            if let Ok(modified) = metadata.modified() {
                last_modified =
                    Some(last_modified.map_or(modified, |previous| previous.max(modified)));
            }
        }
    }
    let next_seq = segment::segment_next_seq(dir, newest)
        .map_err(|error| {
            StoreError::io(
                "read segment",
                layout::file_path(dir, newest, FileKind::Log),
                error,
            )
        })?
        .unwrap_or(newest);
    Ok(Some(StreamInfo {
        path: relative.to_owned(),
        segments: with_data.len(),
        total_bytes,
        first_seq,
        last_seq: (next_seq > first_seq).then(|| next_seq - 1),
        last_modified,
    }))
}

/// A damaged or vanished file a [`StreamReader`] went past.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadWarning {
    /// The file.
    pub path: PathBuf,
    /// What was wrong with it and what the reader did instead.
    pub reason: String,
}

impl fmt::Display for ReadWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// Where to start inside one segment.
#[derive(Clone, Copy, Debug)]
struct Start {
    segment: u64,
    offset: u64,
    seq: u64,
}

impl Start {
    /// Where to start reading `segment` so that nothing at or after index
    /// position `end` is skipped: at the record just before `end`, or at the
    /// segment's beginning (its first line carries the segment's number).
    fn before(segment: u64, records: &[IndexRecord], end: usize) -> Start {
        match end.checked_sub(1).and_then(|at| records.get(at)) {
            Some(record) => Start {
                segment,
                offset: record.offset,
                seq: record.seq,
            },
            None => Start {
                segment,
                offset: 0,
                seq: segment,
            },
        }
    }
}

/// The active (plain) `.log` segment, read with `pread` into a window that
/// moves forward as lines are consumed.
///
/// Not memory-mapped: while the store runs, recovery may cut a torn last
/// line off a segment (a stream's first write after start, or its retry
/// after a write error), and touching a mapped page past the new end would
/// kill the process with SIGBUS. A read only returns fewer bytes, and a
/// file found shorter than what was read drops the bytes past its end
/// (never a complete line: the cut only removes bytes after the last
/// `\n`).
struct Mapped {
    file: File,
    /// Bytes of the file from offset `base` on.
    data: Vec<u8>,
    /// The file offset of `data[0]`.
    base: u64,
    /// Where the next line starts, in `data`.
    pos: usize,
}

/// Most bytes read into the window at once (more when one line is longer).
const WINDOW_BYTES: usize = 4 << 20;

impl Mapped {
    /// Opens the window at `offset` if a line starts there, else at the
    /// segment's start; says which.
    fn open(file: File, offset: u64) -> io::Result<(Mapped, bool)> {
        let at_line_start = offset == 0 || {
            let mut byte = [0u8; 1];
            file.read_exact_at(&mut byte, offset - 1).is_ok() && byte[0] == b'\n'
        };
        let mut mapped = Mapped {
            file,
            data: Vec::new(),
            base: if at_line_start { offset } else { 0 },
            pos: 0,
        };
        mapped.remap_if_grown()?;
        Ok((mapped, at_line_start))
    }

    fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// Reads what the file gained since the window's end (dropping the
    /// lines already consumed); `true` when there may be a new line.
    ///
    /// What is left after the consumed lines has no `\n` (an incomplete
    /// line). It is read again with whatever follows, so a tail that
    /// recovery cut and the writer then rewrote is read as it is now; and
    /// when the file did not grow, it is compared with the file, for the
    /// same reason.
    fn remap_if_grown(&mut self) -> io::Result<bool> {
        self.base += self.pos as u64;
        self.data.drain(..self.pos);
        self.pos = 0;
        let len = self.file.metadata()?.len();
        let have = self.data.len();
        let end = self.base + have as u64;
        if len <= end {
            if have == 0 {
                return Ok(false);
            }
            let keep = usize::try_from(len.saturating_sub(self.base)).unwrap_or(0);
            let mut fresh = vec![0; keep];
            if self.file.read_exact_at(&mut fresh, self.base).is_err() {
                return Ok(false);
            }
            if fresh == self.data {
                return Ok(false);
            }
            self.data = fresh;
            return Ok(memchr::memchr(b'\n', &self.data).is_some());
        }
        let want = usize::try_from(len - self.base)
            .unwrap_or(usize::MAX)
            .min(WINDOW_BYTES.max(have.saturating_mul(2)));
        self.data.clear();
        self.data.resize(want, 0);
        let mut filled = 0;
        while filled < want {
            match self
                .file
                .read_at(&mut self.data[filled..], self.base + filled as u64)
            {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.data.truncate(filled);
                    return Err(error);
                }
            }
        }
        self.data.truncate(filled);
        Ok(filled > have)
    }

    fn next_range(&mut self) -> Option<(usize, usize)> {
        let bytes = self.bytes();
        let rest = bytes.get(self.pos..)?;
        let at = memchr::memchr(b'\n', rest)?;
        let range = (self.pos, self.pos + at);
        self.pos += at + 1;
        Some(range)
    }
}

/// A segment read as a stream (zstd-compressed).
struct Streamed {
    text: Text,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

impl Streamed {
    fn new(text: SegmentText) -> Streamed {
        Streamed {
            text: Text::Segment(text),
            buf: vec![0; STREAM_BUF_BYTES],
            start: 0,
            end: 0,
            eof: false,
        }
    }

    /// A segment decompressed ahead: its bytes are the buffer, lines are
    /// found in place, and what follows them is read after.
    fn prefetched(prefetched: Prefetched) -> Streamed {
        let Prefetched { mut bytes, rest } = prefetched;
        let end = bytes.len();
        if bytes.len() < STREAM_BUF_BYTES {
            bytes.resize(STREAM_BUF_BYTES, 0);
        }
        Streamed {
            text: Text::Rest(rest),
            buf: bytes,
            start: 0,
            end,
            eof: false,
        }
    }

    /// Skips `count` bytes; `false` when the text ends first.
    fn skip(&mut self, count: u64) -> io::Result<bool> {
        let skipped = io::copy(&mut (&mut self.text).take(count), &mut io::sink())?;
        Ok(skipped == count)
    }

    fn next_range(&mut self) -> io::Result<Option<(usize, usize)>> {
        loop {
            if let Some(at) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                let range = (self.start, self.start + at);
                self.start += at + 1;
                return Ok(Some(range));
            }
            if self.eof {
                return Ok(None);
            }
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                if self.buf.len() >= MAX_LINE_BYTES {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "line longer than 64 MiB",
                    ));
                }
                self.buf.resize(self.buf.len() * 2, 0);
            }
            match self.text.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }
}

enum Cursor {
    Closed,
    Mapped(Mapped),
    Streamed(Streamed),
}

/// Reads the lines of one stream, with their sequence numbers.
///
/// ```no_run
/// # fn main() -> Result<(), sinkd_store::StoreError> {
/// use sinkd_store::StreamReader;
/// let mut reader = StreamReader::open("/var/lib/sinkd".as_ref(), "router1/messages")?;
/// reader.seek_seq(1000)?;
/// while let Some((seq, line)) = reader.next_line()? {
///     println!("{seq} {}", String::from_utf8_lossy(line));
/// }
/// # Ok(())
/// # }
/// ```
///
/// `next_line` returning `None` means "nothing more for now": call it again
/// later to follow the stream as it grows.
pub struct StreamReader {
    dir: PathBuf,
    segments: Vec<u64>,
    /// First seq of the segment the cursor reads (or last read).
    current: Option<u64>,
    cursor: Cursor,
    /// Where the next segment to open should be entered.
    start: Option<Start>,
    next_seq: u64,
    /// Lines before this sequence number are skipped (seek by seq).
    min_seq: u64,
    /// Damage met and not yet taken by the caller.
    warnings: Vec<ReadWarning>,
    /// Files already reported, so each is reported once.
    reported: HashSet<PathBuf>,
    /// Closed segments decompressed ahead on helper threads, when asked.
    read_ahead: Option<ReadAhead>,
}

impl StreamReader {
    /// A reader for the stream `stream` (a relative path) under `data_dir`,
    /// positioned at its oldest line.
    pub fn open(data_dir: &Path, stream: &str) -> Result<StreamReader, StoreError> {
        validate_stream_path(stream)?;
        StreamReader::open_dir(data_dir.join(stream))
    }

    /// A reader for the stream directory `dir`, positioned at its oldest
    /// line.
    pub fn open_dir(dir: impl Into<PathBuf>) -> Result<StreamReader, StoreError> {
        let dir = dir.into();
        let mut reader = StreamReader {
            dir,
            segments: Vec::new(),
            current: None,
            cursor: Cursor::Closed,
            start: None,
            next_seq: 1,
            min_seq: 0,
            warnings: Vec::new(),
            reported: HashSet::new(),
            read_ahead: None,
        };
        reader.refresh_segments()?;
        if let Some(&first) = reader.segments.first() {
            reader.next_seq = first;
        }
        Ok(reader)
    }

    /// Decompresses up to `depth` of the next closed segments on helper
    /// threads while this one is read (0, the default: none), each held in
    /// memory up to 64 MiB of text. The lines, their order and the warnings
    /// stay exactly those of a reader without it; a long read through many
    /// compressed segments gets faster when there are cores to spare (see
    /// [`StreamReader::read_ahead_for_machine`]).
    pub fn set_read_ahead(&mut self, depth: usize) {
        self.read_ahead = (depth > 0).then(|| ReadAhead::new(depth));
    }

    /// The read-ahead depth set (0: none).
    pub fn read_ahead(&self) -> usize {
        self.read_ahead.as_ref().map_or(0, ReadAhead::depth)
    }

    /// A read-ahead depth for this machine: one segment per core, none on
    /// a single core. The reader's own thread mostly waits for the helpers
    /// (finding lines in a decompressed buffer costs far less than
    /// decompressing it), so it needs no core of its own; on two cores a
    /// depth of 2 read 1 GiB 1.5× as fast as none, a depth of 1 hardly
    /// faster (docs/performance.md, "Reading").
    pub fn read_ahead_for_machine() -> usize {
        match std::thread::available_parallelism().map_or(1, |cores| cores.get()) {
            1 => 0,
            cores => cores,
        }
    }

    /// First seqs of the segments known to the reader, oldest first.
    pub fn segments(&self) -> &[u64] {
        &self.segments
    }

    /// The damaged or vanished files met since the last call, each once
    /// per reader, oldest first. The lines of the rest of the stream were
    /// (or will be) read all the same.
    pub fn take_warnings(&mut self) -> Vec<ReadWarning> {
        std::mem::take(&mut self.warnings)
    }

    fn warn(&mut self, path: PathBuf, reason: String) {
        if self.reported.insert(path.clone()) {
            self.warnings.push(ReadWarning { path, reason });
        }
    }

    /// Sequence number the next line will have (if no segment was deleted
    /// in between).
    pub fn position(&self) -> u64 {
        self.next_seq.max(self.min_seq)
    }

    /// Positions the reader at line `seq` (or the oldest line still on disk,
    /// if `seq` is older), using the index to skip to it.
    pub fn seek_seq(&mut self, seq: u64) -> Result<(), StoreError> {
        self.refresh_segments()?;
        self.reset_read_ahead();
        self.cursor = Cursor::Closed;
        self.current = None;
        self.min_seq = seq;
        self.next_seq = seq;
        let Some(&segment) = self
            .segments
            .iter()
            .rev()
            .find(|&&first| first <= seq)
            .or(self.segments.first())
        else {
            self.start = None;
            return Ok(());
        };
        let (_, records) = self.index_records(segment);
        let end = records.partition_point(|record| record.seq <= seq);
        self.start = Some(Start::before(segment, &records, end));
        Ok(())
    }

    /// Positions the reader for lines with a timestamp at or after
    /// `timestamp_micros`: whole segments that the index proves older are
    /// skipped, and inside the first other segment the reader starts at the
    /// last index record that is still older. Lines before the first match
    /// may therefore be returned (at most one index interval of them, when
    /// timestamps are in order); none at or after it is skipped.
    ///
    /// The index bounds the time each stored line is read back as (the
    /// message's own timestamp), so this is exact whatever order the
    /// timestamps come in. An index written by an older sinkd is keyed by
    /// receive time instead: in such a segment the seek allows for clocks
    /// running up to [`RECEIVE_TIME_MARGIN_MICROS`] ahead, as readers did
    /// then, and so may return up to that much more before the match.
    pub fn seek_time(&mut self, timestamp_micros: i64) -> Result<(), StoreError> {
        self.refresh_segments()?;
        self.reset_read_ahead();
        self.cursor = Cursor::Closed;
        self.current = None;
        self.min_seq = 0;
        self.start = None;
        let segments = self.segments.clone();
        for (position, &segment) in segments.iter().enumerate() {
            let (message_time, records) = self.index_records(segment);
            let bound = if message_time {
                timestamp_micros
            } else {
                timestamp_micros.saturating_sub(RECEIVE_TIME_MARGIN_MICROS)
            };
            let next_segment = segments.get(position + 1).copied();
            if let (Some(last), Some(next)) = (records.last(), next_segment) {
                if last.seq == next && last.max_timestamp_micros < bound {
                    continue;
                }
            }
            let older = records.partition_point(|record| record.max_timestamp_micros < bound);
            let start = Start::before(segment, &records, older);
            self.next_seq = start.seq;
            self.start = Some(start);
            return Ok(());
        }
        // No segment at all: the reader starts with the first one to appear.
        Ok(())
    }

    /// The next complete line and its sequence number; `None` when there is
    /// nothing more now.
    pub fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, StoreError> {
        let (seq, range) = loop {
            let found = match &mut self.cursor {
                Cursor::Closed => {
                    if !self.open_next()? {
                        return Ok(None);
                    }
                    continue;
                }
                Cursor::Mapped(mapped) => mapped.next_range(),
                Cursor::Streamed(streamed) => match streamed.next_range() {
                    Ok(found) => found,
                    Err(error) => {
                        self.cursor = Cursor::Closed;
                        let segment = self.current.unwrap_or(0);
                        let path = layout::file_path(&self.dir, segment, FileKind::Zst);
                        let read = self.next_seq.saturating_sub(segment);
                        self.warn(
                            path,
                            format!("damaged after {read} lines ({error}); rest skipped"),
                        );
                        continue;
                    }
                },
            };
            match found {
                Some(range) => {
                    let seq = self.next_seq;
                    self.next_seq += 1;
                    if seq >= self.min_seq {
                        break (seq, range);
                    }
                }
                None => {
                    if !self.segment_exhausted()? {
                        return Ok(None);
                    }
                }
            }
        };
        let bytes = match &self.cursor {
            Cursor::Mapped(mapped) => mapped.bytes(),
            Cursor::Streamed(streamed) => &streamed.buf[..],
            Cursor::Closed => &[],
        };
        Ok(bytes.get(range.0..range.1).map(|line| (seq, line)))
    }

    /// The next line that contains `needle`, and its sequence number; the
    /// lines without it are gone past (their numbers counted) and not
    /// returned. `None` when there is nothing more now. This is
    /// [`StreamReader::next_line`] with the search done over whole buffers
    /// of lines rather than line by line, which is what makes
    /// `sinkd show --grep` fast when few lines match.
    pub fn next_line_containing(
        &mut self,
        needle: &memmem::Finder<'_>,
    ) -> Result<Option<(u64, &[u8])>, StoreError> {
        if memchr::memchr(b'\n', needle.needle()).is_some() {
            // No line holds a line feed.
            while self.next_line()?.is_some() {}
            return Ok(None);
        }
        loop {
            let (base, region) = match &self.cursor {
                Cursor::Mapped(mapped) => (mapped.pos, mapped.bytes().get(mapped.pos..)),
                Cursor::Streamed(streamed) => (
                    streamed.start,
                    streamed.buf.get(streamed.start..streamed.end),
                ),
                Cursor::Closed => (0, None),
            };
            // The complete lines buffered now.
            let complete =
                region.and_then(|region| memchr::memrchr(b'\n', region).map(|end| &region[..=end]));
            let Some(complete) = complete else {
                // None buffered: one line the usual way, which refills,
                // remaps or moves to the next segment.
                let min_seq = self.min_seq;
                let Some((seq, line)) = self.next_line()? else {
                    return Ok(None);
                };
                if seq >= min_seq && needle.find(line).is_some() {
                    // Borrowck: the line is returned from a fresh lookup.
                    return Ok(self.last_line().map(|line| (seq, line)));
                }
                continue;
            };
            let found = needle.find(complete).map(|at| {
                let line_start = memchr::memrchr(b'\n', &complete[..at]).map_or(0, |nl| nl + 1);
                let line_end = at + memchr::memchr(b'\n', &complete[at..]).unwrap_or(0);
                (line_start, line_end)
            });
            let consumed = found.map_or(complete.len(), |(_, line_end)| line_end + 1);
            let skipped = count_newlines(&complete[..found.map_or(consumed, |(start, _)| start)]);
            let seq = self.next_seq + skipped;
            match &mut self.cursor {
                Cursor::Mapped(mapped) => mapped.pos = base + consumed,
                Cursor::Streamed(streamed) => streamed.start = base + consumed,
                Cursor::Closed => {}
            }
            match found {
                None => self.next_seq = seq,
                Some((line_start, line_end)) => {
                    self.next_seq = seq + 1;
                    if seq >= self.min_seq {
                        let bytes = match &self.cursor {
                            Cursor::Mapped(mapped) => mapped.bytes(),
                            Cursor::Streamed(streamed) => &streamed.buf[..],
                            Cursor::Closed => &[],
                        };
                        return Ok(bytes
                            .get(base + line_start..base + line_end)
                            .map(|line| (seq, line)));
                    }
                }
            }
        }
    }

    /// The line `next_line` returned last (it ends just before the
    /// cursor's position).
    fn last_line(&self) -> Option<&[u8]> {
        let (bytes, end): (&[u8], usize) = match &self.cursor {
            Cursor::Mapped(mapped) => (mapped.bytes(), mapped.pos),
            Cursor::Streamed(streamed) => (&streamed.buf[..], streamed.start),
            Cursor::Closed => return None,
        };
        let line_end = end.checked_sub(1)?;
        let line_start = memchr::memrchr(b'\n', &bytes[..line_end]).map_or(0, |nl| nl + 1);
        bytes.get(line_start..line_end)
    }

    /// The current segment has no complete line left. `true`: try again
    /// (it grew, or the reader moved to the next segment); `false`: nothing
    /// more for now.
    fn segment_exhausted(&mut self) -> Result<bool, StoreError> {
        let path = self.current_path();
        if let Cursor::Mapped(mapped) = &mut self.cursor {
            if mapped
                .remap_if_grown()
                .map_err(|error| StoreError::io("read", &path, error))?
            {
                return Ok(true);
            }
            // The writer finishes a segment before creating the next one,
            // so once a newer segment exists, this one can only have grown
            // before that moment: look once more, then move on.
            self.refresh_segments()?;
            let current = self.current.unwrap_or(0);
            if !self.segments.iter().any(|&first| first > current) {
                return Ok(false);
            }
            if let Cursor::Mapped(mapped) = &mut self.cursor {
                if mapped
                    .remap_if_grown()
                    .map_err(|error| StoreError::io("read", &path, error))?
                {
                    return Ok(true);
                }
            }
        }
        self.close_cursor();
        Ok(true)
    }

    /// Leaves the segment read: its buffer goes back to the read-ahead, if
    /// any, to be filled again.
    fn close_cursor(&mut self) {
        let closed = std::mem::replace(&mut self.cursor, Cursor::Closed);
        if let (Cursor::Streamed(streamed), Some(read_ahead)) = (closed, &self.read_ahead) {
            read_ahead.recycle(streamed.buf);
        }
    }

    /// Opens the segment to read next; `false` when there is none yet.
    fn open_next(&mut self) -> Result<bool, StoreError> {
        for attempt in 0..2 {
            if attempt == 1 {
                self.refresh_segments()?;
            }
            loop {
                let candidate = match (self.start, self.current) {
                    (Some(start), _) => self
                        .segments
                        .iter()
                        .copied()
                        .find(|&first| first >= start.segment),
                    (None, Some(current)) => {
                        self.segments.iter().copied().find(|&first| first > current)
                    }
                    (None, None) => self.segments.first().copied(),
                };
                let Some(segment) = candidate else {
                    break;
                };
                let start = self.start.take().filter(|start| start.segment == segment);
                self.current = Some(segment);
                if self.open_segment(segment, start)? {
                    return Ok(true);
                }
                self.warn(
                    layout::file_path(&self.dir, segment, FileKind::Log),
                    String::from("segment deleted before it could be read; skipped"),
                );
            }
        }
        Ok(false)
    }

    /// Opens `segment`, `.log` first, `.log.zst` if the plain one is gone.
    /// `false` when neither exists any more.
    fn open_segment(&mut self, segment: u64, start: Option<Start>) -> Result<bool, StoreError> {
        let log_path = layout::file_path(&self.dir, segment, FileKind::Log);
        match crate::sys::open_regular(&log_path) {
            Ok(file) => {
                let offset = start.map_or(0, |start| start.offset);
                let (mapped, at_start) = Mapped::open(file, offset)
                    .map_err(|error| StoreError::io("read", &log_path, error))?;
                self.next_seq = segment;
                if let (Some(start), true) = (start, at_start) {
                    if start.offset > 0 {
                        self.next_seq = start.seq;
                    }
                }
                self.cursor = Cursor::Mapped(mapped);
                return Ok(true);
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(StoreError::io("open", log_path, error)),
        }
        if start.is_none() && self.read_ahead.is_some() {
            // This one too: the helpers decompress faster than the
            // streaming decoder below, and leave this thread free.
            self.schedule_read_ahead(segment.saturating_sub(1));
            if let Some(prefetched) = self
                .read_ahead
                .as_mut()
                .and_then(|read_ahead| read_ahead.take(segment))
            {
                self.next_seq = segment;
                self.cursor = Cursor::Streamed(Streamed::prefetched(prefetched));
                self.schedule_read_ahead(segment);
                return Ok(true);
            }
        }
        let zst_path = layout::file_path(&self.dir, segment, FileKind::Zst);
        let open = |path: &Path| -> Result<Option<io::Result<Streamed>>, StoreError> {
            match crate::sys::open_regular(path) {
                Ok(file) => Ok(Some(
                    zstd::stream::read::Decoder::new(file)
                        .map(|decoder| Streamed::new(SegmentText::Compressed(decoder))),
                )),
                Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(StoreError::io("open", path, error)),
            }
        };
        let Some(opened) = open(&zst_path)? else {
            return Ok(false);
        };
        self.next_seq = segment;
        let mut streamed = match opened {
            Ok(streamed) => streamed,
            Err(error) => {
                self.warn(zst_path, format!("cannot decompress ({error}); skipped"));
                self.cursor = Cursor::Closed;
                return Ok(true);
            }
        };
        if let Some(start) = start {
            // The index may point past the data (or past damage): then the
            // segment is read from its start, as far as it decompresses.
            if matches!(streamed.skip(start.offset), Ok(true)) {
                self.next_seq = start.seq;
            } else {
                match open(&zst_path)? {
                    Some(Ok(fresh)) => streamed = fresh,
                    Some(Err(error)) => {
                        self.warn(zst_path, format!("cannot decompress ({error}); skipped"));
                        self.cursor = Cursor::Closed;
                        return Ok(true);
                    }
                    None => return Ok(false),
                }
            }
        }
        self.cursor = Cursor::Streamed(streamed);
        self.schedule_read_ahead(segment);
        Ok(true)
    }

    fn schedule_read_ahead(&mut self, current: u64) {
        if let Some(read_ahead) = self.read_ahead.as_mut() {
            read_ahead.schedule(&self.dir, &self.segments, current);
        }
    }

    fn reset_read_ahead(&mut self) {
        if let Some(read_ahead) = self.read_ahead.as_mut() {
            read_ahead.reset();
        }
    }

    fn refresh_segments(&mut self) -> Result<(), StoreError> {
        let scanned = segment::scan_dir(&self.dir)
            .map_err(|error| StoreError::io("read directory", &self.dir, error))?;
        self.segments.clear();
        self.segments.extend(
            scanned
                .iter()
                .filter(|(_, files)| files.has_data())
                .map(|(&seq, _)| seq),
        );
        Ok(())
    }

    /// The index records of `segment`, and whether they are keyed by the
    /// lines' own timestamps; none (the segment is then read from its
    /// start) when the index is missing, unreadable or not valid, the last
    /// two reported as warnings.
    fn index_records(&mut self, segment: u64) -> (bool, Vec<IndexRecord>) {
        let path = layout::file_path(&self.dir, segment, FileKind::Index);
        let reason = match segment::read_index(&self.dir, segment) {
            Ok(Some((header, records))) => return (header.message_time, records),
            // Missing, or just created and still empty: nothing to report.
            Ok(None) if fs::metadata(&path).map_or(true, |meta| meta.len() == 0) => {
                return (true, Vec::new())
            }
            Ok(None) => String::from("not a valid index; read without it"),
            Err(error) => format!("cannot read index ({error}); read without it"),
        };
        self.warn(path, reason);
        (true, Vec::new())
    }

    fn current_path(&self) -> PathBuf {
        match self.current {
            Some(segment) => layout::file_path(&self.dir, segment, FileKind::Log),
            None => self.dir.clone(),
        }
    }
}

impl std::fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamReader")
            .field("dir", &self.dir)
            .field("current", &self.current)
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}
