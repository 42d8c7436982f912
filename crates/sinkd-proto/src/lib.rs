//! The syslog protocol core of sinkd: bytes in, messages out, and back.
//!
//! This crate does no I/O. It reads raw frames ([`framing`], RFC 6587),
//! recognises one of three wire grammars per message ([`parse`]: RFC 5424,
//! RFC 3164 with its vendor variants, and the bare `<PRI>message` form) and
//! writes messages in the device's three output formats ([`format`](mod@format)). Every
//! message field borrows from the input, so parsing allocates nothing.
//!
//! A message that fits no grammar is data, not an error: [`parse`] keeps it
//! as [`Format::Unparsed`] with PRI `user.notice`. Only [`parse_strict`],
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
mod rfc3164;
mod rfc5424;
mod sd;
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

/// Parses one message leniently, recognising its format. Never fails: input
/// without a valid PRI comes back as [`Format::Unparsed`], and an RFC 5424
/// message that breaks the grammar is read as RFC 3164 or the bare form.
pub fn parse<'a>(raw: &'a [u8], received: &ReceiveTime) -> Message<'a> {
    let trimmed = trim_trailer(raw);
    let Some((pri, pri_len)) = parse_pri(trimmed) else {
        return Message::unparsed(raw, trimmed);
    };
    if rfc5424::has_version(&trimmed[pri_len..]) {
        if let Ok(message) = rfc5424::parse(raw, trimmed, pri, pri_len, false) {
            return message;
        }
    }
    rfc3164::parse(raw, trimmed, pri, pri_len, received)
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
    rfc5424::parse(raw, trimmed, pri, pri_len, true)
}
