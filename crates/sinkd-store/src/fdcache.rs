//! A fixed-size cache of open segment files with clock (second-chance)
//! eviction.
//!
//! A writer thread may serve 10,000 devices but keeps at most its share of
//! `max_open_files` descriptors. Each stream remembers the slot of its open
//! file; using a slot sets its "referenced" bit, and when a new file needs a
//! slot the clock hand sweeps, clearing bits, until it finds one that was not
//! used since the last sweep. Lookups are an index, eviction is amortised
//! O(1), and a handful of hot devices stay open while a long tail of quiet
//! ones take turns — unlike a linear list, whose cost grows with the fleet.

#[cfg(test)]
mod tests;

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

    /// Stores `value` for `owner`. Returns its slot and, when the cache was
    /// full, the evicted owner and value (the caller forgets that owner's
    /// slot and closes the value).
    pub(crate) fn insert(&mut self, owner: u32, value: T) -> (u32, Option<(u32, T)>) {
        let fresh = Slot {
            owner,
            value,
            referenced: true,
        };
        if let Some(slot) = self.free.pop() {
            self.slots[slot as usize] = Some(fresh);
            self.len += 1;
            return (slot, None);
        }
        if self.slots.len() < self.capacity {
            self.slots.push(Some(fresh));
            self.len += 1;
            return ((self.slots.len() - 1) as u32, None);
        }
        // Full and no free slot: every slot holds a value. Two sweeps at
        // most, since the first clears every bit it passes.
        loop {
            if self.hand >= self.slots.len() {
                self.hand = 0;
            }
            let index = self.hand;
            self.hand += 1;
            if let Some(entry) = &mut self.slots[index] {
                if entry.referenced {
                    entry.referenced = false;
                    continue;
                }
            }
            let evicted = self.slots[index]
                .replace(fresh)
                .map(|old| (old.owner, old.value));
            return (index as u32, evicted);
        }
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
