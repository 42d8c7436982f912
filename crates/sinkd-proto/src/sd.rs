//! RFC 5424 STRUCTURED-DATA: validation once, then zero-copy iteration.
//!
//! The RFC 5424 parser in [`crate::rfc5424`] hands the bytes after MSGID to
//! [`parse`], which checks the SD-ELEMENT grammar (§6.3), validates the
//! parameter values as UTF-8 and reports how many bytes the elements took.
//! What comes back is a [`StructuredData`]: the elements exactly as sent,
//! escapes included, as one `&str`. Nothing is split or copied up front,
//! because most messages are stored or relayed without anyone looking
//! inside; code that does look (templates, `sinkd parse`) walks the text
//! with [`StructuredData::iter`] and [`SdElement::params`], and only
//! [`SdParam::value`] allocates, and only when a value carries an escape.
//!
//! Lenient mode (what the collector uses) accepts three things real senders
//! do that the RFC forbids but whose meaning is plain: SD-NAMEs longer than
//! 32 characters, an unescaped `]` inside a quoted value, and extra spaces
//! between parameters or before the closing `]`. The iterators understand
//! all three, so a [`StructuredData`] from either mode reads the same way.

use std::borrow::Cow;

/// Longest SD-NAME (SD-ID or PARAM-NAME) RFC 5424 allows.
pub(crate) const SD_NAME_MAX: usize = 32;

/// Validated STRUCTURED-DATA text (one or more SD-ELEMENTs), kept as sent.
///
/// It also remembers whether the text is strict RFC 5424 (no lenient-mode
/// tolerance was needed and no SD-ID repeats), found while it was validated,
/// so a writer that must send strict STRUCTURED-DATA does not check again.
/// That is a property of the text, so equality and `Debug` look at the text
/// alone.
#[derive(Clone, Copy)]
pub struct StructuredData<'a> {
    raw: &'a str,
    strict: bool,
}

impl PartialEq for StructuredData<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Eq for StructuredData<'_> {}

impl std::fmt::Debug for StructuredData<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StructuredData")
            .field("raw", &self.raw)
            .finish()
    }
}

impl<'a> StructuredData<'a> {
    /// Checks that `text` is exactly one or more SD-ELEMENTs under the strict
    /// RFC 5424 rules (as a formatter or test would build them) and wraps it.
    pub fn parse(text: &'a str) -> Option<StructuredData<'a>> {
        match parse(text.as_bytes(), true) {
            Ok((sd, consumed)) if consumed == text.len() => Some(sd),
            _ => None,
        }
    }

    /// The SD-ELEMENTs exactly as sent, escapes included.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// Whether the text is strict RFC 5424 STRUCTURED-DATA: what
    /// [`StructuredData::parse`] accepts. Known from the validation, so it
    /// costs nothing.
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// The SD-ELEMENTs in order.
    ///
    /// ```
    /// use sinkd_proto::StructuredData;
    /// let sd = StructuredData::parse(r#"[origin ip="192.0.2.1"][note text="a \"quote\""]"#).unwrap();
    /// let ids: Vec<&str> = sd.iter().map(|element| element.id).collect();
    /// assert_eq!(ids, ["origin", "note"]);
    /// let note = sd.element("note").and_then(|element| element.param("text")).unwrap();
    /// assert_eq!(note.raw_value, r#"a \"quote\""#);
    /// assert_eq!(note.value(), r#"a "quote""#);
    /// ```
    pub fn iter(&self) -> SdElements<'a> {
        SdElements { rest: self.raw }
    }

    /// The first element with this SD-ID (RFC 5424 allows each SD-ID once).
    pub fn element(&self, id: &str) -> Option<SdElement<'a>> {
        self.iter().find(|element| element.id == id)
    }
}

impl<'a> IntoIterator for StructuredData<'a> {
    type Item = SdElement<'a>;
    type IntoIter = SdElements<'a>;

    fn into_iter(self) -> SdElements<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &StructuredData<'a> {
    type Item = SdElement<'a>;
    type IntoIter = SdElements<'a>;

    fn into_iter(self) -> SdElements<'a> {
        self.iter()
    }
}

/// Iterator over the SD-ELEMENTs of a [`StructuredData`].
#[derive(Clone, Debug)]
pub struct SdElements<'a> {
    /// The text not yet walked; starts at a `[` or is empty.
    rest: &'a str,
}

impl<'a> Iterator for SdElements<'a> {
    type Item = SdElement<'a>;

    fn next(&mut self) -> Option<SdElement<'a>> {
        let bytes = self.rest.as_bytes();
        if bytes.first() != Some(&b'[') {
            return None;
        }
        let id_end = 1 + name_len(&bytes[1..]);
        let Some(close) = element_close(bytes, id_end) else {
            // Validated text always closes its elements; stop rather than guess.
            self.rest = "";
            return None;
        };
        let element = SdElement {
            id: self.rest.get(1..id_end)?,
            params_text: self.rest.get(id_end..close)?,
        };
        self.rest = self.rest.get(close + 1..).unwrap_or("");
        Some(element)
    }
}

impl std::iter::FusedIterator for SdElements<'_> {}

/// One SD-ELEMENT: its SD-ID and its parameters, still escaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdElement<'a> {
    /// The SD-ID, such as `timeQuality` or `exampleSDID@32473`.
    pub id: &'a str,
    /// Everything between the SD-ID and the closing `]`: the SD-PARAMs,
    /// each preceded by a space.
    params_text: &'a str,
}

impl<'a> SdElement<'a> {
    /// The parameters in the order sent.
    pub fn params(&self) -> SdParams<'a> {
        SdParams {
            rest: self.params_text,
        }
    }

    /// The first parameter with this PARAM-NAME.
    pub fn param(&self, name: &str) -> Option<SdParam<'a>> {
        self.params().find(|param| param.name == name)
    }
}

/// Iterator over the SD-PARAMs of an [`SdElement`].
#[derive(Clone, Debug)]
pub struct SdParams<'a> {
    /// Remaining parameter text: ` name="value"` repeated.
    rest: &'a str,
}

impl<'a> Iterator for SdParams<'a> {
    type Item = SdParam<'a>;

    fn next(&mut self) -> Option<SdParam<'a>> {
        let bytes = self.rest.as_bytes();
        let name_start = bytes.iter().position(|&b| b != b' ')?;
        let name_end = name_start + name_len(&bytes[name_start..]);
        // Validated text has `="` right after the name.
        let parsed = match (bytes.get(name_end), bytes.get(name_end + 1)) {
            (Some(b'='), Some(b'"')) => value_end(bytes, name_end + 2).and_then(|value_end| {
                let param = SdParam {
                    name: self.rest.get(name_start..name_end)?,
                    raw_value: self.rest.get(name_end + 2..value_end)?,
                };
                Some((param, value_end + 1))
            }),
            _ => None,
        };
        match parsed {
            Some((param, next)) => {
                self.rest = self.rest.get(next..).unwrap_or("");
                Some(param)
            }
            None => {
                self.rest = "";
                None
            }
        }
    }
}

impl std::iter::FusedIterator for SdParams<'_> {}

/// One SD-PARAM. `raw_value` is the text between the quotes as sent, with
/// its `\"`, `\\` and `\]` escapes; [`SdParam::value`] removes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdParam<'a> {
    pub name: &'a str,
    pub raw_value: &'a str,
}

impl<'a> SdParam<'a> {
    /// The value with escapes removed. Borrowed unless the value holds a
    /// backslash. A backslash before anything other than `"`, `\` or `]` is
    /// kept with the character after it, as RFC 5424 §6.3.3 requires.
    pub fn value(&self) -> Cow<'a, str> {
        unescape(self.raw_value)
    }
}

/// Removes the three PARAM-VALUE escapes.
pub(crate) fn unescape(raw_value: &str) -> Cow<'_, str> {
    let bytes = raw_value.as_bytes();
    let Some(first) = bytes.iter().position(|&b| b == b'\\') else {
        return Cow::Borrowed(raw_value);
    };
    let mut out = String::with_capacity(raw_value.len());
    // `copied` is the index up to which `raw_value` has been written out;
    // every index used to slice below sits next to an ASCII byte, so it is
    // a character boundary.
    let mut copied = 0;
    let mut idx = first;
    while idx < bytes.len() {
        if bytes[idx] == b'\\' {
            if let Some(b'"' | b'\\' | b']') = bytes.get(idx + 1) {
                out.push_str(&raw_value[copied..idx]);
                copied = idx + 1;
                idx += 2;
                continue;
            }
        }
        idx += 1;
    }
    out.push_str(&raw_value[copied..]);
    Cow::Owned(out)
}

/// Length of the SD-NAME at the start of `bytes`: the run of PRINTUSASCII
/// bytes other than `=`, `]` and `"` (SP is already outside 33..=126).
fn name_len(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|&&b| is_name_byte(b)).count()
}

#[inline]
fn is_name_byte(byte: u8) -> bool {
    NAME_BYTES[usize::from(byte)]
}

/// [`is_name_byte`] as a table: the validation asks once per name byte.
const NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 33;
    while byte <= 126 {
        table[byte] = !matches!(byte as u8, b'=' | b']' | b'"');
        byte += 1;
    }
    table
};

/// The bytes that mean something inside a PARAM-VALUE: `"`, `\` and `]`.
const VALUE_STOPS: [bool; 256] = {
    let mut table = [false; 256];
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[b']' as usize] = true;
    table
};

/// Index of the closing `"` of a PARAM-VALUE starting at `start`, honouring
/// backslash escapes.
fn value_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut idx = start;
    while idx < bytes.len() {
        match bytes[idx] {
            b'"' => return Some(idx),
            // Skipping the byte after a backslash is right for the escapes and
            // harmless for a stray backslash: that byte is neither `"` nor `\`.
            b'\\' => idx += 2,
            _ => idx += 1,
        }
    }
    None
}

/// Index of the `]` closing the element whose SD-ID ends at `after_id`,
/// skipping over quoted values (which may hold `]`).
fn element_close(bytes: &[u8], after_id: usize) -> Option<usize> {
    let mut idx = after_id;
    while idx < bytes.len() {
        match bytes[idx] {
            b']' => return Some(idx),
            b'"' => idx = value_end(bytes, idx + 1)? + 1,
            _ => idx += 1,
        }
    }
    None
}

/// Why STRUCTURED-DATA is malformed: a byte offset into the input handed to
/// [`parse`] and what was expected there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SdError {
    pub(crate) offset: usize,
    pub(crate) reason: &'static str,
}

impl SdError {
    fn at(offset: usize, reason: &'static str) -> SdError {
        SdError { offset, reason }
    }
}

/// Reads one or more SD-ELEMENTs from the start of `input` (which must
/// begin with `[`) and returns them with the number of bytes they took.
/// Parsing stops at the first byte after a `]` that is not `[`; the caller
/// decides what may follow. `strict` applies every RFC 5424 rule; otherwise
/// the tolerances in the module docs apply.
pub(crate) fn parse(input: &[u8], strict: bool) -> Result<(StructuredData<'_>, usize), SdError> {
    let mut idx = 0;
    // A lenient-mode tolerance was needed (always false in strict mode,
    // which reports an error instead).
    let mut tolerated = false;
    let mut n_elements = 0usize;
    // The SD-IDs seen so far (start, end), for the duplicate check while
    // there are at most READ_IDS of them; `duplicate` is the offset of
    // the first SD-ID that repeats an earlier one.
    let mut ids = [(0usize, 0usize); READ_IDS];
    let mut duplicate = None;
    while input.get(idx) == Some(&b'[') {
        let id_start = idx + 1;
        idx = scan_name(input, id_start, strict, "expected SD-ID")?;
        tolerated |= idx - id_start > SD_NAME_MAX;
        if n_elements < READ_IDS {
            let id = &input[id_start..idx];
            let repeats = ids[..n_elements]
                .iter()
                .any(|&(start, end)| &input[start..end] == id);
            if repeats && duplicate.is_none() {
                duplicate = Some(id_start);
            }
            ids[n_elements] = (id_start, idx);
        }
        loop {
            match input.get(idx) {
                Some(b']') => {
                    idx += 1;
                    break;
                }
                Some(b' ') => {
                    idx += 1;
                    if !strict {
                        if matches!(input.get(idx), Some(b' ' | b']')) {
                            tolerated = true;
                        }
                        while input.get(idx) == Some(&b' ') {
                            idx += 1;
                        }
                        if input.get(idx) == Some(&b']') {
                            continue;
                        }
                    }
                    idx = scan_param(input, idx, strict, &mut tolerated)?;
                }
                Some(_) => {
                    return Err(SdError::at(
                        idx,
                        "expected SP or ']' after SD-ID or SD-PARAM",
                    ))
                }
                None => return Err(SdError::at(idx, "SD-ELEMENT is not closed with ']'")),
            }
        }
        n_elements += 1;
    }
    if n_elements == 0 {
        return Err(SdError::at(idx, "expected '[' or '-'"));
    }
    let text = &input[..idx];
    // SD-NAMEs are ASCII, so only a PARAM-VALUE can hold bytes that are not
    // UTF-8.
    let raw = crate::text::from_utf8(text)
        .map_err(|error| SdError::at(error.valid_up_to(), "PARAM-VALUE is not valid UTF-8"))?;
    let mut sd = StructuredData { raw, strict: false };
    if n_elements > READ_IDS {
        duplicate = find_duplicate_id(&sd);
    }
    if strict {
        if let Some(offset) = duplicate {
            return Err(SdError::at(offset, "SD-ID appears more than once"));
        }
    }
    sd.strict = !tolerated && duplicate.is_none();
    Ok((sd, idx))
}

/// Scans an SD-NAME starting at `start`; returns the index just past it.
fn scan_name(
    input: &[u8],
    start: usize,
    strict: bool,
    missing: &'static str,
) -> Result<usize, SdError> {
    let len = name_len(&input[start.min(input.len())..]);
    if len == 0 {
        return Err(SdError::at(start, missing));
    }
    if strict && len > SD_NAME_MAX {
        return Err(SdError::at(
            start + SD_NAME_MAX,
            "SD-NAME is longer than 32 characters",
        ));
    }
    Ok(start + len)
}

/// Scans `PARAM-NAME="PARAM-VALUE"` starting at `start`; returns the index
/// just past the closing quote.
fn scan_param(
    input: &[u8],
    start: usize,
    strict: bool,
    tolerated: &mut bool,
) -> Result<usize, SdError> {
    let mut idx = scan_name(input, start, strict, "expected PARAM-NAME")?;
    *tolerated |= idx - start > SD_NAME_MAX;
    if input.get(idx) != Some(&b'=') {
        return Err(SdError::at(idx, "expected '=' after PARAM-NAME"));
    }
    idx += 1;
    if input.get(idx) != Some(&b'"') {
        return Err(SdError::at(idx, "expected '\"' to open PARAM-VALUE"));
    }
    idx += 1;
    // Only `"`, `\` and `]` mean anything inside a value: jump between
    // them (values are short: a table walk beats a vector search here).
    loop {
        while idx < input.len() && !VALUE_STOPS[usize::from(input[idx])] {
            idx += 1;
        }
        let Some(&stop) = input.get(idx) else {
            break;
        };
        match stop {
            b'"' => return Ok(idx + 1),
            b'\\' => {
                // An escape pair, or a stray backslash kept as it is; either
                // way the next byte cannot end the value.
                idx = (idx + 2).min(input.len());
            }
            _ => {
                if strict {
                    return Err(SdError::at(
                        idx,
                        "']' in PARAM-VALUE must be escaped as '\\]'",
                    ));
                }
                *tolerated = true;
                idx += 1;
            }
        }
    }
    idx = input.len();
    Err(SdError::at(idx, "PARAM-VALUE is not closed with '\"'"))
}

/// RFC 5424 §6.3.2 allows each SD-ID once per message: returns the offset
/// of the first SD-ID that repeats an earlier one. [`parse`] compares the
/// usual one or two SD-IDs as it reads them and calls this for a message
/// with more than [`READ_IDS`] elements: up to [`INLINE_IDS`] are compared
/// in a small array on the stack, and only more than that pay for a sorted
/// list, so the check stays O(n log n) whatever the input.
fn find_duplicate_id(sd: &StructuredData<'_>) -> Option<usize> {
    let base = sd.raw.as_ptr() as usize;
    let offset_of = |id: &str| id.as_ptr() as usize - base;
    let mut inline = [""; INLINE_IDS];
    for (n_seen, element) in sd.iter().enumerate() {
        if n_seen == INLINE_IDS {
            let mut ids: Vec<(&str, usize)> = sd.iter().map(|e| (e.id, offset_of(e.id))).collect();
            ids.sort_unstable();
            return ids
                .windows(2)
                .filter(|pair| pair[0].0 == pair[1].0)
                .map(|pair| pair[1].1)
                .min();
        }
        if inline[..n_seen].contains(&element.id) {
            return Some(offset_of(element.id));
        }
        inline[n_seen] = element.id;
    }
    None
}

/// How many SD-IDs [`find_duplicate_id`] compares without allocating.
const INLINE_IDS: usize = 16;

/// How many SD-IDs [`parse`] compares as it reads them (real messages carry
/// one to three elements); more go to [`find_duplicate_id`].
const READ_IDS: usize = 4;

#[cfg(test)]
mod tests;
