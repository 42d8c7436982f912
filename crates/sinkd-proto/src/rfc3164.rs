//! RFC 3164 ("BSD syslog"), the vendor dialects around it, and the bare
//! `<PRI>message` form.
//!
//! [`crate::parse`] reads the PRI, tries RFC 5424 in [`crate::rfc5424`], and
//! hands everything else to [`parse`] here. This parser never fails: what it
//! cannot take apart stays in `msg`, so a message is never lost. It returns
//! [`Format::Rfc3164`] when it found a timestamp in the header and
//! [`Format::Bsd`] for the bare form (where a vendor payload may still yield
//! a timestamp, as Fortinet's `date=`/`time=` pairs do).
//!
//! RFC 3164 describes what senders did rather than prescribing it, and
//! senders kept going their own ways, so the parser reads the header as a
//! sequence of optional parts, each recognised by its shape:
//!
//! ```text
//! <PRI> [SEQ: [HOST:]] [*|.]TIMESTAMP [ZONE] [YEAR] [:] [HOSTNAME [:]] [SEQ: [TIMESTAMP:]] [TAG[PID][:]] MSG
//! ```
//!
//! * Timestamps: `Mmm dd hh:mm:ss` (day space- or zero-padded, month in any
//!   case), with a year before the time (`Mmm dd yyyy hh:mm:ss`, Cisco ASA)
//!   or before the month (`yyyy Mmm dd ...`, NX-OS and IOS-XR), fractional
//!   seconds, a zone (`UTC`, `CET`, `+0100`, ...) and a trailing `:`; and
//!   RFC 3339 (`2026-03-08T09:15:32.123+01:00`, rsyslog's and syslog-ng's
//!   "ISO" forms). A leading `*` or `.` is Cisco's "not synchronised" mark.
//!   A missing year or zone comes from the [`ReceiveTime`]. An impossible
//!   date (`Feb 30`) is not a timestamp at all. All of them, and the vendor
//!   dates below, are read in [`timestamp`].
//! * HOSTNAME: the word after a classic timestamp, if it looks like a host
//!   name or address (letters, digits, `.-_:@/` and UTF-8), and does not
//!   end in `:`. So `sshd[12]: ...` and `su: ...` are tags of a message
//!   without a hostname, `host sshd[12]: ...` has both, and a message that
//!   is one word after the timestamp is a hostname with an empty MSG (as
//!   rsyslog reads it). A timestamp that ends in `:` is Cisco's, which
//!   never has a hostname after it.
//! * TAG, as rsyslog and syslog-ng read it (RFC 3164 §4.1.3: the TAG ends
//!   at the first character that cannot be in it): `app[pid]:`, `app:`,
//!   `app:` glued to MSG, and `app[pid]` or `app` followed by a space, so
//!   `Use the BFG!` (RFC 3164 §5.4) has the tag `Use` and `-- MARK --` the
//!   tag `--`. Tags may hold letters, digits, `-_./()%` and UTF-8, up to
//!   255 bytes; a number alone is not a tag. Cisco's `%FAC-SEV-MNEMONIC:`
//!   and `%ASA:` in the tag's place are the tag, and the text after `: `
//!   the MSG. In the bare form only `app[pid]` and a `%...:` tag count, as
//!   too many plain messages start with `Word:` or a word.
//! * MSGID: Cisco's `%FAC-[SUB-]SEV-MNEMONIC` (from the tag, or from MSG
//!   where a program's tag comes first), the `UPPER_CASE:` event names
//!   Juniper writes after the tag, Clavister's 8-digit `id=` and Fortinet's
//!   `logid=`.
//!
//! Everything is a byte loop over the input with bounded look-ahead; all
//! fields borrow from it and nothing allocates.

use crate::message::{Format, Message};
use crate::pri::Pri;
use crate::time::{ReceiveTime, Timestamp};
use timestamp::{clavister_timestamp, fortinet_timestamp, read_timestamp};

#[cfg(test)]
mod tests;
mod timestamp;

/// Longest TAG (APP-NAME) accepted. RFC 3164 says 32, but Windows agents
/// write event source names of 40 and more, and rsyslog and syslog-ng take
/// tags of hundreds of characters; output formats cut it to 48.
const MAX_TAG_LEN: usize = 255;
/// Longest HOSTNAME accepted (a DNS name's limit).
const MAX_HOSTNAME_LEN: usize = 255;
/// Longest PID between the tag's brackets.
const MAX_PROCID_LEN: usize = 128;
/// Longest MSGID taken from a vendor mnemonic or event name.
const MAX_MSGID_LEN: usize = 64;
/// How far into MSG a Clavister `id=` is looked for.
const CLAVISTER_ID_WINDOW: usize = 256;
/// Longest Cisco session-id block (`[syslog@9 s_id="sw1:666"]:`).
const MAX_SESSION_ID_LEN: usize = 256;

/// Parses a message that is not RFC 5424. `trimmed` is `raw` without its
/// trailer and starts with a valid PRI of `pri_len` bytes.
pub(crate) fn parse<'a>(
    raw: &'a [u8],
    trimmed: &'a [u8],
    pri: Pri,
    pri_len: usize,
    received: &ReceiveTime,
) -> Message<'a> {
    let text = trimmed.get(pri_len..).unwrap_or_default();
    let fields = parse_fortinet(text, received)
        .or_else(|| parse_clavister(text, received))
        .or_else(|| parse_cisco_prefixed(text, received))
        .or_else(|| parse_header(text, received))
        .unwrap_or_else(|| parse_bare(text));
    Message {
        timestamp: fields.timestamp,
        hostname: fields.hostname,
        app_name: fields.app_name,
        procid: fields.procid,
        msgid: fields.msgid,
        msg: strip_bom(fields.msg),
        ..Message::empty(fields.format, pri, raw)
    }
}

/// What one of the dialect readers found.
struct Fields<'a> {
    format: Format,
    timestamp: Option<Timestamp>,
    hostname: Option<&'a str>,
    app_name: Option<&'a str>,
    procid: Option<&'a str>,
    msgid: Option<&'a str>,
    msg: &'a [u8],
}

impl<'a> Fields<'a> {
    fn bare(msg: &'a [u8]) -> Fields<'a> {
        Fields {
            format: Format::Bsd,
            timestamp: None,
            hostname: None,
            app_name: None,
            procid: None,
            msgid: None,
            msg,
        }
    }
}

// ---------------------------------------------------------------------------
// Dialects, tried in order by `parse`.
// ---------------------------------------------------------------------------

/// The classic header: `[*]TIMESTAMP [HOSTNAME] [TAG:] MSG`, possibly after
/// leading spaces (Dell PowerConnect writes `<130> JAN 01 ...`).
fn parse_header<'a>(text: &'a [u8], received: &ReceiveTime) -> Option<Fields<'a>> {
    let start = skip_spaces(text, 0);
    let reading = read_timestamp(text, start, received)?;
    let mut pos = skip_spaces(text, reading.end);
    let mut hostname = None;
    // The mnemonic that confirmed a skipped prelude, which starts at `pos`.
    let mut mnemonic = None;
    if !reading.cisco_colon {
        (pos, mnemonic) = skip_cisco_prelude(text, pos, received);
        if let Some((host, next)) = read_hostname(text, pos) {
            hostname = Some(host);
            (pos, mnemonic) = skip_cisco_prelude(text, next, received);
        }
    }
    let timestamp = Some(reading.timestamp);
    Some(tag_and_msg(text, pos, mnemonic, timestamp, hostname))
}

/// Cisco IOS, IOS-XR and NX-OS with sequence numbers: `123: ` (or NX-OS's
/// empty `: `), an optional session-id block, an optional origin
/// (`router1: ` or IOS-XR's `router1 RP/0/RSP0/CPU0:`), then a timestamp,
/// an uptime or nothing before `%FAC-SEV-MNEMONIC`. Without a timestamp the
/// mnemonic must be there to confirm the reading, so that `<13>42: answer`
/// keeps its text.
fn parse_cisco_prefixed<'a>(text: &'a [u8], received: &ReceiveTime) -> Option<Fields<'a>> {
    let mut pos = read_seq(text, 0, 0)?;
    pos = skip_session_id(text, pos);
    let mut hostname = None;
    let mut reading = read_timestamp(text, pos, received);
    if reading.is_none() {
        if let Some(next) = read_uptime(text, pos) {
            pos = next;
        } else if let Some((host, next)) = read_cisco_origin(text, pos) {
            hostname = Some(host);
            pos = next;
            reading = read_timestamp(text, pos, received);
            if reading.is_none() {
                pos = read_uptime(text, pos).unwrap_or(pos);
            }
        }
    }
    match reading {
        Some(reading) => {
            let pos = skip_spaces(text, reading.end);
            Some(tag_and_msg(
                text,
                pos,
                None,
                Some(reading.timestamp),
                hostname,
            ))
        }
        None => {
            let mnemonic = cisco_mnemonic_tag(text.get(pos..)?)?;
            Some(tag_and_msg(text, pos, Some(mnemonic), None, hostname))
        }
    }
}

/// The bare form, `<PRI>message`. Spaces after the PRI separate, they are
/// not content (the device manual writes `<PRI> message`). A leading
/// `app[pid]:` (or `app[pid] `) is read as a tag, as legacy senders put one
/// there, and so is Cisco's `%ASA-6-305011:`; `app:` alone is not, because
/// too many plain messages start with `Word:`.
fn parse_bare(text: &[u8]) -> Fields<'_> {
    let text = text.get(skip_spaces(text, 0)..).unwrap_or_default();
    if let Some(tag) = read_tag(text, 0) {
        if tag.procid.is_some() || (tag.colon && tag.app_name.starts_with('%')) {
            let msg = text.get(tag.next..).unwrap_or_default();
            return Fields {
                app_name: Some(tag.app_name),
                procid: tag.procid,
                msgid: mnemonic_tag(tag.app_name)
                    .or_else(|| cisco_mnemonic(msg))
                    .or_else(|| event_name(msg)),
                ..Fields::bare(msg)
            };
        }
    }
    Fields {
        msgid: cisco_mnemonic(text),
        ..Fields::bare(text)
    }
}

/// Fortinet FortiGate's key=value lines:
/// `date=2019-05-13 time=11:20:54 devname="FGT60E" ... logid="0000000013" ... tz="+0200"`.
/// The whole line stays in `msg`; `devname` becomes the hostname, `logid`
/// the MSGID and `date`/`time`/`tz` the timestamp. The format stays
/// [`Format::Bsd`]: there is no syslog header, only a payload we understand.
fn parse_fortinet<'a>(text: &'a [u8], received: &ReceiveTime) -> Option<Fields<'a>> {
    const FIRST_KEYS: [&[u8]; 3] = [b"date=", b"logver=", b"devname="];
    if !FIRST_KEYS.iter().any(|key| text.starts_with(key)) {
        return None;
    }
    let mut date = None;
    let mut time = None;
    let mut zone = None;
    let mut hostname = None;
    let mut msgid = None;
    let mut pairs = KeyValues { text, pos: 0 };
    while let Some((key, value)) = pairs.next_pair() {
        match key {
            b"date" if date.is_none() => date = Some(value),
            b"time" if time.is_none() => time = Some(value),
            b"tz" if zone.is_none() => zone = Some(value),
            b"devname" if hostname.is_none() => hostname = host_str(value),
            b"logid" if msgid.is_none() => msgid = ascii_word(value, MAX_MSGID_LEN),
            _ => {}
        }
    }
    let timestamp = date
        .zip(time)
        .and_then(|(date, time)| fortinet_timestamp(date, time, zone, received));
    if timestamp.is_none() && hostname.is_none() {
        return None;
    }
    Some(Fields {
        timestamp,
        hostname,
        msgid,
        ..Fields::bare(text)
    })
}

/// Clavister cOS Core: `[2019-05-13 11:20:54] EFW: ALG: prio=1 id=00200001 rev=1 event=...`.
/// The MSGID is the 8-digit log message ID.
fn parse_clavister<'a>(text: &'a [u8], received: &ReceiveTime) -> Option<Fields<'a>> {
    let (timestamp, end) = clavister_timestamp(text, received)?;
    let pos = skip_spaces(text, end);
    let mut fields = tag_and_msg(text, pos, None, Some(timestamp), None);
    fields.msgid = clavister_id(fields.msg).or(fields.msgid);
    Some(fields)
}

// ---------------------------------------------------------------------------
// Header parts.
// ---------------------------------------------------------------------------

/// Reads TAG and MSG from `pos` and finds a vendor MSGID in MSG.
/// `mnemonic`, when the caller has read it already, is the Cisco mnemonic
/// tag (with its `%`) at `pos`.
fn tag_and_msg<'a>(
    text: &'a [u8],
    pos: usize,
    mnemonic: Option<&'a str>,
    timestamp: Option<Timestamp>,
    hostname: Option<&'a str>,
) -> Fields<'a> {
    let (app_name, procid, pos, mnemonic) = match mnemonic_tag_at(text, pos, mnemonic) {
        Some((tag, next)) => (Some(tag), None, next, Some(&tag[1..])),
        None => match read_tag(text, pos) {
            Some(tag) => (Some(tag.app_name), tag.procid, tag.next, None),
            None => (None, None, pos, None),
        },
    };
    let msg = text.get(pos..).unwrap_or_default();
    let mut msgid = mnemonic
        .or_else(|| app_name.and_then(mnemonic_tag))
        .or_else(|| cisco_mnemonic(msg));
    if msgid.is_none() && app_name.is_some() {
        msgid = event_name(msg);
    }
    Fields {
        format: if timestamp.is_some() {
            Format::Rfc3164
        } else {
            Format::Bsd
        },
        timestamp,
        hostname,
        app_name,
        procid,
        msgid,
        msg,
    }
}

/// The common Cisco case of [`tag_and_msg`], read in one pass: a
/// `%FAC-SEV-MNEMONIC:` tag (which is also the MSGID) at `pos`, and where
/// MSG starts after it. `known` is that tag when the caller has read it.
fn mnemonic_tag_at<'a>(
    text: &'a [u8],
    pos: usize,
    known: Option<&'a str>,
) -> Option<(&'a str, usize)> {
    if text.get(pos) != Some(&b'%') {
        return None;
    }
    let tag = match known {
        Some(tag) => tag,
        None => cisco_mnemonic_tag(text.get(pos..)?)?,
    };
    let (_, next) = tag_end(text, pos + tag.len(), true)?;
    Some((tag, next))
}

/// A HOSTNAME after a classic timestamp: host bytes up to a space or the
/// end, not ending in `:` (that is a tag). Cisco ASA's `logging device-id`
/// writes `host : `; the lone colon is skipped. Returns the name and where
/// the next part starts.
fn read_hostname(text: &[u8], pos: usize) -> Option<(&str, usize)> {
    let end = scan(text, pos, is_host_byte);
    let word = text.get(pos..end)?;
    if word.is_empty() || word.len() > MAX_HOSTNAME_LEN || word.last() == Some(&b':') {
        return None;
    }
    if !matches!(text.get(end), None | Some(b' ')) {
        return None;
    }
    let mut next = skip_spaces(text, end);
    if text.get(next) == Some(&b':') && matches!(text.get(next + 1), None | Some(b' ')) {
        next = skip_spaces(text, next + 1);
    }
    Some((crate::text::from_utf8(word).ok()?, next))
}

/// A tag: `app[pid]`, `app` or `app:`, ended by `:`, a space or the end.
struct Tag<'a> {
    app_name: &'a str,
    procid: Option<&'a str>,
    /// The tag ended in `:` (IOS-XR's ` : ` included).
    colon: bool,
    /// Where MSG starts: after the tag, its `:` and one space.
    next: usize,
}

/// Reads a tag at `pos`: the run of tag bytes, then `[pid]` and `:` if
/// present; the tag must end at `:`, a space or the end of the text.
fn read_tag(text: &[u8], pos: usize) -> Option<Tag<'_>> {
    let end = scan(text, pos, is_tag_byte);
    let word = text.get(pos..end)?;
    // A number is a Cisco sequence number or text, never a program name.
    if word.is_empty() || word.len() > MAX_TAG_LEN || word.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let app_name = crate::text::from_utf8(word).ok()?;
    match text.get(end) {
        Some(b'[') => {
            let pid_start = end + 1;
            let pid_end = scan(text, pid_start, |b| b != b']' && b > b' ' && b != 0x7f);
            if text.get(pid_end) != Some(&b']') || pid_end - pid_start > MAX_PROCID_LEN {
                return None;
            }
            let pid = crate::text::from_utf8(text.get(pid_start..pid_end)?).ok()?;
            let (colon, next) = tag_end(text, pid_end + 1, false)?;
            Some(Tag {
                app_name,
                procid: (!pid.is_empty()).then_some(pid),
                colon,
                next,
            })
        }
        _ => {
            let (colon, next) = tag_end(text, end, word.first() == Some(&b'%'))?;
            Some(Tag {
                app_name,
                procid: None,
                colon,
                next,
            })
        }
    }
}

/// What may end a tag at `at`: `:` (then one space is skipped; MSG may also
/// start right after it, unless a `/` or a digit follows, as in a URL or a
/// time), ` : ` after a Cisco `%` tag (`mnemonic`; IOS-XR writes it so), a
/// space, or the end. Returns whether there was a colon and where MSG
/// starts.
fn tag_end(text: &[u8], at: usize, mnemonic: bool) -> Option<(bool, usize)> {
    match text.get(at) {
        // `http://...` and `10:20` are text, not a tag glued to MSG.
        Some(b':')
            if text
                .get(at + 1)
                .is_some_and(|&b| b == b'/' || b.is_ascii_digit()) =>
        {
            None
        }
        Some(b':') => Some((true, at + 1 + usize::from(text.get(at + 1) == Some(&b' ')))),
        Some(b' ')
            if mnemonic
                && text.get(at + 1) == Some(&b':')
                && matches!(text.get(at + 2), None | Some(b' ')) =>
        {
            Some((true, (at + 3).min(text.len())))
        }
        Some(b' ') => Some((false, at + 1)),
        None => Some((false, at)),
        Some(_) => None,
    }
}

/// A Cisco sequence number `123: ` at `pos`, with at least `min_digits`
/// digits (NX-OS sends an empty one, `: `). Returns the position after it.
fn read_seq(text: &[u8], pos: usize, min_digits: usize) -> Option<usize> {
    let end = scan(text, pos, |b| b.is_ascii_digit());
    if end - pos < min_digits || end - pos > 10 {
        return None;
    }
    if text.get(end) != Some(&b':') || text.get(end + 1) != Some(&b' ') {
        return None;
    }
    Some(skip_spaces(text, end + 1))
}

/// Skips IOS's session-id block `[syslog@9 s_id="sw1:666"]: ` if present.
fn skip_session_id(text: &[u8], pos: usize) -> usize {
    if text.get(pos) != Some(&b'[') {
        return pos;
    }
    let window_end = text.len().min(pos + MAX_SESSION_ID_LEN);
    let Some(close) = text
        .get(pos..window_end)
        .and_then(|window| window.iter().position(|&b| b == b']'))
    else {
        return pos;
    };
    let after = pos + close + 1;
    if text.get(after) == Some(&b':') && text.get(after + 1) == Some(&b' ') {
        skip_spaces(text, after + 1)
    } else {
        pos
    }
}

/// The origin a Cisco device may put after its sequence number: IOS's
/// `router1: ` or IOS-XR's `router1 RP/0/RSP0/CPU0:` (the node name runs
/// straight into the timestamp).
fn read_cisco_origin(text: &[u8], pos: usize) -> Option<(&str, usize)> {
    let end = scan(text, pos, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')
    });
    if end == pos || end - pos > MAX_HOSTNAME_LEN {
        return None;
    }
    let host = crate::text::from_utf8(text.get(pos..end)?).ok()?;
    match text.get(end) {
        Some(b':') if text.get(end + 1) == Some(&b' ') => Some((host, skip_spaces(text, end + 1))),
        Some(b' ') => {
            let node_start = end + 1;
            let node_end = scan(text, node_start, |b| b > b' ' && b != b':');
            let node = text.get(node_start..node_end)?;
            let is_node = !node.is_empty() && node.len() <= 64 && node.contains(&b'/');
            let runs_on = text.get(node_end) == Some(&b':')
                && text.get(node_end + 1).is_some_and(|&b| b != b' ');
            (is_node && runs_on).then_some((host, node_end + 1))
        }
        _ => None,
    }
}

/// After a classic header, a relayed Cisco line may still carry the
/// device's own `123: ` and `*Mar  1 18:46:11.123: ` or an uptime. They are
/// skipped only when a `%FAC-SEV-MNEMONIC` follows, and then the position
/// of that mnemonic is returned with it (its tag, `%` included);
/// otherwise `pos` is returned unchanged and the text stays in MSG.
fn skip_cisco_prelude<'a>(
    text: &'a [u8],
    pos: usize,
    received: &ReceiveTime,
) -> (usize, Option<&'a str>) {
    let mut next = read_seq(text, pos, 1).unwrap_or(pos);
    match read_timestamp(text, next, received) {
        Some(reading) if reading.cisco_colon => next = skip_spaces(text, reading.end),
        _ => next = read_uptime(text, next).unwrap_or(next),
    }
    if next == pos {
        return (pos, None);
    }
    match text.get(next..).and_then(cisco_mnemonic_tag) {
        Some(tag) => (next, Some(tag)),
        None => (pos, None),
    }
}

/// A Cisco uptime stamp (`00:01:23: `, `1w2d: `, `2d03h: `), written by
/// `service timestamps log uptime`. Returns the position after it.
fn read_uptime(text: &[u8], pos: usize) -> Option<usize> {
    let end = scan(text, pos, |b| {
        b.is_ascii_digit() || matches!(b, b':' | b'.' | b'w' | b'd' | b'h' | b'm' | b'y')
    });
    let word = text.get(pos..end)?;
    let has_digit = word.first().is_some_and(u8::is_ascii_digit);
    if !has_digit || word.len() < 2 || word.last() != Some(&b':') || text.get(end) != Some(&b' ') {
        return None;
    }
    Some(skip_spaces(text, end))
}

// ---------------------------------------------------------------------------
// MSGIDs found in MSG.
// ---------------------------------------------------------------------------

/// Cisco's `%FAC-SEV-MNEMONIC:` (also `%FAC-SUB-SEV-MNEMONIC:`, ASA's
/// `%ASA-4-106023:` and IOS-XR's `%FAC-SEV-MNEMONIC :`), without the `%`.
/// SEV, the second part from the end, is a single digit 0-7.
fn cisco_mnemonic(msg: &[u8]) -> Option<&str> {
    cisco_mnemonic_tag(msg).map(|tag| &tag[1..])
}

/// [`cisco_mnemonic`] with its `%`: the tag it makes.
fn cisco_mnemonic_tag(msg: &[u8]) -> Option<&str> {
    if msg.first() != Some(&b'%') {
        return None;
    }
    let end = scan(msg, 1, is_mnemonic_byte);
    let terminated = match msg.get(end) {
        None | Some(b':') => true,
        Some(b' ') => matches!(msg.get(end + 1), Some(b':')),
        Some(_) => false,
    };
    let tag = msg.get(..end)?;
    if !terminated || !is_mnemonic_body(&tag[1..]) {
        return None;
    }
    // ASCII only, as `is_mnemonic_byte` checked.
    crate::text::from_utf8(tag).ok()
}

/// The MSGID of a tag that is a Cisco mnemonic (`%SYS-5-CONFIG_I`), without
/// the `%`.
fn mnemonic_tag(app_name: &str) -> Option<&str> {
    let body = app_name.strip_prefix('%')?;
    let is_word = body.bytes().all(is_mnemonic_byte);
    (is_word && is_mnemonic_body(body.as_bytes())).then_some(body)
}

#[inline]
fn is_mnemonic_byte(byte: u8) -> bool {
    MNEMONIC_BYTES[usize::from(byte)]
}

/// [`is_mnemonic_byte`] as a table: ASCII letters, digits, `_` and `-`.
const MNEMONIC_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 128 {
        table[byte] = (byte as u8).is_ascii_alphanumeric() || byte == b'_' as usize;
        byte += 1;
    }
    table[b'-' as usize] = true;
    table
};

/// `FAC-SEV-MNEMONIC` (or `FAC-SUB-SEV-MNEMONIC`): at least three non-empty
/// parts joined by `-`, the second from the end a severity digit 0-7. Read
/// from the end: MNEMONIC, then SEV, then the parts before it.
fn is_mnemonic_body(body: &[u8]) -> bool {
    if body.is_empty() || body.len() > MAX_MSGID_LEN {
        return false;
    }
    let Some(last_dash) = body.iter().rposition(|&b| b == b'-') else {
        return false;
    };
    // SEV and its `-`: `d-` right before MNEMONIC, which must not be empty.
    if last_dash + 1 == body.len() || last_dash < 2 {
        return false;
    }
    if !matches!(body[last_dash - 1], b'0'..=b'7') || body[last_dash - 2] != b'-' {
        return false;
    }
    // One or more non-empty parts before SEV.
    let head = &body[..last_dash - 2];
    !head.is_empty()
        && head[0] != b'-'
        && head[head.len() - 1] != b'-'
        && !head.windows(2).any(|pair| pair == b"--")
}

/// An event name such as Juniper's `UI_COMMIT:` at the start of MSG:
/// upper-case letters, digits and at least one `_`, then `: ` or the end.
fn event_name(msg: &[u8]) -> Option<&str> {
    if !msg.first().is_some_and(u8::is_ascii_uppercase) {
        return None;
    }
    let end = scan(msg, 0, |b| {
        b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'
    });
    let word = msg.get(..end)?;
    if word.len() < 3 || word.len() > MAX_MSGID_LEN || !word.contains(&b'_') {
        return None;
    }
    if msg.get(end) != Some(&b':') || !matches!(msg.get(end + 1), None | Some(b' ')) {
        return None;
    }
    crate::text::from_utf8(word).ok()
}

/// Clavister's `id=00200001` near the start of MSG: eight digits at the
/// start of a word.
fn clavister_id(msg: &[u8]) -> Option<&str> {
    let window = &msg[..msg.len().min(CLAVISTER_ID_WINDOW)];
    let mut pos = 0;
    while pos + 3 <= window.len() {
        let at_word_start = pos == 0 || window[pos - 1] == b' ';
        if at_word_start && window[pos..].starts_with(b"id=") {
            let start = pos + 3;
            let end = scan(msg, start, |b| b.is_ascii_digit());
            let boundary = matches!(msg.get(end), None | Some(b' '));
            if end - start == 8 && boundary {
                return crate::text::from_utf8(&msg[start..end]).ok();
            }
        }
        pos += 1;
    }
    None
}

// ---------------------------------------------------------------------------
// Byte helpers.
// ---------------------------------------------------------------------------

/// Walks `key=value` pairs separated by spaces; values may be quoted with
/// `"` (backslash escapes inside are skipped over, not decoded).
struct KeyValues<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> KeyValues<'a> {
    fn next_pair(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        let text = self.text;
        loop {
            self.pos = skip_spaces(text, self.pos);
            if self.pos >= text.len() {
                return None;
            }
            let key_start = self.pos;
            let key_end = scan(text, key_start, |b| b > b' ' && b != b'=');
            if text.get(key_end) != Some(&b'=') {
                // Not a pair: skip the word.
                self.pos = key_end.max(key_start + 1);
                continue;
            }
            let key = &text[key_start..key_end];
            let value_start = key_end + 1;
            if text.get(value_start) == Some(&b'"') {
                let inner = value_start + 1;
                let mut end = inner;
                while end < text.len() && text[end] != b'"' {
                    end += if text[end] == b'\\' { 2 } else { 1 };
                }
                let end = end.min(text.len());
                self.pos = end + 1;
                return Some((key, &text[inner..end]));
            }
            let value_end = scan(text, value_start, |b| b != b' ');
            self.pos = value_end;
            return Some((key, &text[value_start..value_end]));
        }
    }
}

/// The end of the run of bytes from `pos` that satisfy `accept`.
fn scan(text: &[u8], pos: usize, accept: impl Fn(u8) -> bool) -> usize {
    let mut end = pos;
    while end < text.len() && accept(text[end]) {
        end += 1;
    }
    end
}

fn skip_spaces(text: &[u8], pos: usize) -> usize {
    scan(text, pos, |b| b == b' ')
}

/// Letters, digits, `.-_:` (the colon for IPv6 addresses), `@` and `/`
/// (as syslog-ng takes them: `user@host`, `host/vdom`) and the bytes of
/// UTF-8 names (checked to be UTF-8 by the callers).
#[inline]
fn is_host_byte(byte: u8) -> bool {
    HOST_BYTES[usize::from(byte)]
}

/// [`is_host_byte`] as a table: the header scans ask once per byte.
const HOST_BYTES: [bool; 256] = byte_table(b".-_:@/");

/// RFC 3164's alphanumerics plus what real process names contain
/// (`systemd-logind`, `postfix/smtpd`, Juniper's `/kernel`,
/// `sshd(pam_unix)`, Cisco's `%ASA-6-302014`) and the bytes of UTF-8 names.
#[inline]
fn is_tag_byte(byte: u8) -> bool {
    TAG_BYTES[usize::from(byte)]
}

/// [`is_tag_byte`] as a table.
const TAG_BYTES: [bool; 256] = byte_table(b"-_./()%");

/// A table of the ASCII letters and digits, the bytes in `extra` and every
/// byte from 0x80 (the bytes of UTF-8 characters).
const fn byte_table(extra: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = byte >= 0x80 || (byte as u8).is_ascii_alphanumeric();
        byte += 1;
    }
    let mut index = 0;
    while index < extra.len() {
        table[extra[index] as usize] = true;
        index += 1;
    }
    table
}

/// A header-safe host name: host bytes only, as `&str`.
fn host_str(value: &[u8]) -> Option<&str> {
    if value.is_empty() || value.len() > MAX_HOSTNAME_LEN || !value.iter().all(|&b| is_host_byte(b))
    {
        return None;
    }
    crate::text::from_utf8(value).ok()
}

/// A short printable ASCII word, as `&str`.
fn ascii_word(value: &[u8], max_len: usize) -> Option<&str> {
    if value.is_empty() || value.len() > max_len || !value.iter().all(u8::is_ascii_graphic) {
        return None;
    }
    crate::text::from_utf8(value).ok()
}

/// MSG without a leading UTF-8 byte-order mark.
fn strip_bom(msg: &[u8]) -> &[u8] {
    msg.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(msg)
}
