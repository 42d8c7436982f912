//! The zone sinkd runs in, as the UTC offset that completes timestamps
//! without one.
//!
//! RFC 3164 timestamps carry no zone; the parsers take the receiver's offset
//! from the [`ReceiveTime`] they are given. [`LocalZone`] is the one place
//! that turns a jiff [`TimeZone`] and an instant into that offset, so
//! daylight-saving changes are honoured per instant. The workers ask through
//! [`ZoneCache`], once per quarter hour; the binary's `Clock` (what
//! `sinkd parse` completes timestamps with) asks [`LocalZone`] directly.

use jiff::tz::TimeZone;
use sinkd_proto::ReceiveTime;

/// A time zone, asked for its UTC offset at an instant.
#[derive(Clone, Debug)]
pub struct LocalZone {
    zone: TimeZone,
}

impl LocalZone {
    pub fn new(zone: TimeZone) -> LocalZone {
        LocalZone { zone }
    }

    /// The zone itself.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The zone's offset from UTC, in minutes east, at `unix_secs`. An
    /// instant jiff cannot represent counts as UTC.
    pub fn offset_minutes(&self, unix_secs: i64) -> i16 {
        jiff::Timestamp::from_second(unix_secs)
            // jiff keeps offsets within ±25:59:59, so the minutes fit in i16.
            .map(|instant| (self.zone.to_offset(instant).seconds() / 60) as i16)
            .unwrap_or(0)
    }

    /// The receive context of the instant `unix_secs`.`micros` in this zone.
    pub fn receive_time(&self, unix_secs: i64, micros: u32) -> ReceiveTime {
        ReceiveTime::new(unix_secs, micros, self.offset_minutes(unix_secs))
    }
}

/// How long an offset is reused: zones change their offset only on
/// quarter-hour boundaries.
const ZONE_WINDOW_SECS: i64 = 900;

/// A [`LocalZone`]'s offset, asked once per quarter hour.
pub(crate) struct ZoneCache {
    local: LocalZone,
    window_start: i64,
    offset_minutes: i16,
}

impl ZoneCache {
    pub(crate) fn new(zone: TimeZone) -> ZoneCache {
        ZoneCache {
            local: LocalZone::new(zone),
            window_start: i64::MIN,
            offset_minutes: 0,
        }
    }

    /// The offset at `unix_secs`, in minutes east of UTC.
    pub(crate) fn offset_at(&mut self, unix_secs: i64) -> i16 {
        let window_start = unix_secs - unix_secs.rem_euclid(ZONE_WINDOW_SECS);
        if window_start != self.window_start {
            self.window_start = window_start;
            self.offset_minutes = self.local.offset_minutes(unix_secs);
        }
        self.offset_minutes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-03-29 00:59:59 UTC, a second before Central Europe's clocks go
    /// from +01:00 to +02:00.
    const BEFORE_SUMMER_TIME: i64 = 1_774_745_999;

    /// Central European Time with its summer time, written as a POSIX TZ
    /// string so the test needs no time zone database.
    fn central_europe() -> TimeZone {
        TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap()
    }

    #[test]
    fn offsets_follow_daylight_saving() {
        let local = LocalZone::new(central_europe());
        assert_eq!(local.offset_minutes(BEFORE_SUMMER_TIME), 60);
        assert_eq!(local.offset_minutes(BEFORE_SUMMER_TIME + 1), 120);
        let received = local.receive_time(BEFORE_SUMMER_TIME + 1, 7);
        assert_eq!(received.offset_minutes(), 120);
        assert_eq!(received.local.hour, 3);
        assert_eq!(received.local.nanos, 7_000);
    }

    #[test]
    fn cache_asks_again_in_the_next_quarter_hour() {
        let mut cache = ZoneCache::new(central_europe());
        assert_eq!(cache.offset_at(BEFORE_SUMMER_TIME), 60);
        assert_eq!(cache.offset_at(BEFORE_SUMMER_TIME + 1), 120);
        assert_eq!(cache.offset_at(BEFORE_SUMMER_TIME + 899), 120);
        assert_eq!(cache.offset_at(BEFORE_SUMMER_TIME - 899), 60);
    }

    #[test]
    fn unrepresentable_instants_count_as_utc() {
        let local = LocalZone::new(TimeZone::fixed(jiff::tz::offset(5)));
        assert_eq!(local.offset_minutes(0), 300);
        assert_eq!(local.offset_minutes(i64::MAX), 0);
    }
}
