//! Fuzz target: whatever the lenient parser makes of an input, formatting it
//! in each output format must not panic, and the rfc5424 output must parse
//! strictly.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sinkd_proto::format::{write_message, OutputFormat};

fuzz_target!(|data: &[u8]| {
    let received = sinkd_proto::ReceiveTime::new(1_767_225_600, 0, 60);
    let message = sinkd_proto::parse(data, &received);
    let mut out = Vec::new();
    for format in [OutputFormat::Bsd, OutputFormat::Rfc3164, OutputFormat::Rfc5424] {
        out.clear();
        write_message(&message, format, &received.local, &mut out);
    }
    if let Err(error) = sinkd_proto::parse_strict(&out) {
        panic!("rfc5424 output {:?} does not parse strictly: {error}", String::from_utf8_lossy(&out));
    }
});
