//! Fuzz target: the RFC 6587 octet-counting deframer, fed in arbitrary chunk
//! sizes. Buffered bytes must stay bounded by the frame limit.
#![no_main]
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sinkd_proto::framing::{Deframer, Framing};

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, rest)) = data.split_first() else { return };
    let chunk = usize::from(chunk).max(1);
    let mut deframer = Deframer::with_framing(Framing::OctetCounting, 1024);
    let mut buf = BytesMut::new();
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match deframer.decode(&mut buf) {
                Ok(Some(frame)) => assert!(frame.len() <= 1024),
                Ok(None) => break,
                Err(error) if error.is_fatal() => return,
                Err(_) => {}
            }
        }
        assert!(buf.len() <= deframer.max_buffered() + chunk);
    }
    let _ = deframer.decode_eof(&mut buf);
});
