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
/// Ids are small integers, handed out in order (0, 1, 2 …) and reused once
/// [`StreamIds::remove`] gives them back (the writer forgets idle streams),
/// so the keys sit in a vector indexed by id, and the table itself holds
/// only 8-byte slots: a part of
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
    /// Each id's full hash, for growing and for removal (which must know
    /// where the entries after a freed slot would start their search).
    hashes: Vec<u64>,
    /// Ids given back, reused before new ones.
    free: Vec<u32>,
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
            hashes: Vec::new(),
            free: Vec::new(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl StreamIds {
    /// Ids in use.
    pub(crate) fn len(&self) -> usize {
        self.keys.len() - self.free.len()
    }

    /// The path of id `id` (empty for a free id).
    pub(crate) fn key(&self, id: u32) -> &[u8] {
        self.keys.get(id as usize).map_or(&[], StreamKey::as_bytes)
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

    /// Gives `path`, which must not have an id yet, an id: one given back
    /// earlier if there is one, else the next.
    pub(crate) fn insert(&mut self, path: &[u8], hash: u64) -> u32 {
        if (self.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let key = StreamKey::new(path);
        let id = match self.free.pop() {
            Some(id) => {
                self.keys[id as usize] = key;
                self.hashes[id as usize] = hash;
                id
            }
            None => {
                // Each stream's state takes hundreds of bytes: memory runs
                // out long before 2^32 of them.
                self.keys.push(key);
                self.hashes.push(hash);
                (self.keys.len() - 1) as u32
            }
        };
        self.place(hash, id);
        id
    }

    /// Gives `id`, which must be in use, back: its path is no longer found
    /// and a later [`StreamIds::insert`] reuses it.
    pub(crate) fn remove(&mut self, id: u32) {
        let mask = self.slots.len() - 1;
        let mut hole = self.home(self.hashes[id as usize]);
        while self.slots[hole].id != id {
            debug_assert_ne!(self.slots[hole].id, EMPTY.id, "removing an id not in use");
            hole = (hole + 1) & mask;
        }
        // Linear probing without tombstones: the entries after the hole,
        // up to the next empty slot, move back into it when their search
        // would otherwise stop at the hole before reaching them.
        let mut next = hole;
        loop {
            self.slots[hole] = EMPTY;
            loop {
                next = (next + 1) & mask;
                let slot = self.slots[next];
                if slot.id == EMPTY.id {
                    self.release(id);
                    return;
                }
                let home = self.home(self.hashes[slot.id as usize]);
                // Whether `home` lies cyclically in (hole, next]: then the
                // search for this entry starts after the hole and still
                // finds it.
                let reachable = if hole <= next {
                    hole < home && home <= next
                } else {
                    hole < home || home <= next
                };
                if !reachable {
                    self.slots[hole] = slot;
                    hole = next;
                    break;
                }
            }
        }
    }

    /// Forgets `id`'s key and puts the id on the free list.
    fn release(&mut self, id: u32) {
        self.keys[id as usize] = StreamKey::new(b"");
        self.hashes[id as usize] = 0;
        self.free.push(id);
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
        let doubled = vec![EMPTY; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        for slot in old.into_iter().filter(|slot| slot.id != EMPTY.id) {
            self.place(self.hashes[slot.id as usize], slot.id);
        }
    }
}
