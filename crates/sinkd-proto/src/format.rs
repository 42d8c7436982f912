//! Output formats. Being written.
