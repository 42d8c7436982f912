//! The three servers under comparison, configured to do the same job:
//! listen on one loopback port for one transport, keep what
//! `*.notice;auth.*` selects, and append it to one file (or segment
//! directory) per sending device, named by the message's hostname.
//!
//! Each is tuned the way its own documentation recommends for throughput;
//! the choices, and the few places where the three cannot be made equal,
//! are listed in `docs/performance.md`. All three ask for a 32 MiB UDP
//! receive buffer (sinkd's default; syslog-ng's request is capped at
//! `net.core.rmem_max`, as it does not force it).
//!
//! - **rsyslog**: `imudp` with a batch size and one thread per core it may
//!   use, `imtcp` (which detects LF and octet-counting framing itself),
//!   GnuTLS (`gtls`, anonymous client authentication) for TLS, a 200k-entry
//!   main queue dequeued in batches of 1024, and `omfile` with a dynaFile
//!   cache as large as the fleet, asynchronous writing with a 256 KiB
//!   buffer and a one-second flush interval.
//! - **syslog-ng**: `threaded(yes)`, `keep-hostname(yes)`, no DNS, 64 KiB
//!   messages, `flags(flow-control)` on the log path, a per-connection
//!   window of 1000 messages with a matching `log-fetch-limit`, a large
//!   destination FIFO, and `flush-lines(1000)`. `network()` with
//!   `flags(syslog-protocol)` reads LF-framed TCP and UDP (it then parses
//!   RFC 5424 and falls back to RFC 3164); `syslog()` reads octet-counted
//!   TCP and TLS.
//! - **sinkd**: its defaults (workers from the CPUs it may use, framing
//!   detected per connection), `fsync = "never"` and a 1 GiB `rotate_size`
//!   because the peers neither fsync nor rotate, and `max_open_files`
//!   above the fleet size (the equivalent of rsyslog's dynaFile cache).
//!   Its sink is `file {device}`: a directory of segments per device, so
//!   each new device costs it a directory and a file, as `HOST/messages`
//!   costs the peers.

use crate::compare::certs::CertFiles;
use crate::load::Transport;
use crate::send::Framing;
use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;

#[cfg(test)]
mod tests;

/// A transport and framing, as the comparison tables name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Wire {
    #[serde(rename = "udp")]
    Udp,
    #[serde(rename = "tcp-lf")]
    TcpLf,
    #[serde(rename = "tcp-octet-counting")]
    TcpOctet,
    /// RFC 5425: TLS with octet-counting framing.
    #[serde(rename = "tls")]
    Tls,
}

impl Wire {
    pub const ALL: [Wire; 4] = [Wire::Udp, Wire::TcpLf, Wire::TcpOctet, Wire::Tls];

    pub fn name(self) -> &'static str {
        match self {
            Wire::Udp => "udp",
            Wire::TcpLf => "tcp-lf",
            Wire::TcpOctet => "tcp-octet-counting",
            Wire::Tls => "tls",
        }
    }

    pub fn parse(text: &str) -> Option<Wire> {
        Wire::ALL
            .into_iter()
            .find(|w| w.name() == text)
            .or(match text {
                "tcp" => Some(Wire::TcpLf),
                "tcp-octet" | "octet-counting" => Some(Wire::TcpOctet),
                _ => None,
            })
    }

    pub fn transport(self) -> Transport {
        match self {
            Wire::Udp => Transport::Udp,
            Wire::TcpLf | Wire::TcpOctet => Transport::Tcp,
            Wire::Tls => Transport::Tls,
        }
    }

    pub fn framing(self) -> Framing {
        match self {
            Wire::Udp | Wire::TcpLf => Framing::Lf,
            Wire::TcpOctet | Wire::Tls => Framing::OctetCounting,
        }
    }

    /// Whether the sender feels backpressure, so nothing may be lost.
    pub fn is_reliable(self) -> bool {
        self != Wire::Udp
    }
}

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerKind {
    Sinkd,
    Rsyslog,
    SyslogNg,
}

impl ServerKind {
    pub const ALL: [ServerKind; 3] = [ServerKind::Sinkd, ServerKind::Rsyslog, ServerKind::SyslogNg];

    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Sinkd => "sinkd",
            ServerKind::Rsyslog => "rsyslog",
            ServerKind::SyslogNg => "syslog-ng",
        }
    }

    pub fn parse(text: &str) -> Option<ServerKind> {
        ServerKind::ALL.into_iter().find(|k| k.name() == text)
    }
}

/// Where the server programs are.
#[derive(Clone, Debug)]
pub struct Programs {
    pub sinkd: PathBuf,
    pub rsyslogd: PathBuf,
    /// The root `syslog-ng-core` was unpacked into (`dpkg -x`): holds
    /// `usr/sbin/syslog-ng` and `usr/lib/syslog-ng/`.
    pub syslog_ng_root: PathBuf,
}

impl Programs {
    /// The default places: sinkd next to this executable, rsyslogd from
    /// Debian's package, syslog-ng where `install-peers.sh` unpacks it
    /// (`SINKD_SYSLOG_NG_ROOT` overrides).
    pub fn defaults() -> Programs {
        let own_dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."));
        Programs {
            sinkd: own_dir.join("sinkd"),
            rsyslogd: PathBuf::from("/usr/sbin/rsyslogd"),
            syslog_ng_root: std::env::var_os("SINKD_SYSLOG_NG_ROOT")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_SYSLOG_NG_ROOT)),
        }
    }

    fn syslog_ng_binary(&self) -> PathBuf {
        self.syslog_ng_root.join("usr/sbin/syslog-ng")
    }

    fn syslog_ng_lib(&self) -> PathBuf {
        self.syslog_ng_root.join("usr/lib/syslog-ng")
    }

    /// The module directory (`usr/lib/syslog-ng/3.38`) and its version.
    fn syslog_ng_modules(&self) -> anyhow::Result<(PathBuf, String)> {
        let lib = self.syslog_ng_lib();
        let entries =
            std::fs::read_dir(&lib).with_context(|| format!("cannot read {}", lib.display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if entry.path().is_dir() && name.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                return Ok((entry.path(), name));
            }
        }
        bail!("no module directory (like 3.38/) in {}", lib.display())
    }

    /// Checks that `kind`'s program is present, with a message that says
    /// how to install it.
    pub fn check(&self, kind: ServerKind) -> anyhow::Result<()> {
        let (path, hint) = match kind {
            ServerKind::Sinkd => (
                self.sinkd.clone(),
                "build it (cargo build --release -p sinkd) or pass --sinkd PATH",
            ),
            ServerKind::Rsyslog => (
                self.rsyslogd.clone(),
                "install the peers with `bash load-tests/install-peers.sh` (CI's .ci/run does), or leave rsyslog out with --servers",
            ),
            ServerKind::SyslogNg => (
                self.syslog_ng_binary(),
                "install the peers with `bash load-tests/install-peers.sh` (CI's .ci/run does), set SINKD_SYSLOG_NG_ROOT, or leave syslog-ng out with --servers",
            ),
        };
        if !path.is_file() {
            bail!("{} not found at {}: {hint}", kind.name(), path.display());
        }
        if kind == ServerKind::SyslogNg {
            self.syslog_ng_modules()?;
        }
        Ok(())
    }

    /// The server's own version line, for the report.
    pub fn version(&self, kind: ServerKind) -> String {
        let output = match kind {
            ServerKind::Sinkd => Command::new(&self.sinkd).arg("--version").output(),
            ServerKind::Rsyslog => Command::new(&self.rsyslogd).arg("-v").output(),
            ServerKind::SyslogNg => Command::new(self.syslog_ng_binary())
                .env("LD_LIBRARY_PATH", self.syslog_ng_lib())
                .arg("--version")
                .output(),
        };
        output
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout).lines().next().map(|l| {
                    let line = l.trim().trim_end_matches("compiled with:");
                    line.split_whitespace().collect::<Vec<_>>().join(" ")
                })
            })
            .unwrap_or_else(|| "unknown".to_string())
    }
}

/// Where `install-peers.sh` unpacks syslog-ng-core.
pub const DEFAULT_SYSLOG_NG_ROOT: &str = "/opt/sinkd-peers/syslog-ng";

/// The filter every server applies, in the device's syntax (sinkd and
/// `sinkd-load --priority`) and rsyslog's (which reads it the same way).
pub const PRIORITY: &str = "*.notice;auth.*";

/// Everything a server's configuration depends on.
#[derive(Clone, Debug)]
pub struct Setup {
    pub kind: ServerKind,
    pub wire: Wire,
    pub port: u16,
    pub devices: u32,
    pub connections: usize,
    /// The run's private directory: config, pid, state files, log.
    pub dir: PathBuf,
    /// Where the per-device output goes (inside `dir`).
    pub out: PathBuf,
    pub certs: Option<CertFiles>,
    /// sinkd's `workers`; `0` leaves it to sinkd (one per CPU it may use).
    pub sinkd_workers: usize,
}

fn quote(path: &Path) -> String {
    path.display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
}

/// sinkd's TOML.
pub fn sinkd_config(setup: &Setup) -> anyhow::Result<String> {
    let mut text = String::new();
    if setup.sinkd_workers > 0 {
        text.push_str(&format!("workers = {}\n", setup.sinkd_workers));
    }
    text.push_str(&format!(
        "data_dir = \"{out}\"\nmetrics = \"off\"\n\n[[listen]]\ntransport = \"{transport}\"\naddress = \"127.0.0.1:{port}\"\n",
        out = quote(&setup.out),
        transport = setup.wire.transport().name(),
        port = setup.port,
    ));
    if setup.wire == Wire::Tls {
        let certs = setup.certs.as_ref().context("TLS needs certificates")?;
        text.push_str(&format!(
            "cert = \"{}\"\nkey = \"{}\"\n",
            quote(&certs.cert),
            quote(&certs.key)
        ));
    }
    text.push_str(&format!(
        "\n[[sink]]\nname = \"messages\"\ntarget = \"file {{device}}\"\npriority = \"{PRIORITY}\"\nformat = \"rfc3164\"\n\n[storage]\nfsync = \"never\"\nrotate_size = \"1G\"\nmax_open_files = {}\n",
        setup.devices as usize + 256
    ));
    Ok(text)
}

/// rsyslog's RainerScript configuration.
pub fn rsyslog_config(setup: &Setup) -> anyhow::Result<String> {
    let work = setup.dir.join("rsyslog-work");
    std::fs::create_dir_all(&work)?;
    let mut global = format!(
        "global(workDirectory=\"{}\" maxMessageSize=\"64k\"",
        quote(&work)
    );
    if setup.wire == Wire::Tls {
        let certs = setup.certs.as_ref().context("TLS needs certificates")?;
        global.push_str(&format!(
            " defaultNetstreamDriver=\"gtls\" defaultNetstreamDriverCAFile=\"{}\" defaultNetstreamDriverCertFile=\"{}\" defaultNetstreamDriverKeyFile=\"{}\"",
            quote(&certs.ca),
            quote(&certs.cert),
            quote(&certs.key)
        ));
    }
    global.push_str(")\n");
    let input = match setup.wire {
        Wire::Udp => format!(
            "module(load=\"imudp\" threads=\"1\" batchSize=\"256\")\ninput(type=\"imudp\" address=\"127.0.0.1\" port=\"{}\" rcvbufSize=\"32m\")\n",
            setup.port
        ),
        Wire::TcpLf | Wire::TcpOctet => format!(
            "module(load=\"imtcp\" maxSessions=\"{}\")\ninput(type=\"imtcp\" address=\"127.0.0.1\" port=\"{}\")\n",
            setup.connections.max(200) * 2,
            setup.port
        ),
        Wire::Tls => format!(
            "module(load=\"imtcp\" maxSessions=\"{}\" streamDriver.name=\"gtls\" streamDriver.mode=\"1\" streamDriver.authMode=\"anon\")\ninput(type=\"imtcp\" address=\"127.0.0.1\" port=\"{}\")\n",
            setup.connections.max(200) * 2,
            setup.port
        ),
    };
    Ok(format!(
        "# Generated by sinkd-compare; see docs/performance.md.\n{global}main_queue(queue.type=\"FixedArray\" queue.size=\"200000\" queue.dequeueBatchSize=\"1024\")\n{input}template(name=\"perhost\" type=\"string\" string=\"{out}/%HOSTNAME%/messages\")\nif prifilt(\"{PRIORITY}\") then {{\n  action(type=\"omfile\" dynaFile=\"perhost\" dynaFileCacheSize=\"{cache}\" template=\"RSYSLOG_TraditionalFileFormat\" asyncWriting=\"on\" ioBufferSize=\"256k\" flushOnTXEnd=\"off\" flushInterval=\"1\" createDirs=\"on\")\n}}\n",
        out = quote(&setup.out),
        cache = setup.devices.max(100),
    ))
}

/// syslog-ng's configuration, for module version `version` (`3.38`).
pub fn syslog_ng_config(setup: &Setup, version: &str) -> anyhow::Result<String> {
    let max_connections = (setup.connections * 2).max(10);
    let window = max_connections * 1000;
    let common = format!(
        "ip(\"127.0.0.1\") port({port}) max-connections({max_connections}) log-iw-size({window}) log-fetch-limit(1000)",
        port = setup.port
    );
    let source = match setup.wire {
        Wire::Udp => format!(
            "network(ip(\"127.0.0.1\") port({}) transport(\"udp\") flags(syslog-protocol) so-rcvbuf(33554432) log-fetch-limit(1000))",
            setup.port
        ),
        Wire::TcpLf => format!("network({common} transport(\"tcp\") flags(syslog-protocol))"),
        Wire::TcpOctet => format!("syslog({common} transport(\"tcp\"))"),
        Wire::Tls => {
            let certs = setup.certs.as_ref().context("TLS needs certificates")?;
            format!(
                "syslog({common} transport(\"tls\") tls(key-file(\"{}\") cert-file(\"{}\") peer-verify(optional-untrusted)))",
                quote(&certs.key),
                quote(&certs.cert)
            )
        }
    };
    Ok(format!(
        "@version: {version}\n# Generated by sinkd-compare; see docs/performance.md.\noptions {{\n  threaded(yes); keep-hostname(yes); chain-hostnames(no); use-dns(no); use-fqdn(no);\n  stats-freq(0); mark-freq(0); log-msg-size(65536); log-fifo-size({fifo});\n  flush-lines(1000); time-reopen(1); create-dirs(yes);\n}};\nsource s_in {{ {source}; }};\nfilter f_selected {{ level(notice..emerg) or facility(auth); }};\ndestination d_per_device {{ file(\"{out}/${{HOST}}/messages\" create-dirs(yes)); }};\nlog {{ source(s_in); filter(f_selected); destination(d_per_device); flags(flow-control); }};\n",
        fifo = (window * 2).max(200_000),
        out = quote(&setup.out),
    ))
}

/// Writes the configuration for `setup` and returns the command that runs
/// the server in the foreground with it (not yet pinned to a CPU).
pub fn prepare(programs: &Programs, setup: &Setup) -> anyhow::Result<Command> {
    std::fs::create_dir_all(&setup.out)
        .with_context(|| format!("cannot create {}", setup.out.display()))?;
    let dir = &setup.dir;
    let command = match setup.kind {
        ServerKind::Sinkd => {
            let config = dir.join("sinkd.toml");
            std::fs::write(&config, sinkd_config(setup)?)?;
            let mut command = Command::new(&programs.sinkd);
            command
                .arg("--config")
                .arg(&config)
                .env("SINKD_LOG", "warn");
            command
        }
        ServerKind::Rsyslog => {
            let config = dir.join("rsyslog.conf");
            std::fs::write(&config, rsyslog_config(setup)?)?;
            let mut command = Command::new(&programs.rsyslogd);
            command
                .arg("-n")
                .arg("-f")
                .arg(&config)
                .arg("-i")
                .arg(dir.join("rsyslog.pid"));
            command
        }
        ServerKind::SyslogNg => {
            let (modules, version) = programs.syslog_ng_modules()?;
            let config = dir.join("syslog-ng.conf");
            std::fs::write(&config, syslog_ng_config(setup, &version)?)?;
            let mut command = Command::new(programs.syslog_ng_binary());
            command
                .env("LD_LIBRARY_PATH", programs.syslog_ng_lib())
                .arg("-F")
                .arg("--no-caps")
                .arg("-f")
                .arg(&config)
                .arg("-p")
                .arg(dir.join("syslog-ng.pid"))
                .arg("-R")
                .arg(dir.join("syslog-ng.persist"))
                .arg("-c")
                .arg(dir.join("syslog-ng.ctl"))
                .arg(format!("--module-path={}", modules.display()));
            command
        }
    };
    Ok(command)
}
