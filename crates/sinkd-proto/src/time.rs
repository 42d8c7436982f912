//! Timestamps as syslog carries them, and the receive-time context that
//! completes them.
//!
//! A [`Timestamp`] is kept broken down (year, month, ... offset) because that
//! is how every format reads and writes it; no calendar library is needed on
//! the hot path. RFC 3164 timestamps lack a year and a zone: the parsers fill
//! both from the [`ReceiveTime`] the caller passes in, with
//! [`ReceiveTime::year_for`] handling the December→January rollover. This
//! module does no I/O; the caller decides what "now" and the local offset are.

use std::fmt;

/// A calendar timestamp with an explicit UTC offset.
///
/// `frac_digits` remembers how many fractional digits the source wrote
/// (0 = none, at most 6) so the message can be shown as it was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timestamp {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub micros: u32,
    pub frac_digits: u8,
    /// Offset from UTC in minutes, east positive.
    pub offset_minutes: i16,
}

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
    /// Builds a timestamp from Unix seconds and microseconds, shown at the
    /// given offset. Returns `None` outside years 0..=9999.
    pub fn from_unix(unix_secs: i64, micros: u32, offset_minutes: i16) -> Option<Timestamp> {
        let local = unix_secs + i64::from(offset_minutes) * 60;
        let days = local.div_euclid(86_400);
        let secs_of_day = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        if !(0..=9999).contains(&year) {
            return None;
        }
        Some(Timestamp {
            year: year as u16,
            month,
            day,
            hour: (secs_of_day / 3600) as u8,
            minute: (secs_of_day / 60 % 60) as u8,
            second: (secs_of_day % 60) as u8,
            micros,
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

    /// Microseconds since the Unix epoch (UTC).
    pub fn unix_micros(&self) -> i64 {
        self.unix_seconds() * 1_000_000 + i64::from(self.micros)
    }

    /// Whether the fields form a real date and time (leap second allowed).
    pub fn is_valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
            && self.hour < 24
            && self.minute < 60
            && self.second <= 60
            && self.micros < 1_000_000
            && self.frac_digits <= 6
            && self.offset_minutes.abs() < 24 * 60
    }

    /// Writes RFC 3339 (`2003-10-11T22:14:15.003Z`) with exactly `frac_digits`
    /// fractional digits (none when 0). Offset 0 is written `Z`.
    pub fn write_rfc3339(&self, out: &mut Vec<u8>, frac_digits: u8) {
        push_digits(out, u32::from(self.year), 4);
        out.push(b'-');
        push_digits(out, u32::from(self.month), 2);
        out.push(b'-');
        push_digits(out, u32::from(self.day), 2);
        out.push(b'T');
        push_digits(out, u32::from(self.hour), 2);
        out.push(b':');
        push_digits(out, u32::from(self.minute), 2);
        out.push(b':');
        push_digits(out, u32::from(self.second), 2);
        if frac_digits > 0 {
            out.push(b'.');
            let digits = frac_digits.min(6);
            let scaled = self.micros / 10u32.pow(6 - u32::from(digits));
            push_digits(out, scaled, usize::from(digits));
        }
        if self.offset_minutes == 0 {
            out.push(b'Z');
        } else {
            out.push(if self.offset_minutes < 0 { b'-' } else { b'+' });
            let abs = self.offset_minutes.unsigned_abs();
            push_digits(out, u32::from(abs / 60), 2);
            out.push(b':');
            push_digits(out, u32::from(abs % 60), 2);
        }
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
        push_digits(out, u32::from(self.hour), 2);
        out.push(b':');
        push_digits(out, u32::from(self.minute), 2);
        out.push(b':');
        push_digits(out, u32::from(self.second), 2);
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

fn push_digits(out: &mut Vec<u8>, value: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut rest = value;
    for slot in buf[..width].iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&buf[..width]);
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
            year: 1970,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
            micros: 0,
            frac_digits: 0,
            offset_minutes,
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
    fn rollover() {
        let january = ReceiveTime::new(
            Timestamp {
                year: 2026,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 5,
                micros: 0,
                frac_digits: 0,
                offset_minutes: 0,
            }
            .unix_seconds(),
            0,
            0,
        );
        assert_eq!(january.year_for(12), 2025);
        assert_eq!(january.year_for(1), 2026);
        assert_eq!(january.year_for(2), 2026);
        let december = ReceiveTime::new(
            Timestamp {
                year: 2025,
                month: 12,
                day: 31,
                hour: 23,
                minute: 59,
                second: 58,
                micros: 0,
                frac_digits: 0,
                offset_minutes: 0,
            }
            .unix_seconds(),
            0,
            0,
        );
        assert_eq!(december.year_for(1), 2026);
        assert_eq!(december.year_for(11), 2025);
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
            micros: 0,
            frac_digits: 0,
            offset_minutes: 0,
        };
        assert!(ts.is_valid());
        assert!(!Timestamp { year: 2023, ..ts }.is_valid());
        assert!(!Timestamp { month: 13, ..ts }.is_valid());
    }
}
