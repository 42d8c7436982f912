//! From a `file PATH` target to a safe directory below `data_dir`.
//!
//! A file sink's target, e.g. `file {device}/messages`, is parsed once into
//! a [`PathTemplate`]. For every message the collector expands it with the
//! message's fields into a *stream path* such as `router1/messages`: the
//! relative directory that holds that device's segments. The field values
//! come from the network (a hostname may be `../../etc/passwd`, empty, 10 KB
//! long or full of control bytes), so each one goes through
//! [`sanitize_component`] and always becomes exactly one harmless path
//! component. Literal text in the template is checked at parse time instead.
//!
//! The result: no input can name a path outside `data_dir`. The store checks
//! every stream path again with [`validate_stream_path`] the first time it
//! sees it, so a caller that builds paths by hand is held to the same rule.

use crate::error::{StoreError, TemplateError};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

#[cfg(test)]
mod tests;

/// Longest sanitised field value, in bytes.
pub const MAX_COMPONENT_BYTES: usize = 128;

/// Longest accepted template source, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 1024;

/// Longest stream path the store accepts, in bytes.
pub const MAX_STREAM_PATH_BYTES: usize = 4000;

/// Longest single component of an expanded path (Linux `NAME_MAX`).
const MAX_NAME_BYTES: usize = 255;

/// A message field that a template can refer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// `{app_name}`: the RFC 5424 APP-NAME or RFC 3164 TAG.
    AppName,
    /// `{device}`: the device key (hostname, or source address).
    Device,
    /// `{facility}`: the facility keyword (`kern`, `local7`, ...).
    Facility,
    /// `{severity}`: the severity keyword (`emerg`, ..., `debug`).
    Severity,
}

impl Field {
    /// Every field.
    pub const ALL: [Field; 4] = [
        Field::AppName,
        Field::Device,
        Field::Facility,
        Field::Severity,
    ];

    /// The name written between braces in a template.
    pub fn name(self) -> &'static str {
        match self {
            Field::AppName => "app_name",
            Field::Device => "device",
            Field::Facility => "facility",
            Field::Severity => "severity",
        }
    }

    fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|field| field.name() == name)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// The field values of one message, as the collector knows them.
///
/// Values are raw (unsanitised); expansion sanitises them.
#[derive(Clone, Copy, Debug, Default)]
pub struct TemplateFields<'a> {
    /// The device key.
    pub device: &'a str,
    /// The facility keyword.
    pub facility: &'a str,
    /// The severity keyword.
    pub severity: &'a str,
    /// The application name; empty when the message has none.
    pub app_name: &'a str,
}

impl<'a> TemplateFields<'a> {
    fn value(&self, field: Field) -> &'a str {
        match field {
            Field::AppName => self.app_name,
            Field::Device => self.device,
            Field::Facility => self.facility,
            Field::Severity => self.severity,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    /// Literal text (already checked), as a byte range of the source.
    Literal(usize, usize),
    Field(Field),
    /// The `/` between two components.
    Separator,
}

/// The parsed PATH of a `file PATH` sink target, e.g.
/// `firewalls/{device}/{facility}.log`.
///
/// Parsing refuses absolute paths, `.` and `..` components, empty
/// components, unknown fields and literal characters outside
/// `[A-Za-z0-9._:-]`, so every error shows up when the configuration is
/// loaded. Expansion cannot fail.
///
/// ```
/// use sinkd_store::{PathTemplate, TemplateFields};
/// let template: PathTemplate = "{device}/messages".parse().unwrap();
/// let fields = TemplateFields { device: "../../etc", ..TemplateFields::default() };
/// assert_eq!(template.expand(&fields), "_.._.._etc/messages");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathTemplate {
    source: Box<str>,
    pieces: Vec<Piece>,
    used_fields: u8,
}

impl PathTemplate {
    /// Parses and checks a template.
    pub fn parse(source: &str) -> Result<PathTemplate, TemplateError> {
        if source.is_empty() {
            return Err(TemplateError::Empty);
        }
        if source.len() > MAX_TEMPLATE_BYTES {
            return Err(TemplateError::TooLong {
                max: MAX_TEMPLATE_BYTES,
            });
        }
        if source.starts_with('/') {
            return Err(TemplateError::Absolute);
        }
        let mut pieces = Vec::new();
        let mut used_fields = 0u8;
        let mut component_start = 0usize;
        let mut component_index = 1usize;
        let mut component_has_field = false;
        let bytes = source.as_bytes();
        let mut pos = 0usize;
        let mut literal_start = 0usize;
        while pos <= bytes.len() {
            let byte = bytes.get(pos).copied();
            match byte {
                None | Some(b'/') => {
                    if literal_start < pos {
                        pieces.push(Piece::Literal(literal_start, pos));
                    }
                    let component = &source[component_start..pos];
                    if !component_has_field {
                        match component {
                            "" => {
                                return Err(TemplateError::EmptyComponent {
                                    index: component_index,
                                })
                            }
                            "." => {
                                return Err(TemplateError::CurrentComponent {
                                    index: component_index,
                                })
                            }
                            ".." => {
                                return Err(TemplateError::ParentComponent {
                                    index: component_index,
                                })
                            }
                            _ => {}
                        }
                    }
                    if component.starts_with('.') && !matches!(component, "." | "..") {
                        return Err(TemplateError::HiddenComponent {
                            index: component_index,
                        });
                    }
                    if byte.is_none() {
                        break;
                    }
                    pieces.push(Piece::Separator);
                    pos += 1;
                    component_start = pos;
                    literal_start = pos;
                    component_index += 1;
                    component_has_field = false;
                }
                Some(b'{') => {
                    let Some(close) = source[pos..].find('}') else {
                        return Err(TemplateError::UnbalancedBrace { offset: pos });
                    };
                    let name = &source[pos + 1..pos + close];
                    if name.contains('{') || name.contains('/') {
                        return Err(TemplateError::UnbalancedBrace { offset: pos });
                    }
                    let Some(field) = Field::from_name(name) else {
                        return Err(TemplateError::UnknownField {
                            name: name.to_owned(),
                            offset: pos,
                        });
                    };
                    if literal_start < pos {
                        pieces.push(Piece::Literal(literal_start, pos));
                    }
                    pieces.push(Piece::Field(field));
                    used_fields |= field.bit();
                    component_has_field = true;
                    pos += close + 1;
                    literal_start = pos;
                }
                Some(b'}') => return Err(TemplateError::UnbalancedBrace { offset: pos }),
                Some(other) => {
                    if !is_safe_byte(other) {
                        let ch = source[pos..].chars().next().unwrap_or('\u{fffd}');
                        return Err(TemplateError::BadCharacter { ch, offset: pos });
                    }
                    pos += 1;
                }
            }
        }
        Ok(PathTemplate {
            source: source.into(),
            pieces,
            used_fields,
        })
    }

    /// The template as written in the configuration.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the template refers to `field`; a caller can leave unused
    /// fields out of its cache key.
    pub fn uses(&self, field: Field) -> bool {
        self.used_fields & field.bit() != 0
    }

    /// Whether the template has no fields at all (every message of the sink
    /// goes to one stream).
    pub fn is_static(&self) -> bool {
        self.used_fields == 0
    }

    /// Appends the stream path for `fields` to `out`.
    ///
    /// Allocates nothing when `out` has room. Each field value is sanitised
    /// as by [`sanitize_component`]; a component longer than 255 bytes (two
    /// long fields side by side) is cut there. The result always passes
    /// [`validate_stream_path`].
    pub fn expand_into(&self, fields: &TemplateFields<'_>, out: &mut String) {
        let mut component_start = out.len();
        for piece in &self.pieces {
            match *piece {
                Piece::Literal(start, end) => out.push_str(&self.source[start..end]),
                Piece::Field(field) => push_sanitized(fields.value(field).as_bytes(), out),
                Piece::Separator => {
                    truncate_component(out, component_start);
                    out.push('/');
                    component_start = out.len();
                }
            }
        }
        truncate_component(out, component_start);
    }

    /// The stream path for `fields`, as a new string.
    pub fn expand(&self, fields: &TemplateFields<'_>) -> String {
        let mut out = String::with_capacity(self.source.len() + 32);
        self.expand_into(fields, &mut out);
        out
    }
}

impl FromStr for PathTemplate {
    type Err = TemplateError;

    fn from_str(source: &str) -> Result<PathTemplate, TemplateError> {
        PathTemplate::parse(source)
    }
}

impl fmt::Display for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Components are ASCII after sanitising, so any byte index is a char
/// boundary.
fn truncate_component(out: &mut String, component_start: usize) {
    if out.len() - component_start > MAX_NAME_BYTES {
        out.truncate(component_start + MAX_NAME_BYTES);
    }
}

/// The bytes kept as they are in a path component: `[A-Za-z0-9._:-]`.
fn is_safe_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b':' | b'-')
}

/// Whether `value` is already a sanitised component.
fn is_sanitized(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= MAX_COMPONENT_BYTES
        && value[0] != b'.'
        && value.iter().all(|&byte| is_safe_byte(byte))
}

/// Appends the sanitised form of `value` to `out`.
fn push_sanitized(value: &[u8], out: &mut String) {
    if value.is_empty() {
        out.push('_');
        return;
    }
    let mut budget = MAX_COMPONENT_BYTES;
    if value[0] == b'.' {
        out.push('_');
        budget -= 1;
    }
    for &byte in value.iter().take(budget) {
        out.push(if is_safe_byte(byte) {
            byte as char
        } else {
            '_'
        });
    }
}

/// Turns a field value from the network into one safe path component.
///
/// Bytes in `[A-Za-z0-9._:-]` are kept, every other byte (each byte of a
/// multi-byte character too) becomes `_`. A value starting with `.` gets a
/// `_` in front, so the result is never `.`, `..` or a hidden name; an empty
/// value becomes `_`; the result is cut at [`MAX_COMPONENT_BYTES`]. Already
/// safe values are returned borrowed, without allocating.
///
/// ```
/// use sinkd_store::sanitize_component;
/// assert_eq!(sanitize_component("router1.example.net"), "router1.example.net");
/// assert_eq!(sanitize_component("../../etc/passwd"), "_.._.._etc_passwd");
/// assert_eq!(sanitize_component(""), "_");
/// assert_eq!(sanitize_component(".."), "_..");
/// ```
pub fn sanitize_component(value: &str) -> Cow<'_, str> {
    if is_sanitized(value.as_bytes()) {
        return Cow::Borrowed(value);
    }
    Cow::Owned(sanitize_bytes(value.as_bytes()))
}

/// [`sanitize_component`] for a value that may not be UTF-8.
pub fn sanitize_component_bytes(value: &[u8]) -> Cow<'_, str> {
    if is_sanitized(value) {
        // Every byte is ASCII, checked just above.
        if let Ok(text) = std::str::from_utf8(value) {
            return Cow::Borrowed(text);
        }
    }
    Cow::Owned(sanitize_bytes(value))
}

fn sanitize_bytes(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len().min(MAX_COMPONENT_BYTES) + 1);
    push_sanitized(value, &mut out);
    out
}

/// Checks that `path` is a relative stream path the store may write to:
/// not empty, no leading `/`, components separated by single `/`, none of
/// them `.` or `..`, no NUL or other control byte, each component at most
/// 255 bytes and the whole at most [`MAX_STREAM_PATH_BYTES`].
///
/// [`PathTemplate::expand_into`] only produces paths that pass.
pub fn validate_stream_path(path: &str) -> Result<(), StoreError> {
    let refuse = |reason: &'static str| {
        Err(StoreError::InvalidStreamPath {
            path: path.chars().take(200).collect(),
            reason,
        })
    };
    if path.is_empty() {
        return refuse("empty");
    }
    if path.len() > MAX_STREAM_PATH_BYTES {
        return refuse("too long");
    }
    if path.starts_with('/') {
        return refuse("absolute");
    }
    if path.bytes().any(|byte| byte < 0x20 || byte == 0x7f) {
        return refuse("control character");
    }
    for component in path.split('/') {
        match component {
            "" => return refuse("empty component"),
            "." | ".." => return refuse("'.' or '..' component"),
            _ if component.len() > MAX_NAME_BYTES => return refuse("component too long"),
            _ => {}
        }
    }
    Ok(())
}
