//! The filters of a read, compiled once: `since`/`until` on the messages'
//! own timestamps (`since` inclusive, `until` exclusive), `priority` in the
//! device's expression syntax, `grep` over the stored line.
//!
//! Times are RFC 3339, `YYYY-MM-DD[ HH:MM[:SS]]` in the given local zone,
//! or a duration ago (`90s`, `15m`, `2h`, `7d`). A `grep` pattern without
//! regex metacharacters is searched as a literal with `memchr::memmem`
//! alone; any other goes through the `regex` crate, after a search for a
//! literal every match contains, when the pattern has one (from
//! `regex-syntax`'s prefix and suffix extraction): the reader finds the
//! lines holding it over whole buffers ([`Query::needle`]), and only those
//! meet the regex.

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
    /// A literal every passing line contains.
    needle: Option<Box<memmem::Finder<'static>>>,
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
        let needle = match &grep {
            Some(Grep::Literal(finder)) => Some(finder.clone()),
            Some(Grep::Regex(_)) => self
                .grep
                .and_then(required_literal)
                .map(|literal| Box::new(memmem::Finder::new(&literal).into_owned())),
            None => None,
        };
        Ok(Query {
            since: time("since", self.since)?,
            until: time("until", self.until)?,
            priority,
            grep,
            needle,
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

    /// The exclusive upper time bound, microseconds since the Unix epoch.
    pub fn until(&self) -> Option<i64> {
        self.until
    }

    /// A literal every line that passes contains, for the reader to look
    /// for ([`sinkd_store::StreamReader::next_line_containing`]).
    pub fn needle(&self) -> Option<&memmem::Finder<'static>> {
        self.needle.as_deref()
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
