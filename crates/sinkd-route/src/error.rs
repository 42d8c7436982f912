//! What can go wrong when reading a priority or managing templates.
//!
//! Priorities come from people (TOML files, the `sinkd priority` command,
//! a device configuration being imported), so every message points at the
//! place to fix: the 1-based index and text of the offending expression, or
//! the template's name. Text from the input is printed with Rust's debug
//! quoting, so control characters and quotes in it stay visible and cannot
//! break the message. These errors only arise at configuration time; the
//! per-message path ([`crate::PriorityTable::matches`]) cannot fail.

use crate::expr::MAX_EXPRESSIONS;
use crate::template::MAX_TEMPLATE_NAME_LEN;

/// A priority expression or template that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PriorityError {
    /// An attempt to define, shadow or remove a built-in default template.
    #[error("template {name:?} is a built-in default and cannot be changed or removed")]
    DefaultTemplate { name: String },

    /// Nothing between two `;`, or a `;` at the start (one `;` at the end
    /// is accepted).
    #[error("expression {index} is empty (two `;` in a row, or a `;` at the start)")]
    EmptyExpression { index: usize },

    /// The whole priority is empty or blank.
    #[error("empty priority: give at least one expression, such as `*.notice`")]
    EmptyPriority,

    /// An error inside a template's body, wrapped with the template's name.
    #[error("template {name:?}: {error}")]
    InTemplate {
        name: String,
        error: Box<PriorityError>,
    },

    /// A template name that is empty, too long or has characters outside
    /// `A-Z a-z 0-9 _ . -`.
    #[error(
        "invalid template name {name:?}: use 1 to {MAX_TEMPLATE_NAME_LEN} of the characters A-Z a-z 0-9 _ . -"
    )]
    InvalidTemplateName { name: String },

    /// Nothing before the `.` (`.notice`).
    #[error("expression {index} {text:?}: missing facility before the `.`")]
    MissingFacility { index: usize, text: String },

    /// Nothing after the modifier (`auth.`, `auth.!=`).
    #[error("expression {index} {text:?}: missing severity after {modifier:?}")]
    MissingSeverity {
        index: usize,
        text: String,
        modifier: &'static str,
    },

    /// `template` with no name after it.
    #[error("`template` needs a NAME, as in `template my-template`")]
    MissingTemplateName,

    /// `template X` as a template's body: templates cannot refer to templates.
    #[error("template {name:?}: a template's body must be expressions, not another template")]
    NestedTemplate { name: String },

    /// `template NAME` used as one expression of several.
    #[error(
        "expression {index} {text:?}: `template NAME` must be the whole priority, not one of several expressions"
    )]
    TemplateNotAlone { index: usize, text: String },

    /// More than [`MAX_EXPRESSIONS`] expressions.
    #[error("too many expressions: {count} given, at most {MAX_EXPRESSIONS} allowed")]
    TooManyExpressions { count: usize },

    /// A facility keyword the device does not know.
    #[error("expression {index} {text:?}: unknown facility {facility:?}")]
    UnknownFacility {
        index: usize,
        text: String,
        facility: String,
    },

    /// A severity keyword the device does not know.
    #[error("expression {index} {text:?}: unknown severity {severity:?}")]
    UnknownSeverity {
        index: usize,
        text: String,
        severity: String,
    },

    /// `template NAME` (or a removal) naming a template that is not defined.
    #[error("unknown template {name:?}")]
    UnknownTemplate { name: String },

    /// Spaces or tabs inside one expression (`auth. notice`); they are only
    /// allowed around `;`.
    #[error("expression {index} {text:?}: whitespace inside an expression (it is only allowed around `;`)")]
    WhitespaceInExpression { index: usize, text: String },
}
