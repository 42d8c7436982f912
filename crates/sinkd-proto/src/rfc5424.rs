//! The RFC 5424 parser, in a strict and a lenient mode.
//!
//! [`crate::parse`] finds the PRI (or its absence) and, when [`has_version`]
//! sees a VERSION after it, calls [`parse`] here in [`Mode::Lenient`]; an
//! `Err` sends the message on to the RFC 3164 parser in [`crate::rfc3164`].
//! [`crate::parse_strict`] calls it in [`Mode::Strict`] and shows the
//! [`ParseError`] to the user,
//! so every error names the [`Field`] and the 1-based byte column where the
//! grammar broke.
//!
//! The parser walks the header once, left to right, with a byte index. Each
//! field is a slice of the input checked byte by byte and converted to
//! `&str` without copying; STRUCTURED-DATA is validated by [`crate::sd`]
//! and kept as text. Nothing allocates (the one exception is strict mode's
//! duplicate SD-ID check on a message with more than 16 SD-ELEMENTs).
//!
//! Both modes accept every VERSION the grammar allows (`NONZERO-DIGIT
//! 0*2DIGIT`); the message keeps it.
//!
//! Lenient mode is what the collector runs on real traffic. It accepts what
//! real senders get wrong when the meaning is still clear: header fields
//! longer than the RFC limits or holding UTF-8, more than six
//! fractional-second digits (kept to the nanosecond), a lowercase `t` or
//! `z`, an offset written `+hhmm`, no offset at all (the receiver's zone is
//! used, as for RFC 3164), a leap second, a missing space between
//! STRUCTURED-DATA and MSG, and the STRUCTURED-DATA tolerances listed in
//! [`crate::sd`]. Until the SP after TIMESTAMP anything else (an impossible
//! date, a missing field) is an `Err`, because then the message most likely
//! is not RFC 5424 at all. After it the message is RFC 5424, and one bad
//! part does not lose the others: the fields read so far are kept and the
//! rest, from the first part that cannot be read (an empty field, control
//! bytes, malformed STRUCTURED-DATA), becomes MSG. STRUCTURED-DATA where
//! APP-NAME, PROCID or MSGID belongs is read as STRUCTURED-DATA after
//! missing fields.

use crate::message::{Format, Message};
use crate::pri::Pri;
use crate::sd;
use crate::time::{
    days_in_month, fraction, full_date, time_of_day, time_offset, Fault, ReceiveTime, Timestamp,
};
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

/// How [`parse`] reads: [`Mode::Strict`] reports the first departure from
/// the RFC; [`Mode::Lenient`] takes what real senders get wrong and
/// completes a timestamp without offset in the receiver's zone.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode<'r> {
    Strict,
    Lenient(&'r ReceiveTime),
}

/// The header fields after TIMESTAMP, in order, with the field that follows
/// each (named when the message ends before it).
const HEADER_FIELDS: [(&HeaderField, Field); 4] = [
    (&HOSTNAME, Field::AppName),
    (&APP_NAME, Field::Procid),
    (&PROCID, Field::Msgid),
    (&MSGID, Field::StructuredData),
];

/// Parses the message after its PRI. `raw` is the whole input, `trimmed`
/// the input without trailing LF, CR and NUL bytes, and `trimmed[pri_len..]`
/// starts with VERSION.
///
/// Up to the SP after TIMESTAMP an error is an error in both modes: the
/// message is not RFC 5424. After it, lenient mode keeps every field it has
/// read and returns the rest, from the first part it could not read, as
/// MSG; but when a field that opens with `[` where APP-NAME, PROCID or
/// MSGID belongs reads as STRUCTURED-DATA followed by MSG, the fields from
/// there on are missing and that is the STRUCTURED-DATA.
pub(crate) fn parse<'a>(
    raw: &'a [u8],
    trimmed: &'a [u8],
    pri: Pri,
    pri_len: usize,
    mode: Mode<'_>,
) -> Result<Message<'a>, ParseError> {
    let input = trimmed;
    let strict = matches!(mode, Mode::Strict);
    let (version, mut pos) = parse_version(input, pri_len)?;
    pos = expect_sp(input, pos, Field::Version, Field::Timestamp)?;

    let timestamp = if input.get(pos) == Some(&b'-') {
        pos += 1;
        None
    } else {
        let (timestamp, end) = parse_timestamp(input, pos, mode)
            .map_err(|(at, reason)| ParseError::new(Field::Timestamp, at + 1, reason))?;
        pos = end;
        Some(timestamp)
    };
    pos = expect_sp(input, pos, Field::Timestamp, Field::Hostname)?;

    let mut read = Message {
        version: Some(version),
        timestamp,
        ..Message::empty(Format::Rfc5424, pri, raw)
    };
    let Err((error, rest_at)) = read_fields(input, pos, 0, strict, &mut read) else {
        return Ok(read);
    };
    if strict {
        return Err(error);
    }
    // A field that opens with `[` where APP-NAME, PROCID or MSGID belongs
    // may be STRUCTURED-DATA after missing fields: read it so if that works.
    let mut field_start = pos;
    // Only fields read before the fault count: the others are in MSG.
    for index in 0..HEADER_FIELDS.len() {
        if field_start >= rest_at {
            break;
        }
        if index > 0 && input.get(field_start) == Some(&b'[') {
            let mut shifted = Message {
                app_name: if index > 1 { read.app_name } else { None },
                procid: if index > 2 { read.procid } else { None },
                msgid: None,
                structured_data: None,
                ..read.clone()
            };
            if read_fields(input, field_start, 4, false, &mut shifted).is_ok() {
                return Ok(shifted);
            }
            break;
        }
        match memchr::memchr(b' ', input.get(field_start..).unwrap_or_default()) {
            Some(offset) => field_start += offset + 1,
            None => break,
        }
    }
    Ok(Message {
        msg: input.get(rest_at..).unwrap_or_default(),
        ..read
    })
}

/// Reads the header fields `HEADER_FIELDS[first..]` (none when `first` is
/// 4), STRUCTURED-DATA and MSG from `pos` into `message`. On error, returns
/// it with the index from which the rest would be MSG; `message` then holds
/// the fields read before.
#[inline(always)]
fn read_fields<'a>(
    input: &'a [u8],
    mut pos: usize,
    first: usize,
    strict: bool,
    message: &mut Message<'a>,
) -> Result<(), (ParseError, usize)> {
    for (index, (spec, next)) in HEADER_FIELDS.into_iter().enumerate().skip(first) {
        let (value, end) = header_field(input, pos, spec, strict).map_err(|error| (error, pos))?;
        match index {
            0 => message.hostname = value,
            1 => message.app_name = value,
            2 => message.procid = value,
            _ => message.msgid = value,
        }
        pos = expect_sp(input, end, spec.field, next).map_err(|error| (error, end))?;
    }

    let sd_start = pos;
    match input.get(pos) {
        Some(b'-') => pos += 1,
        Some(b'[') => {
            let (structured_data, consumed) =
                sd::parse(&input[pos..], strict).map_err(|error| {
                    let at = pos + error.offset + 1;
                    (
                        ParseError::new(Field::StructuredData, at, error.reason),
                        sd_start,
                    )
                })?;
            message.structured_data = Some(structured_data);
            pos += consumed;
        }
        Some(_) => {
            let error = ParseError::new(Field::StructuredData, pos + 1, "expected '[' or '-'");
            return Err((error, sd_start));
        }
        None => {
            let error = ParseError::new(Field::StructuredData, pos + 1, ENDS_EARLY);
            return Err((error, sd_start));
        }
    }

    let msg_start = match input.get(pos) {
        None => pos,
        Some(b' ') => pos + 1,
        // A sender that glued MSG to a closing `]` still meant MSG.
        Some(_) if !strict && message.structured_data.is_some() => pos,
        Some(_) => {
            let error = ParseError::new(
                Field::StructuredData,
                pos + 1,
                "expected SP between STRUCTURED-DATA and MSG",
            );
            return Err((error, sd_start));
        }
    };
    let mut msg = &input[msg_start..];
    if let Some(text) = msg.strip_prefix(BOM) {
        if strict {
            if let Err(error) = crate::text::from_utf8(text) {
                let error = ParseError::new(
                    Field::Msg,
                    msg_start + BOM.len() + error.valid_up_to() + 1,
                    "MSG starts with a BOM but is not valid UTF-8",
                );
                return Err((error, msg_start));
            }
        }
        msg = text;
    }
    message.msg = msg;
    Ok(())
}

/// Reads VERSION (`NONZERO-DIGIT 0*2DIGIT`, so 1 to 999) at `pos`; returns
/// it and the index after it. Every VERSION the grammar allows is accepted
/// in both modes: only 1 is defined today, but a later one is well-formed.
fn parse_version(input: &[u8], pos: usize) -> Result<(u16, usize), ParseError> {
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
    loop {
        idx = field_stop(input, idx);
        let Some(&byte) = input.get(idx) else {
            break;
        };
        if byte == b' ' {
            break;
        }
        if strict || byte < 0x80 {
            return Err(ParseError::new(
                spec.field,
                idx + 1,
                "expected printable US-ASCII (33..126)",
            ));
        }
        saw_non_ascii = true;
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
    match crate::text::from_utf8(bytes) {
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

/// The index of the first byte at or after `pos` that is not printable
/// US-ASCII (33..=126): the SP that ends a header field, or a byte it must
/// not hold; `input.len()` when there is none. Eight bytes a step: a field
/// (a host name, an app name) is mostly longer than one step, and a loop
/// byte by byte paid a mispredicted exit per field on top of its length.
#[inline]
fn field_stop(input: &[u8], mut pos: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = input.get(pos..pos + 8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let word = u64::from_le_bytes(bytes);
        // Below 33: subtracting 33 borrows into the byte's high bit, which
        // was clear. Above 126: adding 1 carries into it, or it was set.
        // A borrow or carry reaches only bytes above a flagged one, so the
        // lowest flag is exact.
        let below = word.wrapping_sub(ONES * 33) & !word & HIGH_BITS;
        let above = (word.wrapping_add(ONES) | word) & HIGH_BITS;
        let flags = below | above;
        if flags != 0 {
            return pos + (flags.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while let Some(&byte) = input.get(pos) {
        if !(33..=126).contains(&byte) {
            break;
        }
        pos += 1;
    }
    pos
}

/// Reads `FULL-DATE "T" FULL-TIME` (§6.2.3) at `pos`; returns the timestamp
/// and the index after it. A fault is the 0-based index of the offending
/// byte and why. Lenient mode reads a time without TIME-OFFSET (followed by
/// SP or the end) in the receiver's zone, as RFC 3164 timestamps are.
fn parse_timestamp(input: &[u8], pos: usize, mode: Mode<'_>) -> Result<(Timestamp, usize), Fault> {
    let strict = matches!(mode, Mode::Strict);
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
    let mut nanos = 0u32;
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
        nanos = digits.nanos;
        frac_digits = digits.frac_digits;
        idx = digits.end;
    }
    let (offset_minutes, end) = match (time_offset(input, idx, strict), mode) {
        (Ok(offset), _) => offset,
        (Err(_), Mode::Lenient(received)) if matches!(input.get(idx), None | Some(b' ')) => {
            (received.offset_minutes(), idx)
        }
        (Err(fault), _) => return Err(fault),
    };

    let timestamp = Timestamp {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanos,
        frac_digits,
        offset_minutes,
    };
    Ok((timestamp, end))
}

#[cfg(test)]
mod tests;
