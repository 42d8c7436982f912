//! The filters of `sinkd show` and `sinkd follow` (and of the later read
//! API): `--since`/`--until` on the messages' own timestamps (`follow` has
//! no `--until`, so that one is given apart), `--priority` in the
//! device's expression syntax, `--grep` over the stored line.
//!
//! Times are RFC 3339, `YYYY-MM-DD[ HH:MM[:SS]]` in the local zone, or a
//! duration ago (`90s`, `15m`, `2h`, `7d`). A `--grep` pattern without
//! regex metacharacters is searched as a literal with `memchr::memmem`
//! alone; any other goes through the `regex` crate.

use crate::cli::store_args::UsageError;
use jiff::tz::TimeZone;
use memchr::memmem;
use sinkd_proto::Message;
use sinkd_route::{PriorityTable, Templates};

/// The filter options as given on the command line, but `--until`, which
/// only `show` has (see [`UntilArg`]).
#[derive(clap::Args, Debug, Default)]
pub(crate) struct FilterArgs {
    /// Only messages with a timestamp at or after T (RFC 3339,
    /// `YYYY-MM-DD[ HH:MM[:SS]]` local, or a duration ago: 90s, 15m, 2h, 7d).
    #[arg(long, value_name = "T")]
    since: Option<String>,
    /// Only messages this priority expression takes (the device's syntax,
    /// e.g. 'auth.*;*.err').
    #[arg(long, value_name = "EXPR")]
    priority: Option<String>,
    /// Only stored lines this regular expression matches anywhere.
    #[arg(long, value_name = "REGEX")]
    grep: Option<String>,
}

/// `--until`, for the commands that read up to a time.
#[derive(clap::Args, Debug, Default)]
pub(crate) struct UntilArg {
    /// Only messages with a timestamp before T (same forms as --since).
    #[arg(long, value_name = "T")]
    pub(crate) until: Option<String>,
}

/// How `--grep` searches.
enum Grep {
    Literal(Box<memmem::Finder<'static>>),
    Regex(regex::bytes::Regex),
}

/// The compiled filters.
pub(crate) struct Filter {
    /// Inclusive, microseconds since the Unix epoch.
    pub(crate) since: Option<i64>,
    /// Exclusive, microseconds since the Unix epoch.
    until: Option<i64>,
    priority: Option<PriorityTable>,
    grep: Option<Grep>,
}

impl FilterArgs {
    /// Compiles the options, with `until` from [`UntilArg`] when the
    /// command has it; a bad value is a usage error naming it.
    pub(crate) fn compile(
        &self,
        until: Option<&str>,
        now_micros: i64,
        zone: &TimeZone,
    ) -> Result<Filter, UsageError> {
        let time = |option: &str, text: Option<&str>| {
            text.map(|text| {
                parse_time(text, now_micros, zone)
                    .map_err(|error| UsageError(format!("{option} {text:?}: {error}")))
            })
            .transpose()
        };
        let priority = self
            .priority
            .as_deref()
            .map(|text| {
                sinkd_route::compile(text, &Templates::with_defaults())
                    .map_err(|error| UsageError(format!("--priority {text:?}: {error}")))
            })
            .transpose()?;
        let grep = self
            .grep
            .as_deref()
            .map(|pattern| {
                if regex::escape(pattern) == pattern {
                    Ok(Grep::Literal(Box::new(
                        memmem::Finder::new(pattern.as_bytes()).into_owned(),
                    )))
                } else {
                    regex::bytes::Regex::new(pattern)
                        .map(Grep::Regex)
                        .map_err(|error| UsageError(format!("--grep {pattern:?}: {error}")))
                }
            })
            .transpose()?;
        Ok(Filter {
            since: time("--since", self.since.as_deref())?,
            until: time("--until", until)?,
            priority,
            grep,
        })
    }
}

impl Filter {
    /// Whether the stored `line`, parsed as `message`, passes. A message
    /// without a timestamp passes no time bound.
    pub(crate) fn matches(&self, line: &[u8], message: &Message<'_>) -> bool {
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

    /// Whether `line` can pass at all, judged on its bytes alone (the grep
    /// pattern), so lines that cannot are never parsed.
    pub(crate) fn may_match(&self, line: &[u8]) -> bool {
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
    let (digits, unit) = text.split_at(unit_at);
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
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z

    #[test]
    fn durations_count_back_from_now() {
        let utc = TimeZone::UTC;
        assert_eq!(parse_time("90s", NOW, &utc), Ok(NOW - 90_000_000));
        assert_eq!(parse_time("15m", NOW, &utc), Ok(NOW - 900_000_000));
        assert_eq!(parse_time("2h", NOW, &utc), Ok(NOW - 7_200_000_000));
        assert_eq!(parse_time("7d", NOW, &utc), Ok(NOW - 604_800_000_000));
    }

    #[test]
    fn absolute_times_are_rfc3339_or_local() {
        let utc = TimeZone::UTC;
        assert_eq!(parse_time("2026-01-01T00:00:00Z", 0, &utc), Ok(NOW));
        assert_eq!(parse_time("2026-01-01T01:00:00+01:00", 0, &utc), Ok(NOW));
        assert_eq!(parse_time("2026-01-01", 0, &utc), Ok(NOW));
        assert_eq!(
            parse_time("2026-01-01 00:01", 0, &utc),
            Ok(NOW + 60_000_000)
        );
        assert_eq!(
            parse_time("2026-01-01 00:00:05", 0, &utc),
            Ok(NOW + 5_000_000)
        );
        let plus_two = TimeZone::fixed(jiff::tz::offset(2));
        assert_eq!(parse_time("2026-01-01 02:00", 0, &plus_two), Ok(NOW));
        for bad in ["", "yesterday", "5w", "2026-13-01", "h"] {
            assert!(parse_time(bad, 0, &utc).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn literal_and_regex_grep() {
        let args = FilterArgs {
            grep: Some(String::from("login")),
            ..FilterArgs::default()
        };
        let filter = args.compile(None, NOW, &TimeZone::UTC).unwrap();
        assert!(matches!(filter.grep, Some(Grep::Literal(_))));
        assert!(filter.may_match(b"a login here"));
        assert!(!filter.may_match(b"logout"));
        let args = FilterArgs {
            grep: Some(String::from("log(in|out)$")),
            ..FilterArgs::default()
        };
        let filter = args.compile(None, NOW, &TimeZone::UTC).unwrap();
        assert!(matches!(filter.grep, Some(Grep::Regex(_))));
        let args = FilterArgs {
            grep: Some(String::from("(")),
            ..FilterArgs::default()
        };
        assert!(args.compile(None, NOW, &TimeZone::UTC).is_err());
    }
}
