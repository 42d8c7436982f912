//! The writer threads' line buffers: fixed-size chunks from one pool per
//! thread.
//!
//! With 10,000 devices a writer holds 10,000 partly filled buffers. As one
//! growable vector each, every buffer carried up to its own size again in
//! spare capacity, and that slack, not the lines, set the memory a budget
//! allowed. Here a stream's buffer is a chain of [`CHUNK_BYTES`] chunks
//! taken from a [`ChunkPool`]: the waste is under one chunk per stream, and
//! a written buffer gives its chunks straight back for the next stream. A
//! buffer is gathered into one staging vector and sent in one piece:
//! the kernel copying scattered chunks of a few hundred bytes, one
//! `writev` slice each, cost more than the gathering copy (with 10,000
//! devices the writer thread's time went from ~300 ms to ~245 ms a
//! million messages).
//! The chain's links live in the pool, one `u32` per chunk, so a buffer is
//! 16 bytes of its stream's state and no allocation of its own.
//!
//! The pool carves chunks out of anonymous memory maps of [`SLAB_BYTES`]
//! (huge pages where the kernel allows), allocated as the buffers grow
//! and released by [`ChunkPool::trim`] once a quieter interval has shown
//! they are no longer needed, so the memory goes back to the system rather
//! than to an allocator's free lists.

use memmap2::MmapMut;
use std::io::{self, IoSlice, Write};

#[cfg(test)]
mod tests;

/// Bytes per chunk: a line or two of a typical message. The budget counts
/// chunks, so the last, partly filled chunk of every buffer is memory the
/// lines cannot use: at 1 KiB, 10,000 streams wasted ~5 MiB of a 32 MiB
/// budget, and 65,000 streams could not all hold a buffer at once (so each
/// new stream's line forced another stream's few lines out in a write of
/// their own). At 256 bytes the waste is a quarter of that and every
/// stream of such a fleet fits (with 100,000 devices the writes per run
/// fell from 402,000 to 182,000).
pub(crate) const CHUNK_BYTES: usize = 256;

/// Bytes per anonymous map the pool allocates at a time: one huge page.
const SLAB_BYTES: usize = 2 * 1024 * 1024;

const CHUNKS_PER_SLAB: usize = SLAB_BYTES / CHUNK_BYTES;

/// The staging vector is kept between writes up to this capacity: a
/// buffer is written once it passes 64 KiB, so only a rare larger one
/// (a line of more than its room) makes it let go.
const STAGE_KEEP_BYTES: usize = 128 * 1024;

/// Chunks for every stream buffer of one writer thread.
#[derive(Default)]
pub(crate) struct ChunkPool {
    slabs: Vec<MmapMut>,
    /// Per chunk, by number: the next chunk of the buffer it is in (a
    /// buffer's last chunk has no meaningful entry).
    next: Vec<u32>,
    /// Chunks not in any buffer, by number (slab × chunks per slab + index).
    free: Vec<u32>,
    /// Chunks in buffers now.
    in_use: usize,
    /// Most chunks in buffers at once since the last [`ChunkPool::trim`].
    high_water: usize,
    /// Where a buffer is gathered before it is written.
    stage: Vec<u8>,
}

impl ChunkPool {
    /// An empty pool; it maps memory on first use.
    pub(crate) fn new() -> ChunkPool {
        ChunkPool::default()
    }

    /// Bytes of memory the pool holds, free chunks included.
    #[cfg(test)]
    pub(crate) fn mapped_bytes(&self) -> usize {
        self.slabs.len() * SLAB_BYTES
    }

    /// Bytes of the chunks in buffers now: what the writer's memory budget
    /// limits.
    pub(crate) fn held_bytes(&self) -> usize {
        self.in_use * CHUNK_BYTES
    }

    fn take(&mut self) -> io::Result<u32> {
        if self.free.is_empty() {
            self.grow()?;
        }
        let chunk = self
            .free
            .pop()
            .ok_or_else(|| io::Error::other("no chunk"))?;
        self.in_use += 1;
        self.high_water = self.high_water.max(self.in_use);
        Ok(chunk)
    }

    fn grow(&mut self) -> io::Result<()> {
        let slab = MmapMut::map_anon(SLAB_BYTES)?;
        // A line's chunk is anywhere in tens of megabytes of slabs: with
        // 4 KiB pages nearly every append missed the TLB as well as the
        // cache. The kernel places maps of this size on a huge-page
        // boundary; where transparent huge pages are off this is a no-op.
        let _ = slab.advise(memmap2::Advice::HugePage);
        let first = self.slabs.len() * CHUNKS_PER_SLAB;
        let numbers = first..first + CHUNKS_PER_SLAB;
        let numbers = numbers.map(|number| u32::try_from(number).unwrap_or(u32::MAX));
        // Reversed, so chunks are handed out in address order.
        self.free.extend(numbers.rev());
        self.next.resize(self.next.len() + CHUNKS_PER_SLAB, 0);
        self.slabs.push(slab);
        Ok(())
    }

    /// Returns `count` chunks of a chain, from `first` on, to the free list.
    fn give_back(&mut self, first: u32, count: usize) {
        let mut chunk = first;
        for left in (0..count).rev() {
            self.free.push(chunk);
            if left > 0 {
                chunk = self.next[chunk as usize];
            }
        }
        self.in_use -= count;
    }

    fn chunk(&self, number: u32) -> &[u8] {
        let number = number as usize;
        let slab = &self.slabs[number / CHUNKS_PER_SLAB];
        let start = (number % CHUNKS_PER_SLAB) * CHUNK_BYTES;
        &slab[start..start + CHUNK_BYTES]
    }

    fn chunk_mut(&mut self, number: u32) -> &mut [u8] {
        let number = number as usize;
        let slab = &mut self.slabs[number / CHUNKS_PER_SLAB];
        let start = (number % CHUNKS_PER_SLAB) * CHUNK_BYTES;
        &mut slab[start..start + CHUNK_BYTES]
    }

    /// Hints the processor to load where `buf`'s next byte will go.
    pub(crate) fn prefetch_tail(&self, buf: &ChunkBuf) {
        let used = buf.len % CHUNK_BYTES;
        if used == 0 {
            return;
        }
        let number = buf.tail as usize;
        if let Some(slab) = self.slabs.get(number / CHUNKS_PER_SLAB) {
            let offset = (number % CHUNKS_PER_SLAB) * CHUNK_BYTES + used;
            crate::hint::prefetch(slab.as_ptr().wrapping_add(offset), 1);
        }
    }

    /// Releases the slabs the busiest moment since the previous trim did
    /// not need. Only possible while every buffer is empty (a chunk in use
    /// may lie in any slab); otherwise nothing happens. Returns the bytes
    /// released.
    pub(crate) fn trim(&mut self) -> usize {
        let keep = self.high_water.div_ceil(CHUNKS_PER_SLAB);
        self.high_water = self.in_use;
        if self.in_use != 0 || keep >= self.slabs.len() {
            return 0;
        }
        let released = (self.slabs.len() - keep) * SLAB_BYTES;
        self.slabs.truncate(keep);
        self.next.truncate(keep * CHUNKS_PER_SLAB);
        self.free.clear();
        let numbers = 0..keep * CHUNKS_PER_SLAB;
        self.free.extend(
            numbers
                .rev()
                .map(|number| u32::try_from(number).unwrap_or(u32::MAX)),
        );
        released
    }
}

/// One stream's buffered lines: a chain of chunks, all full but the last,
/// linked through [`ChunkPool`]. It holds `len.div_ceil(CHUNK_BYTES)`
/// chunks; `head` and `tail` mean something only while it holds any.
#[derive(Default)]
#[repr(C)]
pub(crate) struct ChunkBuf {
    len: usize,
    head: u32,
    /// The last chunk, where the next byte goes while it has room.
    tail: u32,
}

impl ChunkBuf {
    /// Bytes buffered.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn chunk_count(&self) -> usize {
        self.len.div_ceil(CHUNK_BYTES)
    }

    /// Bytes of chunks held: what the buffer costs, spare room included.
    pub(crate) fn held_bytes(&self) -> usize {
        self.chunk_count() * CHUNK_BYTES
    }

    /// Appends `bytes`, taking chunks from `pool` as needed. Fails only
    /// when the pool cannot map more memory; the buffer then holds a prefix
    /// of `bytes`, which [`ChunkBuf::truncate`] removes.
    pub(crate) fn extend(&mut self, pool: &mut ChunkPool, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let used = self.len % CHUNK_BYTES;
            if used == 0 {
                let fresh = pool.take()?;
                if self.len == 0 {
                    self.head = fresh;
                } else {
                    pool.next[self.tail as usize] = fresh;
                }
                self.tail = fresh;
            }
            let room = CHUNK_BYTES - used;
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            pool.chunk_mut(self.tail)[used..used + now.len()].copy_from_slice(now);
            self.len += now.len();
            bytes = rest;
        }
        Ok(())
    }

    /// Shortens the buffer to `len` bytes, returning chunks no longer needed.
    pub(crate) fn truncate(&mut self, pool: &mut ChunkPool, len: usize) {
        if len >= self.len {
            return;
        }
        let count = self.chunk_count();
        let keep = len.div_ceil(CHUNK_BYTES);
        if keep == 0 {
            pool.give_back(self.head, count);
        } else {
            let mut last = self.head;
            for _ in 1..keep {
                last = pool.next[last as usize];
            }
            if keep < count {
                pool.give_back(pool.next[last as usize], count - keep);
            }
            self.tail = last;
        }
        self.len = len;
    }

    /// Empties the buffer, returning its chunks to `pool`.
    pub(crate) fn clear(&mut self, pool: &mut ChunkPool) {
        self.truncate(pool, 0);
    }

    /// Writes the whole buffer to `out`, gathered first into the pool's
    /// staging vector so the kernel copies one contiguous piece. The
    /// buffer is left as it was; on success the caller clears it. On
    /// failure, the error comes with the number of bytes that did reach
    /// `out` before it (a write may land part of a buffer before the disk
    /// fills), which [`ChunkBuf::drop_front`] then removes.
    pub(crate) fn write_to(
        &self,
        pool: &mut ChunkPool,
        out: &mut impl Write,
    ) -> Result<(), (usize, io::Error)> {
        let mut stage = std::mem::take(&mut pool.stage);
        stage.clear();
        let mut remaining = self.len;
        let mut chunk = self.head;
        while remaining > 0 {
            let bytes = &pool.chunk(chunk)[..remaining.min(CHUNK_BYTES)];
            stage.extend_from_slice(bytes);
            remaining -= bytes.len();
            if remaining > 0 {
                chunk = pool.next[chunk as usize];
            }
        }
        let mut written = 0;
        let result = loop {
            if written == stage.len() {
                break Ok(());
            }
            // One slice: a `writev` that reports how much landed, which
            // `write_all` would not.
            match out.write_vectored(&[IoSlice::new(&stage[written..])]) {
                Ok(0) => break Err((written, io::ErrorKind::WriteZero.into())),
                Ok(taken) => written += taken,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => break Err((written, error)),
            }
        };
        if stage.capacity() > STAGE_KEEP_BYTES {
            stage = Vec::new();
        }
        pool.stage = stage;
        result
    }

    /// How many times `byte` occurs in the first `prefix` bytes: the lines
    /// a partial write completed.
    pub(crate) fn count_in_prefix(&self, pool: &ChunkPool, prefix: usize, byte: u8) -> u64 {
        let mut left = prefix.min(self.len);
        let mut chunk = self.head;
        let mut found = 0;
        while left > 0 {
            let bytes = &pool.chunk(chunk)[..left.min(CHUNK_BYTES)];
            found += memchr::memchr_iter(byte, bytes).count() as u64;
            left -= bytes.len();
            if left > 0 {
                chunk = pool.next[chunk as usize];
            }
        }
        found
    }

    /// Removes the first `count` bytes (those a partial write landed),
    /// keeping the rest in order. Whole chunks go back to the pool; the
    /// rest is moved forward so every chunk but the last stays full. Only
    /// the rare partial write calls this, so the copy does not matter.
    pub(crate) fn drop_front(&mut self, pool: &mut ChunkPool, count: usize) {
        if count >= self.len {
            self.clear(pool);
            return;
        }
        for _ in 0..count / CHUNK_BYTES {
            let next = pool.next[self.head as usize];
            pool.give_back(self.head, 1);
            self.head = next;
            self.len -= CHUNK_BYTES;
        }
        let shift = count % CHUNK_BYTES;
        if shift == 0 {
            return;
        }
        let chunks = self.chunk_count();
        let mut chunk = self.head;
        let mut carried = [0u8; CHUNK_BYTES];
        for index in 0..chunks {
            pool.chunk_mut(chunk).copy_within(shift.., 0);
            if index + 1 < chunks {
                let next = pool.next[chunk as usize];
                carried[..shift].copy_from_slice(&pool.chunk(next)[..shift]);
                pool.chunk_mut(chunk)[CHUNK_BYTES - shift..].copy_from_slice(&carried[..shift]);
                chunk = next;
            }
        }
        // The last chunk may now be empty: truncating returns it.
        self.truncate(pool, self.len - shift);
    }
}
