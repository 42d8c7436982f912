//! The compiled form of a priority: 24 rows of 8 bits, one lookup per
//! message.
//!
//! Row `f` holds facility `f`; bit `s` of it is set when severity `s` passes.
//! Eight severities fit a `u8` exactly, so the whole table is 24 bytes, a
//! `Copy` value that each worker can keep next to its sink. The table is the
//! only thing the per-message path touches: [`PriorityTable::matches`] is an
//! indexed load and a shift, never a walk over expressions. [`table_json`]
//! prints a table for `sinkd priority`.

use sinkd_proto::{Facility, Pri, Severity, FACILITY_COUNT, SEVERITY_COUNT};

use crate::expr::Expression;

// One row per facility is a `u8` only because there are exactly eight
// severities; `Expression::severity_mask` relies on the same fact.
const _: () = assert!(SEVERITY_COUNT == 8);

/// Which (facility, severity) pairs a sink accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PriorityTable {
    rows: [u8; FACILITY_COUNT],
}

impl PriorityTable {
    /// A table that accepts nothing: where every priority starts.
    pub const fn empty() -> PriorityTable {
        PriorityTable {
            rows: [0; FACILITY_COUNT],
        }
    }

    /// A table that accepts everything, including facility 15 (`*.*`).
    pub const fn all() -> PriorityTable {
        PriorityTable {
            rows: [u8::MAX; FACILITY_COUNT],
        }
    }

    /// A table from raw rows: bit `s` of `rows[f]` lets facility `f`,
    /// severity `s` pass.
    pub const fn from_rows(rows: [u8; FACILITY_COUNT]) -> PriorityTable {
        PriorityTable { rows }
    }

    /// Applies `expressions` in order to an empty table. Templates must
    /// already be resolved; see [`crate::Priority::compile`].
    pub fn from_expressions<'a>(
        expressions: impl IntoIterator<Item = &'a Expression>,
    ) -> PriorityTable {
        let mut rows = [0; FACILITY_COUNT];
        for expression in expressions {
            expression.apply(&mut rows);
        }
        PriorityTable { rows }
    }

    /// Whether a message of this facility and severity passes. The enum
    /// discriminants are 0..=23 and 0..=7, so the index cannot be out of
    /// range and the compiler drops the bounds check.
    #[inline]
    pub fn matches(&self, facility: Facility, severity: Severity) -> bool {
        (self.rows[facility as usize] >> (severity as u8)) & 1 != 0
    }

    /// [`PriorityTable::matches`] for a decoded PRI.
    #[inline]
    pub fn matches_pri(&self, pri: Pri) -> bool {
        self.matches(pri.facility, pri.severity)
    }

    /// The raw rows, one per facility in numeric order.
    pub fn rows(&self) -> [u8; FACILITY_COUNT] {
        self.rows
    }

    /// Whether no message at all passes (for example `auth.!*` alone): a
    /// sink with such a table is most likely a mistake worth a warning.
    pub fn is_empty(&self) -> bool {
        self.rows.iter().all(|row| *row == 0)
    }
}

/// Prints a table as compact JSON for `sinkd priority`: one key per facility
/// in numeric order (all 24, facility 15 as `"15"`), each with the passing
/// severities' keywords in numeric order, e.g.
/// `{"kern":["emerg","alert"],"user":[],...}`. All keys and values are fixed
/// keywords, so no escaping is needed.
pub fn table_json(table: &PriorityTable) -> String {
    // Longest case, every severity of every facility: 1,755 bytes.
    let mut json = String::with_capacity(2048);
    json.push('{');
    for facility in Facility::ALL {
        if facility != Facility::Kern {
            json.push(',');
        }
        json.push('"');
        json.push_str(facility.keyword());
        json.push_str("\":[");
        let mut first = true;
        for severity in Severity::ALL {
            if table.matches(facility, severity) {
                if !first {
                    json.push(',');
                }
                first = false;
                json.push('"');
                json.push_str(severity.keyword());
                json.push('"');
            }
        }
        json.push(']');
    }
    json.push('}');
    json
}

#[cfg(test)]
mod tests;
