//! Unit tests of one deframing pass into a batch.

use super::*;
use sinkd_proto::framing::Framing;

fn peer() -> SocketAddr {
    SocketAddr::from(([198, 51, 100, 4], 40000))
}

/// One pass of `decode_into` for frames from [`peer`].
fn pass(
    deframer: &mut Deframer,
    buf: &mut BytesMut,
    at_eof: bool,
    batch: &mut Option<RawBatch>,
    transport: Transport,
) -> Decoded {
    decode_into(deframer, buf, at_eof, batch, transport, peer())
}

fn frames(batch: &Option<RawBatch>) -> Vec<Vec<u8>> {
    batch
        .iter()
        .flat_map(|batch| batch.iter().map(|(frame, _)| frame.to_vec()))
        .collect()
}

#[test]
fn complete_lines_become_frames_and_the_rest_waits() {
    let mut deframer = Deframer::new(64);
    let mut buf = BytesMut::from(&b"<13>a\r\n<14>b\n<15>c"[..]);
    let mut batch = None;
    let decoded = pass(&mut deframer, &mut buf, false, &mut batch, Transport::Tcp);
    assert_eq!(
        decoded,
        Decoded {
            n_frames: 2,
            n_too_large: 0,
            fatal: None
        }
    );
    assert_eq!(frames(&batch), vec![b"<13>a".to_vec(), b"<14>b".to_vec()]);
    assert_eq!(&buf[..], b"<15>c");
    let batch = batch.expect("a batch");
    assert_eq!(batch.transport, Transport::Tcp);
    assert_eq!(batch.frames[1].peer, peer());
    assert!(batch.received_unix_micros > 0);
}

#[test]
fn nothing_complete_creates_no_batch() {
    let mut deframer = Deframer::new(64);
    let mut buf = BytesMut::from(&b"<13>partial"[..]);
    let mut batch = None;
    let decoded = pass(&mut deframer, &mut buf, false, &mut batch, Transport::Tcp);
    assert_eq!(decoded, Decoded::default());
    assert!(batch.is_none());
}

#[test]
fn eof_flushes_the_unterminated_line() {
    let mut deframer = Deframer::new(64);
    let mut buf = BytesMut::from(&b"<13>a\n<14>last"[..]);
    let mut batch = None;
    let decoded = pass(&mut deframer, &mut buf, true, &mut batch, Transport::Tls);
    assert_eq!(decoded.n_frames, 2);
    assert_eq!(
        frames(&batch),
        vec![b"<13>a".to_vec(), b"<14>last".to_vec()]
    );
    assert!(buf.is_empty());
}

#[test]
fn oversized_lines_are_counted_and_skipped() {
    let mut deframer = Deframer::new(8);
    let mut buf = BytesMut::from(&b"<13>ok\n<13>far too long\n<14>ok2\n"[..]);
    let mut batch = None;
    let decoded = pass(&mut deframer, &mut buf, false, &mut batch, Transport::Tcp);
    assert_eq!(
        decoded,
        Decoded {
            n_frames: 2,
            n_too_large: 1,
            fatal: None
        }
    );
    assert_eq!(
        frames(&batch),
        vec![b"<13>ok".to_vec(), b"<14>ok2".to_vec()]
    );
}

#[test]
fn a_bogus_length_is_fatal_after_the_good_frames() {
    let mut deframer = Deframer::new(1024);
    let mut buf = BytesMut::from(&b"5 <13>a2000000000 <13>b"[..]);
    let mut batch = None;
    let decoded = pass(&mut deframer, &mut buf, false, &mut batch, Transport::Tcp);
    assert_eq!(decoded.n_frames, 1);
    assert!(matches!(
        decoded.fatal,
        Some(FrameError::LengthTooLarge { .. })
    ));
    assert_eq!(frames(&batch), vec![b"<13>a".to_vec()]);
}

#[test]
fn a_truncated_counted_frame_at_eof_is_reported() {
    let mut deframer = Deframer::with_framing(Framing::OctetCounting, 1024);
    let mut buf = BytesMut::from(&b"5 <13>a10 <13>"[..]);
    let mut batch = None;
    let decoded = pass(&mut deframer, &mut buf, true, &mut batch, Transport::Tcp);
    assert_eq!(decoded.n_frames, 1);
    assert!(matches!(decoded.fatal, Some(FrameError::Truncated { .. })));
}

#[test]
fn guards_respect_the_limit_and_release_their_slot() {
    let metrics = Metrics::new();
    let slots = Arc::new(Slots::default());
    let (done_tx, _done_rx) = mpsc::channel(1);
    let limits = Limits {
        max_connections: 2,
        max_per_source: 2,
    };
    let reserve = || {
        ConnectionGuard::reserve(
            &slots,
            peer().ip(),
            limits,
            Arc::clone(&metrics),
            Transport::Tcp,
            done_tx.clone(),
        )
    };
    let mut first = reserve().expect("first slot");
    let mut second = reserve().expect("second slot");
    first.slot.prove();
    second.slot.prove();
    assert!(reserve().is_err());
    assert_eq!(metrics.connections(Transport::Tcp).get(), 2);
    drop(first);
    assert_eq!(slots.open(), 1);
    assert_eq!(metrics.connections(Transport::Tcp).get(), 1);
    let third = reserve().expect("a slot was freed");
    drop((second, third));
    assert_eq!(slots.open(), 0);
    assert_eq!(metrics.connections(Transport::Tcp).get(), 0);
}

#[test]
fn one_copy_of_the_span_serves_every_frame_of_a_pass() {
    let mut deframer = Deframer::with_framing(Framing::OctetCounting, 64);
    let mut buf = BytesMut::from(&b"3 abc5 <13>x2 de4 pa"[..]);
    // A batch that already holds a frame: the new ones follow it.
    let mut first = RawBatch::with_capacity(Transport::Tcp, 1, 0, 0);
    first.push(b"<12>before", peer());
    let mut batch = Some(first);
    let decoded = pass(&mut deframer, &mut buf, false, &mut batch, Transport::Tcp);
    assert_eq!(decoded.n_frames, 3);
    assert_eq!(
        frames(&batch),
        vec![
            b"<12>before".to_vec(),
            b"abc".to_vec(),
            b"<13>x".to_vec(),
            b"de".to_vec()
        ]
    );
    // The headers between frames came along in the one copy; the partial
    // frame stays in the buffer.
    assert_eq!(&batch.unwrap().data[..], b"<12>beforeabc5 <13>x2 de");
    assert_eq!(&buf[..], b"4 pa");
}

#[test]
fn a_new_batch_takes_the_decoded_front_of_the_buffer_without_a_copy() {
    let mut deframer = Deframer::new(15);
    let mut buf = BytesMut::from(&b"<13>a\r\n<13>far too long\n<14>b\n<15>rest"[..]);
    let base = buf.as_ptr() as usize;
    let mut batch = None;
    let decoded = pass(&mut deframer, &mut buf, false, &mut batch, Transport::Tcp);
    assert_eq!(decoded.n_frames, 2);
    assert_eq!(decoded.n_too_large, 1);
    assert_eq!(frames(&batch), vec![b"<13>a".to_vec(), b"<14>b".to_vec()]);
    let batch = batch.expect("a batch");
    // The arena is the buffer's own memory, everything decoded included:
    // the CR LF, the skipped line, the last LF.
    assert_eq!(batch.data.as_ptr() as usize, base);
    assert_eq!(&batch.data[..], b"<13>a\r\n<13>far too long\n<14>b\n");
    assert_eq!(&buf[..], b"<15>rest");
    // The next read lands behind what is pending, and the batch is
    // untouched by it.
    buf.extend_from_slice(b" of it\n");
    let mut next = None;
    pass(&mut deframer, &mut buf, false, &mut next, Transport::Tcp);
    assert_eq!(frames(&next), vec![b"<15>rest of it".to_vec()]);
    assert_eq!(&batch.data[..], b"<13>a\r\n<13>far too long\n<14>b\n");
    assert!(buf.is_empty());
}
