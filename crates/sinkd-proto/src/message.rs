//! The parsed message: a borrowed view over the raw bytes.
//!
//! Every field of [`Message`] points into the input slice, so parsing makes
//! no allocation; the raw bytes always stay reachable through
//! [`Message::raw`], which is what lets sinkd keep a message it could not
//! understand. [`Format`] records which grammar recognised the message.

use crate::pri::{Facility, Pri, Severity};
use crate::sd::StructuredData;
use crate::time::Timestamp;

/// Which grammar recognised a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// The bare legacy `<PRI>message` form: a valid PRI but no syslog header
    /// timestamp (a vendor payload, such as Fortinet's `date=`/`time=`, may
    /// still supply one).
    Bsd,
    /// RFC 3164 and its vendor variants: `<PRI>TIMESTAMP [HOSTNAME] [TAG:] MSG`.
    Rfc3164,
    /// RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`.
    Rfc5424,
    /// No valid PRI and no readable header after it: kept whole as `msg`
    /// with PRI `user.notice` (RFC 3164 §4.3.3). A message without PRI
    /// whose RFC 5424 or RFC 3164 header is readable has that format and
    /// PRI `user.notice`.
    Unparsed,
}

impl Format {
    /// The name `sinkd parse` prints.
    pub fn name(self) -> &'static str {
        match self {
            Format::Bsd => "bsd",
            Format::Rfc3164 => "rfc3164",
            Format::Rfc5424 => "rfc5424",
            Format::Unparsed => "unparsed",
        }
    }
}

/// A syslog message as a view over its raw bytes.
///
/// Optional header fields are `None` when absent or NILVALUE (`-`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// The grammar that recognised the message.
    pub format: Format,
    pub facility: Facility,
    pub severity: Severity,
    /// RFC 5424 VERSION; `None` for every other format.
    pub version: Option<u16>,
    /// Completed timestamp: a missing year or zone has been filled from the
    /// receive time. `None` for NILVALUE or when the format has none.
    pub timestamp: Option<Timestamp>,
    pub hostname: Option<&'a str>,
    pub app_name: Option<&'a str>,
    pub procid: Option<&'a str>,
    pub msgid: Option<&'a str>,
    /// RFC 5424 STRUCTURED-DATA, validated; `None` for NILVALUE.
    pub structured_data: Option<StructuredData<'a>>,
    /// The free-form message, without a leading UTF-8 BOM and without
    /// trailing LF, CR or NUL bytes. May be any bytes.
    pub msg: &'a [u8],
    /// The whole input as received, before any trimming.
    pub raw: &'a [u8],
}

impl<'a> Message<'a> {
    /// An unparsed message: the (trimmed) input kept whole as `msg`, with
    /// PRI `user.notice`.
    pub fn unparsed(raw: &'a [u8], msg: &'a [u8]) -> Message<'a> {
        Message {
            format: Format::Unparsed,
            facility: Pri::DEFAULT.facility,
            severity: Pri::DEFAULT.severity,
            version: None,
            timestamp: None,
            hostname: None,
            app_name: None,
            procid: None,
            msgid: None,
            structured_data: None,
            msg,
            raw,
        }
    }

    /// An empty message of the given format and PRI, for parsers to fill in.
    pub fn empty(format: Format, pri: Pri, raw: &'a [u8]) -> Message<'a> {
        Message {
            format,
            facility: pri.facility,
            severity: pri.severity,
            msg: &[],
            ..Message::unparsed(raw, &[])
        }
    }

    /// Facility and severity together.
    pub fn pri(&self) -> Pri {
        Pri {
            facility: self.facility,
            severity: self.severity,
        }
    }
}
