//! Reading and printing priorities: `auth.*;security.!=debug` or
//! `template NAME`.
//!
//! [`Priority::parse`] turns the device's text into a list of [`Expression`]s
//! (or a template reference) without looking anything up; [`Priority::compile`]
//! then resolves the template, if any, through [`crate::Templates`] and folds
//! the expressions into a [`PriorityTable`] (see `table.rs`). Both types print
//! in canonical form, the way the device's `show` command does: a bare `auth`
//! prints as `auth.*`, the alias `warn` as `warning`, and expressions are
//! joined by `;` without spaces. Printing and reading again gives back the
//! same value, which the property tests check.

use std::fmt;
use std::str::FromStr;

use sinkd_proto::{Facility, Severity, FACILITY_COUNT};

use crate::error::PriorityError;
use crate::table::PriorityTable;
use crate::template::{check_name, Templates};

/// The most expressions one priority may hold, as on the device.
pub const MAX_EXPRESSIONS: usize = 16;

/// How an expression changes the set of (facility, severity) pairs.
///
/// The variants follow the rows of the manual's "Filter Expression
/// Modifiers" table rather than the alphabet, as `show` lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Modifier {
    /// `.`: add the severity and every more severe one.
    Include,
    /// `.!`: remove the severity and every more severe one.
    Exclude,
    /// `.=`: add exactly this severity.
    IncludeExact,
    /// `.!=`: remove exactly this severity.
    ExcludeExact,
}

impl Modifier {
    /// Every modifier, in the manual's table order.
    pub const ALL: [Modifier; 4] = [
        Modifier::Include,
        Modifier::Exclude,
        Modifier::IncludeExact,
        Modifier::ExcludeExact,
    ];

    /// The modifier as written between facility and severity, dot included
    /// (`.`, `.!`, `.=`, `.!=`), which is also how `show` prints it.
    pub fn symbol(self) -> &'static str {
        match self {
            Modifier::Include => ".",
            Modifier::Exclude => ".!",
            Modifier::IncludeExact => ".=",
            Modifier::ExcludeExact => ".!=",
        }
    }

    /// Whether the modifier removes pairs from the set (`.!` and `.!=`).
    pub fn is_exclusion(self) -> bool {
        matches!(self, Modifier::Exclude | Modifier::ExcludeExact)
    }

    /// Whether the modifier acts on one severity only (`.=` and `.!=`).
    pub fn is_exact(self) -> bool {
        matches!(self, Modifier::IncludeExact | Modifier::ExcludeExact)
    }
}

impl fmt::Display for Modifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// One `facility modifier severity` expression, such as `auth.!=debug`.
///
/// `None` stands for the wildcard `*`. The facility is never
/// [`Facility::Facility15`]: it has no keyword, so no text names it and
/// [`Expression::new`] refuses it; `*` still covers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Expression {
    facility: Option<Facility>,
    modifier: Modifier,
    severity: Option<Severity>,
}

impl Expression {
    /// Builds an expression from its parts; `None` means `*`. Returns `None`
    /// for facility 15, which the language cannot name.
    pub fn new(
        facility: Option<Facility>,
        modifier: Modifier,
        severity: Option<Severity>,
    ) -> Option<Expression> {
        if facility == Some(Facility::Facility15) {
            return None;
        }
        Some(Expression {
            facility,
            modifier,
            severity,
        })
    }

    /// The facility, or `None` for `*` (all 24 facilities).
    pub fn facility(&self) -> Option<Facility> {
        self.facility
    }

    /// The modifier.
    pub fn modifier(&self) -> Modifier {
        self.modifier
    }

    /// The severity, or `None` for `*` (all eight severities).
    pub fn severity(&self) -> Option<Severity> {
        self.severity
    }

    /// The severities this expression adds or removes, as a row bit mask
    /// (bit `s` is severity `s`). `*` is every severity whatever the
    /// modifier, so `auth.!*` and `auth.!=*` both clear the whole row.
    pub fn severity_mask(&self) -> u8 {
        match self.severity {
            None => u8::MAX,
            Some(severity) if self.modifier.is_exact() => 1 << severity.code(),
            // Bits 0..=s: `s` and everything more severe (numerically lower).
            Some(severity) => u8::MAX >> (7 - severity.code()),
        }
    }

    /// Applies the expression to a table under construction, one row per
    /// facility.
    pub(crate) fn apply(&self, rows: &mut [u8; FACILITY_COUNT]) {
        let mask = self.severity_mask();
        let apply_row = |row: &mut u8| {
            if self.modifier.is_exclusion() {
                *row &= !mask;
            } else {
                *row |= mask;
            }
        };
        match self.facility {
            None => rows.iter_mut().for_each(apply_row),
            Some(facility) => apply_row(&mut rows[usize::from(facility.code())]),
        }
    }

    /// Reads one expression that has already been cut out of its priority
    /// and trimmed; `index` (1-based) is only used in errors.
    fn parse(text: &str, index: usize) -> Result<Expression, PriorityError> {
        if text.bytes().any(|byte| byte.is_ascii_whitespace()) {
            return Err(PriorityError::WhitespaceInExpression {
                index,
                text: text.to_owned(),
            });
        }
        // A bare facility, without a dot, means `facility.*`.
        let (facility_word, modifier, severity_word) = match text.split_once('.') {
            None => (text, Modifier::Include, "*"),
            Some((facility_word, rest)) => {
                let (modifier, severity_word) = if let Some(word) = rest.strip_prefix("!=") {
                    (Modifier::ExcludeExact, word)
                } else if let Some(word) = rest.strip_prefix('!') {
                    (Modifier::Exclude, word)
                } else if let Some(word) = rest.strip_prefix('=') {
                    (Modifier::IncludeExact, word)
                } else {
                    (Modifier::Include, rest)
                };
                if facility_word.is_empty() {
                    return Err(PriorityError::MissingFacility {
                        index,
                        text: text.to_owned(),
                    });
                }
                if severity_word.is_empty() {
                    return Err(PriorityError::MissingSeverity {
                        index,
                        text: text.to_owned(),
                        modifier: modifier.symbol(),
                    });
                }
                (facility_word, modifier, severity_word)
            }
        };
        let facility = match facility_word {
            "*" => None,
            word => Some(Facility::from_keyword(word).ok_or_else(|| {
                PriorityError::UnknownFacility {
                    index,
                    text: text.to_owned(),
                    facility: word.to_owned(),
                }
            })?),
        };
        let severity = match severity_word {
            "*" => None,
            word => Some(Severity::from_keyword(word).ok_or_else(|| {
                PriorityError::UnknownSeverity {
                    index,
                    text: text.to_owned(),
                    severity: word.to_owned(),
                }
            })?),
        };
        Ok(Expression {
            facility,
            modifier,
            severity,
        })
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.facility {
            None => f.write_str("*")?,
            Some(facility) => f.write_str(facility.keyword())?,
        }
        f.write_str(self.modifier.symbol())?;
        match self.severity {
            None => f.write_str("*"),
            Some(severity) => f.write_str(severity.keyword()),
        }
    }
}

/// A sink's priority as written: a list of expressions, or a reference to a
/// named template.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Priority {
    source: Source,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Source {
    /// 1 to [`MAX_EXPRESSIONS`] expressions, in order.
    Expressions(Vec<Expression>),
    /// `template NAME`, resolved when compiling; the name is valid.
    Template(String),
}

impl Priority {
    /// Reads a priority: `EXPR[;EXPR...]` (at most [`MAX_EXPRESSIONS`]) or
    /// `template NAME`, with one optional trailing `;` (the device manual's
    /// own example is `priority auth;`). Whitespace around `;` and at the
    /// ends is ignored. Template names are checked for form here but looked
    /// up only by [`Priority::compile`].
    pub fn parse(text: &str) -> Result<Priority, PriorityError> {
        let text = text.trim_ascii();
        let text = text.strip_suffix(';').unwrap_or(text).trim_ascii();
        if text.is_empty() {
            return Err(PriorityError::EmptyPriority);
        }
        if !text.contains(';') {
            if let Some(name) = after_template_keyword(text) {
                return Priority::template_reference(name);
            }
        }
        let mut expressions = Vec::new();
        for (offset, piece) in text.split(';').enumerate() {
            let index = offset + 1;
            if index > MAX_EXPRESSIONS {
                return Err(PriorityError::TooManyExpressions {
                    count: text.split(';').count(),
                });
            }
            let piece = piece.trim_ascii();
            if piece.is_empty() {
                return Err(PriorityError::EmptyExpression { index });
            }
            if after_template_keyword(piece).is_some() {
                return Err(PriorityError::TemplateNotAlone {
                    index,
                    text: piece.to_owned(),
                });
            }
            expressions.push(Expression::parse(piece, index)?);
        }
        Ok(Priority {
            source: Source::Expressions(expressions),
        })
    }

    /// A priority made of these expressions, checked for count (1 to
    /// [`MAX_EXPRESSIONS`]).
    pub fn from_expressions(expressions: Vec<Expression>) -> Result<Priority, PriorityError> {
        if expressions.is_empty() {
            return Err(PriorityError::EmptyPriority);
        }
        if expressions.len() > MAX_EXPRESSIONS {
            return Err(PriorityError::TooManyExpressions {
                count: expressions.len(),
            });
        }
        Ok(Priority {
            source: Source::Expressions(expressions),
        })
    }

    /// The priority `template NAME`, with the name checked for form.
    pub fn template_reference(name: &str) -> Result<Priority, PriorityError> {
        if name.is_empty() {
            return Err(PriorityError::MissingTemplateName);
        }
        check_name(name)?;
        Ok(Priority {
            source: Source::Template(name.to_owned()),
        })
    }

    /// The expressions in order; empty for a template reference.
    pub fn expressions(&self) -> &[Expression] {
        match &self.source {
            Source::Expressions(expressions) => expressions,
            Source::Template(_) => &[],
        }
    }

    /// The template's name if this priority is `template NAME`.
    pub fn template_name(&self) -> Option<&str> {
        match &self.source {
            Source::Expressions(_) => None,
            Source::Template(name) => Some(name),
        }
    }

    /// Folds the expressions into a bit table, first resolving a template
    /// reference through `templates`. Fails only for an unknown template.
    pub fn compile(&self, templates: &Templates) -> Result<PriorityTable, PriorityError> {
        match &self.source {
            Source::Expressions(expressions) => Ok(PriorityTable::from_expressions(expressions)),
            Source::Template(name) => {
                let body = templates
                    .get(name)
                    .ok_or_else(|| PriorityError::UnknownTemplate { name: name.clone() })?;
                match &body.source {
                    Source::Expressions(expressions) => {
                        Ok(PriorityTable::from_expressions(expressions))
                    }
                    // `Templates::define` refuses such bodies; kept as an
                    // error rather than a panic all the same.
                    Source::Template(_) => {
                        Err(PriorityError::NestedTemplate { name: name.clone() })
                    }
                }
            }
        }
    }
}

/// If `text` is `template` followed by whitespace (or nothing), the rest,
/// trimmed: the template name, possibly empty or malformed.
fn after_template_keyword(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("template")?;
    if rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_whitespace()) {
        Some(rest.trim_ascii())
    } else {
        None
    }
}

impl FromStr for Priority {
    type Err = PriorityError;

    fn from_str(text: &str) -> Result<Priority, PriorityError> {
        Priority::parse(text)
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Template(name) => write!(f, "template {name}"),
            Source::Expressions(expressions) => {
                for (offset, expression) in expressions.iter().enumerate() {
                    if offset > 0 {
                        f.write_str(";")?;
                    }
                    write!(f, "{expression}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests;
