//! Chunk buffers against plain vectors: order across chunk boundaries,
//! partial writes (resumed, or reported and dropped from the front), reuse
//! and release of slabs.

use super::*;
use proptest::prelude::*;

fn written(buf: &ChunkBuf, pool: &mut ChunkPool) -> Vec<u8> {
    let mut out = Vec::new();
    buf.write_to(pool, &mut out).expect("write to a vector");
    out
}

#[test]
fn lines_come_back_in_order_across_chunk_boundaries() {
    let mut pool = ChunkPool::new();
    let mut buf = ChunkBuf::default();
    let line = vec![b'x'; CHUNK_BYTES - 3];
    let mut expected = Vec::new();
    for round in 0..5u8 {
        let mut line = line.clone();
        line[0] = b'a' + round;
        buf.extend(&mut pool, &line).expect("extend");
        buf.extend(&mut pool, b"\n").expect("extend");
        expected.extend_from_slice(&line);
        expected.push(b'\n');
    }
    assert_eq!(buf.len(), expected.len());
    assert_eq!(
        buf.held_bytes(),
        expected.len().div_ceil(CHUNK_BYTES) * CHUNK_BYTES
    );
    assert_eq!(written(&buf, &mut pool), expected);
}

#[test]
fn a_buffer_larger_than_the_kept_stage_is_written_whole_and_the_stage_let_go() {
    let mut pool = ChunkPool::new();
    let mut buf = ChunkBuf::default();
    let expected: Vec<u8> = (0..STAGE_KEEP_BYTES * 2 + 7 * CHUNK_BYTES + 5)
        .map(|i| (i % 251) as u8)
        .collect();
    buf.extend(&mut pool, &expected).expect("extend");
    assert_eq!(written(&buf, &mut pool), expected);
    assert_eq!(pool.stage.capacity(), 0);
    // A smaller buffer afterwards is gathered afresh, nothing of the
    // larger one left in front of it.
    let mut small = ChunkBuf::default();
    small.extend(&mut pool, b"one line\n").expect("extend");
    assert_eq!(written(&small, &mut pool), b"one line\n");
}

/// A sink that takes at most a few bytes per call, like a full pipe.
struct Trickle(Vec<u8>);

impl Write for Trickle {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = bytes.len().min(7);
        self.0.extend_from_slice(&bytes[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn short_writes_are_resumed() {
    let mut pool = ChunkPool::new();
    let mut buf = ChunkBuf::default();
    let expected: Vec<u8> = (0..3 * CHUNK_BYTES + 11).map(|i| (i % 13) as u8).collect();
    buf.extend(&mut pool, &expected).expect("extend");
    let mut out = Trickle(Vec::new());
    buf.write_to(&mut pool, &mut out).expect("write");
    assert_eq!(out.0, expected);
}

/// A disk that fills after `room` bytes: the write that reaches the limit
/// lands what fits, the next one fails with ENOSPC.
struct FillsUp {
    taken: Vec<u8>,
    room: usize,
}

impl Write for FillsUp {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = bytes.len().min(self.room - self.taken.len());
        if n == 0 {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        self.taken.extend_from_slice(&bytes[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_partial_write_reports_what_landed_and_the_rest_follows() {
    let mut pool = ChunkPool::new();
    let mut buf = ChunkBuf::default();
    let mut expected = Vec::new();
    for line in 0..400 {
        let text = format!("line {line} {}\n", "x".repeat(line % 37));
        expected.extend_from_slice(text.as_bytes());
    }
    buf.extend(&mut pool, &expected).expect("extend");
    let room = 3 * CHUNK_BYTES + 517;
    let mut disk = FillsUp {
        taken: Vec::new(),
        room,
    };
    let (landed, error) = buf
        .write_to(&mut pool, &mut disk)
        .expect_err("the disk fills");
    assert_eq!(error.raw_os_error(), Some(libc::ENOSPC));
    assert_eq!(landed, room);
    let lines_landed = expected[..room].iter().filter(|&&b| b == b'\n').count() as u64;
    assert_eq!(buf.count_in_prefix(&pool, landed, b'\n'), lines_landed);
    buf.drop_front(&mut pool, landed);
    assert_eq!(buf.len(), expected.len() - room);
    assert_eq!(pool.held_bytes(), buf.held_bytes());
    // Space returns: the rest completes the torn line and everything after.
    disk.room = usize::MAX;
    buf.write_to(&mut pool, &mut disk).expect("room again");
    assert_eq!(disk.taken, expected);
}

#[test]
fn cleared_chunks_are_reused_and_trim_releases_idle_slabs() {
    let mut pool = ChunkPool::new();
    let mut buffers: Vec<ChunkBuf> = (0..3).map(|_| ChunkBuf::default()).collect();
    // Three slabs' worth at the peak.
    for buf in &mut buffers {
        buf.extend(&mut pool, &vec![1; SLAB_BYTES]).expect("extend");
    }
    assert_eq!(pool.mapped_bytes(), 3 * SLAB_BYTES);
    for buf in &mut buffers {
        buf.clear(&mut pool);
    }
    // The peak is remembered for one interval...
    assert_eq!(pool.trim(), 0);
    // ...then a quiet interval needing one slab keeps one.
    buffers[0].extend(&mut pool, &[2; 100]).expect("extend");
    assert_eq!(pool.mapped_bytes(), 3 * SLAB_BYTES, "free chunks reused");
    assert_eq!(
        pool.trim(),
        0,
        "nothing is released while a chunk is in use"
    );
    buffers[0].clear(&mut pool);
    assert_eq!(pool.trim(), 2 * SLAB_BYTES);
    assert_eq!(pool.mapped_bytes(), SLAB_BYTES);
    buffers[1].extend(&mut pool, &[3; 10]).expect("extend");
    assert_eq!(written(&buffers[1], &mut pool), vec![3; 10]);
}

#[test]
fn truncate_returns_surplus_chunks() {
    let mut pool = ChunkPool::new();
    let mut buf = ChunkBuf::default();
    buf.extend(&mut pool, &[5; CHUNK_BYTES + 10])
        .expect("extend");
    buf.truncate(&mut pool, 4);
    assert_eq!(buf.held_bytes(), CHUNK_BYTES);
    buf.extend(&mut pool, b"ab").expect("extend");
    assert_eq!(written(&buf, &mut pool), b"\x05\x05\x05\x05ab");
    buf.truncate(&mut pool, 0);
    assert!(buf.is_empty());
    assert_eq!(buf.held_bytes(), 0);
}

proptest! {
    /// Any sequence of appends, truncations and clears over a few buffers
    /// sharing one pool reads back exactly like plain vectors, and the
    /// pool counts exactly the chunks the buffers hold.
    #[test]
    fn buffers_sharing_a_pool_behave_like_vectors(
        ops in proptest::collection::vec((0usize..3, 0usize..2500, 0u8..5), 1..60)
    ) {
        let mut pool = ChunkPool::new();
        let mut buffers: Vec<ChunkBuf> = (0..3).map(|_| ChunkBuf::default()).collect();
        let mut models: Vec<Vec<u8>> = vec![Vec::new(); 3];
        for (step, (which, len, action)) in ops.into_iter().enumerate() {
            match action {
                0 => {
                    buffers[which].clear(&mut pool);
                    models[which].clear();
                }
                4 => {
                    let count = len.min(models[which].len());
                    buffers[which].drop_front(&mut pool, count);
                    models[which].drain(..count);
                }
                1 => {
                    let keep = len.min(models[which].len());
                    buffers[which].truncate(&mut pool, keep);
                    models[which].truncate(keep);
                }
                _ => {
                    let bytes: Vec<u8> = (0..len).map(|i| (i + step) as u8).collect();
                    buffers[which].extend(&mut pool, &bytes).expect("extend");
                    models[which].extend_from_slice(&bytes);
                }
            }
            prop_assert_eq!(buffers[which].len(), models[which].len());
            let held: usize = buffers.iter().map(ChunkBuf::held_bytes).sum();
            prop_assert_eq!(pool.held_bytes(), held);
            prop_assert_eq!(pool.free.len() * CHUNK_BYTES + held, pool.mapped_bytes());
        }
        for (buf, model) in buffers.iter().zip(&models) {
            prop_assert_eq!(&written(buf, &mut pool), model);
        }
    }
}
