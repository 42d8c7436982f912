//! The message mix `sinkd-load` sends: a pool of realistic syslog messages
//! generated once from a seed, then cycled through.
//!
//! Each device in the fleet has a kind that fixes how it speaks, as real
//! fleets do:
//!
//! | kind | hostname | format | facilities |
//! |---|---|---|---|
//! | server | `srv-00042` | RFC 3164, `tag[pid]:` | auth, authpriv, daemon, kern, cron, user |
//! | switch | `sw-00043` | RFC 3164 with a Cisco `%FAC-SEV-MNEMONIC:` | local7, local6 |
//! | router | `rtr-00044` | RFC 5424 with STRUCTURED-DATA (some values escaped) | daemon, local0–local3 |
//! | firewall | `fw-00045` | RFC 5424, STRUCTURED-DATA in about a third, key=value text | local4, security, auth, kern |
//!
//! Severities follow what collectors see in practice: mostly info and
//! notice, some warnings and errors, a little debug, rarely anything worse.
//! Every message carries `seq=NNNNNNNNNN` near the front of its text; the
//! sender patches the message's global index into those ten digits, so no
//! two messages on the wire are identical and a reader can spot gaps or
//! duplicates. Lengths are drawn uniformly from the size class (150–250
//! bytes or 1900–2200 bytes) and reached with filler tokens.
//!
//! Because the pool is fixed and cycled, [`Pool::count_passing`] knows
//! exactly how many of the first N generated messages a priority expression
//! selects — the number every server is expected to write.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sinkd_route::{Facility, PriorityTable, Severity};

#[cfg(test)]
mod tests;

/// Digits of the sequence number patched into every message.
pub const SEQ_DIGITS: usize = 10;

/// The marker in front of the sequence digits.
const SEQ_MARKER: &str = "seq=";

/// Message size classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SizeClass {
    /// 150 to 250 bytes: typical device messages.
    Small,
    /// 1900 to 2200 bytes: verbose application and firewall records.
    Large,
}

impl SizeClass {
    /// The inclusive range of message lengths in bytes.
    pub fn range(self) -> (usize, usize) {
        match self {
            SizeClass::Small => (150, 250),
            SizeClass::Large => (1900, 2200),
        }
    }

    /// The longest message this class produces.
    pub fn max_len(self) -> usize {
        self.range().1
    }

    pub fn name(self) -> &'static str {
        match self {
            SizeClass::Small => "small",
            SizeClass::Large => "large",
        }
    }
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct PoolOptions {
    pub seed: u64,
    /// Distinct hostnames (at least 1).
    pub devices: u32,
    pub size: SizeClass,
    /// Messages in the pool (at least 1); sending cycles through them.
    pub entries: usize,
    /// Timestamp of the first message; later ones are a little later.
    pub base_time: Timestamp,
}

impl PoolOptions {
    /// A pool size that covers every device several times and stays within
    /// a few tens of MiB, but is never larger than the run needs.
    pub fn entries_for(count: u64, devices: u32, size: SizeClass) -> usize {
        let floor: usize = match size {
            SizeClass::Small => 65_536,
            SizeClass::Large => 16_384,
        };
        let wanted = floor.max(devices as usize * 2);
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        wanted.min(count).max(1)
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    start: usize,
    len: usize,
    /// Offset of the first sequence digit within the message.
    seq_at: usize,
    facility: Facility,
    severity: Severity,
}

/// A generated pool of messages.
pub struct Pool {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
}

/// Device kinds, by `device index % 4`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Server,
    Switch,
    Router,
    Firewall,
}

impl Kind {
    fn of(device: u32) -> Kind {
        match device % 4 {
            0 => Kind::Server,
            1 => Kind::Switch,
            2 => Kind::Router,
            _ => Kind::Firewall,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Kind::Server => "srv",
            Kind::Switch => "sw",
            Kind::Router => "rtr",
            Kind::Firewall => "fw",
        }
    }

    /// (facility code, weight) pairs.
    fn facilities(self) -> &'static [(u8, u32)] {
        match self {
            Kind::Server => &[(4, 15), (10, 15), (3, 30), (0, 10), (9, 10), (1, 20)],
            Kind::Switch => &[(23, 85), (22, 15)],
            Kind::Router => &[(3, 20), (16, 20), (17, 20), (18, 20), (19, 20)],
            Kind::Firewall => &[(20, 60), (13, 20), (4, 10), (0, 10)],
        }
    }
}

/// Severity weights, emerg (0) to debug (7), in percent.
const SEVERITY_WEIGHTS: [(u8, u32); 8] = [
    (0, 1),
    (1, 2),
    (2, 3),
    (3, 10),
    (4, 14),
    (5, 20),
    (6, 40),
    (7, 10),
];

/// The device's hostname, the key every server files its messages under.
pub fn hostname(device: u32) -> String {
    format!("{}-{device:05}", Kind::of(device).prefix())
}

fn pick(rng: &mut StdRng, weighted: &[(u8, u32)]) -> u8 {
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut roll = rng.gen_range(0..total.max(1));
    for (value, weight) in weighted {
        if roll < *weight {
            return *value;
        }
        roll -= weight;
    }
    weighted.last().map(|(v, _)| *v).unwrap_or(0)
}

const SERVER_EVENTS: &[(&str, &str)] = &[
    (
        "sshd",
        "Accepted publickey for deploy from 10.20.{a}.{b} port {port} ssh2: ED25519 SHA256:q3Vx",
    ),
    (
        "sshd",
        "Failed password for invalid user admin from 203.0.113.{b} port {port} ssh2",
    ),
    (
        "sudo",
        "ops : TTY=pts/{a} ; PWD=/home/ops ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx",
    ),
    (
        "CRON",
        "(root) CMD (/usr/local/bin/backup --incremental --target /srv/backup/{a})",
    ),
    (
        "kernel",
        "[{port}.{b}] eth0: renamed from veth{a}; link becomes ready",
    ),
    (
        "systemd",
        "Started Session {port} of user ops; unit session-{port}.scope",
    ),
];

const SWITCH_EVENTS: &[(&str, &str)] = &[
    (
        "LINK-3-UPDOWN",
        "Interface GigabitEthernet1/0/{a}, changed state to down",
    ),
    (
        "LINEPROTO-5-UPDOWN",
        "Line protocol on Interface GigabitEthernet1/0/{a}, changed state to up",
    ),
    (
        "SEC_LOGIN-5-LOGIN_SUCCESS",
        "Login Success [user: netops] [Source: 10.9.{a}.{b}] [localport: 22]",
    ),
    (
        "SYS-5-CONFIG_I",
        "Configured from console by netops on vty0 (10.9.{a}.{b})",
    ),
    (
        "DOT1X-5-FAIL",
        "Authentication failed for client (0050.56{a}.{b}) on Interface Gi1/0/{a}",
    ),
];

const ROUTER_EVENTS: &[(&str, &str, &str)] = &[
    (
        "rpd",
        "SNMP_TRAP_LINK_DOWN",
        "ifIndex {port}, ifAdminStatus up(1), ifOperStatus down(2), ifName ge-0/0/{a}",
    ),
    (
        "rpd",
        "BGP_PREFIX_THRESH_EXCEEDED",
        "192.0.2.{b} (External AS 645{a}): Configured maximum prefix-limit threshold(160) exceeded",
    ),
    (
        "mgd",
        "UI_COMMIT_COMPLETED",
        "commit complete by netops via netconf session {port}",
    ),
    (
        "chassisd",
        "CHASSISD_SNMP_TRAP7",
        "SNMP trap generated: FRU power on (jnxFruContentsIndex 7, jnxFruL1Index {a})",
    ),
];

const FIREWALL_EVENTS: &[(&str, &str, &str)] = &[
    (
        "fwd",
        "TRAFFIC",
        "action=deny proto=tcp src=198.51.100.{b} sport={port} dst=10.1.{a}.20 dport=443 rule=drop-inbound",
    ),
    (
        "fwd",
        "TRAFFIC",
        "action=allow proto=udp src=10.1.{a}.{b} sport={port} dst=192.0.2.53 dport=53 rule=dns-out",
    ),
    (
        "ipsec",
        "TUNNEL",
        "event=rekey peer=203.0.113.{b} spi=0x{port} tunnel=branch-{a} status=ok",
    ),
    (
        "authd",
        "LOGIN",
        "event=admin-login user=secops src=10.1.{a}.{b} method=radius result=success",
    ),
];

const FILLER_WORDS: &[&str] = &[
    "vlan=120",
    "zone=trust",
    "bytes=18234",
    "pkts=17",
    "policy=7",
    "session=0x3fa2",
    "ttl=64",
    "iface=xe-0/0/1",
    "cpu=12%",
    "mem=41%",
    "queue=3",
    "retry=0",
    "path=/var/run",
    "note=steady",
    "state=established",
];

fn fill_placeholders(template: &str, rng: &mut StdRng) -> String {
    let a: u32 = rng.gen_range(1..48);
    let b: u32 = rng.gen_range(1..255);
    let port: u32 = rng.gen_range(1024..65000);
    template
        .replace("{a}", &a.to_string())
        .replace("{b}", &b.to_string())
        .replace("{port}", &port.to_string())
}

fn month_day_time(zoned: &jiff::Zoned) -> String {
    zoned.strftime("%b %e %H:%M:%S").to_string()
}

fn rfc3339_micros(zoned: &jiff::Zoned) -> String {
    format!(
        "{}.{:06}Z",
        zoned.strftime("%Y-%m-%dT%H:%M:%S"),
        zoned.subsec_nanosecond() / 1000
    )
}

/// Builds one message: header and the `seq=` field, then the event text,
/// then filler up to `target_len`. Returns the text and the offset of the
/// first sequence digit.
fn build_message(
    rng: &mut StdRng,
    device: u32,
    facility: u8,
    severity: u8,
    time: Timestamp,
    target_len: usize,
) -> (String, usize) {
    let kind = Kind::of(device);
    let host = hostname(device);
    let pri = u32::from(facility) * 8 + u32::from(severity);
    let zoned = time.to_zoned(TimeZone::UTC);
    let seq_field = format!("{SEQ_MARKER}{}", "0".repeat(SEQ_DIGITS));
    let pid: u32 = rng.gen_range(100..40_000);
    let (head, text) = match kind {
        Kind::Server => {
            let (tag, event) = SERVER_EVENTS[rng.gen_range(0..SERVER_EVENTS.len())];
            (
                format!("<{pri}>{} {host} {tag}[{pid}]: ", month_day_time(&zoned)),
                fill_placeholders(event, rng),
            )
        }
        Kind::Switch => {
            let (mnemonic, event) = SWITCH_EVENTS[rng.gen_range(0..SWITCH_EVENTS.len())];
            // The severity digit in the mnemonic agrees with the PRI.
            let mnemonic = match mnemonic.split_once('-') {
                Some((facility_part, rest)) => {
                    let rest = rest.split_once('-').map(|(_, m)| m).unwrap_or(rest);
                    format!("{facility_part}-{severity}-{rest}")
                }
                None => mnemonic.to_string(),
            };
            let counter: u32 = rng.gen_range(1..1_000_000);
            (
                format!(
                    "<{pri}>{} {host} {counter}: %{mnemonic}: ",
                    month_day_time(&zoned)
                ),
                fill_placeholders(event, rng),
            )
        }
        Kind::Router => {
            let (app, msgid, event) = ROUTER_EVENTS[rng.gen_range(0..ROUTER_EVENTS.len())];
            let a: u32 = rng.gen_range(0..48);
            let sd = if rng.gen_bool(0.25) {
                format!(
                    "[junos@2636.1.1.1.2.18 interface-name=\"ge-0/0/{a}\" descr=\"uplink \\\"core-{a}\\\" \\]\"][meta sequenceId=\"{pid}\"]"
                )
            } else {
                format!(
                    "[junos@2636.1.1.1.2.18 interface-name=\"ge-0/0/{a}\" admin-status=\"up\"][meta sequenceId=\"{pid}\"]"
                )
            };
            (
                format!(
                    "<{pri}>1 {} {host} {app} {pid} {msgid} {sd} ",
                    rfc3339_micros(&zoned)
                ),
                fill_placeholders(event, rng),
            )
        }
        Kind::Firewall => {
            let (app, msgid, event) = FIREWALL_EVENTS[rng.gen_range(0..FIREWALL_EVENTS.len())];
            let sd = if rng.gen_bool(0.33) {
                format!(
                    "[origin ip=\"10.255.0.{}\" software=\"fwos\" swVersion=\"7.4.2\"]",
                    device % 250 + 1
                )
            } else {
                "-".to_string()
            };
            (
                format!(
                    "<{pri}>1 {} {host} {app} - {msgid} {sd} ",
                    rfc3339_micros(&zoned)
                ),
                fill_placeholders(event, rng),
            )
        }
    };
    let mut message = String::with_capacity(target_len + 64);
    message.push_str(&head);
    message.push_str(&seq_field);
    let protected = message.len();
    let seq_at = protected - SEQ_DIGITS;
    message.push(' ');
    message.push_str(&text);
    while message.len() < target_len {
        message.push(' ');
        message.push_str(FILLER_WORDS[rng.gen_range(0..FILLER_WORDS.len())]);
    }
    // Trim filler (or the tail of the event text) back to the drawn length,
    // never cutting into the header, the sequence field or the first words
    // of the event. Every byte is ASCII, so any cut is a character boundary.
    let keep = target_len.max(protected + 24);
    if message.len() > keep {
        message.truncate(keep);
        while message.ends_with(' ') {
            message.pop();
        }
    }
    (message, seq_at)
}

impl Pool {
    /// Generates the pool. Deterministic for a given `options` (the seed,
    /// device count, size class, entry count and base time).
    pub fn generate(options: &PoolOptions) -> Pool {
        let mut rng = StdRng::seed_from_u64(options.seed);
        let devices = options.devices.max(1);
        let entries_wanted = options.entries.max(1);
        let (min_len, max_len) = options.size.range();
        let mut bytes = Vec::with_capacity(entries_wanted * (min_len + max_len) / 2);
        let mut entries = Vec::with_capacity(entries_wanted);
        for index in 0..entries_wanted {
            let device = rng.gen_range(0..devices);
            let kind = Kind::of(device);
            let facility_code = pick(&mut rng, kind.facilities());
            let severity_code = pick(&mut rng, &SEVERITY_WEIGHTS);
            let time = options
                .base_time
                .saturating_add(SignedDuration::from_micros(index as i64 * 997))
                .unwrap_or(options.base_time);
            let target_len = rng.gen_range(min_len..=max_len);
            let (message, seq_at) = build_message(
                &mut rng,
                device,
                facility_code,
                severity_code,
                time,
                target_len,
            );
            let (Some(facility), Some(severity)) = (
                Facility::from_code(facility_code),
                Severity::from_code(severity_code),
            ) else {
                continue;
            };
            entries.push(Entry {
                start: bytes.len(),
                len: message.len(),
                seq_at,
                facility,
                severity,
            });
            bytes.extend_from_slice(message.as_bytes());
        }
        Pool { bytes, entries }
    }

    /// Messages in the pool.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The longest message in the pool.
    pub fn max_len(&self) -> usize {
        self.entries.iter().map(|e| e.len).max().unwrap_or(0)
    }

    fn entry(&self, index: u64) -> &Entry {
        // `generate` always produces at least one entry (the facility and
        // severity codes it draws are all valid), so the modulus is never 0.
        &self.entries[(index % self.entries.len() as u64) as usize]
    }

    /// Length of message `index` in bytes.
    pub fn message_len(&self, index: u64) -> usize {
        self.entry(index).len
    }

    /// Appends message `index` (the pool cycles) to `out`, with `index`
    /// written into its sequence digits, and returns its length.
    pub fn write_message(&self, index: u64, out: &mut Vec<u8>) -> usize {
        let entry = self.entry(index);
        let begin = out.len();
        out.extend_from_slice(&self.bytes[entry.start..entry.start + entry.len]);
        let digits = &mut out[begin + entry.seq_at..begin + entry.seq_at + SEQ_DIGITS];
        let mut rest = index;
        for slot in digits.iter_mut().rev() {
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        entry.len
    }

    /// Facility and severity of message `index`.
    pub fn priority(&self, index: u64) -> (Facility, Severity) {
        let entry = self.entry(index);
        (entry.facility, entry.severity)
    }

    /// Whether `table` selects message `index`.
    pub fn passes(&self, table: &PriorityTable, index: u64) -> bool {
        let (facility, severity) = self.priority(index);
        table.matches(facility, severity)
    }

    /// How many of the messages `first .. first + count` `table` selects.
    pub fn count_passing(&self, table: &PriorityTable, first: u64, count: u64) -> u64 {
        let n = self.entries.len() as u64;
        if n == 0 || count == 0 {
            return 0;
        }
        let per_cycle = (0..n).filter(|i| self.passes(table, *i)).count() as u64;
        let full_cycles = count / n;
        let remainder = count % n;
        let start = first % n;
        let tail = (0..remainder)
            .filter(|k| self.passes(table, start + k))
            .count() as u64;
        full_cycles * per_cycle + tail
    }
}
