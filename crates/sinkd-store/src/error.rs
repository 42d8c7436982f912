//! The error types of the store.
//!
//! [`StoreError`] is what opening a store, syncing, shutting down and reading
//! can fail with. Errors that happen *inside* a writer thread while appending
//! (a file where a directory should be, an I/O error) are not returned to
//! anyone: they are counted in [`crate::StoreStats`], logged at a limited
//! rate, and the affected lines are counted as dropped, because the caller
//! handed the batch over long before the write happened. A full disk is
//! not such an error: the writers pause and keep the lines
//! ([`crate::StoreHealth`]). [`TemplateError`]
//! is the parse error of a `file PATH` target, reported when the
//! configuration is loaded.

use std::io;
use std::path::PathBuf;

/// An error from opening, syncing, shutting down or reading a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process (or another [`crate::Store`] in this one) holds the
    /// lock on the data directory.
    #[error("data directory {path} is in use by another store")]
    Locked {
        /// The lock file that could not be locked.
        path: PathBuf,
    },
    /// A configuration value is out of range.
    #[error("invalid store configuration: {0}")]
    InvalidConfig(&'static str),
    /// A stream path handed to the store or a reader is not a safe relative
    /// path (absolute, `..`, empty component, NUL byte, too long).
    #[error("invalid stream path {path:?}: {reason}")]
    InvalidStreamPath {
        /// The offending path, as given.
        path: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// An operating-system call failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`open`, `write`, `rename`, ...).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A segment or index file does not have the expected shape.
    #[error("corrupt segment file {path}: {reason}")]
    Corrupt {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The store has been shut down; nothing more can be written.
    #[error("the store is shut down")]
    Closed,
    /// A writer or compressor thread panicked. This is a bug in sinkd.
    #[error("a store thread panicked")]
    ThreadPanicked,
}

impl StoreError {
    /// Wraps an I/O error with the operation and path it concerns.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> StoreError {
        StoreError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// Why a `file PATH` target template was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The template is empty.
    #[error("the file path is empty")]
    Empty,
    /// The template starts with `/`; file sinks are relative to `data_dir`.
    #[error("the file path must be relative to data_dir, not start with '/'")]
    Absolute,
    /// A component is `..`.
    #[error("component {index} is '..'; a file sink cannot leave data_dir")]
    ParentComponent {
        /// One-based position of the component.
        index: usize,
    },
    /// A component starts with `.`: hidden names under `data_dir` are
    /// reserved for sinkd's own files (relay spools).
    #[error("component {index} starts with '.'; names starting with '.' are reserved for sinkd's own files")]
    HiddenComponent {
        /// One-based position of the component.
        index: usize,
    },
    /// A component is `.`.
    #[error("component {index} is '.'; remove it")]
    CurrentComponent {
        /// One-based position of the component.
        index: usize,
    },
    /// Two slashes in a row, or a trailing slash.
    #[error("component {index} is empty (doubled or trailing '/')")]
    EmptyComponent {
        /// One-based position of the component.
        index: usize,
    },
    /// `{name}` names no known field.
    #[error("unknown field {{{name}}} at byte {offset}; known fields are {{device}}, {{facility}}, {{severity}} and {{app_name}}")]
    UnknownField {
        /// The name between the braces.
        name: String,
        /// Byte offset of the opening brace.
        offset: usize,
    },
    /// A `{` without its `}`, or a `}` without its `{`.
    #[error("unbalanced brace at byte {offset}")]
    UnbalancedBrace {
        /// Byte offset of the brace.
        offset: usize,
    },
    /// A literal character outside `[A-Za-z0-9._:-]`.
    #[error("character {ch:?} at byte {offset} is not allowed in a file path (use letters, digits, '.', '_', ':', '-')")]
    BadCharacter {
        /// The refused character.
        ch: char,
        /// Its byte offset.
        offset: usize,
    },
    /// The template is longer than [`crate::path::MAX_TEMPLATE_BYTES`].
    #[error("the file path is longer than {max} bytes")]
    TooLong {
        /// The limit.
        max: usize,
    },
}

/// [`crate::StoreWriter::submit`] failed because the store is shut down.
/// Holds the lines that were not queued.
#[derive(Debug, thiserror::Error)]
#[error("the store is shut down; {} lines were not queued", .0.len())]
pub struct SubmitError(pub crate::AppendBatch);

/// [`crate::StoreWriter::try_submit`] could not queue some or all lines.
#[derive(Debug, thiserror::Error)]
pub enum TrySubmitError {
    /// A writer thread's queue was full. The batch holds exactly the lines
    /// that were not queued: count them as dropped, or retry.
    #[error("store queue full; {} lines were not queued", .0.len())]
    Full(crate::AppendBatch),
    /// The store is shut down. The batch holds the lines not queued.
    #[error("the store is shut down; {} lines were not queued", .0.len())]
    Closed(crate::AppendBatch),
}

impl TrySubmitError {
    /// The lines that were not queued.
    pub fn into_batch(self) -> crate::AppendBatch {
        match self {
            TrySubmitError::Full(batch) | TrySubmitError::Closed(batch) => batch,
        }
    }
}
