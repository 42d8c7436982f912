//! Free space: the writer's side of `min_free` and of a full disk.
//!
//! Before a buffer is written, [`SpaceGuard::admit`] checks that the write
//! leaves at least `min_free` free under `data_dir`. Measuring (`statvfs`,
//! or the configured [`SpaceProbe`]) on every write would cost a system
//! call per 64 KiB, so the guard measures at most every [`MEASURE_EVERY`]
//! and counts down what was written in between, measuring again early when
//! that estimate reaches the threshold. A write it refuses, or one that
//! fails with ENOSPC or EDQUOT, pauses the writer ([`super`]); a paused
//! writer asks [`SpaceGuard::room_for`] whether what it holds now fits
//! above the threshold before it tries again.

use crate::config::{MinFree, SpaceProbe};
use crate::health::{PauseReason, StoreHealth};
use crate::sys;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Longest time a measurement of the free space is trusted.
const MEASURE_EVERY: Duration = Duration::from_millis(250);

pub(super) struct SpaceGuard {
    min_free: MinFree,
    probe: Option<SpaceProbe>,
    data_dir: PathBuf,
    /// Free bytes when last measured, less what was admitted since.
    free: u64,
    /// `min_free` in bytes for the filesystem's size when last measured.
    threshold: u64,
    /// When last measured; `None` before the first measurement or when
    /// the last one failed.
    measured_at: Option<Instant>,
}

impl SpaceGuard {
    pub(super) fn new(
        min_free: MinFree,
        probe: Option<SpaceProbe>,
        data_dir: PathBuf,
    ) -> SpaceGuard {
        SpaceGuard {
            min_free,
            probe,
            data_dir,
            free: 0,
            threshold: 0,
            measured_at: None,
        }
    }

    /// Whether `min_free` is off: only a failed write pauses the writer.
    pub(super) fn is_off(&self) -> bool {
        self.min_free.is_off()
    }

    fn measure(&mut self, health: &StoreHealth) {
        let measured = match &self.probe {
            Some(probe) => (probe.0)(&self.data_dir),
            None => sys::free_and_total(&self.data_dir),
        };
        match measured {
            Some((free, total)) => {
                self.free = free;
                self.threshold = self.min_free.threshold(total);
                self.measured_at = Some(Instant::now());
                health.note_space(free, self.threshold);
            }
            // A filesystem that cannot be measured is not held against
            // the writes; a failing write still pauses them.
            None => self.measured_at = None,
        }
    }

    /// `Ok` when `bytes` more may be written without going below
    /// `min_free` (counted against the estimate), else why not.
    pub(super) fn admit(&mut self, bytes: u64, health: &StoreHealth) -> Result<(), PauseReason> {
        if self.is_off() {
            return Ok(());
        }
        let stale = self
            .measured_at
            .is_none_or(|at| at.elapsed() >= MEASURE_EVERY);
        if stale || self.free < self.threshold.saturating_add(bytes) {
            self.measure(health);
        }
        if self.measured_at.is_none() {
            return Ok(());
        }
        if self.free < self.threshold.saturating_add(bytes) {
            return Err(self.below());
        }
        self.free -= bytes;
        Ok(())
    }

    /// Measures now: `Ok` when `bytes` fit above `min_free`.
    pub(super) fn room_for(&mut self, bytes: u64, health: &StoreHealth) -> Result<(), PauseReason> {
        if self.is_off() {
            return Ok(());
        }
        self.measure(health);
        if self.measured_at.is_some() && self.free < self.threshold.saturating_add(bytes) {
            return Err(self.below());
        }
        Ok(())
    }

    fn below(&self) -> PauseReason {
        PauseReason::BelowMinFree {
            free: self.free,
            min_free: self.threshold,
        }
    }
}
