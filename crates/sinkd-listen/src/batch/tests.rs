//! Unit tests of the batch arena and the worker-queue sharding.

use super::*;

fn peer(port: u16) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], port))
}

#[test]
fn frames_are_copied_back_to_back() {
    let mut batch = RawBatch::with_capacity(Transport::Udp, 7, 0, 0);
    assert!(batch.is_empty());
    assert!(batch.push(b"<13>one", peer(1)));
    assert!(batch.push(b"", peer(2)));
    assert!(batch.push(b"<14>three", peer(3)));
    assert_eq!(batch.len(), 3);
    assert_eq!(&batch.data[..], b"<13>one<14>three");
    assert_eq!(batch.frame(0), b"<13>one");
    assert_eq!(batch.frame(1), b"");
    assert_eq!(batch.frame(2), b"<14>three");
    assert_eq!(
        batch.frames[2],
        RawFrame {
            start: 7,
            len: 9,
            peer: peer(3)
        }
    );
    let collected: Vec<(&[u8], SocketAddr)> = batch.iter().collect();
    assert_eq!(
        collected,
        vec![
            (&b"<13>one"[..], peer(1)),
            (&b""[..], peer(2)),
            (&b"<14>three"[..], peer(3)),
        ]
    );
}

#[test]
fn a_frame_edited_out_of_range_reads_as_empty() {
    let mut batch = RawBatch::with_capacity(Transport::Tcp, 0, 0, 0);
    batch.push(b"abc", peer(1));
    batch.frames[0].len = 100;
    assert_eq!(batch.frame(0), b"");
    batch.frames[0] = RawFrame {
        start: u32::MAX,
        len: u32::MAX,
        peer: peer(1),
    };
    assert_eq!(batch.frame(0), b"");
}

#[test]
#[should_panic]
fn frame_index_past_the_end_panics_like_a_slice() {
    let batch = RawBatch::with_capacity(Transport::Tcp, 0, 0, 0);
    let _ = batch.frame(0);
}

#[test]
fn queues_shard_by_key() {
    let (queues, mut receivers) = WorkerQueues::bounded(3, 4);
    assert_eq!(queues.len(), 3);
    for key in [0u64, 1, 2, 3, 4, 5, u64::MAX] {
        let batch = RawBatch::with_capacity(Transport::Tcp, key as i64, 0, 0);
        queues
            .for_key(key)
            .map(|queue| queue.try_send(batch))
            .expect("three queues")
            .expect("room in the queue");
    }
    let drained: Vec<Vec<i64>> = receivers
        .iter_mut()
        .map(|receiver| {
            let mut stamps = Vec::new();
            while let Ok(batch) = receiver.try_recv() {
                stamps.push(batch.received_unix_micros);
            }
            stamps
        })
        .collect();
    // u64::MAX % 3 == 0; as i64 it reads -1.
    assert_eq!(drained, vec![vec![0, 3, -1], vec![1, 4], vec![2, 5]]);
}

#[test]
fn no_queue_means_no_shard() {
    let queues = WorkerQueues::new(Vec::new());
    assert!(queues.is_empty());
    assert!(queues.for_key(9).is_none());
}

#[test]
fn now_is_after_2020() {
    assert!(now_unix_micros() > 1_577_836_800_000_000);
}
