//! Writing messages in the device's three output formats.
//!
//! The device manual (`format bsd|rfc3164|rfc5424`) fixes three shapes, and
//! sinkd writes them byte for byte so a sink configured on the server looks
//! like the same sink on the device:
//!
//! ```text
//! bsd      <PRI>proc[123]: message
//! rfc3164  <PRI>Nov 18 09:36:42 hostname proc[123] message
//! rfc5424  <PRI>1 2019-11-18T09:36:42.000321+01:00 hostname proc 123 - - message
//! ```
//!
//! `sinkd-relay` sends these over the wire (wrapped by
//! [`crate::framing::encode_frame`]), and `sinkd-store` appends them to
//! segment files with [`write_escaped_line`], which turns control characters
//! into rsyslog-style `#ooo` escapes so one message is always one line.
//!
//! The writers append to a caller-owned `Vec<u8>` and never allocate
//! anything else. A [`Message`] may come from a lenient parse of a sloppy
//! sender, so the writers make each header field valid for the target
//! format instead of trusting it; the rules are on [`write_message`].

use crate::message::Message;
use crate::sd::StructuredData;
use crate::time::Timestamp;
use std::fmt;
use std::str::FromStr;

#[cfg(test)]
mod tests;

/// One of the device's output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    /// Legacy form: `<PRI>` then the tag and message, no timestamp or host.
    Bsd,
    /// RFC 3164: `<PRI>Mmm dd hh:mm:ss hostname tag message`.
    Rfc3164,
    /// RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG`.
    Rfc5424,
}

impl OutputFormat {
    /// Every format, in the order the manual lists them.
    pub const ALL: [OutputFormat; 3] = [
        OutputFormat::Bsd,
        OutputFormat::Rfc3164,
        OutputFormat::Rfc5424,
    ];

    /// The configuration keyword: `bsd`, `rfc3164` or `rfc5424`.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Bsd => "bsd",
            OutputFormat::Rfc3164 => "rfc3164",
            OutputFormat::Rfc5424 => "rfc5424",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not one of `bsd`, `rfc3164`, `rfc5424`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownFormat {
    /// The name as given.
    pub name: String,
}

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown format `{}`: expected one of bsd, rfc3164, rfc5424",
            self.name
        )
    }
}

impl std::error::Error for UnknownFormat {}

impl FromStr for OutputFormat {
    type Err = UnknownFormat;

    /// Reads a configuration keyword, exactly as the manual spells it.
    fn from_str(name: &str) -> Result<OutputFormat, UnknownFormat> {
        OutputFormat::ALL
            .into_iter()
            .find(|format| format.name() == name)
            .ok_or_else(|| UnknownFormat {
                name: name.to_owned(),
            })
    }
}

/// RFC 5424 §6 field limits, in characters; the BSD header borrows the
/// first three.
const MAX_HOSTNAME: usize = 255;
const MAX_APP_NAME: usize = 48;
const MAX_PROCID: usize = 128;
const MAX_MSGID: usize = 32;

/// Appends `message` in `format` to `out`, without a trailing newline.
///
/// `fallback_time` is used when the message carries no valid timestamp;
/// pass the receive time (`ReceiveTime::local`). Should that be invalid as
/// well, RFC 5424 writes NILVALUE. Field rules:
///
/// - **Hostname.** The caller is expected to have filled
///   `message.hostname` (sinkd uses the device key). If it is still `None`,
///   RFC 5424 writes NILVALUE `-` and RFC 3164 leaves the field out, going
///   straight from the timestamp to the tag, as many BSD senders do.
/// - **Header fields** (hostname, APP-NAME, PROCID, MSGID) are made valid
///   for the format, one `_` for each character the format cannot carry,
///   and an empty field counts as missing. RFC 5424 keeps printable
///   US-ASCII (`!` to `~`), cuts each field to the RFC's maximum length
///   (255, 48, 128 and 32 characters) and writes a missing one as `-`. The
///   BSD header (rfc3164 and bsd) has no escapes and no NILVALUE, only
///   shapes, so it keeps what a reader can tell apart: a hostname of
///   letters, digits, `.-_:@/` and UTF-8 (not ending in `:`, which would
///   make it a tag), a tag of letters, digits, `-_./()%` and UTF-8 cut to 48
///   characters (RFC 5424's APP-NAME limit; RFC 3164's 32 is too short for
///   real senders),
///   and a PROCID of printable characters other than `[`, `]` and `:`, cut
///   to 128.
/// - **Tag** (rfc3164): `app[pid] msg` as the manual shows it (no colon),
///   `app: msg` when there is no PROCID, just `msg` without an APP-NAME (a
///   PROCID alone then has nowhere to go and is left out). The bsd format
///   writes `app[pid]: msg` or `app: msg`, the classic BSD tag.
/// - **Timestamp.** RFC 3164 writes the wall-clock fields of the timestamp
///   as they are, in the zone the sender wrote them (the format cannot say
///   which). RFC 5424 always writes six fractional digits and the numeric
///   offset, with `Z` for UTC as the RFC's own examples do; a leap second
///   (`:60`), which RFC 5424 forbids, is written as `:59.999999`. Digits
///   past the sixth that a sender wrote are cut.
/// - **MSGID and STRUCTURED-DATA** (rfc5424) are kept when the message has
///   them, `-` otherwise.
/// - **MSG** is written as it is, after one space; the space is left out
///   when the message is empty. No BOM is added; a BOM in front of text
///   that is not UTF-8 is left out, since RFC 5424 forbids that pairing.
pub fn write_message(
    message: &Message<'_>,
    format: OutputFormat,
    fallback_time: &Timestamp,
    out: &mut Vec<u8>,
) {
    write(message, format, fallback_time, false, out);
}

/// Appends `message` in `format` as one line for a plain-text log file:
/// like [`write_message`], then a LF. Control characters (bytes below 0x20
/// and 0x7F) are written as `#` and three octal digits, rsyslog's
/// convention (LF becomes `#012`, TAB `#011`), so the line never contains a
/// raw line break. `#` itself is not escaped, as in rsyslog: the escaping is
/// for reading, not for reversing.
pub fn write_escaped_line(
    message: &Message<'_>,
    format: OutputFormat,
    fallback_time: &Timestamp,
    out: &mut Vec<u8>,
) {
    write_escaped(message, format, fallback_time, out);
    out.push(b'\n');
}

/// Like [`write_escaped_line`] without the final LF: what the segment store
/// takes as one line.
pub fn write_escaped(
    message: &Message<'_>,
    format: OutputFormat,
    fallback_time: &Timestamp,
    out: &mut Vec<u8>,
) {
    write(message, format, fallback_time, true, out);
}

/// Appends `bytes` with every control character (below 0x20, and 0x7F)
/// written as `#` and three octal digits.
pub fn escape_control(bytes: &[u8], out: &mut Vec<u8>) {
    if !has_control(bytes) {
        out.extend_from_slice(bytes);
        return;
    }
    let mut rest = bytes;
    while let Some(idx) = rest.iter().position(|&byte| is_control(byte)) {
        out.extend_from_slice(&rest[..idx]);
        let byte = rest[idx];
        out.extend_from_slice(&[
            b'#',
            b'0' + (byte >> 6),
            b'0' + ((byte >> 3) & 7),
            b'0' + (byte & 7),
        ]);
        rest = &rest[idx + 1..];
    }
    out.extend_from_slice(rest);
}

/// Whether any byte is a control character. Branch-free per 64-byte chunk
/// so the compiler vectorises it: most messages have none, and this check
/// is all they pay.
fn has_control(bytes: &[u8]) -> bool {
    bytes.chunks(64).any(|chunk| {
        chunk
            .iter()
            .fold(false, |found, &byte| found | (byte < 0x20) | (byte == 0x7f))
    })
}

fn is_control(byte: u8) -> bool {
    byte < 0x20 || byte == 0x7f
}

fn write(
    message: &Message<'_>,
    format: OutputFormat,
    fallback_time: &Timestamp,
    escape: bool,
    out: &mut Vec<u8>,
) {
    out.push(b'<');
    push_decimal(out, u64::from(message.pri().value()));
    out.push(b'>');
    let time = message
        .timestamp
        .as_ref()
        .filter(|timestamp| is_writable(timestamp))
        .unwrap_or(fallback_time);
    match format {
        OutputFormat::Bsd => {
            let has_tag = write_bsd_tag(message, out);
            if has_tag {
                out.push(b':');
                if !message.msg.is_empty() {
                    out.push(b' ');
                }
            }
            push_payload(out, message.msg, escape);
        }
        OutputFormat::Rfc3164 => {
            time.write_rfc3164(out);
            if let Some(hostname) = present(message.hostname) {
                out.push(b' ');
                push_field(out, hostname, MAX_HOSTNAME, is_bsd_host_char);
                // A trailing colon would make the host read as a tag.
                if out.last() == Some(&b':') {
                    out.pop();
                    out.push(b'_');
                }
            }
            if present(message.app_name).is_some() || !message.msg.is_empty() {
                out.push(b' ');
            }
            let has_tag = write_bsd_tag(message, out);
            if has_tag && present(message.procid).is_none() {
                out.push(b':');
            }
            if has_tag && !message.msg.is_empty() {
                out.push(b' ');
            }
            push_payload(out, message.msg, escape);
        }
        OutputFormat::Rfc5424 => {
            out.extend_from_slice(b"1 ");
            if is_writable(time) {
                write_rfc5424_time(time, out);
            } else {
                out.push(b'-');
            }
            out.push(b' ');
            push_header_field(out, message.hostname, MAX_HOSTNAME);
            out.push(b' ');
            push_header_field(out, message.app_name, MAX_APP_NAME);
            out.push(b' ');
            push_header_field(out, message.procid, MAX_PROCID);
            out.push(b' ');
            push_header_field(out, message.msgid, MAX_MSGID);
            out.push(b' ');
            match &message.structured_data {
                Some(structured_data) => write_structured_data(structured_data, escape, out),
                None => out.push(b'-'),
            }
            let msg = rfc5424_msg(message.msg);
            if !msg.is_empty() {
                out.push(b' ');
                push_payload(out, msg, escape);
            }
        }
    }
}

/// Writes STRUCTURED-DATA that strict RFC 5424 accepts. Data that is
/// already strict goes out as it came; data the lenient parser tolerated
/// (spaces before `]`, over-long names, a raw `]` in a value, a repeated
/// SD-ID) is rewritten element by element: names cleaned and cut to 32
/// characters, values re-escaped, a repeated SD-ID suffixed `#2`, `#3`…
/// so nothing is dropped. Found by the `format_roundtrip` fuzz target.
fn write_structured_data(structured_data: &StructuredData<'_>, escape: bool, out: &mut Vec<u8>) {
    let text = structured_data.as_str();
    if structured_data.is_strict() {
        push_payload(out, text.as_bytes(), escape);
        return;
    }
    let mut canonical = Vec::with_capacity(text.len() + 16);
    let mut written_ids: Vec<SdName> = Vec::new();
    for element in structured_data.iter() {
        let id = unique_sd_id(SdName::new(element.id), &written_ids);
        canonical.push(b'[');
        canonical.extend_from_slice(id.as_bytes());
        written_ids.push(id);
        for param in element.params() {
            canonical.push(b' ');
            canonical.extend_from_slice(SdName::new(param.name).as_bytes());
            canonical.extend_from_slice(b"=\"");
            for byte in param.value().bytes() {
                if matches!(byte, b'"' | b'\\' | b']') {
                    canonical.push(b'\\');
                }
                canonical.push(byte);
            }
            canonical.push(b'"');
        }
        canonical.push(b']');
    }
    if canonical.is_empty() {
        out.push(b'-');
    } else {
        push_payload(out, &canonical, escape);
    }
}

/// An SD-NAME as strict RFC 5424 allows it: 1 to 32 printable ASCII
/// characters other than `=`, space, `]` and `"`; others become `_`.
#[derive(Clone, Copy, PartialEq, Eq)]
struct SdName {
    bytes: [u8; 32],
    len: usize,
}

impl SdName {
    fn new(name: &str) -> SdName {
        let mut bytes = [b'_'; 32];
        let mut len = 0;
        for (slot, byte) in bytes.iter_mut().zip(name.bytes()) {
            let valid = (33..=126).contains(&byte) && !matches!(byte, b'=' | b']' | b'"');
            *slot = if valid { byte } else { b'_' };
            len += 1;
        }
        SdName {
            bytes,
            len: len.max(1),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// `id`, or `id` with a `#N` suffix (shortened to stay within 32
/// characters) when an earlier element already used the name.
fn unique_sd_id(id: SdName, written: &[SdName]) -> SdName {
    let mut candidate = id;
    let mut suffix_number = 1u64;
    while written.contains(&candidate) {
        suffix_number += 1;
        let mut suffix = vec![b'#'];
        push_decimal(&mut suffix, suffix_number);
        let keep = id.len.min(32 - suffix.len());
        candidate = id;
        candidate.bytes[keep..keep + suffix.len()].copy_from_slice(&suffix);
        candidate.len = keep + suffix.len();
    }
    candidate
}

/// The MSG as RFC 5424 can carry it: text that starts with a BOM must be
/// UTF-8 (MSG-UTF8), so a BOM in front of anything else is left out and the
/// rest goes as MSG-ANY. Found by the `format_roundtrip` fuzz target.
fn rfc5424_msg(msg: &[u8]) -> &[u8] {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let mut msg = msg;
    while let Some(rest) = msg.strip_prefix(BOM) {
        if std::str::from_utf8(rest).is_ok() {
            break;
        }
        msg = rest;
    }
    msg
}

/// Writes `app[pid]` or `app` when the message has an APP-NAME, and says
/// whether it did.
fn write_bsd_tag(message: &Message<'_>, out: &mut Vec<u8>) -> bool {
    let Some(app_name) = present(message.app_name) else {
        return false;
    };
    push_field(out, app_name, MAX_APP_NAME, is_bsd_tag_char);
    if let Some(procid) = present(message.procid) {
        out.push(b'[');
        push_field(out, procid, MAX_PROCID, is_bsd_procid_char);
        out.push(b']');
    }
    true
}

/// The field, unless it is missing or empty.
fn present(field: Option<&str>) -> Option<&str> {
    field.filter(|value| !value.is_empty())
}

/// Whether a timestamp can be written as a real date: valid fields and a
/// four-digit year.
fn is_writable(timestamp: &Timestamp) -> bool {
    timestamp.is_valid() && timestamp.year <= 9999
}

/// RFC 5424 TIMESTAMP: six fractional digits, no leap second.
fn write_rfc5424_time(timestamp: &Timestamp, out: &mut Vec<u8>) {
    if timestamp.second == 60 {
        let clamped = Timestamp {
            second: 59,
            nanos: 999_999_999,
            ..*timestamp
        };
        clamped.write_rfc3339(out, 6);
    } else {
        timestamp.write_rfc3339(out, 6);
    }
}

/// An RFC 5424 header field: NILVALUE for `None` or empty, otherwise the
/// field made valid (see [`push_field`]).
fn push_header_field(out: &mut Vec<u8>, field: Option<&str>, max_chars: usize) {
    match field {
        Some(value) if !value.is_empty() => push_field(out, value, max_chars, is_print_us_ascii),
        _ => out.push(b'-'),
    }
}

/// Writes at most `max_chars` characters of `value`, each character that
/// `allowed` rejects as one `_`. A character outside ASCII is kept when
/// `allowed` accepts the bytes of UTF-8 (0x80 and up), written `_` when not.
fn push_field(out: &mut Vec<u8>, value: &str, max_chars: usize, allowed: impl Fn(u8) -> bool) {
    let bytes = value.as_bytes();
    if bytes.len() <= max_chars && bytes.iter().all(|&byte| allowed(byte)) {
        out.extend_from_slice(bytes);
        return;
    }
    let mut utf8 = [0u8; 4];
    for ch in value.chars().take(max_chars) {
        let keep = if ch.is_ascii() {
            allowed(ch as u8)
        } else {
            allowed(0x80)
        };
        if keep {
            out.extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes());
        } else {
            out.push(b'_');
        }
    }
}

/// RFC 5424 PRINTUSASCII: `!` to `~`.
fn is_print_us_ascii(byte: u8) -> bool {
    (33..=126).contains(&byte)
}

/// A host name or address character (`:` for IPv6), `@` and `/` as in
/// `user@host` and `host/vdom`, and UTF-8: what the RFC 3164 parser reads
/// as a hostname.
fn is_bsd_host_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(byte, b'.' | b'-' | b'_' | b':' | b'@' | b'/')
        || byte >= 0x80
}

/// RFC 3164's alphanumerics plus what real program names contain
/// (`systemd-logind`, `postfix/smtpd`, `sshd(pam_unix)`, Cisco's
/// `%ASA-6-302014`) and UTF-8: what the RFC 3164 parser reads as a tag.
fn is_bsd_tag_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(byte, b'-' | b'_' | b'.' | b'/' | b'(' | b')' | b'%')
        || byte >= 0x80
}

/// A character that can stand between the tag's brackets.
fn is_bsd_procid_char(byte: u8) -> bool {
    is_print_us_ascii(byte) && !matches!(byte, b'[' | b']' | b':')
}

fn push_payload(out: &mut Vec<u8>, bytes: &[u8], escape: bool) {
    if escape {
        escape_control(bytes, out);
    } else {
        out.extend_from_slice(bytes);
    }
}

/// Appends the decimal digits of `value`.
pub(crate) fn push_decimal(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}
