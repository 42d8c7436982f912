//! Measurements `sinkd-compare` takes from outside the servers, the same
//! way for all three: CPU time and peak memory from `/proc/PID`, what each
//! wrote from the files in its output directory, and whether a port is
//! bound yet from `/proc/net`.
//!
//! - CPU: `utime + stime` of `/proc/PID/stat` (fields 14 and 15, summed
//!   over all threads by the kernel), in clock ticks.
//! - Peak resident memory: `VmHWM` of `/proc/PID/status`.
//! - Output: rsyslog and syslog-ng write `HOST/messages` files; sinkd
//!   writes `HOST/N.log` segments (and `N.log.zst` once a segment
//!   is closed). [`count_lines`] counts newline bytes in all of those,
//!   decompressing `.zst` segments.
//! - Progress: [`written_bytes`] (`wchar` of `/proc/PID/io`), which the
//!   settle loop polls; the output counts as settled once it stops moving.

use anyhow::Context as _;
use std::path::Path;

#[cfg(test)]
mod tests;

/// A process's CPU time and peak memory at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcSample {
    /// utime + stime, clock ticks.
    pub cpu_ticks: u64,
    /// VmHWM, KiB.
    pub peak_rss_kib: u64,
}

/// Clock ticks per second (`_SC_CLK_TCK`).
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

/// utime + stime from the text of `/proc/PID/stat`. The command name in
/// parentheses may itself contain spaces or parentheses, so fields are
/// counted from the last `)`.
pub fn parse_stat_cpu(text: &str) -> Option<u64> {
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3, utime 14, stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// VmHWM in KiB from the text of `/proc/PID/status`.
pub fn parse_status_hwm(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// Samples process `pid`.
pub fn sample(pid: u32) -> anyhow::Result<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("process {pid} is gone"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("process {pid} is gone"))?;
    Ok(ProcSample {
        cpu_ticks: parse_stat_cpu(&stat).context("unreadable /proc/PID/stat")?,
        peak_rss_kib: parse_status_hwm(&status).unwrap_or(0),
    })
}

/// Whether a file holds output lines: a peer's `messages` file or one of
/// sinkd's segments (`N.log`, `N.log.zst`); never a hidden temporary file.
fn is_output_file(name: &str) -> bool {
    !name.starts_with('.')
        && (name == "messages" || name.ends_with(".log") || name.ends_with(".log.zst"))
}

fn walk(dir: &Path, visit: &mut dyn FnMut(&Path, &std::fs::Metadata)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        if metadata.is_dir() {
            walk(&path, visit);
        } else if metadata.is_file() {
            visit(&path, &metadata);
        }
    }
}

/// `wchar` of `/proc/PID/io`: bytes the process (all its threads) has
/// passed to `write` and its relatives. It grows while a server writes its
/// output, so the settle loop polls it instead of walking 10,000 device
/// directories ten times a second, which cost a good part of a core and
/// the servers' cache.
pub fn written_bytes(pid: u32) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/io"))
        .with_context(|| format!("cannot read /proc/{pid}/io"))?;
    parse_io_wchar(&text).context("unreadable /proc/PID/io")
}

/// `wchar` from the text of `/proc/PID/io`.
pub fn parse_io_wchar(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("wchar:"))
        .and_then(|rest| rest.trim().parse().ok())
}

fn count_newlines(reader: &mut dyn std::io::Read) -> std::io::Result<u64> {
    let mut buffer = vec![0u8; 256 * 1024];
    let mut lines = 0;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => return Ok(lines),
            Ok(n) => n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        lines += buffer[..n].iter().filter(|b| **b == b'\n').count() as u64;
    }
}

/// Output lines under `dir`, and the number of distinct directories
/// holding output (one per device for every server here).
pub fn count_lines(dir: &Path) -> anyhow::Result<(u64, u64)> {
    let mut lines = 0;
    let mut failure: Option<anyhow::Error> = None;
    let mut holders = std::collections::HashSet::new();
    walk(dir, &mut |path, _| {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return;
        };
        if !is_output_file(name) || failure.is_some() {
            return;
        }
        let counted = std::fs::File::open(path).and_then(|mut file| {
            if name.ends_with(".zst") {
                let mut decoder = zstd::stream::read::Decoder::new(file)?;
                count_newlines(&mut decoder)
            } else {
                count_newlines(&mut file)
            }
        });
        match counted {
            Ok(n) => {
                lines += n;
                // The device directory: HOST for the peers' `HOST/messages`
                // and for sinkd's `HOST/N.log`.
                if let Some(device_dir) = path.parent() {
                    holders.insert(device_dir.to_path_buf());
                }
            }
            Err(error) => {
                failure =
                    Some(anyhow::Error::new(error).context(format!("reading {}", path.display())))
            }
        }
    });
    match failure {
        Some(error) => Err(error),
        None => Ok((lines, holders.len() as u64)),
    }
}

/// Whether something listens on 127.0.0.1:`port` (TCP) or has it bound
/// (UDP), from `/proc/net/{tcp,udp}` and their IPv6 twins.
pub fn port_bound(port: u16, udp: bool) -> bool {
    let files: [&str; 2] = if udp {
        ["/proc/net/udp", "/proc/net/udp6"]
    } else {
        ["/proc/net/tcp", "/proc/net/tcp6"]
    };
    files.iter().any(|file| {
        std::fs::read_to_string(file)
            .map(|text| table_has_port(&text, port, !udp))
            .unwrap_or(false)
    })
}

/// Looks for a local address with `port` in a `/proc/net/{tcp,udp}` table;
/// for TCP the socket must be in LISTEN state (0A).
pub fn table_has_port(text: &str, port: u16, listening: bool) -> bool {
    let wanted = format!("{port:04X}");
    text.lines().skip(1).any(|line| {
        let mut fields = line.split_whitespace();
        let (Some(_slot), Some(local), Some(_remote), Some(state)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return false;
        };
        let port_matches = local.rsplit(':').next() == Some(wanted.as_str());
        port_matches && (!listening || state == "0A")
    })
}

/// A port that is free for both TCP and UDP on 127.0.0.1 right now.
pub fn free_port() -> anyhow::Result<u16> {
    for _ in 0..50 {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind 127.0.0.1:0")?;
        let port = tcp.local_addr()?.port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    anyhow::bail!("no port free for both TCP and UDP on 127.0.0.1")
}
