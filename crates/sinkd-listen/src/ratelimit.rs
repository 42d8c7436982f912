//! Per-source rate limits (`rate_limit = "N/s"`, `rate_burst = M` on a
//! `[[listen]]`): one token bucket per source address, shared by every
//! socket or connection of the listener.
//!
//! A bucket holds up to `burst` tokens and gains `rate` per second; a
//! message takes one. UDP: a datagram finding the bucket empty is dropped
//! and counted (`rate_limited`). TCP/TLS: a connection takes the tokens for
//! what it has just read, may go into debt, and does not read again until
//! the debt is paid — the sender feels backpressure and nothing is lost.
//! Buckets are independent, so a source over its limit never slows others.
//!
//! Memory is bounded whatever the sources: the table is split into
//! [`SHARDS`] shards of at most [`MAX_SOURCES`]`/SHARDS` buckets; a shard
//! that fills up (a flood from spoofed addresses) is cleared, which only
//! hands those sources a fresh burst. Which sources are being limited is
//! reported as one log line per [`REPORT_EVERY`] naming the top
//! [`REPORT_TOP`], and as a count (`sinkd_rate_limited_sources`), never as
//! a label per address.

use sinkd_metrics::Metrics;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Sources tracked at once, over all shards.
pub(crate) const MAX_SOURCES: usize = 65_536;
/// Independent locks.
const SHARDS: usize = 16;
/// How often the limited sources are reported.
pub(crate) const REPORT_EVERY: Duration = Duration::from_secs(10);
/// Sources named per report.
const REPORT_TOP: usize = 5;
/// Longest a connection waits at once before looking again (so shutdown
/// and the rest of the loop are never held long).
const MAX_WAIT: Duration = Duration::from_secs(1);

/// A listener's limit: messages per hour per source (so `N/s`, `N/m` and
/// `N/h` are all exact), bursts of up to `burst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Messages per hour (more than zero).
    pub per_hour: u64,
    /// Messages a quiet source may send at once (at least one).
    pub burst: u32,
}

impl RateLimit {
    /// Reads `N/s`, `N/m` or `N/h` (messages per second, minute, hour)
    /// into messages per hour.
    pub fn parse_rate(text: &str) -> Result<u64, String> {
        let bad = || {
            format!("{text:?}: expected whole messages per time, such as \"500/s\" or \"3000/m\"")
        };
        let (number, unit) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u64 = number.trim().parse().map_err(|_| bad())?;
        let per_hour = match unit.trim() {
            "s" => count.checked_mul(3600),
            "m" => count.checked_mul(60),
            "h" => Some(count),
            _ => return Err(bad()),
        }
        .ok_or_else(bad)?;
        if per_hour == 0 {
            return Err(format!("{text:?}: the rate must be more than zero"));
        }
        Ok(per_hour)
    }

    /// Messages per second.
    pub fn rate(&self) -> f64 {
        self.per_hour as f64 / 3600.0
    }

    /// The burst the limit allows when none is given: one second's worth,
    /// at least one message.
    pub fn default_burst(per_hour: u64) -> u32 {
        u32::try_from(per_hour.div_ceil(3600))
            .unwrap_or(u32::MAX)
            .max(1)
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    /// Seconds since the limiter's start when `tokens` was last brought up
    /// to date.
    at: f64,
    /// Messages dropped or delayed since the last report.
    limited: u64,
}

/// The buckets of one listener.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: RateLimit,
    rate: f64,
    start: Instant,
    shards: Vec<Mutex<HashMap<IpAddr, Bucket>>>,
    /// Seconds since `start` of the last report.
    reported_at: AtomicU64,
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            rate: limit.rate(),
            start: Instant::now(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            reported_at: AtomicU64::new(0),
        }
    }

    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn shard(&self, source: IpAddr) -> MutexGuard<'_, HashMap<IpAddr, Bucket>> {
        let index = match source {
            IpAddr::V4(v4) => u32::from(v4) as usize,
            IpAddr::V6(v6) => (u128::from(v6) ^ (u128::from(v6) >> 64)) as usize,
        };
        // Mix so that neighbouring addresses land apart.
        let index = index.wrapping_mul(0x9E37_79B9) >> 7;
        // A panic while holding the lock leaves buckets that are still
        // usable, so poisoning is ignored.
        self.shards[index % SHARDS]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `source`'s bucket, refilled up to `now`.
    fn bucket<'t>(
        &self,
        table: &'t mut HashMap<IpAddr, Bucket>,
        source: IpAddr,
        now: f64,
    ) -> &'t mut Bucket {
        if table.len() >= MAX_SOURCES / SHARDS && !table.contains_key(&source) {
            table.clear();
        }
        let burst = f64::from(self.limit.burst);
        let bucket = table.entry(source).or_insert(Bucket {
            tokens: burst,
            at: now,
            limited: 0,
        });
        let refill = (now - bucket.at).max(0.0) * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = now;
        bucket
    }

    /// UDP: whether one more datagram from `source` may pass now (taking a
    /// token if so).
    pub(crate) fn admit(&self, source: IpAddr) -> bool {
        let now = self.now();
        let mut table = self.shard(source);
        let bucket = self.bucket(&mut table, source, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            bucket.limited += 1;
            false
        }
    }

    /// TCP/TLS: takes `n` tokens for messages already read from `source`
    /// (going into debt if needed) and says how long the connection should
    /// wait before reading more (zero when the bucket is not in debt; at
    /// most [`MAX_WAIT`], after which it asks again with `n` = 0).
    pub(crate) fn debit(&self, source: IpAddr, n: u64) -> Duration {
        let now = self.now();
        let mut table = self.shard(source);
        let bucket = self.bucket(&mut table, source, now);
        bucket.tokens -= n as f64;
        if bucket.tokens >= 0.0 {
            return Duration::ZERO;
        }
        if n > 0 {
            bucket.limited += n.min((-bucket.tokens).ceil() as u64);
        }
        Duration::from_secs_f64(-bucket.tokens / self.rate).min(MAX_WAIT)
    }

    /// Every [`REPORT_EVERY`], one caller logs the sources limited since
    /// the last report (the top ones by count) and sets the gauge.
    pub(crate) fn report(&self, metrics: &Metrics, listener: &str) {
        let now = self.now();
        let last = self.reported_at.load(Ordering::Relaxed);
        let now_secs = now as u64;
        if now_secs < last + REPORT_EVERY.as_secs()
            || self
                .reported_at
                .compare_exchange(last, now_secs, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let mut limited: Vec<(u64, IpAddr)> = Vec::new();
        for shard in &self.shards {
            let mut table = shard
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for (source, bucket) in table.iter_mut() {
                if bucket.limited > 0 {
                    limited.push((bucket.limited, *source));
                    bucket.limited = 0;
                }
            }
        }
        metrics.rate_limited_sources.set(limited.len() as i64);
        if limited.is_empty() {
            return;
        }
        limited.sort_unstable_by(|a, b| b.cmp(a));
        let top: Vec<String> = limited
            .iter()
            .take(REPORT_TOP)
            .map(|(count, source)| format!("{source} ({count})"))
            .collect();
        tracing::warn!(
            listener,
            sources = limited.len(),
            top = %top.join(", "),
            "sources over the rate limit in the last {}s (messages dropped on UDP, delayed on TCP/TLS)",
            REPORT_EVERY.as_secs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn rates_read_per_second_minute_or_hour() {
        assert_eq!(RateLimit::parse_rate("500/s"), Ok(500 * 3600));
        assert_eq!(RateLimit::parse_rate("120/m"), Ok(7200));
        assert_eq!(RateLimit::parse_rate(" 3600 / h "), Ok(3600));
        assert_eq!(RateLimit::default_burst(500 * 3600), 500);
        assert_eq!(RateLimit::default_burst(10), 1);
        for bad in ["500", "0/s", "-1/s", "x/s", "5/d", "/s", "inf/s", "1.5/s"] {
            assert!(RateLimit::parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_burst_passes_then_one_source_is_held_and_others_are_not() {
        let limiter = RateLimiter::new(RateLimit {
            per_hour: 1,
            burst: 5,
        });
        let passed = (0..20).filter(|_| limiter.admit(ip(1))).count();
        assert_eq!(passed, 5);
        assert!(limiter.admit(ip(2)), "another source has its own bucket");
        let wait = limiter.debit(ip(3), 7);
        assert!(wait > Duration::ZERO && wait <= MAX_WAIT);
        assert_eq!(limiter.debit(ip(4), 5), Duration::ZERO);
    }

    #[test]
    fn tokens_come_back_at_the_rate() {
        let limiter = RateLimiter::new(RateLimit {
            per_hour: 1000 * 3600,
            burst: 1,
        });
        assert!(limiter.admit(ip(1)));
        std::thread::sleep(Duration::from_millis(20));
        assert!(limiter.admit(ip(1)), "refilled after 20 ms at 1000/s");
    }

    #[test]
    fn the_table_stays_bounded_under_spoofed_sources() {
        let limiter = RateLimiter::new(RateLimit {
            per_hour: 3600,
            burst: 1,
        });
        for n in 0..(3 * MAX_SOURCES as u32) {
            limiter.admit(IpAddr::from(n.to_be_bytes()));
        }
        let tracked: usize = limiter
            .shards
            .iter()
            .map(|shard| shard.lock().unwrap().len())
            .sum();
        assert!(tracked <= MAX_SOURCES, "{tracked}");
    }

    #[test]
    fn the_report_counts_limited_sources_once_per_interval() {
        let metrics = Metrics::new();
        let limiter = RateLimiter::new(RateLimit {
            per_hour: 1,
            burst: 1,
        });
        for _ in 0..3 {
            limiter.admit(ip(1));
            limiter.admit(ip(2));
        }
        // Back-date the last report so this one is due.
        limiter.reported_at.store(0, Ordering::Relaxed);
        let start = limiter.start;
        let limiter = RateLimiter {
            start: start - REPORT_EVERY,
            ..limiter
        };
        limiter.report(&metrics, "udp 127.0.0.1:514");
        assert_eq!(metrics.rate_limited_sources.get(), 2);
        // Not again before the interval is over.
        limiter.admit(ip(1));
        limiter.report(&metrics, "udp 127.0.0.1:514");
        assert_eq!(metrics.rate_limited_sources.get(), 2);
    }
}
