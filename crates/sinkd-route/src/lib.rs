//! Which messages a sink wants: the device's priority expressions and
//! templates, compiled to a 24×8 bit table that answers in one lookup.
//!
//! A sink on the device carries a *priority* such as `*.notice` or
//! `auth.*;security.*;console.*;ntp.*`. This crate reads that language
//! exactly as the device's logging manual defines it, so an operator can copy
//! a sink from a device into sinkd's TOML unchanged. It sits between
//! `sinkd-proto`, which supplies [`Facility`] and [`Severity`], and the
//! workers that route each parsed message: they compile every sink's priority
//! once, at configuration time, and then ask [`PriorityTable::matches`] per
//! message, which is a single indexed load and shift.
//!
//! ```
//! use sinkd_proto::{Facility, Severity};
//! use sinkd_route::{compile, Templates};
//!
//! let templates = Templates::with_defaults();
//! let table = compile("*.*;auth.!*", &templates).unwrap();
//! assert!(table.matches(Facility::Kern, Severity::Debug));
//! assert!(!table.matches(Facility::Auth, Severity::Emerg));
//! ```
//!
//! # The language
//!
//! A priority is either up to [`MAX_EXPRESSIONS`] expressions joined by `;`,
//! or `template NAME` on its own. Expressions apply **in order** to a set of
//! (facility, severity) pairs that starts empty:
//!
//! | expression | effect on the set |
//! |---|---|
//! | `fac.sev` | adds `sev` and every more severe level (numerically lower) |
//! | `fac.!sev` | removes `sev` and every more severe level |
//! | `fac.=sev` | adds exactly `sev` |
//! | `fac.!=sev` | removes exactly `sev` |
//!
//! `*` as the facility means all 24 facilities, including facility 15, which
//! has no keyword and so can only be reached through `*`. `*` as the severity
//! means all eight severities whatever the modifier, so `auth.!*` removes all
//! of `auth`. A bare facility (`auth`, or `*`) means `auth.*`. An exclusion
//! with nothing before it removes nothing, which falls out of the set
//! semantics rather than needing a rule.
//!
//! # Decisions where the manual is silent
//!
//! - **Spelling.** Keywords are lower case, as the manual prints them; the
//!   old severity aliases `panic`, `error` and `warn` are accepted and shown
//!   as `emerg`, `err` and `warning`. Facility 15 cannot be named (`15.info`
//!   is an unknown facility).
//! - **Whitespace.** ASCII whitespace (spaces, tabs, line ends) around each `;` and at both ends
//!   of the priority are ignored, so `auth ; ntp` equals `auth;ntp`.
//!   Whitespace *inside* an expression (`auth. notice`) is an error.
//! - **Empty pieces.** One trailing `;` is accepted, as the manual's own
//!   example types `priority auth;`. An empty priority (a lone `;`
//!   included), an empty expression (`a;;b`, `a;;`) and a leading `;` are
//!   errors: they usually mean a line was cut.
//! - **Templates.** `template NAME` must be the whole priority, as in the
//!   manual's grammar `<EXPR [;EXPR] | template NAME>`; inside a list it is
//!   an error. A template's body is a list of expressions and cannot itself
//!   be `template X`, so references never chain or loop. Template names are
//!   1 to 32 characters from `A-Z a-z 0-9 _ . -`. The built-in defaults (see
//!   [`Templates::with_defaults`]) cannot be redefined, shadowed or removed;
//!   redefining a user template replaces it, as repeating a device command
//!   does.
//! - **Errors** name the 1-based index and the text of the offending
//!   expression, e.g. `expression 2 "auth.bogus": unknown severity "bogus"`,
//!   and are reported in reading order: the first problem wins.

mod error;
mod expr;
mod table;
mod template;

pub use error::PriorityError;
pub use expr::{Expression, Modifier, Priority, MAX_EXPRESSIONS};
pub use sinkd_proto::{Facility, Severity, FACILITY_COUNT, SEVERITY_COUNT};
pub use table::{table_json, PriorityTable};
pub use template::{Templates, MAX_TEMPLATE_NAME_LEN};

/// Parses `text` and compiles it against `templates` in one step; the usual
/// entry point for configuration loading and `sinkd priority`.
pub fn compile(text: &str, templates: &Templates) -> Result<PriorityTable, PriorityError> {
    Priority::parse(text)?.compile(templates)
}
