//! Fuzz target: the RELP frame decoder as a session drives it, over input
//! fed in fuzzer-chosen chunk sizes. An incomplete frame never needs more
//! than a header, the DATALEN limit and the trailer buffered; every decoded
//! frame re-encodes to a frame that decodes the same; offers never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sinkd_proto::relp::{self, Command, MAX_HEADER_LEN};

const MAX_DATA: usize = 512;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, rest)) = data.split_first() else { return };
    let chunk = usize::from(chunk).max(1);
    let mut buf = Vec::new();
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match relp::decode(&buf, MAX_DATA) {
                Ok(Some((frame, used))) => {
                    assert!(used <= buf.len());
                    assert!(frame.data.len() <= MAX_DATA);
                    if frame.command == Command::Open {
                        let _ = relp::read_offers(frame.data);
                    }
                    let command = std::str::from_utf8(frame.command_name).expect("letters");
                    let mut again = Vec::new();
                    relp::encode(&mut again, frame.txnr, command, frame.data);
                    let (copy, copy_used) = relp::decode(&again, MAX_DATA)
                        .expect("re-encoded frame is valid")
                        .expect("re-encoded frame is complete");
                    assert_eq!(copy, frame);
                    assert_eq!(copy_used, again.len());
                    buf.drain(..used);
                }
                Ok(None) => {
                    assert!(buf.len() <= MAX_HEADER_LEN + 1 + MAX_DATA + 1);
                    break;
                }
                Err(_) => return,
            }
        }
    }
});
