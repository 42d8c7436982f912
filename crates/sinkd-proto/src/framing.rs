//! RFC 6587 framing: cutting a TCP or TLS byte stream into syslog messages.
//!
//! A stream-oriented syslog sender has two ways to mark where one message
//! ends and the next begins (RFC 6587 §3.4). *Octet counting* prefixes every
//! message with its length, `MSG-LEN SP SYSLOG-MSG`, so any byte may appear
//! inside a message. *Non-transparent framing* ends every message with a
//! trailer, in practice LF, optionally preceded by CR. A receiver can tell the
//! two apart from the very first byte of a connection: octet counting starts
//! with a non-zero digit, while every syslog message starts with `<`. So
//! [`Deframer::new`] detects the method once per stream, and
//! [`Deframer::with_framing`] lets configuration force it.
//!
//! The [`Deframer`] is sans-IO in the style of rustls' deframer: the
//! caller owns the socket and a buffer, appends what it reads, and asks for
//! frames until there are none. [`Deframer::decode`] splits each frame off
//! the front of a `BytesMut` as `Bytes`; [`Deframer::decode_at`], which the
//! listener in `sinkd-listen` uses, hands back ranges of the buffer behind
//! a cursor, so the caller drops the decoded front once per read. Either
//! way no message is copied. Memory stays bounded by `max_frame` whatever the peer
//! sends: an octet-counting header that claims too much is rejected before a
//! single byte of the claimed size is reserved, and an endless LF line is
//! dropped as it arrives instead of being buffered (see
//! [`FrameError::Oversized`]).
//!
//! [`encode_frame`] is the writing half, used by `sinkd-relay` when it
//! forwards messages over TCP or TLS.

use bytes::{Buf, Bytes, BytesMut};
use std::fmt;
use std::ops::Range;

#[cfg(test)]
mod tests;

/// How messages are delimited on a stream (RFC 6587 §3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Framing {
    /// Non-transparent framing: each message ends with LF (a CR before the
    /// LF is dropped too).
    NonTransparent,
    /// Octet counting: `MSG-LEN SP SYSLOG-MSG`.
    OctetCounting,
}

impl Framing {
    /// The method a stream uses, judged from its first byte: a digit from 1
    /// to 9 starts an octet-counting header, anything else (normally `<`) a
    /// non-transparent message.
    pub fn detect(first_byte: u8) -> Framing {
        if matches!(first_byte, b'1'..=b'9') {
            Framing::OctetCounting
        } else {
            Framing::NonTransparent
        }
    }

    /// The configuration name: `non-transparent` or `octet-counting`.
    pub fn name(self) -> &'static str {
        match self {
            Framing::NonTransparent => "non-transparent",
            Framing::OctetCounting => "octet-counting",
        }
    }
}

/// Why a stream could not be cut into frames.
///
/// Only [`FrameError::Oversized`] leaves the stream usable: the deframer has
/// already skipped the offending line and the caller should count the drop
/// and call [`Deframer::decode`] again. Every other variant means the peer's
/// byte stream can no longer be trusted to line up with message boundaries;
/// [`FrameError::is_fatal`] says so, the deframer keeps returning the same
/// error, and the caller should close the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// Octet counting: a frame header started with a byte that is not a
    /// digit.
    BadLengthByte {
        /// The byte found where MSG-LEN should start.
        found: u8,
    },
    /// Octet counting: MSG-LEN started with `0`, either a zero length or a
    /// zero-padded one; RFC 6587 requires a non-zero first digit.
    LeadingZero,
    /// Octet counting: MSG-LEN claimed more than the configured maximum.
    LengthTooLarge {
        /// The length the header claimed, as far as it was read (saturating
        /// at `u64::MAX`).
        claimed: u64,
        /// Whether the whole MSG-LEN was read; if not, `claimed` is only a
        /// lower bound.
        complete: bool,
        /// The configured maximum frame size.
        max_frame: usize,
    },
    /// Octet counting: MSG-LEN was not followed by a space.
    MissingSpace {
        /// The length the header claimed.
        claimed: usize,
        /// The byte found where the space should be.
        found: u8,
    },
    /// Non-transparent framing: a line longer than the maximum frame size
    /// was dropped (the part already buffered at once, the rest as it
    /// arrives, up to and including its LF). The stream goes on; this is
    /// reported once per dropped line.
    Oversized {
        /// The configured maximum frame size.
        max_frame: usize,
    },
    /// Octet counting: the stream ended in the middle of a frame.
    Truncated {
        /// How many bytes of the unfinished frame (header included) were
        /// buffered when the stream ended.
        buffered: usize,
    },
}

impl FrameError {
    /// Whether the stream must be abandoned. `false` only for
    /// [`FrameError::Oversized`], after which decoding continues.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, FrameError::Oversized { .. })
    }

    /// Whether the error is about a frame being too large (the
    /// `frame_too_large` drop reason) rather than a malformed stream.
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            FrameError::LengthTooLarge { .. } | FrameError::Oversized { .. }
        )
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FrameError::BadLengthByte { found } => write!(
                f,
                "octet-counting frame header starts with byte 0x{found:02x}, expected a digit 1-9"
            ),
            FrameError::LeadingZero => f.write_str(
                "octet-counting frame length starts with 0 (zero or zero-padded lengths are invalid)",
            ),
            FrameError::LengthTooLarge {
                claimed,
                complete,
                max_frame,
            } => write!(
                f,
                "octet-counting frame length {claimed}{} exceeds the maximum of {max_frame} bytes",
                if complete { "" } else { " (or more)" }
            ),
            FrameError::MissingSpace { claimed, found } => write!(
                f,
                "octet-counting frame length {claimed} is followed by byte 0x{found:02x}, expected a space"
            ),
            FrameError::Oversized { max_frame } => write!(
                f,
                "dropped a line longer than the maximum of {max_frame} bytes"
            ),
            FrameError::Truncated { buffered } => write!(
                f,
                "stream ended inside an octet-counted frame ({buffered} bytes buffered)"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

/// Where the deframer is within the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Between frames, or inside a line that fits so far.
    Normal,
    /// Inside an over-long LF line: bytes are dropped up to the next LF.
    Discarding,
    /// A fatal error happened; it is returned again on every call.
    Failed(FrameError),
}

/// Cuts a byte stream into syslog frames (RFC 6587), without doing I/O.
///
/// The caller appends received bytes to a `BytesMut` and calls
/// [`Deframer::decode`] until it returns `Ok(None)`. At that point the buffer
/// holds at most [`Deframer::max_buffered`] bytes, so a reader that tops the
/// buffer up to that size never holds more than one frame's worth of a
/// peer's data.
#[derive(Debug)]
pub struct Deframer {
    framing: Option<Framing>,
    max_frame: usize,
    /// Digits needed to write `max_frame`: a longer MSG-LEN is too large
    /// whatever its value.
    max_len_digits: usize,
    state: State,
    /// LF mode: how many bytes from the cursor on (the front of the buffer,
    /// for `decode`) are known to hold no LF, so a line arriving in pieces
    /// is scanned only once.
    lf_scanned: usize,
}

impl Deframer {
    /// A deframer that detects the framing from the stream's first byte and
    /// accepts frames of up to `max_frame` bytes (not counting the
    /// octet-counting header or the LF trailer).
    pub fn new(max_frame: usize) -> Deframer {
        Deframer {
            framing: None,
            max_frame,
            max_len_digits: decimal_digits(max_frame),
            state: State::Normal,
            lf_scanned: 0,
        }
    }

    /// A deframer that uses `framing` whatever the stream starts with.
    pub fn with_framing(framing: Framing, max_frame: usize) -> Deframer {
        Deframer {
            framing: Some(framing),
            ..Deframer::new(max_frame)
        }
    }

    /// The framing in use: forced by configuration, or detected once the
    /// first byte arrived; `None` before that.
    pub fn framing(&self) -> Option<Framing> {
        self.framing
    }

    /// The largest frame accepted.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// The most bytes `decode` leaves in the buffer when it returns
    /// `Ok(None)`: one frame of `max_frame` bytes plus its header (octet
    /// counting) or its CR (LF framing).
    pub fn max_buffered(&self) -> usize {
        self.max_frame.saturating_add(self.max_len_digits + 1)
    }

    /// Returns the next complete frame, split off the front of `buf`, or
    /// `Ok(None)` when more bytes are needed. Call it again after every
    /// `Ok(Some(_))` and after [`FrameError::Oversized`]; stop on a fatal
    /// error (see [`FrameError::is_fatal`]).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let mut at = 0;
        let result = self.decode_at(buf, &mut at);
        // What was passed over goes, also before an error.
        let frame = split_frame(buf, at, result.clone().ok().flatten());
        result.map(|_| frame)
    }

    /// Like [`Deframer::decode`], for when the stream has ended: a last LF
    /// line without its LF is returned as a frame. Call it until it returns
    /// `Ok(None)`. With octet counting, leftover bytes of an unfinished frame
    /// are reported as [`FrameError::Truncated`] and dropped.
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let mut at = 0;
        let result = self.decode_eof_at(buf, &mut at);
        // What was passed over goes, also before an error.
        let frame = split_frame(buf, at, result.clone().ok().flatten());
        result.map(|_| frame)
    }

    /// [`Deframer::decode`] without moving bytes: `buf[*at..]` is what is
    /// still undecoded, and the next frame comes back as a range of `buf`,
    /// with `*at` moved past it (and past its framing). Bytes the deframer
    /// drops (an over-long line, a frame header) are passed over the same
    /// way. A caller that cuts many frames out of one read this way, then
    /// drops `buf[..*at]` once, spends no reference count or copy per
    /// frame. The deframer's memory of a partly scanned line is relative
    /// to `*at`, so `*at` must be where the previous call left it, or the
    /// start of the same bytes after the caller dropped what was before.
    pub fn decode_at(
        &mut self,
        buf: &[u8],
        at: &mut usize,
    ) -> Result<Option<Range<usize>>, FrameError> {
        if let State::Failed(error) = self.state {
            return Err(error);
        }
        *at = (*at).min(buf.len());
        let framing = match self.framing {
            Some(framing) => framing,
            None => match buf.get(*at) {
                Some(&first) => {
                    let framing = Framing::detect(first);
                    self.framing = Some(framing);
                    framing
                }
                None => return Ok(None),
            },
        };
        let result = match framing {
            Framing::NonTransparent => self.line_at(buf, at),
            Framing::OctetCounting => self.counted_at(buf, at),
        };
        if let Err(error) = result {
            if error.is_fatal() {
                self.state = State::Failed(error);
            }
        }
        result
    }

    /// [`Deframer::decode_eof`] in the manner of [`Deframer::decode_at`].
    pub fn decode_eof_at(
        &mut self,
        buf: &[u8],
        at: &mut usize,
    ) -> Result<Option<Range<usize>>, FrameError> {
        if let Some(frame) = self.decode_at(buf, at)? {
            return Ok(Some(frame));
        }
        let start = *at;
        if start >= buf.len() {
            return Ok(None);
        }
        *at = buf.len();
        match (self.framing, self.state) {
            (_, State::Discarding) => {
                self.state = State::Normal;
                self.lf_scanned = 0;
                Ok(None)
            }
            (Some(Framing::OctetCounting), _) => {
                let error = FrameError::Truncated {
                    buffered: buf.len() - start,
                };
                self.state = State::Failed(error);
                Err(error)
            }
            _ => {
                // `decode_at` left no LF after `start`, so what is there is
                // the final line; it may still be one byte over the limit.
                self.lf_scanned = 0;
                let mut end = buf.len();
                if buf[end - 1] == b'\r' {
                    end -= 1;
                }
                if end - start > self.max_frame {
                    return Err(FrameError::Oversized {
                        max_frame: self.max_frame,
                    });
                }
                Ok((end > start).then_some(start..end))
            }
        }
    }

    fn line_at(&mut self, buf: &[u8], at: &mut usize) -> Result<Option<Range<usize>>, FrameError> {
        loop {
            if self.state == State::Discarding {
                match find_lf(buf, *at) {
                    Some(lf_idx) => {
                        *at = lf_idx + 1;
                        self.state = State::Normal;
                    }
                    None => {
                        *at = buf.len();
                        return Ok(None);
                    }
                }
            }
            let start = *at;
            let pending = buf.len() - start;
            // A caller that swapped or drained the buffer gets a rescan.
            if self.lf_scanned > pending {
                self.lf_scanned = 0;
            }
            let Some(lf_idx) = find_lf(buf, start + self.lf_scanned) else {
                // A line may still end with CR LF, so one byte beyond
                // max_frame is allowed while waiting for the LF.
                if pending > self.max_frame.saturating_add(1) {
                    *at = buf.len();
                    self.lf_scanned = 0;
                    self.state = State::Discarding;
                    return Err(FrameError::Oversized {
                        max_frame: self.max_frame,
                    });
                }
                self.lf_scanned = pending;
                return Ok(None);
            };
            self.lf_scanned = 0;
            *at = lf_idx + 1;
            let mut end = lf_idx;
            if end > start && buf[end - 1] == b'\r' {
                end -= 1;
            }
            if end - start > self.max_frame {
                return Err(FrameError::Oversized {
                    max_frame: self.max_frame,
                });
            }
            if end == start {
                continue;
            }
            return Ok(Some(start..end));
        }
    }

    fn counted_at(
        &mut self,
        buf: &[u8],
        at: &mut usize,
    ) -> Result<Option<Range<usize>>, FrameError> {
        let pending = &buf[*at..];
        let Some(&first) = pending.first() else {
            return Ok(None);
        };
        match first {
            b'1'..=b'9' => {}
            b'0' => return Err(FrameError::LeadingZero),
            _ => return Err(FrameError::BadLengthByte { found: first }),
        }
        let mut claimed: usize = 0;
        let mut n_digits = 0;
        for &byte in pending {
            if !byte.is_ascii_digit() {
                break;
            }
            n_digits += 1;
            if n_digits > self.max_len_digits {
                return Err(self.too_large(pending));
            }
            // With at most `max_len_digits` digits this overflows only when
            // `max_frame` is close to `usize::MAX`; checked all the same.
            claimed = match claimed
                .checked_mul(10)
                .and_then(|value| value.checked_add(usize::from(byte - b'0')))
            {
                Some(value) => value,
                None => return Err(self.too_large(pending)),
            };
            if claimed > self.max_frame {
                return Err(self.too_large(pending));
            }
        }
        let Some(&after) = pending.get(n_digits) else {
            return Ok(None);
        };
        if after != b' ' {
            return Err(FrameError::MissingSpace {
                claimed,
                found: after,
            });
        }
        let header_len = n_digits + 1;
        if pending.len() - header_len < claimed {
            return Ok(None);
        }
        let start = *at + header_len;
        *at = start + claimed;
        Ok(Some(start..start + claimed))
    }

    /// The error for a MSG-LEN above the limit, reading as much of the
    /// claimed number as is buffered (at most 20 digits) for the message.
    fn too_large(&self, buf: &[u8]) -> FrameError {
        let mut claimed: u64 = 0;
        let mut complete = false;
        for (idx, &byte) in buf.iter().enumerate() {
            if !byte.is_ascii_digit() {
                complete = true;
                break;
            }
            if idx == 20 {
                claimed = u64::MAX;
                break;
            }
            claimed = claimed
                .saturating_mul(10)
                .saturating_add(u64::from(byte - b'0'));
        }
        FrameError::LengthTooLarge {
            claimed,
            complete,
            max_frame: self.max_frame,
        }
    }
}

/// Drops `buf[..at]`, all of it decoded, keeping `frame` (a range inside
/// it) as its own `Bytes`.
fn split_frame(buf: &mut BytesMut, at: usize, frame: Option<Range<usize>>) -> Option<Bytes> {
    let mut decoded = buf.split_to(at.min(buf.len()));
    let frame = frame?;
    decoded.truncate(frame.end);
    decoded.advance(frame.start);
    Some(decoded.freeze())
}

/// The index of the first LF in `buf` at or after `from` (memchr's
/// vectorised search: LF framing spends most of its time here).
fn find_lf(buf: &[u8], from: usize) -> Option<usize> {
    memchr::memchr(b'\n', buf.get(from..)?).map(|idx| idx + from)
}

/// How many decimal digits `value` takes to write (1 for 0).
fn decimal_digits(mut value: usize) -> usize {
    let mut n_digits = 1;
    while value >= 10 {
        value /= 10;
        n_digits += 1;
    }
    n_digits
}

/// Appends `msg` to `out` as one frame.
///
/// Octet counting writes `MSG-LEN SP msg`, carrying any byte. Non-transparent
/// framing writes `msg LF`; as an LF inside the message would end the frame
/// early, each embedded LF is written as `#012`, and a CR at the very end
/// (which a receiver would strip as part of a CR LF trailer) as `#015`, the
/// same octal escapes rsyslog and sinkd's file store use for control
/// characters. An empty `msg` writes nothing: octet counting cannot express
/// a zero length and a receiver skips empty lines.
pub fn encode_frame(framing: Framing, msg: &[u8], out: &mut Vec<u8>) {
    if msg.is_empty() {
        return;
    }
    match framing {
        Framing::OctetCounting => {
            crate::format::push_decimal(out, msg.len() as u64);
            out.push(b' ');
            out.extend_from_slice(msg);
        }
        Framing::NonTransparent => {
            let (body, trailing_cr) = match msg.split_last() {
                Some((b'\r', body)) => (body, true),
                _ => (msg, false),
            };
            for (idx, part) in body.split(|&byte| byte == b'\n').enumerate() {
                if idx > 0 {
                    out.extend_from_slice(b"#012");
                }
                out.extend_from_slice(part);
            }
            if trailing_cr {
                out.extend_from_slice(b"#015");
            }
            out.push(b'\n');
        }
    }
}
