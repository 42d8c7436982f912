//! The filter options of `sinkd show` and `sinkd follow` on the command
//! line (`--since`, `--priority`, `--grep`; `--until` apart, as only
//! `show` has it), compiled by `sinkd_read::query`.

use crate::cli::store_args::UsageError;
use jiff::tz::TimeZone;
use sinkd_read::{Query, QueryText};

/// The filter options but `--until`, which only `show` has (see
/// [`UntilArg`]).
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

impl FilterArgs {
    /// Compiles the options, with `until` from [`UntilArg`] when the
    /// command has it; a bad value is a usage error naming the option.
    pub(crate) fn compile(
        &self,
        until: Option<&str>,
        now_micros: i64,
        zone: &TimeZone,
    ) -> Result<Query, UsageError> {
        QueryText {
            since: self.since.as_deref(),
            until,
            priority: self.priority.as_deref(),
            grep: self.grep.as_deref(),
        }
        .compile(now_micros, zone)
        .map_err(|error| UsageError(format!("--{error}")))
    }
}
