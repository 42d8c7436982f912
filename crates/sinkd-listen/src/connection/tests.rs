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
    decode_into(deframer, buf, at_eof, batch, (transport, peer()), true)
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
fn frames_added_to_an_existing_batch_are_copied_after_its_own() {
    let mut deframer = Deframer::with_framing(Framing::OctetCounting, 64);
    let mut buf = BytesMut::from(&b"3 abc5 <13>x2 de4 pa"[..]);
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
    // Only the frames, no headers; the partial frame stays in the buffer.
    assert_eq!(&batch.unwrap().data[..], b"<12>beforeabc<13>xde");
    assert_eq!(&buf[..], b"4 pa");
}

#[test]
fn a_new_batch_takes_the_decoded_front_of_the_buffer_without_a_copy() {
    let mut deframer = Deframer::new(64);
    let mut buf = BytesMut::from(&b"<13>a\r\n\n<14>b\n<15>rest"[..]);
    let base = buf.as_ptr() as usize;
    let mut batch = None;
    let decoded = pass(&mut deframer, &mut buf, false, &mut batch, Transport::Tcp);
    assert_eq!(decoded.n_frames, 2);
    assert_eq!(frames(&batch), vec![b"<13>a".to_vec(), b"<14>b".to_vec()]);
    let batch = batch.expect("a batch");
    // The arena is the buffer's own memory, all that was decoded: the CR
    // LF, the empty line, the last LF.
    assert_eq!(batch.data.as_ptr() as usize, base);
    assert_eq!(&batch.data[..], b"<13>a\r\n\n<14>b\n");
    assert_eq!(&buf[..], b"<15>rest");
    // The next read lands behind what is pending, and the batch is
    // untouched by it.
    buf.extend_from_slice(b" of it\n");
    let mut next = None;
    pass(&mut deframer, &mut buf, false, &mut next, Transport::Tcp);
    assert_eq!(frames(&next), vec![b"<15>rest of it".to_vec()]);
    assert_eq!(&batch.data[..], b"<13>a\r\n\n<14>b\n");
    assert!(buf.is_empty());
}

#[test]
fn a_skipped_line_or_a_buffer_too_large_to_keep_means_copies() {
    // A skipped line's bytes do not travel to the worker.
    let mut deframer = Deframer::new(8);
    let mut buf = BytesMut::from(&b"<13>a\n<13>far too long\n<14>b\n"[..]);
    let base = buf.as_ptr() as usize;
    let mut batch = None;
    let decoded = pass(&mut deframer, &mut buf, false, &mut batch, Transport::Tcp);
    assert_eq!((decoded.n_frames, decoded.n_too_large), (2, 1));
    let batch = batch.expect("a batch");
    assert_ne!(batch.data.as_ptr() as usize, base);
    assert_eq!(&batch.data[..], b"<13>a<14>b");
    assert_eq!(
        frames(&Some(batch)),
        vec![b"<13>a".to_vec(), b"<14>b".to_vec()]
    );
    assert!(buf.is_empty());
    // Without leave to split, the frames are copied too.
    let mut deframer = Deframer::new(64);
    let mut buf = BytesMut::from(&b"<13>a\r\n<14>b\n<15>c"[..]);
    let mut batch = None;
    let decoded = decode_into(
        &mut deframer,
        &mut buf,
        false,
        &mut batch,
        (Transport::Tls, peer()),
        false,
    );
    assert_eq!(decoded.n_frames, 2);
    assert_eq!(&batch.expect("a batch").data[..], b"<13>a<14>b");
    assert_eq!(&buf[..], b"<15>c");
}

#[test]
fn a_large_buffer_lets_go_once_little_is_pending() {
    let _alone = crate::budget::TEST_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut held = Held::default();
    let mut split_ok = false;
    // A buffer grown for a long frame, with that frame still arriving:
    // kept, and batches still copy.
    let mut buf = BytesMut::with_capacity(4 * SPLIT_MAX);
    buf.extend_from_slice(&vec![b'x'; 2 * FREE_BUFFER]);
    held.force(charged(buf.capacity()));
    settle(&mut buf, &mut held, &mut split_ok);
    assert!(buf.capacity() >= 4 * SPLIT_MAX);
    assert!(!split_ok);
    // The frame done, a few bytes of the next pending: they move to a
    // buffer of their own size and the large one is given back.
    buf.clear();
    buf.extend_from_slice(b"<13>next");
    settle(&mut buf, &mut held, &mut split_ok);
    assert_eq!(&buf[..], b"<13>next");
    assert!(buf.capacity() < SPLIT_MAX);
    assert!(split_ok);
    assert_eq!(held.bytes(), charged(buf.capacity()));
    // An emptied buffer goes back whole.
    buf.clear();
    settle(&mut buf, &mut held, &mut split_ok);
    assert_eq!(buf.capacity(), 0);
    assert_eq!(held.bytes(), 0);
}
