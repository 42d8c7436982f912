//! The RFC 5424 parser, in a strict and a lenient mode.
//!
//! [`crate::parse`] finds the PRI and, when [`has_version`] sees a VERSION
//! after it, calls [`parse`] here with `strict = false`; an `Err` sends the
//! message on to the RFC 3164 parser in [`crate::rfc3164`]. [`crate::parse_strict`]
//! calls it with `strict = true` and shows the [`ParseError`] to the user,
//! so every error names the [`Field`] and the 1-based byte column where the
//! grammar broke.
//!
//! The parser walks the header once, left to right, with a byte index. Each
//! field is a slice of the input checked byte by byte and converted to
//! `&str` without copying; STRUCTURED-DATA is validated by [`crate::sd`]
//! and kept as text. Nothing allocates (the one exception is strict mode's
//! duplicate SD-ID check on a message with more than 16 SD-ELEMENTs).
//!
//! Lenient mode is what the collector runs on real traffic. It accepts what
//! real senders get wrong when the meaning is still clear: any VERSION,
//! header fields longer than the RFC limits or holding UTF-8, more than six
//! fractional-second digits (truncated to microseconds), a lowercase `t` or
//! `z`, an offset written `+hhmm`, a leap second, a missing space between
//! STRUCTURED-DATA and MSG, and the STRUCTURED-DATA tolerances listed in
//! [`crate::sd`]. Anything else (an impossible date, an empty field, control
//! bytes in the header, unterminated STRUCTURED-DATA) is an `Err`, because
//! then the message most likely is not RFC 5424 at all.

use crate::message::{Format, Message};
use crate::pri::Pri;
use crate::sd;
use crate::time::{days_in_month, fraction, full_date, time_of_day, time_offset, Fault, Timestamp};
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

/// The UTF-8 byte order mark that may open MSG (§6.4).
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A header field with its RFC length limit (§6).
struct HeaderField {
    field: Field,
    max_len: usize,
    too_long: &'static str,
}

const HOSTNAME: HeaderField = HeaderField {
    field: Field::Hostname,
    max_len: 255,
    too_long: "HOSTNAME is longer than 255 characters",
};
const APP_NAME: HeaderField = HeaderField {
    field: Field::AppName,
    max_len: 48,
    too_long: "APP-NAME is longer than 48 characters",
};
const PROCID: HeaderField = HeaderField {
    field: Field::Procid,
    max_len: 128,
    too_long: "PROCID is longer than 128 characters",
};
const MSGID: HeaderField = HeaderField {
    field: Field::Msgid,
    max_len: 32,
    too_long: "MSGID is longer than 32 characters",
};

/// Where a field ended before the message did.
const ENDS_EARLY: &str = "missing: the message ends before this field";

/// Parses the message after its PRI. `raw` is the whole input, `trimmed`
/// the input without trailing LF, CR and NUL bytes, and `trimmed[pri_len..]`
/// starts with VERSION.
pub(crate) fn parse<'a>(
    raw: &'a [u8],
    trimmed: &'a [u8],
    pri: Pri,
    pri_len: usize,
    strict: bool,
) -> Result<Message<'a>, ParseError> {
    let input = trimmed;
    let (version, mut pos) = parse_version(input, pri_len, strict)?;
    pos = expect_sp(input, pos, Field::Version, Field::Timestamp)?;

    let timestamp = if input.get(pos) == Some(&b'-') {
        pos += 1;
        None
    } else {
        let (timestamp, end) = parse_timestamp(input, pos, strict)
            .map_err(|(at, reason)| ParseError::new(Field::Timestamp, at + 1, reason))?;
        pos = end;
        Some(timestamp)
    };
    pos = expect_sp(input, pos, Field::Timestamp, Field::Hostname)?;

    let (hostname, end) = header_field(input, pos, &HOSTNAME, strict)?;
    pos = expect_sp(input, end, Field::Hostname, Field::AppName)?;
    let (app_name, end) = header_field(input, pos, &APP_NAME, strict)?;
    pos = expect_sp(input, end, Field::AppName, Field::Procid)?;
    let (procid, end) = header_field(input, pos, &PROCID, strict)?;
    pos = expect_sp(input, end, Field::Procid, Field::Msgid)?;
    let (msgid, end) = header_field(input, pos, &MSGID, strict)?;
    pos = expect_sp(input, end, Field::Msgid, Field::StructuredData)?;

    let structured_data = match input.get(pos) {
        Some(b'-') => {
            pos += 1;
            None
        }
        Some(b'[') => {
            let (structured_data, consumed) =
                sd::parse(&input[pos..], strict).map_err(|error| {
                    ParseError::new(Field::StructuredData, pos + error.offset + 1, error.reason)
                })?;
            pos += consumed;
            Some(structured_data)
        }
        Some(_) => {
            return Err(ParseError::new(
                Field::StructuredData,
                pos + 1,
                "expected '[' or '-'",
            ))
        }
        None => return Err(ParseError::new(Field::StructuredData, pos + 1, ENDS_EARLY)),
    };

    let msg_start = match input.get(pos) {
        None => pos,
        Some(b' ') => pos + 1,
        // A sender that glued MSG to a closing `]` still meant MSG.
        Some(_) if !strict && structured_data.is_some() => pos,
        Some(_) => {
            return Err(ParseError::new(
                Field::StructuredData,
                pos + 1,
                "expected SP between STRUCTURED-DATA and MSG",
            ))
        }
    };
    let mut msg = &input[msg_start..];
    if let Some(text) = msg.strip_prefix(BOM) {
        if strict {
            if let Err(error) = std::str::from_utf8(text) {
                return Err(ParseError::new(
                    Field::Msg,
                    msg_start + BOM.len() + error.valid_up_to() + 1,
                    "MSG starts with a BOM but is not valid UTF-8",
                ));
            }
        }
        msg = text;
    }

    Ok(Message {
        format: Format::Rfc5424,
        facility: pri.facility,
        severity: pri.severity,
        version: Some(version),
        timestamp,
        hostname,
        app_name,
        procid,
        msgid,
        structured_data,
        msg,
        raw,
    })
}

/// Reads VERSION (`NONZERO-DIGIT 0*2DIGIT`) at `pos`; returns it and the
/// index after it. Strict mode accepts only `1`, the one version defined.
fn parse_version(input: &[u8], pos: usize, strict: bool) -> Result<(u16, usize), ParseError> {
    let mut value: u16 = 0;
    let mut idx = pos;
    while let Some(&byte) = input.get(idx) {
        if !byte.is_ascii_digit() || idx - pos == 3 {
            break;
        }
        value = value * 10 + u16::from(byte - b'0');
        idx += 1;
    }
    if idx == pos || input[pos] == b'0' {
        return Err(ParseError::new(
            Field::Version,
            pos + 1,
            "expected VERSION: 1 to 3 digits, the first not 0",
        ));
    }
    if strict && value != 1 {
        return Err(ParseError::new(
            Field::Version,
            pos + 1,
            "only VERSION 1 is defined",
        ));
    }
    Ok((value, idx))
}

/// Expects the SP that ends `field` at `pos` and returns the index after
/// it. At the end of input the error names `next`, the field that is missing.
fn expect_sp(input: &[u8], pos: usize, field: Field, next: Field) -> Result<usize, ParseError> {
    match input.get(pos) {
        Some(b' ') => Ok(pos + 1),
        Some(_) => Err(ParseError::new(field, pos + 1, sp_reason(field))),
        None => Err(ParseError::new(next, pos + 1, ENDS_EARLY)),
    }
}

fn sp_reason(field: Field) -> &'static str {
    match field {
        Field::Version => "expected SP after VERSION",
        Field::Timestamp => "expected SP after TIMESTAMP",
        Field::Hostname => "expected SP after HOSTNAME",
        Field::AppName => "expected SP after APP-NAME",
        Field::Procid => "expected SP after PROCID",
        Field::Msgid => "expected SP after MSGID",
        _ => "expected SP",
    }
}

/// Reads HOSTNAME, APP-NAME, PROCID or MSGID at `pos`: NILVALUE or
/// 1..max_len PRINTUSASCII bytes. Returns the value (`None` for `-`) and the
/// index of the byte that ended it (SP or end of input, or in strict mode
/// the offending byte).
fn header_field<'a>(
    input: &'a [u8],
    pos: usize,
    spec: &HeaderField,
    strict: bool,
) -> Result<(Option<&'a str>, usize), ParseError> {
    let mut idx = pos;
    let mut saw_non_ascii = false;
    while let Some(&byte) = input.get(idx) {
        if byte == b' ' {
            break;
        }
        if !(33..=126).contains(&byte) {
            if strict || byte < 0x80 {
                return Err(ParseError::new(
                    spec.field,
                    idx + 1,
                    "expected printable US-ASCII (33..126)",
                ));
            }
            saw_non_ascii = true;
        }
        idx += 1;
    }
    let len = idx - pos;
    if len == 0 {
        let reason = if idx < input.len() {
            "empty field: expected a value or '-'"
        } else {
            ENDS_EARLY
        };
        return Err(ParseError::new(spec.field, idx + 1, reason));
    }
    if strict && len > spec.max_len {
        return Err(ParseError::new(
            spec.field,
            pos + spec.max_len + 1,
            spec.too_long,
        ));
    }
    let bytes = &input[pos..idx];
    if bytes == b"-" {
        return Ok((None, idx));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok((Some(text), idx)),
        Err(error) => {
            let reason = if saw_non_ascii {
                "not valid UTF-8"
            } else {
                "expected printable US-ASCII (33..126)"
            };
            Err(ParseError::new(
                spec.field,
                pos + error.valid_up_to() + 1,
                reason,
            ))
        }
    }
}

/// Reads `FULL-DATE "T" FULL-TIME` (§6.2.3) at `pos`; returns the timestamp
/// and the index after it. A fault is the 0-based index of the offending
/// byte and why.
fn parse_timestamp(input: &[u8], pos: usize, strict: bool) -> Result<(Timestamp, usize), Fault> {
    let (year, month, day) = full_date(input, pos, b'-')?;
    match input.get(pos + 10) {
        Some(b'T') => {}
        Some(b't') if !strict => {}
        _ => return Err((pos + 10, "expected 'T' between date and time")),
    }
    let (hour, minute, second) = time_of_day(input, pos + 11)?;

    if !(1..=12).contains(&month) {
        return Err((pos + 5, "month must be 01 to 12"));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err((pos + 8, "day does not exist in this month"));
    }
    if hour >= 24 {
        return Err((pos + 11, "hour must be 00 to 23"));
    }
    if minute >= 60 {
        return Err((pos + 14, "minutes must be 00 to 59"));
    }
    if second > 60 || (strict && second == 60) {
        return Err((pos + 17, "seconds must be 00 to 59 (no leap seconds)"));
    }

    let mut idx = pos + 19;
    let mut micros = 0u32;
    let mut frac_digits = 0u8;
    if input.get(idx) == Some(&b'.') {
        let frac_start = idx + 1;
        let digits = fraction(input, frac_start);
        if digits.end == frac_start {
            return Err((frac_start, "expected digits after '.'"));
        }
        if strict && digits.end - frac_start > 6 {
            return Err((frac_start + 6, "at most 6 fractional-second digits"));
        }
        micros = digits.micros;
        frac_digits = digits.frac_digits;
        idx = digits.end;
    }
    let (offset_minutes, end) = time_offset(input, idx, strict)?;

    let timestamp = Timestamp {
        year,
        month,
        day,
        hour,
        minute,
        second,
        micros,
        frac_digits,
        offset_minutes,
    };
    Ok((timestamp, end))
}

#[cfg(test)]
mod tests;
