//! Fuzz target: the lenient parser that the collector runs on every message.
//! Any input must come back as a message (never a panic), and the raw bytes
//! must be kept whole.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let received = sinkd_proto::ReceiveTime::new(1_767_225_600, 0, 60);
    let message = sinkd_proto::parse(data, &received);
    assert_eq!(message.raw, data);
});
