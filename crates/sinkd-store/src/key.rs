//! [`StreamIds`]: the writer's table from stream path to stream id, and
//! [`StreamKey`], a path stored without a pointer to follow when it is
//! short.
//!
//! The writer looks up every line's stream. With a boxed key, each lookup
//! followed a pointer to compare the bytes, and with 10,000 streams that
//! pointer led to a different cache line every time (the comparison alone
//! was 6% of the profile). Paths up to [`INLINE`] bytes, which covers
//! `{device}/messages` for any sane hostname, are kept inline.

#[cfg(test)]
mod tests;

/// Longest path kept inline.
const INLINE: usize = 46;

#[derive(Clone, Debug)]
pub(crate) enum StreamKey {
    Inline { len: u8, bytes: [u8; INLINE] },
    Boxed(Box<[u8]>),
}

impl StreamKey {
    pub(crate) fn new(path: &[u8]) -> StreamKey {
        match u8::try_from(path.len()) {
            Ok(len) if path.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..path.len()].copy_from_slice(path);
                StreamKey::Inline { len, bytes }
            }
            _ => StreamKey::Boxed(path.into()),
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            StreamKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            StreamKey::Boxed(bytes) => bytes,
        }
    }
}

/// Stream path → stream id, for one writer thread.
///
/// Ids are handed out in order (0, 1, 2 …), so the keys sit in a vector
/// indexed by id, and the table itself holds only 8-byte slots: a part of
/// the key's hash and its id. With 10,000 streams the slots take 256 KiB
/// and stay in the processor's cache, where a general map's 56-byte
/// buckets (the key lives inline in each) took a megabyte and a cache miss
/// per lookup. The caller hashes with [`StreamIds::hash`] first, so it can
/// [`StreamIds::prefetch`] a slot, and then [`StreamIds::prefetch_key`] the
/// key to compare, some lookups ahead.
pub(crate) struct StreamIds {
    /// Open addressing with linear probing; a power of two in length, at
    /// most half full.
    slots: Vec<Slot>,
    keys: Vec<StreamKey>,
    /// Seeded per process: the paths come from the network.
    hasher: foldhash::fast::RandomState,
}

#[derive(Clone, Copy)]
struct Slot {
    /// The upper half of the key's hash; the lower half chose the slot.
    tag: u32,
    id: u32,
}

const EMPTY: Slot = Slot {
    tag: 0,
    id: u32::MAX,
};

/// Slots of a new table.
const FIRST_SLOTS: usize = 64;

impl Default for StreamIds {
    fn default() -> StreamIds {
        StreamIds {
            slots: vec![EMPTY; FIRST_SLOTS],
            keys: Vec::new(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl StreamIds {
    /// Ids handed out so far.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The hash [`StreamIds::get`] and [`StreamIds::insert`] take for `path`.
    pub(crate) fn hash(&self, path: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(path)
    }

    /// Starts loading the slot where a search for `hash` begins.
    pub(crate) fn prefetch(&self, hash: u64) {
        let slot = &self.slots[self.home(hash)];
        crate::hint::prefetch(slot, std::mem::size_of::<Slot>());
    }

    /// Starts loading the key the search for `hash` will compare first.
    /// Reads that search's first slot, so it pays off once
    /// [`StreamIds::prefetch`] has brought the slot in.
    pub(crate) fn prefetch_key(&self, hash: u64) {
        let slot = self.slots[self.home(hash)];
        if let Some(key) = self.keys.get(slot.id as usize) {
            crate::hint::prefetch(key, std::mem::size_of::<StreamKey>());
        }
    }

    /// The id of `path`, whose hash is `hash`.
    pub(crate) fn get(&self, path: &[u8], hash: u64) -> Option<u32> {
        let tag = (hash >> 32) as u32;
        let mask = self.slots.len() - 1;
        let mut index = self.home(hash);
        loop {
            let slot = self.slots[index];
            if slot.id == EMPTY.id {
                return None;
            }
            if slot.tag == tag && self.keys[slot.id as usize].as_bytes() == path {
                return Some(slot.id);
            }
            index = (index + 1) & mask;
        }
    }

    /// Gives `path`, which must not have an id yet, the next one.
    pub(crate) fn insert(&mut self, path: &[u8], hash: u64) -> u32 {
        // Each stream's state takes hundreds of bytes: memory runs out long
        // before 2^32 of them.
        let id = self.keys.len() as u32;
        if (self.keys.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        self.place(hash, id);
        self.keys.push(StreamKey::new(path));
        id
    }

    fn home(&self, hash: u64) -> usize {
        hash as usize & (self.slots.len() - 1)
    }

    fn place(&mut self, hash: u64, id: u32) {
        let mask = self.slots.len() - 1;
        let mut index = self.home(hash);
        while self.slots[index].id != EMPTY.id {
            index = (index + 1) & mask;
        }
        self.slots[index] = Slot {
            tag: (hash >> 32) as u32,
            id,
        };
    }

    fn grow(&mut self) {
        self.slots = vec![EMPTY; self.slots.len() * 2];
        for id in 0..self.keys.len() {
            let hash = self.hash(self.keys[id].as_bytes());
            self.place(hash, id as u32);
        }
    }
}
