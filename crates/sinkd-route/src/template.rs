//! Named priorities: the device's `template NAME priority EXPR` and the
//! built-in defaults that ship with sinkd.
//!
//! A sink may say `template NAME` instead of spelling out its expressions;
//! [`crate::Priority::compile`] looks the name up here. The configuration
//! loader fills one [`Templates`] from the TOML `[templates]` table, on top of
//! the defaults, and compiles every sink against it. Defaults behave as the
//! manual says the device's do: they cannot be removed or changed, and a user
//! template may not take a default's name. A template's body is always a
//! list of expressions, never another `template X`, so lookups are one step
//! deep and cannot loop.

use std::collections::BTreeMap;

use crate::error::PriorityError;
use crate::expr::Priority;

/// The longest template name accepted.
pub const MAX_TEMPLATE_NAME_LEN: usize = 32;

/// The built-in templates: name, body. Derived from the device manual's
/// facility-usage table (Table 1) and its security-events sink example.
const DEFAULT_TEMPLATES: [(&str, &str); 7] = [
    // Alarm sub-system (Table 1: local0).
    ("alarms", "local0.*"),
    // Everything, of any facility and severity.
    ("all", "*.*"),
    // Log audit trail (Table 1: security, "for audit trail").
    ("audit", "security.*"),
    // `err` and worse from every facility.
    ("errors", "*.err"),
    // PPP (Table 1: local2).
    ("ppp", "local2.*"),
    // The manual's Table 3 sink: logins, audit trail, system events, NTP.
    ("security-events", "auth.*;security.*;console.*;ntp.*"),
    // OpenVPN and IPsec (Table 1: local4).
    ("vpn", "local4.*"),
];

/// A set of named priorities: the built-in defaults plus user definitions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Templates {
    entries: BTreeMap<String, Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    body: Priority,
    /// Built-in entries cannot be redefined or removed.
    is_default: bool,
}

impl Templates {
    /// The built-in defaults and nothing else:
    ///
    /// | name | body |
    /// |---|---|
    /// | `alarms` | `local0.*` (alarm sub-system) |
    /// | `all` | `*.*` |
    /// | `audit` | `security.*` (audit trail) |
    /// | `errors` | `*.err` |
    /// | `ppp` | `local2.*` |
    /// | `security-events` | `auth.*;security.*;console.*;ntp.*` |
    /// | `vpn` | `local4.*` (OpenVPN, IPsec) |
    pub fn with_defaults() -> Templates {
        let entries = DEFAULT_TEMPLATES
            .iter()
            .map(|(name, text)| {
                // The bodies are the constants above, not input; the unit
                // test `defaults_parse_and_compile` parses each of them.
                let body = Priority::parse(text).expect("built-in template body is valid");
                let entry = Entry {
                    body,
                    is_default: true,
                };
                ((*name).to_owned(), entry)
            })
            .collect();
        Templates { entries }
    }

    /// Defines (or replaces) the user template `name` with the priority
    /// `expr`, which must be a list of expressions. Fails on a malformed
    /// name, a default's name, or a bad body (wrapped in
    /// [`PriorityError::InTemplate`]).
    pub fn define(&mut self, name: &str, expr: &str) -> Result<(), PriorityError> {
        check_name(name)?;
        if self.is_default(name) {
            return Err(PriorityError::DefaultTemplate {
                name: name.to_owned(),
            });
        }
        let body = Priority::parse(expr).map_err(|error| PriorityError::InTemplate {
            name: name.to_owned(),
            error: Box::new(error),
        })?;
        if body.template_name().is_some() {
            return Err(PriorityError::NestedTemplate {
                name: name.to_owned(),
            });
        }
        let entry = Entry {
            body,
            is_default: false,
        };
        self.entries.insert(name.to_owned(), entry);
        Ok(())
    }

    /// Removes the user template `name` (`no template NAME`) and returns its
    /// body. Defaults cannot be removed.
    pub fn remove(&mut self, name: &str) -> Result<Priority, PriorityError> {
        if self.is_default(name) {
            return Err(PriorityError::DefaultTemplate {
                name: name.to_owned(),
            });
        }
        self.entries
            .remove(name)
            .map(|entry| entry.body)
            .ok_or_else(|| PriorityError::UnknownTemplate {
                name: name.to_owned(),
            })
    }

    /// Removes every user template and keeps the defaults (`no template`).
    pub fn clear(&mut self) {
        self.entries.retain(|_, entry| entry.is_default);
    }

    /// The body of template `name`, default or user-defined.
    pub fn get(&self, name: &str) -> Option<&Priority> {
        self.entries.get(name).map(|entry| &entry.body)
    }

    /// Every template, defaults included, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Priority)> + '_ {
        self.entries
            .iter()
            .map(|(name, entry)| (name.as_str(), &entry.body))
    }

    /// Whether `name` is one of the built-in defaults.
    pub fn is_default(&self, name: &str) -> bool {
        self.entries.get(name).is_some_and(|entry| entry.is_default)
    }
}

impl Default for Templates {
    /// Same as [`Templates::with_defaults`].
    fn default() -> Templates {
        Templates::with_defaults()
    }
}

/// Checks a template name's form: 1 to [`MAX_TEMPLATE_NAME_LEN`] characters
/// from `A-Z a-z 0-9 _ . -`.
pub(crate) fn check_name(name: &str) -> Result<(), PriorityError> {
    let well_formed = !name.is_empty()
        && name.len() <= MAX_TEMPLATE_NAME_LEN
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-'));
    if well_formed {
        Ok(())
    } else {
        Err(PriorityError::InvalidTemplateName {
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests;
