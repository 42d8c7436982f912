//! The syslog protocol core of sinkd: bytes in, messages out, and back.
//!
//! This crate does no I/O. It reads raw frames ([`framing`], RFC 6587),
//! recognises one of three wire grammars per message ([`parse`]: RFC 5424,
//! RFC 3164 with its vendor variants, and the bare `<PRI>message` form) and
//! writes messages in the device's three output formats ([`format`](mod@format)). Every
//! message field borrows from the input, so parsing allocates nothing.
//!
//! A message that fits no grammar is data, not an error: [`parse`] keeps it
//! as [`Format::Unparsed`] with PRI `user.notice`; a message without PRI
//! whose header is readable gets that PRI and its header's format. Only [`parse_strict`],
//! which checks RFC 5424 conformance, reports errors, each naming the field
//! and column at fault.
//!
//! ```
//! use sinkd_proto::{parse, Format, ReceiveTime};
//! let received = ReceiveTime::new(1_700_000_000, 0, 0);
//! let message = parse(b"<34>1 2003-10-11T22:14:15.003Z host su - ID47 - hi", &received);
//! assert_eq!(message.format, Format::Rfc5424);
//! assert_eq!(message.hostname, Some("host"));
//! ```

pub mod format;
pub mod framing;
mod message;
mod pri;
pub mod relp;
mod rfc3164;
mod rfc5424;
mod sd;
mod text;
pub mod time;

pub use message::{Format, Message};
pub use pri::{parse_pri, Facility, Pri, Severity, FACILITY_COUNT, SEVERITY_COUNT};
pub use rfc5424::{Field, ParseError};
pub use sd::{SdElement, SdElements, SdParam, SdParams, StructuredData};
pub use time::{ReceiveTime, Timestamp};

/// Strips what senders append after a message: every trailing LF, CR and
/// NUL byte, in any order (`"<13>a\r\n\0"` becomes `"<13>a"`). They are
/// transport residue, not message text; the parsers call it first, and the
/// UDP listener (`sinkd-listen`) on each datagram.
pub fn trim_trailer(raw: &[u8]) -> &[u8] {
    let mut end = raw.len();
    while end > 0 && matches!(raw[end - 1], b'\n' | b'\r' | 0) {
        end -= 1;
    }
    &raw[..end]
}

/// Parses one message leniently, recognising its format. Never fails: an
/// RFC 5424 message that breaks the grammar before its fields is read as
/// RFC 3164 or the bare form, and one that breaks it later keeps the fields
/// read and the rest as MSG.
///
/// Input without a valid PRI (some appliances send none) is read the same
/// way with PRI `user.notice` (RFC 3164 §4.3.3): when an RFC 5424 or RFC
/// 3164 header with its timestamp follows, the message gets that format and
/// its fields; otherwise it comes back whole as [`Format::Unparsed`].
pub fn parse<'a>(raw: &'a [u8], received: &ReceiveTime) -> Message<'a> {
    let trimmed = trim_trailer(raw);
    match parse_pri(trimmed) {
        Some(found) => parse_after_pri(raw, trimmed, found, received),
        None => parse_without_pri(raw, trimmed, received),
    }
}

/// Both grammars after the PRI `pri` of `pri_len` bytes (0 when there is
/// none).
fn parse_after_pri<'a>(
    raw: &'a [u8],
    trimmed: &'a [u8],
    (pri, pri_len): (Pri, usize),
    received: &ReceiveTime,
) -> Message<'a> {
    if rfc5424::has_version(&trimmed[pri_len..]) {
        let mode = rfc5424::Mode::Lenient(received);
        if let Ok(message) = rfc5424::parse(raw, trimmed, pri, pri_len, mode) {
            return message;
        }
    }
    rfc3164::parse(raw, trimmed, pri, pri_len, received)
}

/// A message without PRI: parsed as if it had `<13>` when a header with a
/// timestamp follows, kept whole as [`Format::Unparsed`] otherwise.
#[cold]
fn parse_without_pri<'a>(raw: &'a [u8], trimmed: &'a [u8], received: &ReceiveTime) -> Message<'a> {
    let message = parse_after_pri(raw, trimmed, (Pri::DEFAULT, 0), received);
    if message.timestamp.is_some() {
        message
    } else {
        Message::unparsed(raw, trimmed)
    }
}

/// Parses one message as RFC 5424, rejecting anything the RFC forbids. The
/// error names the field and the 1-based byte column where parsing stopped.
pub fn parse_strict(raw: &[u8]) -> Result<Message<'_>, ParseError> {
    let trimmed = trim_trailer(raw);
    let Some((pri, pri_len)) = parse_pri(trimmed) else {
        return Err(ParseError::new(
            Field::Pri,
            1,
            "expected <PRI> with a value from 0 to 191",
        ));
    };
    rfc5424::parse(raw, trimmed, pri, pri_len, rfc5424::Mode::Strict)
}
