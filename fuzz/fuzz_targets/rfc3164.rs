//! Fuzz target: RFC 3164 and vendor forms. The input gets a valid PRI and a
//! 3164 timestamp prefix so the fuzzer spends its time past the header.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let received = sinkd_proto::ReceiveTime::new(1_767_225_600, 0, 60);
    let mut input = b"<189>Mar  8 09:15:32 ".to_vec();
    input.extend_from_slice(data);
    let message = sinkd_proto::parse(&input, &received);
    assert_eq!(message.raw, &input[..]);
    let mut bare = b"<13>".to_vec();
    bare.extend_from_slice(data);
    let _ = sinkd_proto::parse(&bare, &received);
});
