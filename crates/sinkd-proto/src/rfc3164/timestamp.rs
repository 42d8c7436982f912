//! The timestamps of RFC 3164 headers and of the vendor payloads read with
//! them, for the parser in [`super`].
//!
//! [`read_timestamp`] recognises the header forms listed in the parent's
//! module docs: the classic `Mmm dd hh:mm:ss` with its vendor additions (a
//! year before or after, fractional seconds, a zone, Cisco's trailing `:`)
//! and RFC 3339 as rsyslog and syslog-ng write it. [`fortinet_timestamp`]
//! and [`clavister_timestamp`] read the dates those vendors write instead of
//! a header. Every result is complete: a missing year or zone comes from the
//! [`ReceiveTime`] ([`complete`]), and an impossible date is no timestamp.
//!
//! The RFC 3339 pieces (digits, date, time of day, fraction, offsets) are
//! read by [`crate::time`], the same readers the RFC 5424 parser uses; what
//! is here is the RFC 3164 shapes around them and the zone names.

use super::{scan, skip_spaces};
use crate::time::{
    fixed_digits, fraction, full_date, numeric_offset, time_of_day, time_offset, ReceiveTime,
    Timestamp,
};

/// A timestamp recognised in the header.
pub(super) struct Reading {
    pub(super) timestamp: Timestamp,
    /// Where the timestamp (with its zone, year and colon) ends.
    pub(super) end: usize,
    /// It ended in `:`, as Cisco writes it; no HOSTNAME follows then.
    pub(super) cisco_colon: bool,
}

/// `hh:mm:ss[.fraction]`.
struct Clock {
    hour: u8,
    minute: u8,
    second: u8,
    nanos: u32,
    frac_digits: u8,
    end: usize,
}

/// Reads any of the timestamp forms listed in the module docs at `pos`,
/// with an optional leading `*` or `.`. The result is complete (year and
/// offset filled in) and a valid date, or `None`.
pub(super) fn read_timestamp(text: &[u8], pos: usize, received: &ReceiveTime) -> Option<Reading> {
    let mut pos = pos;
    if matches!(text.get(pos), Some(b'*' | b'.')) {
        pos += 1;
    }
    if text.get(pos)?.is_ascii_digit() {
        let year = fixed_digits(text, pos, 4)?;
        match text.get(pos + 4) {
            Some(b'-') => read_iso(text, pos, received),
            Some(b' ') => read_classic(text, pos + 5, Some(year as u16), received),
            _ => None,
        }
    } else {
        read_classic(text, pos, None, received)
    }
}

/// RFC 3339 as rsyslog and syslog-ng write it in RFC 3164 headers:
/// `2026-03-08T09:15:32[.123456789][Z|+01:00|+0100]`, zone optional, and
/// with a space for the `T` (RFC 3339 §5.6 allows it; syslog-ng reads it).
fn read_iso(text: &[u8], pos: usize, received: &ReceiveTime) -> Option<Reading> {
    let (year, month, day) = full_date(text, pos, b'-').ok()?;
    if !matches!(text.get(pos + 10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let clock = read_clock(text, pos + 11)?;
    let (offset, end) = match text.get(clock.end) {
        Some(b'Z' | b'z' | b'+' | b'-') => {
            let (minutes, end) = time_offset(text, clock.end, false).ok()?;
            (Some(minutes), end)
        }
        _ => (None, clock.end),
    };
    let timestamp = complete(Some(year), month, day, &clock, offset, received)?;
    finish_reading(text, timestamp, end)
}

/// `Mmm dd [yyyy] hh:mm:ss[.f] [ZONE] [yyyy][:]`, or the same after a
/// `yyyy ` prefix (`year` is then already known).
fn read_classic(
    text: &[u8],
    pos: usize,
    year: Option<u16>,
    received: &ReceiveTime,
) -> Option<Reading> {
    let month = read_month(text, pos)?;
    let mut pos = pos + 3;
    let spaces = skip_spaces(text, pos) - pos;
    if spaces == 0 || spaces > 2 {
        return None;
    }
    pos += spaces;
    let day_end = scan(text, pos, |b| b.is_ascii_digit());
    if day_end == pos || day_end - pos > 2 || text.get(day_end) != Some(&b' ') {
        return None;
    }
    let day = fixed_digits(text, pos, day_end - pos)? as u8;
    pos = day_end + 1;
    let mut year = year;
    if year.is_none() && text.get(pos + 4) == Some(&b' ') {
        if let Some(value) = fixed_digits(text, pos, 4) {
            year = Some(value as u16);
            pos += 5;
        }
    }
    let clock = read_clock(text, pos)?;
    // A zone and a year may follow the time; if what follows does not end
    // the timestamp (`09:15:32 2001:db8::1 ...` is a time and an IPv6
    // hostname), the time alone is the timestamp.
    let mut end = clock.end;
    let mut offset = None;
    let mut full_year = year;
    if text.get(end) == Some(&b' ') {
        if let Some((zone_offset, next)) = read_zone(text, end + 1) {
            offset = zone_offset;
            end = next;
        }
    }
    if full_year.is_none() && text.get(end) == Some(&b' ') {
        if let Some(value) = fixed_digits(text, end + 1, 4).filter(|y| (1970..=2099).contains(y)) {
            full_year = Some(value as u16);
            end += 5;
        }
    }
    if end != clock.end {
        let with_suffix = complete(full_year, month, day, &clock, offset, received)
            .and_then(|timestamp| finish_reading(text, timestamp, end));
        if with_suffix.is_some() {
            return with_suffix;
        }
    }
    let timestamp = complete(year, month, day, &clock, None, received)?;
    finish_reading(text, timestamp, clock.end)
}

/// Takes an optional trailing `:` and checks that the timestamp ends at a
/// space or the end of the text.
fn finish_reading(text: &[u8], timestamp: Timestamp, end: usize) -> Option<Reading> {
    let cisco_colon = text.get(end) == Some(&b':');
    let end = end + usize::from(cisco_colon);
    if !matches!(text.get(end), None | Some(b' ')) {
        return None;
    }
    Some(Reading {
        timestamp,
        end,
        cisco_colon,
    })
}

/// Fills in what the header left out and checks the date.
fn complete(
    year: Option<u16>,
    month: u8,
    day: u8,
    clock: &Clock,
    offset: Option<i16>,
    received: &ReceiveTime,
) -> Option<Timestamp> {
    let timestamp = Timestamp {
        year: year.unwrap_or_else(|| received.year_for(month)),
        month,
        day,
        hour: clock.hour,
        minute: clock.minute,
        second: clock.second,
        nanos: clock.nanos,
        frac_digits: clock.frac_digits,
        offset_minutes: offset.unwrap_or_else(|| received.offset_minutes()),
    };
    timestamp.is_valid().then_some(timestamp)
}

/// `hh:mm:ss[.fraction]`; more than nine fractional digits are read and
/// truncated to nanoseconds.
fn read_clock(text: &[u8], pos: usize) -> Option<Clock> {
    let (hour, minute, second) = time_of_day(text, pos).ok()?;
    let mut end = pos + 8;
    let mut nanos = 0;
    let mut frac_digits = 0;
    if text.get(end) == Some(&b'.') && text.get(end + 1).is_some_and(u8::is_ascii_digit) {
        let digits = fraction(text, end + 1);
        nanos = digits.nanos;
        frac_digits = digits.frac_digits;
        end = digits.end;
    }
    Some(Clock {
        hour,
        minute,
        second,
        nanos,
        frac_digits,
        end,
    })
}

/// A zone after a classic time, at `pos` (after the space): a numeric
/// offset (`+0100`, `-07:00`), `TZ-6` (RFC 3164 §5.4), a known
/// abbreviation, or (Cisco `show-timezone`, always followed by `:`) any
/// short upper-case name. Returns the offset, `None` for a name whose
/// offset is unknown, and where the zone ends.
fn read_zone(text: &[u8], pos: usize) -> Option<(Option<i16>, usize)> {
    if matches!(text.get(pos), Some(b'+' | b'-')) {
        let (minutes, end) = numeric_offset(text, pos, false).ok()?;
        return matches!(text.get(end), None | Some(b' ' | b':')).then_some((Some(minutes), end));
    }
    let end = scan(text, pos, |b| b > b' ' && b != b':');
    let word = text.get(pos..end)?;
    let followed_by_colon = text.get(end) == Some(&b':');
    let at_boundary = followed_by_colon || matches!(text.get(end), None | Some(b' '));
    if !at_boundary || word.is_empty() {
        return None;
    }
    if word.len() >= 4 && word.starts_with(b"TZ") && matches!(word[2], b'+' | b'-') {
        let hours = fixed_digits(word, 3, word.len() - 3).filter(|h| *h < 24)? as i16;
        let sign = if word[2] == b'-' { -1 } else { 1 };
        return Some((Some(sign * hours * 60), end));
    }
    if !word.iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    match zone_offset(word) {
        Some(minutes) => Some((Some(minutes), end)),
        None if followed_by_colon && (2..=6).contains(&word.len()) => Some((None, end)),
        None => None,
    }
}

/// Offsets of the zone abbreviations network devices commonly print.
/// Ambiguous ones (IST) are left out; `CST` is read as US Central, as in
/// RFC 3164's own example.
fn zone_offset(name: &[u8]) -> Option<i16> {
    let minutes = match name {
        b"UTC" | b"UT" | b"GMT" | b"WET" => 0,
        b"WEST" | b"BST" | b"CET" | b"MET" => 60,
        b"CEST" | b"MEST" | b"EET" => 120,
        b"EEST" | b"MSK" => 180,
        b"EST" => -300,
        b"EDT" => -240,
        b"CST" => -360,
        b"CDT" => -300,
        b"MST" => -420,
        b"MDT" => -360,
        b"PST" => -480,
        b"PDT" => -420,
        b"AKST" => -540,
        b"AKDT" => -480,
        b"HST" => -600,
        b"SGT" | b"HKT" | b"AWST" => 480,
        b"JST" | b"KST" => 540,
        b"ACST" => 570,
        b"AEST" => 600,
        b"ACDT" => 630,
        b"AEDT" => 660,
        b"NZST" => 720,
        b"NZDT" => 780,
        _ => return None,
    };
    Some(minutes)
}

/// A month abbreviation in any letter case (`Mar`, `MAR`), 1-based.
fn read_month(text: &[u8], pos: usize) -> Option<u8> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let word = text.get(pos..pos + 3)?;
    if !word.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let lower = [word[0] | 0x20, word[1] | 0x20, word[2] | 0x20];
    MONTHS
        .iter()
        .position(|month| **month == lower)
        .map(|index| index as u8 + 1)
}

/// Fortinet's `date=yyyy-mm-dd time=hh:mm:ss [tz=+hhmm]`.
pub(super) fn fortinet_timestamp(
    date: &[u8],
    time: &[u8],
    zone: Option<&[u8]>,
    received: &ReceiveTime,
) -> Option<Timestamp> {
    let separator = *date.get(4)?;
    if date.len() != 10 || !matches!(separator, b'-' | b'/') {
        return None;
    }
    let (year, month, day) = full_date(date, 0, separator).ok()?;
    let clock = read_clock(time, 0)?;
    if clock.end != time.len() {
        return None;
    }
    let offset = match zone {
        Some(zone) => match numeric_offset(zone, 0, false) {
            Ok((minutes, end)) if end == zone.len() => Some(minutes),
            _ => zone_offset(zone),
        },
        None => None,
    };
    complete(Some(year), month, day, &clock, offset, received)
}

/// Clavister's `[yyyy-mm-dd hh:mm:ss]` at the start of `text`. Returns the
/// timestamp and the index after the `]`.
pub(super) fn clavister_timestamp(
    text: &[u8],
    received: &ReceiveTime,
) -> Option<(Timestamp, usize)> {
    if text.first() != Some(&b'[') {
        return None;
    }
    let (year, month, day) = full_date(text, 1, b'-').ok()?;
    if text.get(11) != Some(&b' ') {
        return None;
    }
    let clock = read_clock(text, 12)?;
    if text.get(clock.end) != Some(&b']') {
        return None;
    }
    let timestamp = complete(Some(year), month, day, &clock, None, received)?;
    Some((timestamp, clock.end + 1))
}
