//! Messages per minute by severity over a time range: what the web
//! console's chart of a device draws, counted from the stored lines (their
//! own timestamps, as `since`/`until` judge them) with the filters of a
//! [`Query`]. The range and the lines read are bounded by the caller.

use crate::query::Query;
use crate::scan::{next_candidate, ScanError};
use sinkd_proto::{parse, ReceiveTime};
use sinkd_store::StreamReader;
use std::io;

/// Lines read between two looks at whether the caller still wants more.
const CHECK_EVERY: u64 = 4096;

/// Per-minute counts, `counts[i][severity]` for the minute starting at
/// `first_minute + i` (Unix minutes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerMinute {
    pub first_minute: i64,
    pub counts: Vec<[u64; 8]>,
    /// Lines read (with a literal to look for: those holding it).
    pub read: u64,
    /// Whether every line was read (`false`: `max_lines` stopped it).
    pub complete: bool,
}

/// Counts the lines from where `reader` is that pass `query` and whose
/// timestamp falls in `[from, until)` (microseconds since the epoch;
/// `until - from` fixes the number of minutes), reading at most
/// `max_lines`. `stop`, looked at every few thousand lines, ends it early.
pub fn per_minute(
    reader: &mut StreamReader,
    query: &Query,
    received: &ReceiveTime,
    (from, until): (i64, i64),
    max_lines: u64,
    stop: &dyn Fn() -> bool,
) -> Result<PerMinute, ScanError> {
    let first_minute = from.div_euclid(60_000_000);
    let minutes = (until - 1).div_euclid(60_000_000) - first_minute + 1;
    let mut counted = PerMinute {
        first_minute,
        counts: vec![[0; 8]; usize::try_from(minutes.max(0)).unwrap_or(0)],
        read: 0,
        complete: true,
    };
    loop {
        if counted.read >= max_lines {
            counted.complete = false;
            break;
        }
        let Some((_, line)) = next_candidate(reader, query)? else {
            break;
        };
        counted.read += 1;
        if counted.read.is_multiple_of(CHECK_EVERY) && stop() {
            return Err(ScanError::Emit(io::Error::from(io::ErrorKind::BrokenPipe)));
        }
        if !query.may_match(line) {
            continue;
        }
        let message = parse(line, received);
        let Some(at) = message.timestamp.map(|ts| ts.unix_micros()) else {
            continue;
        };
        if at < from || at >= until || !query.matches(line, &message) {
            continue;
        }
        let index = at.div_euclid(60_000_000) - first_minute;
        if let Some(minute) = usize::try_from(index)
            .ok()
            .and_then(|index| counted.counts.get_mut(index))
        {
            minute[usize::from(message.severity.code() & 7)] += 1;
        }
    }
    Ok(counted)
}

#[cfg(test)]
mod tests;
