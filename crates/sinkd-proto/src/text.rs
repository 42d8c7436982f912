//! Bytes to `&str` on the parsers' hot path.
//!
//! Every header field the parsers return is a `&str` borrowed from the
//! input, and nearly all of them are short and ASCII. `std::str::from_utf8`
//! is an out-of-line call that walks short input byte by byte; checking for
//! ASCII first (inlined, a machine word at a time) and converting without a
//! second walk costs a fraction of it, with the same result.

use std::str::Utf8Error;

/// Exactly `std::str::from_utf8`, faster for ASCII input: ASCII is always
/// valid UTF-8, so it converts without validating again; anything else goes
/// to the standard check, with its error.
#[inline]
pub(crate) fn from_utf8(bytes: &[u8]) -> Result<&str, Utf8Error> {
    if bytes.is_ascii() {
        // SAFETY: every byte is below 0x80, and a sequence of ASCII bytes
        // is valid UTF-8 (each byte is a one-byte character).
        Ok(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_the_standard_check() {
        let inputs: [&[u8]; 9] = [
            b"",
            b"a",
            b"host-01.example.com",
            b"0123456789abcdef0123456789abcdef!~",
            "h\u{e9}te".as_bytes(),
            "\u{1f600}".as_bytes(),
            b"\xff",
            b"abc\xc3",
            b"\x00\x7f plain",
        ];
        for input in inputs {
            assert_eq!(from_utf8(input), std::str::from_utf8(input), "{input:?}");
        }
        for byte in 0..=255u8 {
            let input = [b'a', byte, b'z'];
            assert_eq!(from_utf8(&input), std::str::from_utf8(&input), "{byte}");
        }
    }
}
