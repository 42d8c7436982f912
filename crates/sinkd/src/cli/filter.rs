//! The filters of `sinkd show` and `sinkd follow` (and of the later read
//! API): `--since`/`--until` on the messages' own timestamps (`follow` has
//! no `--until`, so that one is given apart), `--priority` in the
//! device's expression syntax, `--grep` over the stored line.
//!
//! Times are RFC 3339, `YYYY-MM-DD[ HH:MM[:SS]]` in the local zone, or a
//! duration ago (`90s`, `15m`, `2h`, `7d`). A `--grep` pattern without
//! regex metacharacters is searched as a literal with `memchr::memmem`
//! alone; any other goes through the `regex` crate, after a search for a
//! literal every match contains, when the pattern has one (from
//! `regex-syntax`'s prefix and suffix extraction): the reader finds the
//! lines holding it over whole buffers, and only those meet the regex.

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
    /// A literal every line that passes `grep` contains.
    needle: Option<Box<memmem::Finder<'static>>>,
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
        let needle = match &grep {
            Some(Grep::Literal(finder)) => Some(finder.clone()),
            Some(Grep::Regex(_)) => self
                .grep
                .as_deref()
                .and_then(required_literal)
                .map(|literal| Box::new(memmem::Finder::new(&literal).into_owned())),
            None => None,
        };
        Ok(Filter {
            since: time("--since", self.since.as_deref())?,
            until: time("--until", until)?,
            priority,
            grep,
            needle,
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

    /// A literal every line that passes contains, for the reader to look
    /// for ([`sinkd_store::StreamReader::next_line_containing`]).
    pub(crate) fn needle(&self) -> Option<&memmem::Finder<'static>> {
        self.needle.as_deref()
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

/// Shortest literal worth searching for ahead of a regex.
const MIN_NEEDLE: usize = 2;

/// A literal that every match of `pattern` contains: the longest common
/// prefix of the literals its matches start with, or common suffix of those
/// they end with, whichever is longer. `None` when the pattern has none of
/// at least [`MIN_NEEDLE`] bytes (or `regex-syntax` reads it otherwise
/// than the `regex` crate would: then it is not used).
fn required_literal(pattern: &str) -> Option<Vec<u8>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let hir = regex_syntax::parse(pattern).ok()?;
    let common = |kind: ExtractKind| -> Option<Vec<u8>> {
        let prefix = matches!(kind, ExtractKind::Prefix);
        let seq = Extractor::new().kind(kind).extract(&hir);
        let literals = seq.literals()?;
        let (first, rest) = literals.split_first()?;
        let mut common = first.as_bytes().to_vec();
        for literal in rest {
            let bytes = literal.as_bytes();
            if prefix {
                let shared = common.iter().zip(bytes).take_while(|(a, b)| a == b).count();
                common.truncate(shared);
            } else {
                let shared = (common.iter().rev().zip(bytes.iter().rev()))
                    .take_while(|(a, b)| a == b)
                    .count();
                common.drain(..common.len() - shared);
            }
        }
        Some(common)
    };
    let prefix = common(ExtractKind::Prefix).unwrap_or_default();
    let suffix = common(ExtractKind::Suffix).unwrap_or_default();
    let longest = if suffix.len() > prefix.len() {
        suffix
    } else {
        prefix
    };
    (longest.len() >= MIN_NEEDLE).then_some(longest)
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
        assert_eq!(filter.needle().map(|n| n.needle()), Some(&b"log"[..]));
        let args = FilterArgs {
            grep: Some(String::from("(")),
            ..FilterArgs::default()
        };
        assert!(args.compile(None, NOW, &TimeZone::UTC).is_err());
    }

    #[test]
    fn a_regex_lends_the_literal_all_its_matches_contain() {
        let literal =
            |pattern: &str| required_literal(pattern).map(|l| String::from_utf8(l).unwrap());
        assert_eq!(
            literal("port (4[0-9]|5[0-2]) link"),
            Some(String::from("port "))
        );
        assert_eq!(
            literal("(up|down) on eth0$"),
            Some(String::from(" on eth0"))
        );
        assert_eq!(literal("link (up|down)"), Some(String::from("link ")));
        // Nothing shared, too short, or not literal at all.
        assert_eq!(literal("foo|bar"), None);
        assert_eq!(literal("a.*"), None);
        assert_eq!(literal("[0-9]+"), None);
        assert_eq!(literal(""), None);
        // Case-insensitive: the variants share nothing.
        assert_eq!(literal("(?i)error"), None);
        // Each found literal is in every line the regex matches.
        for (pattern, lines) in [
            (
                "port (4[0-9]|5[0-2]) link",
                &["x port 47 link up", "port 50 link"][..],
            ),
            (
                "(up|down) on eth0$",
                &["link up on eth0", "went down on eth0"][..],
            ),
        ] {
            let regex = regex::bytes::Regex::new(pattern).unwrap();
            let needle = required_literal(pattern).unwrap();
            for line in lines {
                assert!(regex.is_match(line.as_bytes()), "{pattern} {line}");
                assert!(memmem::find(line.as_bytes(), &needle).is_some());
            }
        }
    }
}
