//! The systemd notification protocol (`sd_notify(3)`), spoken by the
//! server loop in `mod.rs` so that a `Type=notify` unit knows when sinkd
//! serves, reloads, stops, and that it is still alive.
//!
//! systemd passes `NOTIFY_SOCKET` (a filesystem path, or `@name` for an
//! abstract socket); each state change is one datagram of `KEY=VALUE`
//! lines. Without `NOTIFY_SOCKET` every call here does nothing, so sinkd
//! behaves the same outside systemd. A failed send is logged once and
//! never stops the server: the protocol is a courtesy to the supervisor,
//! not part of the message path. No libsystemd: a Unix datagram socket is
//! all the protocol needs.

use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Where and how to tell systemd about state changes.
pub(crate) struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
    /// A send failed already (logged once, then quiet).
    failed: AtomicBool,
}

impl Notifier {
    /// From `NOTIFY_SOCKET`; a value that names no usable socket is logged
    /// and treated as absent.
    pub(crate) fn from_env() -> Notifier {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|value| {
            // Non-blocking: a manager that stops reading must not stall the
            // server loop that sends; a full queue is a failed send.
            let opened = socket_address(value.as_encoded_bytes()).and_then(|address| {
                let socket = UnixDatagram::unbound()?;
                socket.set_nonblocking(true)?;
                Ok((socket, address))
            });
            match opened {
                Ok(target) => Some(target),
                Err(error) => {
                    tracing::warn!(%error, socket = ?value, "NOTIFY_SOCKET unusable; not notifying systemd");
                    None
                }
            }
        });
        Notifier {
            target,
            failed: AtomicBool::new(false),
        }
    }

    /// Sends one notification (`READY=1`, or several lines joined by
    /// `\n`).
    pub(crate) fn send(&self, state: &str) {
        let Some((socket, address)) = &self.target else {
            return;
        };
        if let Err(error) = socket.send_to_addr(state.as_bytes(), address) {
            if !self.failed.swap(true, Ordering::Relaxed) {
                tracing::warn!(%error, "cannot notify systemd");
            }
        }
    }

    /// Every listener serves.
    pub(crate) fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}"));
    }

    /// A reload starts now (systemd's `Type=notify-reload` contract: the
    /// monotonic time lets it tell this reload from an earlier one).
    pub(crate) fn reloading(&self) {
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
    }

    pub(crate) fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=draining");
    }

    pub(crate) fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }
}

/// The socket address `NOTIFY_SOCKET` names: `@name` is abstract, anything
/// else a filesystem path.
fn socket_address(value: &[u8]) -> std::io::Result<SocketAddr> {
    match value.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name),
        None => {
            let path = std::path::Path::new(std::ffi::OsStr::from_bytes(value));
            SocketAddr::from_pathname(path)
        }
    }
}

/// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`, as
/// `sd_watchdog_enabled(3)` advises — when the variable is set, positive,
/// and `WATCHDOG_PID` is absent or names this process.
pub(crate) fn watchdog_interval() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    watchdog_interval_of(usec.as_deref(), pid.as_deref(), std::process::id())
}

fn watchdog_interval_of(usec: Option<&str>, pid: Option<&str>, own_pid: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|usec| *usec > 0)?;
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok()? != own_pid {
            return None;
        }
    }
    // Half the period, and never a zero interval (which would spin).
    Some(Duration::from_micros(usec / 2).max(Duration::from_millis(1)))
}

/// `CLOCK_MONOTONIC` in microseconds, the clock systemd compares with.
fn monotonic_usec() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only the struct passed in; the monotonic
    // clock always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let seconds = u64::try_from(now.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(now.tv_nsec).unwrap_or(0);
    seconds * 1_000_000 + nanos / 1_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_runs_at_half_the_period_for_this_process_only() {
        let half = Some(Duration::from_millis(200));
        assert_eq!(watchdog_interval_of(Some("400000"), None, 7), half);
        assert_eq!(watchdog_interval_of(Some("400000"), Some("7"), 7), half);
        assert_eq!(watchdog_interval_of(Some("400000"), Some("8"), 7), None);
        assert_eq!(watchdog_interval_of(Some("400000"), Some("x"), 7), None);
        assert_eq!(watchdog_interval_of(Some("0"), None, 7), None);
        assert_eq!(watchdog_interval_of(Some("soon"), None, 7), None);
        assert_eq!(watchdog_interval_of(None, Some("7"), 7), None);
    }

    #[test]
    fn an_at_sign_names_an_abstract_socket() {
        let address = socket_address(b"@sinkd/notify").expect("abstract");
        assert_eq!(address.as_abstract_name(), Some(&b"sinkd/notify"[..]));
        let address = socket_address(b"/run/systemd/notify").expect("path");
        assert_eq!(
            address.as_pathname(),
            Some(std::path::Path::new("/run/systemd/notify"))
        );
    }

    #[test]
    fn notifications_reach_an_abstract_socket() {
        let name = format!("sinkd-notify-test-{}", std::process::id());
        let receiver =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .expect("bind abstract");
        let notifier = Notifier {
            target: Some((
                UnixDatagram::unbound().unwrap(),
                socket_address(format!("@{name}").as_bytes()).unwrap(),
            )),
            failed: AtomicBool::new(false),
        };
        notifier.reloading();
        let mut buffer = [0u8; 256];
        let n = receiver.recv(&mut buffer).expect("receive");
        let text = std::str::from_utf8(&buffer[..n]).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("RELOADING=1"));
        let usec: u64 = lines
            .next()
            .and_then(|line| line.strip_prefix("MONOTONIC_USEC="))
            .and_then(|value| value.parse().ok())
            .expect("MONOTONIC_USEC=N");
        assert!(usec > 0 && usec <= monotonic_usec());
    }
}
