//! The on-disk layout of a stream directory: file names and the binary
//! format of the sparse time index. `docs/adr/0001-segment-layout.md` is
//! the authoritative description; this module is its only implementation.
//!
//! A stream directory holds, per segment, files named after the sequence
//! number of the segment's first line, zero-padded to 20 digits:
//!
//! ```text
//! 00000000000000000001.log       active or not yet compressed segment
//! 00000000000000000001.log.zst   closed segment, zstd
//! 00000000000000000001.idx       sparse index of that segment (lazy:
//!                                only once it has a record)
//! .00000000000000000001.log.zst.tmp   compression in progress
//! ```
//!
//! The index is a 32-byte header followed by 32-byte records, all integers
//! little-endian, written field by field (never by casting a struct), so
//! the format is fixed by this code and the ADR rather than by a compiler.
//! Everything here is pure: the writer, the recovery code and the readers
//! do the I/O.

use std::path::{Path, PathBuf};

#[cfg(test)]
mod tests;

/// Digits in a segment's file-name sequence number (`u64::MAX` has 20).
const SEQ_DIGITS: usize = 20;

/// The kinds of file found in a stream directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// `N.log`: plain text, one line per message.
    Log,
    /// `N.log.zst`: the zstd-compressed `N.log`.
    Zst,
    /// `N.idx`: the sparse index; absent until the segment has a record.
    Index,
    /// `.N.log.zst.tmp`: a compression that has not been renamed yet.
    CompressTemp,
}

impl FileKind {
    fn suffix(self) -> &'static str {
        match self {
            FileKind::Log => ".log",
            FileKind::Zst => ".log.zst",
            FileKind::Index => ".idx",
            FileKind::CompressTemp => ".log.zst.tmp",
        }
    }
}

/// Writes `seq` as 20 zero-padded decimal digits into `out`.
fn push_seq(seq: u64, out: &mut String) {
    let mut digits = [b'0'; SEQ_DIGITS];
    let mut rest = seq;
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    for digit in digits {
        out.push(digit as char);
    }
}

/// The file name of `kind` for the segment starting at `first_seq`.
pub(crate) fn file_name(first_seq: u64, kind: FileKind) -> String {
    let mut name = String::with_capacity(SEQ_DIGITS + 13);
    if kind == FileKind::CompressTemp {
        name.push('.');
    }
    push_seq(first_seq, &mut name);
    name.push_str(kind.suffix());
    name
}

/// Appends `<name>` of `kind` for the segment starting at `first_seq` to
/// `out` (a path being built without an allocation of its own).
pub(crate) fn push_file_name(first_seq: u64, kind: FileKind, out: &mut Vec<u8>) {
    let mut name = [0u8; SEQ_DIGITS + 13];
    let mut len = 0;
    if kind == FileKind::CompressTemp {
        name[0] = b'.';
        len = 1;
    }
    let mut rest = first_seq;
    for slot in name[len..len + SEQ_DIGITS].iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    len += SEQ_DIGITS;
    let suffix = kind.suffix().as_bytes();
    name[len..len + suffix.len()].copy_from_slice(suffix);
    out.extend_from_slice(&name[..len + suffix.len()]);
}

/// `dir/<name>` for `kind` of the segment starting at `first_seq`.
pub(crate) fn file_path(dir: &Path, first_seq: u64, kind: FileKind) -> PathBuf {
    dir.join(file_name(first_seq, kind))
}

/// Recognises a stream-directory file name; anything else is `None`.
pub(crate) fn parse_file_name(name: &str) -> Option<(u64, FileKind)> {
    let (body, temp) = match name.strip_prefix('.') {
        Some(body) => (body, true),
        None => (name, false),
    };
    let digits = body.get(..SEQ_DIGITS)?;
    let suffix = &body[SEQ_DIGITS..];
    if !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let seq: u64 = digits.parse().ok()?;
    let kind = match (suffix, temp) {
        (".log", false) => FileKind::Log,
        (".log.zst", false) => FileKind::Zst,
        (".idx", false) => FileKind::Index,
        (".log.zst.tmp", true) => FileKind::CompressTemp,
        _ => return None,
    };
    Some((seq, kind))
}

/// First bytes of every index file.
pub(crate) const INDEX_MAGIC: [u8; 8] = *b"SINKDIDX";
/// The index format version this code writes and reads.
pub(crate) const INDEX_VERSION: u16 = 1;
/// Size of the index header.
pub(crate) const INDEX_HEADER_LEN: usize = 32;
/// Size of one index record.
pub(crate) const INDEX_RECORD_LEN: usize = 32;

/// Header flag (bytes 14..16): the records are keyed by the lines' own
/// timestamps. Indexes written before the flag existed have it clear and
/// are keyed by receive time.
const FLAG_MESSAGE_TIME: u16 = 1;

/// The header of an index file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IndexHeader {
    /// Sequence number of the segment's first line; equals the file name's.
    pub(crate) first_seq: u64,
    /// Wall-clock creation time of the segment, microseconds since the Unix
    /// epoch; rotation by age counts from here.
    pub(crate) created_micros: i64,
    /// Whether `max_timestamp_micros` bounds the lines' own timestamps
    /// (every index this code writes) rather than their receive times (an
    /// index written by an older sinkd; readers then allow for clocks
    /// running ahead).
    pub(crate) message_time: bool,
}

impl IndexHeader {
    pub(crate) fn encode(&self) -> [u8; INDEX_HEADER_LEN] {
        let mut out = [0u8; INDEX_HEADER_LEN];
        out[0..8].copy_from_slice(&INDEX_MAGIC);
        out[8..10].copy_from_slice(&INDEX_VERSION.to_le_bytes());
        out[10..12].copy_from_slice(&(INDEX_HEADER_LEN as u16).to_le_bytes());
        out[12..14].copy_from_slice(&(INDEX_RECORD_LEN as u16).to_le_bytes());
        let flags = if self.message_time {
            FLAG_MESSAGE_TIME
        } else {
            0
        };
        out[14..16].copy_from_slice(&flags.to_le_bytes());
        out[16..24].copy_from_slice(&self.first_seq.to_le_bytes());
        out[24..32].copy_from_slice(&self.created_micros.to_le_bytes());
        out
    }

    /// Decodes a header; `None` when the magic, version or sizes differ.
    pub(crate) fn decode(bytes: &[u8]) -> Option<IndexHeader> {
        let bytes: &[u8; INDEX_HEADER_LEN] = bytes.get(..INDEX_HEADER_LEN)?.try_into().ok()?;
        if bytes[0..8] != INDEX_MAGIC
            || u16_at(bytes, 8) != INDEX_VERSION
            || usize::from(u16_at(bytes, 10)) != INDEX_HEADER_LEN
            || usize::from(u16_at(bytes, 12)) != INDEX_RECORD_LEN
        {
            return None;
        }
        Some(IndexHeader {
            first_seq: u64_at(bytes, 16),
            created_micros: u64_at(bytes, 24) as i64,
            message_time: u16_at(bytes, 14) & FLAG_MESSAGE_TIME != 0,
        })
    }
}

/// One record of the sparse index.
///
/// Invariant (the whole point of the index): every line of the segment that
/// starts before `offset` has a timestamp of at most `max_timestamp_micros`,
/// and the line starting at `offset` (if any) has sequence number `seq`.
/// Records are in increasing `offset` order and `max_timestamp_micros` never
/// decreases, so both can be binary-searched. A record whose `offset` is the
/// end of the segment (its `seq` then being the next segment's first) bounds
/// the timestamps of the whole segment; `i64::MAX` means "unknown".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IndexRecord {
    pub(crate) max_timestamp_micros: i64,
    pub(crate) seq: u64,
    pub(crate) offset: u64,
}

impl IndexRecord {
    pub(crate) fn encode(&self) -> [u8; INDEX_RECORD_LEN] {
        let mut out = [0u8; INDEX_RECORD_LEN];
        out[0..8].copy_from_slice(&self.max_timestamp_micros.to_le_bytes());
        out[8..16].copy_from_slice(&self.seq.to_le_bytes());
        out[16..24].copy_from_slice(&self.offset.to_le_bytes());
        // 24..28 reserved, zero.
        let check = checksum(&out[..28]);
        out[28..32].copy_from_slice(&check.to_le_bytes());
        out
    }

    /// Decodes one record; `None` when its checksum does not match (a torn
    /// or overwritten record).
    pub(crate) fn decode(bytes: &[u8]) -> Option<IndexRecord> {
        let bytes: &[u8; INDEX_RECORD_LEN] = bytes.get(..INDEX_RECORD_LEN)?.try_into().ok()?;
        if u32::from_le_bytes([bytes[28], bytes[29], bytes[30], bytes[31]])
            != checksum(&bytes[..28])
        {
            return None;
        }
        Some(IndexRecord {
            max_timestamp_micros: u64_at(bytes, 0) as i64,
            seq: u64_at(bytes, 8),
            offset: u64_at(bytes, 16),
        })
    }
}

/// Decodes a whole index file: the header and the longest prefix of valid,
/// ordered records. `None` when the header is missing, of another version,
/// or for another segment.
pub(crate) fn decode_index(
    bytes: &[u8],
    first_seq: u64,
) -> Option<(IndexHeader, Vec<IndexRecord>)> {
    let header = IndexHeader::decode(bytes)?;
    if header.first_seq != first_seq {
        return None;
    }
    let mut records: Vec<IndexRecord> = Vec::new();
    for chunk in bytes[INDEX_HEADER_LEN..].chunks_exact(INDEX_RECORD_LEN) {
        let Some(record) = IndexRecord::decode(chunk) else {
            break;
        };
        let plausible = record.seq >= first_seq && record.seq - first_seq <= record.offset;
        let ordered = records.last().is_none_or(|previous| {
            record.offset >= previous.offset
                && record.seq >= previous.seq
                && record.max_timestamp_micros >= previous.max_timestamp_micros
        });
        if !plausible || !ordered {
            break;
        }
        records.push(record);
    }
    Some((header, records))
}

/// FNV-1a over `bytes`, enough to tell a record from garbage or a torn write.
fn checksum(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for &byte in bytes {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

fn u16_at(bytes: &[u8; 32], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u64_at(bytes: &[u8; 32], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}
