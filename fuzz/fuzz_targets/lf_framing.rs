//! Fuzz target: the LF deframer with auto-detection, fed in arbitrary chunk
//! sizes, including oversize lines that must be discarded, not buffered.
#![no_main]
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sinkd_proto::framing::Deframer;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, rest)) = data.split_first() else { return };
    let chunk = usize::from(chunk).max(1);
    let mut deframer = Deframer::new(512);
    let mut buf = BytesMut::new();
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match deframer.decode(&mut buf) {
                Ok(Some(frame)) => assert!(frame.len() <= 512),
                Ok(None) => break,
                Err(error) if error.is_fatal() => return,
                Err(_) => {}
            }
        }
        assert!(buf.len() <= deframer.max_buffered() + chunk);
    }
    let _ = deframer.decode_eof(&mut buf);
});
