//! Metrics read from the operating system at scrape time: the process's
//! CPU time, memory and descriptors (from `/proc/self`, under the standard
//! `process_*` names every Prometheus client exports), and the free and
//! total bytes of the filesystem holding `data_dir` (`statvfs`).
//!
//! Nothing here runs between scrapes: each value is read when Prometheus
//! asks, by a scrape hook, so the message path never pays for it.

use crate::{gauge, registered, Metrics};
use prometheus::{Counter, IntGauge, Registry};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The process gauges, filled from `/proc/self` before each scrape.
pub(crate) struct ProcessMetrics {
    cpu_seconds: Counter,
    /// The last CPU total copied in, so the counter only grows by the delta.
    cpu_last: Mutex<f64>,
    resident_bytes: IntGauge,
    virtual_bytes: IntGauge,
    open_fds: IntGauge,
    max_fds: IntGauge,
    start_time: IntGauge,
    /// `start_time` has been read from `/proc` (boot time + start ticks).
    start_exact: std::sync::atomic::AtomicBool,
}

/// Fields of `/proc/self/stat` this module reads.
struct ProcStat {
    /// User plus system CPU time, in clock ticks.
    cpu_ticks: u64,
    /// Start time, in clock ticks after boot.
    start_ticks: u64,
    virtual_bytes: u64,
    resident_pages: u64,
}

impl ProcStat {
    /// Parses the line; the command name (field 2) may hold spaces and
    /// parentheses, so the fields are counted from after its last `)`.
    fn parse(text: &str) -> Option<ProcStat> {
        let rest = &text[text.rfind(')')? + 1..];
        // Index 0 is field 3 (state); field N is at index N - 3.
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
        Some(ProcStat {
            cpu_ticks: field(14)? + field(15)?,
            start_ticks: field(22)?,
            virtual_bytes: field(23)?,
            resident_pages: field(24)?,
        })
    }

    fn read() -> Option<ProcStat> {
        ProcStat::parse(&std::fs::read_to_string("/proc/self/stat").ok()?)
    }
}

/// `sysconf(name)` as a positive number, or `fallback`.
fn sysconf(name: libc::c_int, fallback: u64) -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let value = unsafe { libc::sysconf(name) };
    u64::try_from(value)
        .ok()
        .filter(|&v| v > 0)
        .unwrap_or(fallback)
}

/// The boot time in Unix seconds (`btime` in `/proc/stat`).
fn boot_time() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

fn open_fds() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}

fn max_fds() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct passed in.
    let status = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (status == 0).then_some(limit.rlim_cur)
}

impl ProcessMetrics {
    pub(crate) fn register(registry: &Registry) -> ProcessMetrics {
        #[allow(clippy::expect_used)]
        let cpu_seconds = registered(
            registry,
            Counter::new(
                "process_cpu_seconds_total",
                "User and system CPU time spent, in seconds.",
            )
            .expect("valid metric name"),
        );
        ProcessMetrics {
            cpu_seconds,
            cpu_last: Mutex::new(0.0),
            resident_bytes: gauge(
                registry,
                "process_resident_memory_bytes",
                "Resident memory size, in bytes.",
            ),
            virtual_bytes: gauge(
                registry,
                "process_virtual_memory_bytes",
                "Virtual memory size, in bytes.",
            ),
            open_fds: gauge(registry, "process_open_fds", "Open file descriptors."),
            max_fds: gauge(
                registry,
                "process_max_fds",
                "The soft limit on open file descriptors.",
            ),
            start_time: {
                let start_time = gauge(
                    registry,
                    "process_start_time_seconds",
                    "Start time of the process, in seconds since the Unix epoch.",
                );
                // Until /proc says better (it may not: systemd's
                // ProcSubset=pid hides /proc/stat), the metrics' creation,
                // moments after the start.
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |since| since.as_secs());
                start_time.set(i64::try_from(now).unwrap_or(i64::MAX));
                start_time
            },
            start_exact: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Reads `/proc/self` into the gauges; a value that cannot be read
    /// keeps its previous one.
    pub(crate) fn refresh(&self) {
        if let Some(stat) = ProcStat::read() {
            let ticks_per_second = sysconf(libc::_SC_CLK_TCK, 100);
            let page_size = sysconf(libc::_SC_PAGESIZE, 4096);
            let cpu = stat.cpu_ticks as f64 / ticks_per_second as f64;
            if let Ok(mut last) = self.cpu_last.lock() {
                if cpu > *last {
                    self.cpu_seconds.inc_by(cpu - *last);
                    *last = cpu;
                }
            }
            self.resident_bytes
                .set((stat.resident_pages * page_size) as i64);
            self.virtual_bytes.set(stat.virtual_bytes as i64);
            if !self.start_exact.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(boot) = boot_time() {
                    self.start_time
                        .set((boot + stat.start_ticks / ticks_per_second) as i64);
                    self.start_exact
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        if let Some(n) = open_fds() {
            // read_dir holds one descriptor of its own while counting.
            self.open_fds.set(n.saturating_sub(1) as i64);
        }
        if let Some(n) = max_fds() {
            self.max_fds.set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }
}

/// Free and total bytes of the filesystem under `path`, from `statvfs`:
/// free is what an unprivileged process may still use (`f_bavail`).
pub fn filesystem_bytes(path: &Path) -> Option<(u64, u64)> {
    let stat = rustix::fs::statvfs(path).ok()?;
    Some((
        stat.f_bavail.saturating_mul(stat.f_frsize),
        stat.f_blocks.saturating_mul(stat.f_frsize),
    ))
}

impl Metrics {
    /// Reports the free and total bytes of the filesystem holding
    /// `data_dir` at every scrape (`sinkd_data_dir_free_bytes`,
    /// `sinkd_data_dir_size_bytes`).
    pub fn watch_data_dir(self: &Arc<Metrics>, data_dir: PathBuf) {
        let target = Arc::downgrade(self);
        self.add_scrape_hook(move || {
            let Some(metrics) = target.upgrade() else {
                return;
            };
            if let Some((free, size)) = filesystem_bytes(&data_dir) {
                metrics
                    .data_dir_free_bytes
                    .set(i64::try_from(free).unwrap_or(i64::MAX));
                metrics
                    .data_dir_size_bytes
                    .set(i64::try_from(size).unwrap_or(i64::MAX));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_whose_name_holds_parentheses() {
        let line = "4242 (sinkd (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    250 50 0 0 20 0 9 0 12345 104857600 2048 18446744073709551615";
        let stat = ProcStat::parse(line).expect("parses");
        assert_eq!(stat.cpu_ticks, 300);
        assert_eq!(stat.start_ticks, 12345);
        assert_eq!(stat.virtual_bytes, 104_857_600);
        assert_eq!(stat.resident_pages, 2048);
    }

    #[test]
    fn process_and_data_dir_metrics_have_values() {
        let metrics = Metrics::new();
        metrics.watch_data_dir(std::env::temp_dir());
        let text = metrics.encode();
        for name in [
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_open_fds ",
            "process_max_fds ",
            "process_start_time_seconds ",
            "sinkd_data_dir_free_bytes ",
            "sinkd_data_dir_size_bytes ",
        ] {
            let line = text
                .lines()
                .find(|line| line.starts_with(name))
                .unwrap_or_else(|| panic!("missing {name:?} in\n{text}"));
            let value: f64 = line[name.len()..].parse().expect("a number");
            // A short test may not have used a clock tick of CPU yet.
            let floor_ok = if name.starts_with("process_cpu") {
                value >= 0.0
            } else {
                value > 0.0
            };
            assert!(floor_ok, "{line}");
        }
    }
}
