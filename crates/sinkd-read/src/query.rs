//! The filters of a read, compiled once: `since`/`until` on the messages'
//! own timestamps (`since` inclusive, `until` exclusive), `priority` in the
//! device's expression syntax, `grep` over the stored line.
//!
//! Times are RFC 3339, `YYYY-MM-DD[ HH:MM[:SS]]` in the given local zone,
//! or a duration ago (`90s`, `15m`, `2h`, `7d`). A `grep` pattern without
//! regex metacharacters is searched as a literal with `memchr::memmem`
//! alone; any other goes through the `regex` crate (which finds the
//! pattern's required literals itself before running the automaton).

use jiff::tz::TimeZone;
use memchr::memmem;
use sinkd_proto::Message;
use sinkd_route::{PriorityTable, Templates};

/// The filters as text, as a command line or a URL gives them.
#[derive(Clone, Copy, Debug, Default)]
pub struct QueryText<'a> {
    pub since: Option<&'a str>,
    pub until: Option<&'a str>,
    pub priority: Option<&'a str>,
    pub grep: Option<&'a str>,
}

/// A filter value that does not compile; `field` is its name without
/// decoration (`since`, `priority`...), for the caller to present as
/// `--since` or `since=`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {value:?}: {reason}")]
pub struct QueryError {
    pub field: &'static str,
    pub value: String,
    pub reason: String,
}

/// How `grep` searches.
enum Grep {
    Literal(Box<memmem::Finder<'static>>),
    Regex(regex::bytes::Regex),
}

/// The compiled filters.
#[derive(Default)]
pub struct Query {
    /// Inclusive, microseconds since the Unix epoch.
    since: Option<i64>,
    /// Exclusive, microseconds since the Unix epoch.
    until: Option<i64>,
    priority: Option<PriorityTable>,
    grep: Option<Grep>,
}

impl QueryText<'_> {
    /// Compiles the filters; relative times count back from `now_micros`,
    /// local ones are in `zone`.
    pub fn compile(&self, now_micros: i64, zone: &TimeZone) -> Result<Query, QueryError> {
        let error = |field: &'static str, value: &str, reason: String| QueryError {
            field,
            value: value.to_owned(),
            reason,
        };
        let time = |field: &'static str, text: Option<&str>| {
            text.map(|text| {
                parse_time(text, now_micros, zone).map_err(|reason| error(field, text, reason))
            })
            .transpose()
        };
        let priority = self
            .priority
            .map(|text| {
                sinkd_route::compile(text, &Templates::with_defaults())
                    .map_err(|reason| error("priority", text, reason.to_string()))
            })
            .transpose()?;
        let grep = self
            .grep
            .map(|pattern| {
                if regex::escape(pattern) == pattern {
                    Ok(Grep::Literal(Box::new(
                        memmem::Finder::new(pattern.as_bytes()).into_owned(),
                    )))
                } else {
                    regex::bytes::Regex::new(pattern)
                        .map(Grep::Regex)
                        .map_err(|reason| error("grep", pattern, reason.to_string()))
                }
            })
            .transpose()?;
        Ok(Query {
            since: time("since", self.since)?,
            until: time("until", self.until)?,
            priority,
            grep,
        })
    }
}

impl Query {
    /// The inclusive lower time bound, microseconds since the Unix epoch.
    pub fn since(&self) -> Option<i64> {
        self.since
    }

    /// Whether the stored `line`, parsed as `message`, passes. A message
    /// without a timestamp passes no time bound.
    pub fn matches(&self, line: &[u8], message: &Message<'_>) -> bool {
        if let Some(table) = &self.priority {
            if !table.matches_pri(message.pri()) {
                return false;
            }
        }
        if self.since.is_some() || self.until.is_some() {
            let Some(at) = message.timestamp.map(|ts| ts.unix_micros()) else {
                return false;
            };
            if self.since.is_some_and(|since| at < since)
                || self.until.is_some_and(|until| at >= until)
            {
                return false;
            }
        }
        match &self.grep {
            None => true,
            Some(Grep::Literal(finder)) => finder.find(line).is_some(),
            Some(Grep::Regex(regex)) => regex.is_match(line),
        }
    }

    /// Whether `line` can pass at all, judged on its bytes alone (a literal
    /// grep pattern), so lines that cannot are never parsed.
    pub fn may_match(&self, line: &[u8]) -> bool {
        match &self.grep {
            Some(Grep::Literal(finder)) => finder.find(line).is_some(),
            _ => true,
        }
    }
}

/// Parses T into microseconds since the Unix epoch.
fn parse_time(text: &str, now_micros: i64, zone: &TimeZone) -> Result<i64, String> {
    let text = text.trim();
    if let Some(ago) = parse_duration_micros(text) {
        return Ok(now_micros.saturating_sub(ago));
    }
    if let Ok(instant) = text.parse::<jiff::Timestamp>() {
        return Ok(instant.as_microsecond());
    }
    let civil = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| jiff::civil::DateTime::strptime(format, text).ok())
        .or_else(|| {
            jiff::civil::Date::strptime("%Y-%m-%d", text)
                .ok()
                .map(|date| date.to_datetime(jiff::civil::Time::midnight()))
        });
    match civil {
        Some(civil) => civil
            .to_zoned(zone.clone())
            .map(|zoned| zoned.timestamp().as_microsecond())
            .map_err(|error| error.to_string()),
        None => Err(String::from(
            "expected RFC 3339, YYYY-MM-DD[ HH:MM[:SS]] or a duration like 90s, 15m, 2h, 7d",
        )),
    }
}

/// `90s`, `15m`, `2h`, `7d` in microseconds.
fn parse_duration_micros(text: &str) -> Option<i64> {
    let unit_at = text.len().checked_sub(1)?;
    let (digits, unit) = text.split_at_checked(unit_at)?;
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let seconds: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    digits
        .parse::<i64>()
        .ok()?
        .checked_mul(seconds)?
        .checked_mul(1_000_000)
}

#[cfg(test)]
mod tests;
