//! RFC 5424 STRUCTURED-DATA. Being written.

/// Validated STRUCTURED-DATA text (one or more SD-ELEMENTs), kept as sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StructuredData<'a> {
    raw: &'a str,
}

impl<'a> StructuredData<'a> {
    /// The SD-ELEMENTs exactly as sent, escapes included.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }
}

pub struct SdElement;
pub struct SdParam;
pub struct SdParams;
pub struct SdElements;
