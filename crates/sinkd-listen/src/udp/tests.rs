//! Unit tests of the UDP listener's helpers: the trailer trimming it relies
//! on (`sinkd_proto::trim_trailer`) and its rate-limited logging. The
//! `recvmmsg` receiver has its own tests in `recvmmsg/tests.rs`.

use super::*;
use sinkd_proto::trim_trailer;

#[test]
fn trailers_are_trimmed() {
    assert_eq!(trim_trailer(b"<13>a\n"), b"<13>a");
    assert_eq!(trim_trailer(b"<13>a\r\n"), b"<13>a");
    assert_eq!(trim_trailer(b"<13>a\n\0"), b"<13>a");
    assert_eq!(trim_trailer(b"<13>a b"), b"<13>a b");
    assert_eq!(trim_trailer(b"\n"), b"");
    assert_eq!(trim_trailer(b""), b"");
}

#[test]
fn rate_limited_logging() {
    let mut last = None;
    assert!(due(&mut last));
    assert!(!due(&mut last));
}
