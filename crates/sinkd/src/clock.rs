//! The receiver's clock: what "now" is and which UTC offset the local zone
//! has at that instant.
//!
//! Timestamps without a zone (RFC 3164) are completed with the offset of the
//! zone sinkd runs in, as rsyslog and syslog-ng do. The zone comes from `TZ`
//! or `/etc/localtime` through jiff, so daylight-saving changes are honoured
//! per instant rather than fixed at start-up. The offset itself is
//! `sinkd_worker::LocalZone`'s, the same the workers use.

use jiff::tz::TimeZone;
use sinkd_proto::ReceiveTime;
use sinkd_worker::LocalZone;

/// The local time zone, looked up once.
pub(crate) struct Clock {
    local: LocalZone,
}

impl Clock {
    pub(crate) fn system() -> Clock {
        Clock {
            local: LocalZone::new(TimeZone::try_system().unwrap_or(TimeZone::UTC)),
        }
    }

    /// The local zone.
    pub(crate) fn zone(&self) -> &TimeZone {
        self.local.zone()
    }

    /// The receive context for the instant `unix_secs`.`micros`.
    pub(crate) fn at(&self, unix_secs: i64, micros: u32) -> ReceiveTime {
        self.local.receive_time(unix_secs, micros)
    }

    /// The receive context for now.
    pub(crate) fn now(&self) -> ReceiveTime {
        let now = jiff::Timestamp::now();
        self.at(now.as_second(), now.subsec_microsecond().unsigned_abs())
    }
}

/// Reads an RFC 3339 instant (`2026-01-01T00:00:05+01:00`) into a receive
/// context that keeps the given offset.
pub(crate) fn parse_receive_time(text: &str) -> anyhow::Result<ReceiveTime> {
    let instant = text
        .parse::<jiff::Timestamp>()
        .map_err(|error| anyhow::anyhow!("invalid --received {text:?}: {error}"))?;
    let offset = parse_offset_suffix(text);
    Ok(ReceiveTime::new(
        instant.as_second(),
        instant.subsec_microsecond().unsigned_abs(),
        (offset.seconds() / 60) as i16,
    ))
}

/// The numeric offset at the end of an RFC 3339 string (`Z` is zero).
fn parse_offset_suffix(text: &str) -> jiff::tz::Offset {
    let bytes = text.as_bytes();
    if bytes.len() >= 6 {
        let tail = &text[text.len() - 6..];
        let sign = match tail.as_bytes()[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return jiff::tz::Offset::UTC,
        };
        let hours: i32 = tail[1..3].parse().unwrap_or(0);
        let minutes: i32 = tail[4..6].parse().unwrap_or(0);
        return jiff::tz::Offset::from_seconds(sign * (hours * 3600 + minutes * 60))
            .unwrap_or(jiff::tz::Offset::UTC);
    }
    jiff::tz::Offset::UTC
}
