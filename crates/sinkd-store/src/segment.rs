//! Shared helpers for looking at one stream directory: which segments it
//! holds, reading a segment's index, reading a segment's text whether it is
//! still `.log` or already `.log.zst`, and counting its lines.
//!
//! Recovery ([`crate::recover`]), the compressor, the readers and
//! [`crate::list_streams`] all build on these, so there is one notion of
//! "what is in a stream directory". Nothing here writes a segment:
//! appending and rotation are the writer thread's, in `writer/append.rs`.

use crate::layout::{self, FileKind, IndexHeader, IndexRecord};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Largest index file read; real ones are a few KiB (one 32-byte record per
/// 64 KiB of segment). A larger file is treated as damaged.
const MAX_INDEX_BYTES: u64 = 64 * 1024 * 1024;

/// Which files of one segment exist.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SegmentFiles {
    pub(crate) log: bool,
    pub(crate) zst: bool,
    pub(crate) index: bool,
    pub(crate) compress_temp: bool,
}

impl SegmentFiles {
    /// Whether the segment has its text (plain or compressed).
    pub(crate) fn has_data(&self) -> bool {
        self.log || self.zst
    }
}

/// Lists the segment files of `dir`, keyed by first sequence number.
/// Other names are ignored.
pub(crate) fn scan_dir(dir: &Path) -> io::Result<BTreeMap<u64, SegmentFiles>> {
    let mut segments: BTreeMap<u64, SegmentFiles> = BTreeMap::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some((seq, kind)) = name.to_str().and_then(layout::parse_file_name) else {
            continue;
        };
        let files = segments.entry(seq).or_default();
        match kind {
            FileKind::Log => files.log = true,
            FileKind::Zst => files.zst = true,
            FileKind::Index => files.index = true,
            FileKind::CompressTemp => files.compress_temp = true,
        }
    }
    Ok(segments)
}

/// Reads and decodes the index of segment `first_seq`; `None` when it is
/// missing, too large, or not a valid index for that segment.
pub(crate) fn read_index(
    dir: &Path,
    first_seq: u64,
) -> io::Result<Option<(IndexHeader, Vec<IndexRecord>)>> {
    let path = layout::file_path(dir, first_seq, FileKind::Index);
    let file = match crate::sys::open_regular(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let mut bytes = Vec::new();
    file.take(MAX_INDEX_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INDEX_BYTES {
        return Ok(None);
    }
    Ok(layout::decode_index(&bytes, first_seq))
}

/// The text of one segment, plain or decompressed.
pub(crate) enum SegmentText {
    Plain(BufReader<File>),
    Compressed(zstd::stream::read::Decoder<'static, BufReader<File>>),
}

impl Read for SegmentText {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            SegmentText::Plain(reader) => reader.read(buf),
            SegmentText::Compressed(decoder) => decoder.read(buf),
        }
    }
}

/// Opens the text of segment `first_seq`: the `.log` if it exists, else the
/// `.log.zst` (so a segment compressed in between is still found).
/// `Ok(None)` when neither exists any more (deleted by count rotation).
pub(crate) fn open_text(dir: &Path, first_seq: u64) -> io::Result<Option<SegmentText>> {
    match crate::sys::open_regular(&layout::file_path(dir, first_seq, FileKind::Log)) {
        Ok(file) => {
            return Ok(Some(SegmentText::Plain(BufReader::with_capacity(
                64 * 1024,
                file,
            ))))
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    match crate::sys::open_regular(&layout::file_path(dir, first_seq, FileKind::Zst)) {
        Ok(file) => Ok(Some(SegmentText::Compressed(
            zstd::stream::read::Decoder::new(file)?,
        ))),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Skips `skip` bytes of `reader`, then counts the line feeds after them.
/// `Ok(None)` when the text ends before `skip` bytes.
pub(crate) fn count_lines_after(mut reader: impl Read, skip: u64) -> io::Result<Option<u64>> {
    let skipped = io::copy(&mut reader.by_ref().take(skip), &mut io::sink())?;
    if skipped < skip {
        return Ok(None);
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut lines = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(Some(lines)),
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        lines += buf[..n].iter().filter(|&&byte| byte == b'\n').count() as u64;
    }
}

/// The sequence number that follows the last complete line of segment
/// `first_seq`, using its index to skip what it can. `Ok(None)` when the
/// segment no longer exists.
pub(crate) fn segment_next_seq(dir: &Path, first_seq: u64) -> io::Result<Option<u64>> {
    let start = read_index(dir, first_seq)?
        .and_then(|(_, records)| records.last().copied())
        .map_or((first_seq, 0), |record| (record.seq, record.offset));
    let Some(text) = open_text(dir, first_seq)? else {
        return Ok(None);
    };
    if let Some(lines) = count_lines_after(text, start.1)? {
        return Ok(Some(start.0 + lines));
    }
    // The index points past the data: count from the start instead.
    let Some(text) = open_text(dir, first_seq)? else {
        return Ok(None);
    };
    Ok(count_lines_after(text, 0)?.map(|lines| first_seq + lines))
}

/// Offset just past the last `\n` among the first `len` bytes of `file`
/// (0 when there is none), reading backwards in chunks.
pub(crate) fn last_line_end(file: &File, len: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(at) = chunk.iter().rposition(|&byte| byte == b'\n') {
            return Ok(start + at as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}
