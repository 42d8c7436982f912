//! Fuzz target: the strict RFC 5424 parser, and the structured-data
//! iterator on whatever it accepts.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = sinkd_proto::parse_strict(data) {
        if let Some(sd) = message.structured_data {
            for element in sd.iter() {
                for param in element.params() {
                    let _ = param.value();
                }
            }
        }
    }
});
