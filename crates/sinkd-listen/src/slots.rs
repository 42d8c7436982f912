//! A stream listener's connection slots: how many connections are open, how
//! many per source address, and which have not yet proven themselves.
//!
//! A connection is *unproven* from its accept until it delivers its first
//! frame (for TLS that includes the handshake). When every slot is taken, a
//! new connection does not simply get refused: the oldest unproven
//! connection is evicted to make room, so a flood of connections that never
//! speak (a TLS port held with no ClientHello) cannot keep real devices
//! out; only when every open connection has delivered is the newcomer
//! refused. An evicted connection's slot is freed when its task ends, a
//! moment later, so the count may pass `max_connections` by at most
//! [`EVICTION_SLACK`] while evictions are in flight; past that the accept
//! loop waits briefly for them to end ([`Slots::wait_unsaturated`]).
//!
//! Per source, at most `max_connections_per_source` are open, so one host
//! cannot take the whole table; a source at its limit makes room by
//! evicting its own oldest unproven connection, else it is refused. The table holds only open connections, so
//! its size is bounded by `max_connections` + [`EVICTION_SLACK`].

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// Most evictions in flight at once (connections told to go whose slots
/// are not yet free).
pub(crate) const EVICTION_SLACK: usize = 64;

/// The slots of one listener.
#[derive(Default)]
pub(crate) struct Slots {
    table: Mutex<Table>,
    /// Woken whenever a slot is freed.
    freed: Notify,
}

#[derive(Default)]
struct Table {
    open: usize,
    per_source: HashMap<IpAddr, usize>,
    /// Unproven connections by admission order (oldest first), each with
    /// its source and the signal that evicts it.
    unproven: BTreeMap<u64, (IpAddr, Arc<Notify>)>,
    next_id: u64,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Its source already has `max_connections_per_source` open.
    SourceLimit,
    /// Every slot is taken by a connection that has delivered.
    Full,
}

/// The limits a listener admits under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_connections: usize,
    pub(crate) max_per_source: usize,
}

/// An open connection's slot; freed on drop.
pub(crate) struct Slot {
    slots: Arc<Slots>,
    source: IpAddr,
    id: u64,
    evict: Option<Arc<Notify>>,
}

impl Slots {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock leaves counts that are still
        // consistent (every update is a single step), so poisoning is
        // ignored.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.lock().open
    }

    /// Whether a newcomer would be refused only because evictions are
    /// still in flight.
    fn saturated(&self, limits: Limits) -> bool {
        let table = self.lock();
        table.open >= limits.max_connections.saturating_add(EVICTION_SLACK)
    }

    /// Waits, at most `patience`, until evictions in flight have freed
    /// enough slots for a newcomer to be judged: the accept loop calls it
    /// so that a burst of accepts outrunning the evicted connections' tasks
    /// waits for them instead of refusing.
    pub(crate) async fn wait_unsaturated(&self, limits: Limits, patience: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if !self.saturated(limits) {
                return;
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return;
            }
        }
    }

    /// Admits a connection from `source`, evicting the oldest unproven one
    /// if every slot is taken.
    pub(crate) fn admit(self: &Arc<Self>, source: IpAddr, limits: Limits) -> Result<Slot, Refusal> {
        let mut table = self.lock();
        if table.open >= limits.max_connections.saturating_add(EVICTION_SLACK) {
            return Err(Refusal::Full);
        }
        let from_source = table.per_source.get(&source).copied().unwrap_or(0);
        if from_source >= limits.max_per_source {
            // The source's own oldest silent connection makes room, so a
            // device that reconnects is not locked out by its stale ones.
            let oldest = table
                .unproven
                .iter()
                .find(|(_, (from, _))| *from == source)
                .map(|(id, _)| *id);
            let Some((_, evict)) = oldest.and_then(|id| table.unproven.remove(&id)) else {
                return Err(Refusal::SourceLimit);
            };
            evict.notify_one();
        } else if table.open >= limits.max_connections {
            let Some((_, (_, oldest))) = table.unproven.pop_first() else {
                return Err(Refusal::Full);
            };
            oldest.notify_one();
        }
        table.open += 1;
        *table.per_source.entry(source).or_insert(0) += 1;
        let id = table.next_id;
        table.next_id += 1;
        let evict = Arc::new(Notify::new());
        table.unproven.insert(id, (source, Arc::clone(&evict)));
        Ok(Slot {
            slots: Arc::clone(self),
            source,
            id,
            evict: Some(evict),
        })
    }
}

impl Slot {
    /// The connection delivered: it can no longer be evicted.
    pub(crate) fn prove(&mut self) {
        if self.evict.take().is_some() {
            self.slots.lock().unproven.remove(&self.id);
        }
    }

    /// Whether the connection is still unproven.
    pub(crate) fn unproven(&self) -> bool {
        self.evict.is_some()
    }

    /// Resolves when the connection is evicted; never, once proven.
    pub(crate) async fn evicted(&self) {
        match &self.evict {
            Some(evict) => evict.notified().await,
            None => std::future::pending().await,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut table = self.slots.lock();
        table.open = table.open.saturating_sub(1);
        if let Some(count) = table.per_source.get_mut(&self.source) {
            *count -= 1;
            if *count == 0 {
                table.per_source.remove(&self.source);
            }
        }
        if self.evict.is_some() {
            table.unproven.remove(&self.id);
        }
        drop(table);
        self.slots.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_connections: 3,
        max_per_source: 2,
    };

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[tokio::test]
    async fn one_source_gets_its_share_only() {
        let slots = Arc::new(Slots::default());
        let mut a = slots.admit(ip(1), LIMITS).unwrap();
        a.prove();
        let silent = slots.admit(ip(1), LIMITS).unwrap();
        let other = slots.admit(ip(2), LIMITS).unwrap();
        // At its limit, the source's own silent connection makes room ...
        let mut again = slots.admit(ip(1), LIMITS).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(1), silent.evicted())
            .await
            .expect("the source's silent connection is evicted");
        drop(silent);
        again.prove();
        // ... and with none left silent it is refused, whoever else is open.
        assert_eq!(slots.admit(ip(1), LIMITS).err(), Some(Refusal::SourceLimit));
        assert!(other.unproven());
        assert_eq!(slots.open(), 3);
    }

    #[tokio::test]
    async fn a_full_table_evicts_the_oldest_unproven() {
        let slots = Arc::new(Slots::default());
        let mut proven = slots.admit(ip(1), LIMITS).unwrap();
        proven.prove();
        let silent_old = slots.admit(ip(2), LIMITS).unwrap();
        let silent_new = slots.admit(ip(3), LIMITS).unwrap();
        let newcomer = slots.admit(ip(4), LIMITS).unwrap();
        // The oldest unproven was told to go; the others were not.
        tokio::time::timeout(std::time::Duration::from_secs(1), silent_old.evicted())
            .await
            .expect("the oldest unproven is evicted");
        assert!(newcomer.unproven());
        assert_eq!(
            slots.open(),
            4,
            "the evicted slot is freed when its task ends"
        );
        drop(silent_old);
        assert_eq!(slots.open(), 3);
        // Next: silent_new goes, then newcomer; never the proven one.
        let _next = slots.admit(ip(5), LIMITS).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(1), silent_new.evicted())
            .await
            .expect("the next oldest unproven is evicted");
        drop(silent_new);
        let mut rest = vec![newcomer];
        rest.push(slots.admit(ip(6), LIMITS).unwrap());
        drop(rest);
    }

    #[test]
    fn a_table_of_proven_connections_refuses() {
        let slots = Arc::new(Slots::default());
        let mut held: Vec<Slot> = (1..=3)
            .map(|n| slots.admit(ip(n), LIMITS).unwrap())
            .collect();
        for slot in &mut held {
            slot.prove();
        }
        assert_eq!(slots.admit(ip(9), LIMITS).err(), Some(Refusal::Full));
        drop(held);
        assert_eq!(slots.open(), 0);
        assert!(slots.lock().per_source.is_empty());
    }

    #[test]
    fn evictions_in_flight_are_bounded() {
        let slots = Arc::new(Slots::default());
        let limits = Limits {
            max_connections: 1,
            max_per_source: usize::MAX,
        };
        // None of the evicted ends (their slots are kept): past the slack,
        // newcomers are refused.
        let held: Vec<Slot> = (0..=EVICTION_SLACK)
            .map(|_| slots.admit(ip(1), limits).unwrap())
            .collect();
        assert_eq!(slots.admit(ip(1), limits).err(), Some(Refusal::Full));
        drop(held);
    }
}
