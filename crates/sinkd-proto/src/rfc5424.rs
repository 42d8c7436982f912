//! RFC 5424 parser (lenient and strict). Being written.

use crate::message::Message;
use crate::pri::Pri;
use std::fmt;

/// The RFC 5424 part a strict-mode error points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Pri,
    Version,
    Timestamp,
    Hostname,
    AppName,
    Procid,
    Msgid,
    StructuredData,
    Msg,
}

impl Field {
    /// The RFC's name for the field (`APP-NAME`, `STRUCTURED-DATA`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Field::Pri => "PRI",
            Field::Version => "VERSION",
            Field::Timestamp => "TIMESTAMP",
            Field::Hostname => "HOSTNAME",
            Field::AppName => "APP-NAME",
            Field::Procid => "PROCID",
            Field::Msgid => "MSGID",
            Field::StructuredData => "STRUCTURED-DATA",
            Field::Msg => "MSG",
        }
    }
}

/// Why a message is not valid RFC 5424: the field, the 1-based byte column
/// where the problem was found, and what was expected there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub field: Field,
    pub column: usize,
    pub reason: &'static str,
}

impl ParseError {
    pub(crate) fn new(field: Field, column: usize, reason: &'static str) -> ParseError {
        ParseError {
            field,
            column,
            reason,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RFC 5424 {} at column {}: {}",
            self.field.name(),
            self.column,
            self.reason
        )
    }
}

impl std::error::Error for ParseError {}

/// Whether the bytes after the PRI start with a VERSION and a space.
pub(crate) fn has_version(after_pri: &[u8]) -> bool {
    let digits = after_pri.iter().take_while(|b| b.is_ascii_digit()).count();
    (1..=3).contains(&digits) && after_pri[0] != b'0' && after_pri.get(digits) == Some(&b' ')
}

pub(crate) fn parse<'a>(
    raw: &'a [u8],
    trimmed: &'a [u8],
    pri: Pri,
    pri_len: usize,
    strict: bool,
) -> Result<Message<'a>, ParseError> {
    let _ = (raw, trimmed, pri, pri_len, strict);
    Err(ParseError::new(
        Field::Version,
        pri_len + 1,
        "not yet implemented",
    ))
}
