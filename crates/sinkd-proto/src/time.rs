//! Timestamps as syslog carries them, and the receive-time context that
//! completes them.
//!
//! A [`Timestamp`] is kept broken down (year, month, ... offset) because that
//! is how every format reads and writes it; no calendar library is needed on
//! the hot path. RFC 3164 timestamps lack a year and a zone: the parsers fill
//! both from the [`ReceiveTime`] the caller passes in, with
//! [`ReceiveTime::year_for`] handling the December→January rollover. This
//! module does no I/O; the caller decides what "now" and the local offset are.
//!
//! It also reads the pieces of RFC 3339 (fixed-width digits, the date, the
//! time of day, fractional seconds, UTC offsets) for both parsers:
//! `rfc5424` reads its TIMESTAMP from them, `rfc3164::timestamp` its ISO
//! and classic forms and the vendors' dates.

use std::fmt;

/// A calendar timestamp with an explicit UTC offset.
///
/// `frac_digits` remembers how many fractional digits the source wrote
/// (0 = none, at most 9) so the message can be shown as it was sent; the
/// fraction itself is kept to the nanosecond (`nanos`). A format that
/// allows fewer digits (RFC 5424 allows six) truncates when writing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timestamp {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// The fraction of the second, in nanoseconds (0 to 999,999,999).
    pub nanos: u32,
    pub frac_digits: u8,
    /// Offset from UTC in minutes, east positive.
    pub offset_minutes: i16,
}

/// 1970-01-01T00:00:00Z.
const EPOCH: Timestamp = Timestamp {
    year: 1970,
    month: 1,
    day: 1,
    hour: 0,
    minute: 0,
    second: 0,
    nanos: 0,
    frac_digits: 0,
    offset_minutes: 0,
};

/// Days from 1970-01-01 to the given proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date `days` after 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u8;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u8;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Number of days in `month` of `year`.
pub fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

impl Timestamp {
    /// Builds a timestamp from Unix seconds and microseconds (the receive
    /// clock's precision), shown at the given offset. Returns `None` outside
    /// years 0..=9999 or for `micros` of a second or more.
    pub fn from_unix(unix_secs: i64, micros: u32, offset_minutes: i16) -> Option<Timestamp> {
        let local = unix_secs + i64::from(offset_minutes) * 60;
        let days = local.div_euclid(86_400);
        let secs_of_day = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        if !(0..=9999).contains(&year) || micros >= 1_000_000 {
            return None;
        }
        Some(Timestamp {
            year: year as u16,
            month,
            day,
            hour: (secs_of_day / 3600) as u8,
            minute: (secs_of_day / 60 % 60) as u8,
            second: (secs_of_day % 60) as u8,
            nanos: micros * 1000,
            frac_digits: if micros == 0 { 0 } else { 6 },
            offset_minutes,
        })
    }

    /// Seconds since the Unix epoch (UTC) of this instant. A leap second
    /// (`:60`) counts as the following second.
    pub fn unix_seconds(&self) -> i64 {
        let days = days_from_civil(i64::from(self.year), self.month, self.day);
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.offset_minutes) * 60
    }

    /// Microseconds since the Unix epoch (UTC); finer digits are dropped.
    pub fn unix_micros(&self) -> i64 {
        self.unix_seconds() * 1_000_000 + i64::from(self.nanos / 1000)
    }

    /// Nanoseconds since the Unix epoch (UTC).
    pub fn unix_nanos(&self) -> i128 {
        i128::from(self.unix_seconds()) * 1_000_000_000 + i128::from(self.nanos)
    }

    /// Whether the fields form a real date and time (leap second allowed).
    pub fn is_valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
            && self.hour < 24
            && self.minute < 60
            && self.second <= 60
            && self.nanos < 1_000_000_000
            && self.frac_digits <= 9
            && self.offset_minutes.abs() < 24 * 60
    }

    /// Writes RFC 3339 (`2003-10-11T22:14:15.003Z`) with exactly `frac_digits`
    /// fractional digits (none when 0, at most 9; the digits past
    /// `frac_digits` are cut, not rounded). Offset 0 is written `Z`.
    ///
    /// The text is put together in a buffer on the stack, two digits at a
    /// time, and appended in one copy: the RFC 5424 writer calls this for
    /// every stored line.
    pub fn write_rfc3339(&self, out: &mut Vec<u8>, frac_digits: u8) {
        // `YYYY-MM-DDThh:mm:ss`, `.` and nine digits, `+hh:mm`.
        let mut buf = [0u8; 35];
        put_digits(&mut buf[0..4], u32::from(self.year));
        buf[4] = b'-';
        put_pair(&mut buf[5..7], self.month);
        buf[7] = b'-';
        put_pair(&mut buf[8..10], self.day);
        buf[10] = b'T';
        put_pair(&mut buf[11..13], self.hour);
        buf[13] = b':';
        put_pair(&mut buf[14..16], self.minute);
        buf[16] = b':';
        put_pair(&mut buf[17..19], self.second);
        let mut len = 19;
        if frac_digits > 0 {
            let digits = usize::from(frac_digits.min(9));
            let scaled = self.nanos / 10u32.pow(9 - digits as u32);
            buf[len] = b'.';
            put_digits(&mut buf[len + 1..len + 1 + digits], scaled);
            len += 1 + digits;
        }
        if self.offset_minutes == 0 {
            buf[len] = b'Z';
            len += 1;
        } else {
            buf[len] = if self.offset_minutes < 0 { b'-' } else { b'+' };
            let abs = self.offset_minutes.unsigned_abs();
            put_pair(&mut buf[len + 1..len + 3], (abs / 60 % 100) as u8);
            buf[len + 3] = b':';
            put_pair(&mut buf[len + 4..len + 6], (abs % 60) as u8);
            len += 6;
        }
        out.extend_from_slice(&buf[..len]);
    }

    /// Writes `hh:mm:ss`, as both forms have it. Always inlined: left out
    /// of line it cost the writers a call per timestamp.
    #[inline(always)]
    fn write_time_of_day(&self, out: &mut Vec<u8>) {
        push_digits(out, u32::from(self.hour), 2);
        out.push(b':');
        push_digits(out, u32::from(self.minute), 2);
        out.push(b':');
        push_digits(out, u32::from(self.second), 2);
    }

    /// Writes the RFC 3164 form `Mmm dd hh:mm:ss` (day space-padded).
    pub fn write_rfc3164(&self, out: &mut Vec<u8>) {
        let month = MONTH_ABBREVIATIONS
            .get(usize::from(self.month.wrapping_sub(1)))
            .copied()
            .unwrap_or("???");
        out.extend_from_slice(month.as_bytes());
        out.push(b' ');
        if self.day < 10 {
            out.push(b' ');
            push_digits(out, u32::from(self.day), 1);
        } else {
            push_digits(out, u32::from(self.day), 2);
        }
        out.push(b' ');
        self.write_time_of_day(out);
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 with the source's precision.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = Vec::with_capacity(32);
        self.write_rfc3339(&mut buf, self.frac_digits);
        // Only ASCII digits and punctuation were written above.
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

/// English month abbreviations as RFC 3164 writes them.
pub const MONTH_ABBREVIATIONS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Reads an RFC 3164 month abbreviation (`Jan` ... `Dec`), 1-based.
pub fn month_from_abbreviation(word: &[u8]) -> Option<u8> {
    MONTH_ABBREVIATIONS
        .iter()
        .position(|m| m.as_bytes() == word)
        .map(|i| i as u8 + 1)
}

/// `00` to `99`, for writing two digits at a time.
const DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0u8; 2]; 100];
    let mut n = 0;
    while n < 100 {
        pairs[n] = [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
        n += 1;
    }
    pairs
};

/// Fills the two bytes of `slot` with the last two decimal digits of
/// `value`.
#[inline(always)]
fn put_pair(slot: &mut [u8], value: u8) {
    slot.copy_from_slice(&DIGIT_PAIRS[usize::from(value % 100)]);
}

/// Fills `slot` with the last `slot.len()` decimal digits of `value`,
/// zero-padded.
#[inline(always)]
fn put_digits(slot: &mut [u8], value: u32) {
    let mut rest = value;
    let mut end = slot.len();
    while end >= 2 {
        slot[end - 2..end].copy_from_slice(&DIGIT_PAIRS[(rest % 100) as usize]);
        rest /= 100;
        end -= 2;
    }
    if end == 1 {
        slot[0] = b'0' + (rest % 10) as u8;
    }
}

fn push_digits(out: &mut Vec<u8>, value: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut rest = value;
    for slot in buf[..width].iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&buf[..width]);
}

// ---------------------------------------------------------------------------
// Reading RFC 3339 pieces. RFC 5424 reads its TIMESTAMP with all of them
// and reports where one failed; the RFC 3164 parser reads its ISO form, its
// clock and its zones with them and only asks whether they matched. The
// date and time readers take any digits (month 13, hour 24) and leave the
// ranges to the parsers, which check them each in its way; the offset
// readers check theirs.
// ---------------------------------------------------------------------------

/// Why a piece could not be read: the 0-based index of the byte at fault and
/// what was expected there.
pub(crate) type Fault = (usize, &'static str);

/// Exactly `count` ASCII digits at `at` (1 to 9, so the value fits in a
/// `u32`). Always inlined, as is [`expect_digits`]: with `count` known at
/// each call the loop unrolls, and the parsers call these a dozen times per
/// timestamp from other modules, where a plain `#[inline]` was not always
/// taken.
#[inline(always)]
pub(crate) fn fixed_digits(input: &[u8], at: usize, count: usize) -> Option<u32> {
    if count == 0 || count > 9 {
        return None;
    }
    let digits = input.get(at..at.checked_add(count)?)?;
    let mut value = 0u32;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(byte - b'0');
    }
    Some(value)
}

/// [`fixed_digits`], or a fault at the first byte that is not a digit.
#[inline(always)]
fn expect_digits(
    input: &[u8],
    at: usize,
    count: usize,
    reason: &'static str,
) -> Result<u32, Fault> {
    fixed_digits(input, at, count).ok_or_else(|| {
        let leading = input
            .iter()
            .skip(at)
            .take(count)
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        (at + leading, reason)
    })
}

/// The byte `expected` at `at`.
#[inline]
fn expect_byte(input: &[u8], at: usize, expected: u8, reason: &'static str) -> Result<(), Fault> {
    if input.get(at) == Some(&expected) {
        Ok(())
    } else {
        Err((at, reason))
    }
}

/// RFC 3339's full-date `YYYY-MM-DD` at `at`, with `separator` in place of
/// `-` (vendors also write `/`; the fault reasons name `-`). Returns year,
/// month and day as written.
#[inline]
pub(crate) fn full_date(input: &[u8], at: usize, separator: u8) -> Result<(u16, u8, u8), Fault> {
    let year = expect_digits(
        input,
        at,
        4,
        "expected a 4-digit year (YYYY-MM-DDThh:mm:ss)",
    )?;
    expect_byte(input, at + 4, separator, "expected '-' after the year")?;
    let month = expect_digits(input, at + 5, 2, "expected a 2-digit month")?;
    expect_byte(input, at + 7, separator, "expected '-' after the month")?;
    let day = expect_digits(input, at + 8, 2, "expected a 2-digit day")?;
    // Four and two digits fit in u16 and u8.
    Ok((year as u16, month as u8, day as u8))
}

/// RFC 3339's partial-time up to the seconds, `hh:mm:ss`, at `at`. Returns
/// hour, minute and second as written; the fraction is [`fraction`]'s.
#[inline]
pub(crate) fn time_of_day(input: &[u8], at: usize) -> Result<(u8, u8, u8), Fault> {
    let hour = expect_digits(input, at, 2, "expected a 2-digit hour")?;
    expect_byte(input, at + 2, b':', "expected ':' after the hour")?;
    let minute = expect_digits(input, at + 3, 2, "expected 2-digit minutes")?;
    expect_byte(input, at + 5, b':', "expected ':' after the minutes")?;
    let second = expect_digits(input, at + 6, 2, "expected 2-digit seconds")?;
    Ok((hour as u8, minute as u8, second as u8))
}

/// The digits of a fractional second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fraction {
    /// The first nine digits as nanoseconds.
    pub nanos: u32,
    /// How many digits `nanos` was read from (at most 9).
    pub frac_digits: u8,
    /// The index after the last digit; `end - at` digits were written,
    /// none when `end == at`.
    pub end: usize,
}

/// The run of digits at `at` (after the `.`) as a fractional second: all
/// are consumed, the first nine (nanoseconds) are kept.
#[inline]
pub(crate) fn fraction(input: &[u8], at: usize) -> Fraction {
    let mut idx = at;
    let mut nanos = 0u32;
    let mut frac_digits = 0u8;
    while let Some(&byte) = input.get(idx) {
        if !byte.is_ascii_digit() {
            break;
        }
        if frac_digits < 9 {
            nanos = nanos * 10 + u32::from(byte - b'0');
            frac_digits += 1;
        }
        idx += 1;
    }
    Fraction {
        nanos: nanos * 10u32.pow(9 - u32::from(frac_digits)),
        frac_digits,
        end: idx,
    }
}

/// A numeric UTC offset at `at`: `+hh:mm` or `-hh:mm`, and `+hhmm` unless
/// `colon_required`. Returns minutes east of UTC and the index after it.
#[inline]
pub(crate) fn numeric_offset(
    input: &[u8],
    at: usize,
    colon_required: bool,
) -> Result<(i16, usize), Fault> {
    let negative = match input.get(at) {
        Some(b'+') => false,
        Some(b'-') => true,
        _ => return Err((at, "expected a UTC offset (+hh:mm or -hh:mm)")),
    };
    let hours = expect_digits(input, at + 1, 2, "expected a 2-digit offset hour")?;
    let mut minutes_at = at + 3;
    match input.get(minutes_at) {
        Some(b':') => minutes_at += 1,
        Some(byte) if !colon_required && byte.is_ascii_digit() => {}
        _ => return Err((minutes_at, "expected ':' in the UTC offset")),
    }
    let minutes = expect_digits(input, minutes_at, 2, "expected 2-digit offset minutes")?;
    if hours >= 24 {
        return Err((at + 1, "offset hour must be 00 to 23"));
    }
    if minutes >= 60 {
        return Err((minutes_at, "offset minutes must be 00 to 59"));
    }
    // At most 23 * 60 + 59, so it fits in i16.
    let magnitude = (hours * 60 + minutes) as i16;
    Ok((
        if negative { -magnitude } else { magnitude },
        minutes_at + 2,
    ))
}

/// RFC 3339's time-offset at `at`: `Z` or a numeric offset. Unless
/// `strict`, also a lower-case `z` and `+hhmm`. Returns minutes east of UTC
/// and the index after it.
#[inline]
pub(crate) fn time_offset(input: &[u8], at: usize, strict: bool) -> Result<(i16, usize), Fault> {
    match input.get(at) {
        Some(b'Z') => Ok((0, at + 1)),
        Some(b'z') if !strict => Ok((0, at + 1)),
        Some(b'+' | b'-') => numeric_offset(input, at, strict),
        _ => Err((at, "expected 'Z' or a UTC offset (+hh:mm or -hh:mm)")),
    }
}

/// When and in which zone a message was received: what completes a
/// timestamp that lacks its year or zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiveTime {
    /// The receive instant, in the receiver's zone.
    pub local: Timestamp,
}

impl ReceiveTime {
    /// The receive instant `unix_secs` seen at `offset_minutes` east of UTC.
    pub fn new(unix_secs: i64, micros: u32, offset_minutes: i16) -> ReceiveTime {
        let local = Timestamp::from_unix(unix_secs, micros, offset_minutes).unwrap_or(Timestamp {
            offset_minutes,
            ..EPOCH
        });
        ReceiveTime { local }
    }

    /// The current time at UTC; the collector passes the local offset itself.
    pub fn now_utc() -> ReceiveTime {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        ReceiveTime::new(since_epoch.as_secs() as i64, since_epoch.subsec_micros(), 0)
    }

    /// The year a yearless timestamp in `month` most likely belongs to: the
    /// receive year, except that a month more than six months ahead of the
    /// receive month is last year's (a December message read in January) and
    /// one more than six months behind is next year's (a sender whose clock
    /// already reached January).
    pub fn year_for(&self, month: u8) -> u16 {
        let received_month = i16::from(self.local.month);
        let delta = i16::from(month) - received_month;
        let year = self.local.year;
        if delta > 6 {
            year.saturating_sub(1)
        } else if delta < -6 {
            year.saturating_add(1).min(9999)
        } else {
            year
        }
    }

    /// The receiver's offset, used for timestamps that carry no zone.
    pub fn offset_minutes(&self) -> i16 {
        self.local.offset_minutes
    }
}

/// The receive time of `year-month-day hour:minute:second` UTC, seen at
/// `offset_minutes`: what the parsers' tests complete timestamps with.
#[cfg(test)]
pub(crate) fn receive_at(
    (year, month, day): (u16, u8, u8),
    (hour, minute, second): (u8, u8, u8),
    offset_minutes: i16,
) -> ReceiveTime {
    let utc = Timestamp {
        year,
        month,
        day,
        hour,
        minute,
        second,
        ..EPOCH
    };
    ReceiveTime::new(utc.unix_seconds(), 0, offset_minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-800_000i64, -1, 0, 1, 11_016, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn rfc3339_shapes() {
        let ts = Timestamp::from_unix(1_065_910_455, 3_000, 0).unwrap();
        let mut out = Vec::new();
        ts.write_rfc3339(&mut out, 3);
        assert_eq!(out, b"2003-10-11T22:14:15.003Z");
        let ts = Timestamp::from_unix(1_574_066_202, 321, 60).unwrap();
        out.clear();
        ts.write_rfc3339(&mut out, 6);
        assert_eq!(out, b"2019-11-18T09:36:42.000321+01:00");
        out.clear();
        ts.write_rfc3164(&mut out);
        assert_eq!(out, b"Nov 18 09:36:42");
        let neg = Timestamp {
            offset_minutes: -450,
            ..ts
        };
        out.clear();
        neg.write_rfc3339(&mut out, 0);
        assert_eq!(out, b"2019-11-18T09:36:42-07:30");
    }

    #[test]
    fn nanoseconds_are_kept_and_cut_when_written() {
        let ts = Timestamp {
            nanos: 123_456_789,
            frac_digits: 9,
            ..Timestamp::from_unix(1_065_910_455, 0, 0).unwrap()
        };
        assert_eq!(ts.to_string(), "2003-10-11T22:14:15.123456789Z");
        let mut out = Vec::new();
        ts.write_rfc3339(&mut out, 6);
        assert_eq!(out, b"2003-10-11T22:14:15.123456Z");
        assert_eq!(ts.unix_micros(), 1_065_910_455_123_456);
        assert_eq!(ts.unix_nanos(), 1_065_910_455_123_456_789);
        assert!(ts.is_valid());
        assert!(!Timestamp {
            frac_digits: 10,
            ..ts
        }
        .is_valid());
        assert!(!Timestamp {
            nanos: 1_000_000_000,
            ..ts
        }
        .is_valid());
        assert_eq!(Timestamp::from_unix(0, 1_000_000, 0), None);
        assert_eq!(Timestamp::from_unix(0, 7, 0).map(|t| t.nanos), Some(7_000));
    }

    /// What `write_rfc3339` writes, spelled out with `format!`: each field's
    /// last digits, zero-padded.
    fn rfc3339_reference(ts: &Timestamp, frac_digits: u8) -> String {
        let mut text = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            ts.year % 10_000,
            ts.month % 100,
            ts.day % 100,
            ts.hour % 100,
            ts.minute % 100,
            ts.second % 100
        );
        if frac_digits > 0 {
            let digits = u32::from(frac_digits.min(9));
            let scaled = ts.nanos / 10u32.pow(9 - digits);
            let text_digits = format!("{:09}", scaled % 10u32.pow(digits));
            text.push('.');
            text.push_str(&text_digits[9 - digits as usize..]);
        }
        if ts.offset_minutes == 0 {
            text.push('Z');
        } else {
            let abs = ts.offset_minutes.unsigned_abs();
            let sign = if ts.offset_minutes < 0 { '-' } else { '+' };
            text.push_str(&format!("{sign}{:02}:{:02}", abs / 60 % 100, abs % 60));
        }
        text
    }

    #[test]
    fn rfc3339_matches_the_reference() {
        let mut out = Vec::new();
        for (year, nanos, offset_minutes) in [
            (2026, 0, 0),
            (1, 5, 60),
            (999, 999_999_999, -450),
            (9999, 123_456_789, 1439),
            (12_345, 1_000, -1439),
            (0, 100_000_000, i16::MIN),
        ] {
            for (month, day, (hour, minute, second)) in [(1, 1, (0, 0, 0)), (12, 31, (23, 59, 60))]
            {
                let mut ts = Timestamp { year, ..EPOCH };
                (ts.month, ts.day) = (month, day);
                (ts.hour, ts.minute, ts.second) = (hour, minute, second);
                (ts.nanos, ts.frac_digits, ts.offset_minutes) = (nanos, 6, offset_minutes);
                for frac_digits in 0..=10 {
                    out.clear();
                    ts.write_rfc3339(&mut out, frac_digits);
                    assert_eq!(
                        String::from_utf8_lossy(&out),
                        rfc3339_reference(&ts, frac_digits),
                        "{ts:?} {frac_digits}"
                    );
                }
            }
        }
    }

    #[test]
    fn rollover() {
        let january = receive_at((2026, 1, 1), (0, 0, 5), 0);
        assert_eq!(january.year_for(12), 2025);
        assert_eq!(january.year_for(1), 2026);
        assert_eq!(january.year_for(2), 2026);
        let december = receive_at((2025, 12, 31), (23, 59, 58), 0);
        assert_eq!(december.year_for(1), 2026);
        assert_eq!(december.year_for(11), 2025);
    }

    #[test]
    fn rfc3339_pieces() {
        assert_eq!(fixed_digits(b"x2026", 1, 4), Some(2026));
        assert_eq!(fixed_digits(b"202", 0, 4), None);
        assert_eq!(fixed_digits(b"1234567890", 0, 10), None);
        assert_eq!(fixed_digits(b"1", 0, 0), None);
        assert_eq!(
            expect_digits(b"20x6", 0, 4, "year"),
            Err((2, "year")),
            "the fault points at the first non-digit"
        );
        assert_eq!(expect_digits(b"20", 0, 4, "year"), Err((2, "year")));

        assert_eq!(full_date(b"2019/05/13", 0, b'/'), Ok((2019, 5, 13)));
        assert_eq!(full_date(b"2019-05-13", 0, b'/').map_err(|f| f.0), Err(4));
        assert_eq!(time_of_day(b"T23:59:60", 1), Ok((23, 59, 60)));
        assert_eq!(time_of_day(b"23:5", 0).map_err(|f| f.0), Err(4));

        let long = fraction(b"12345678991Z", 0);
        assert_eq!(
            (long.nanos, long.frac_digits, long.end),
            (123_456_789, 9, 11)
        );
        let short = fraction(b"05 ", 0);
        assert_eq!(
            (short.nanos, short.frac_digits, short.end),
            (50_000_000, 2, 2)
        );
        assert_eq!(fraction(b"Z", 0).end, 0);

        assert_eq!(numeric_offset(b"-07:30", 0, true), Ok((-450, 6)));
        assert_eq!(numeric_offset(b"+0100", 0, false), Ok((60, 5)));
        assert_eq!(numeric_offset(b"+0100", 0, true).map_err(|f| f.0), Err(3));
        assert_eq!(numeric_offset(b"+24:00", 0, true).map_err(|f| f.0), Err(1));
        assert_eq!(numeric_offset(b"+01:60", 0, true).map_err(|f| f.0), Err(4));
        assert_eq!(time_offset(b"z", 0, false), Ok((0, 1)));
        assert_eq!(time_offset(b"z", 0, true).map_err(|f| f.0), Err(0));
    }

    #[test]
    fn validity() {
        let ts = Timestamp {
            year: 2024,
            month: 2,
            day: 29,
            hour: 23,
            minute: 59,
            second: 60,
            nanos: 0,
            frac_digits: 0,
            offset_minutes: 0,
        };
        assert!(ts.is_valid());
        assert!(!Timestamp { year: 2023, ..ts }.is_valid());
        assert!(!Timestamp { month: 13, ..ts }.is_valid());
    }
}
