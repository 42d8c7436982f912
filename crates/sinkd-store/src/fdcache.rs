//! A fixed-size cache of open segment files with a slow clock.
//!
//! A writer thread may serve 100,000 devices but keeps at most its share of
//! `max_open_files` descriptors. Each stream remembers the slot of its open
//! file; using a slot sets its "referenced" bit. While the cache has room
//! every file opened for a write stays open. Once it is full, a new file
//! takes a slot only from one not used since the clock hand last passed
//! it, and the hand looks at one slot for every [`EXAMINE_EVERY`] files
//! that find the cache full; every other such file is handed back, to be
//! written through and closed at once.
//!
//! Why not evict on every miss: when the budget writes the largest
//! buffers first, a stream is written again only after most others, so
//! with more streams than slots an evict-on-miss clock (nearly LRU) throws
//! out every file before its next use. With 65,344 streams and 15,000
//! slots it reopened the file for 96% of the writes; keeping the files
//! that are open (a quarter of the fleet) makes that a quarter fewer opens
//! and closes, while the slow hand still lets a stream that writes more
//! often than the others in, in place of one that went quiet.

#[cfg(test)]
mod tests;

/// Files that find the cache full per slot the clock hand looks at.
const EXAMINE_EVERY: u32 = 4;

struct Slot<T> {
    owner: u32,
    value: T,
    referenced: bool,
}

/// Open values (files) keyed by slot number, each belonging to an owner
/// (a stream id).
pub(crate) struct FileCache<T> {
    slots: Vec<Option<Slot<T>>>,
    free: Vec<u32>,
    hand: usize,
    capacity: usize,
    len: usize,
    /// Files that found the cache full since the hand last moved.
    refused: u32,
}

impl<T> FileCache<T> {
    /// A cache holding at most `capacity` values (at least one).
    pub(crate) fn new(capacity: usize) -> FileCache<T> {
        FileCache {
            slots: Vec::new(),
            free: Vec::new(),
            hand: 0,
            capacity: capacity.max(1),
            len: 0,
            refused: 0,
        }
    }

    /// Values currently held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The value in `slot`, without marking it used.
    pub(crate) fn peek(&self, slot: u32) -> Option<&T> {
        Some(&self.slots.get(slot as usize)?.as_ref()?.value)
    }

    /// The value in `slot`, marking it recently used.
    pub(crate) fn get(&mut self, slot: u32) -> Option<&mut T> {
        let entry = self.slots.get_mut(slot as usize)?.as_mut()?;
        entry.referenced = true;
        Some(&mut entry.value)
    }

    /// Stores `value` for `owner`. Returns its slot and, when it took the
    /// slot of a file not used for a while, the evicted owner and value
    /// (the caller forgets that owner's slot and closes the value); or,
    /// when the cache is full and keeps what it holds, `value` back.
    pub(crate) fn insert(&mut self, owner: u32, value: T) -> Result<(u32, Option<(u32, T)>), T> {
        let fresh = Slot {
            owner,
            value,
            referenced: true,
        };
        if let Some(slot) = self.free.pop() {
            self.slots[slot as usize] = Some(fresh);
            self.len += 1;
            return Ok((slot, None));
        }
        if self.slots.len() < self.capacity {
            self.slots.push(Some(fresh));
            self.len += 1;
            return Ok(((self.slots.len() - 1) as u32, None));
        }
        // Full and no free slot: every slot holds a value.
        self.refused += 1;
        if self.refused < EXAMINE_EVERY {
            return Err(fresh.value);
        }
        self.refused = 0;
        if self.hand >= self.slots.len() {
            self.hand = 0;
        }
        let index = self.hand;
        self.hand += 1;
        if let Some(entry) = &mut self.slots[index] {
            if entry.referenced {
                entry.referenced = false;
                return Err(fresh.value);
            }
        }
        let evicted = self.slots[index]
            .replace(fresh)
            .map(|old| (old.owner, old.value));
        Ok((index as u32, evicted))
    }

    /// Takes the value out of `slot`.
    pub(crate) fn remove(&mut self, slot: u32) -> Option<T> {
        let entry = self.slots.get_mut(slot as usize)?.take()?;
        self.free.push(slot);
        self.len -= 1;
        Some(entry.value)
    }

    /// Takes every value out, with its owner.
    pub(crate) fn drain(&mut self) -> Vec<(u32, T)> {
        self.free.clear();
        self.len = 0;
        self.hand = 0;
        self.slots
            .drain(..)
            .flatten()
            .map(|entry| (entry.owner, entry.value))
            .collect()
    }
}
