//! [`StreamKey`]: a stream path as a hash-map key, stored inside the map's
//! own slot when it is short.
//!
//! The writer looks up every line's stream. With a boxed key, each lookup
//! followed a pointer to compare the bytes, and with 10,000 streams that
//! pointer led to a different cache line every time (the comparison alone
//! was 6% of the profile). Paths up to [`INLINE`] bytes, which covers
//! `{device}/messages` for any sane hostname, now sit in the slot the hash
//! probe has just loaded.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

#[cfg(test)]
mod tests;

/// Longest path kept inline.
const INLINE: usize = 46;

#[derive(Clone, Debug)]
pub(crate) enum StreamKey {
    Inline { len: u8, bytes: [u8; INLINE] },
    Boxed(Box<[u8]>),
}

impl StreamKey {
    pub(crate) fn new(path: &[u8]) -> StreamKey {
        match u8::try_from(path.len()) {
            Ok(len) if path.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..path.len()].copy_from_slice(path);
                StreamKey::Inline { len, bytes }
            }
            _ => StreamKey::Boxed(path.into()),
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            StreamKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            StreamKey::Boxed(bytes) => bytes,
        }
    }
}

// Hash and equality are those of the byte slice, as `Borrow` requires, so
// the map can be searched with a plain `&[u8]`.
impl Hash for StreamKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialEq for StreamKey {
    fn eq(&self, other: &StreamKey) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for StreamKey {}

impl Borrow<[u8]> for StreamKey {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}
