//! Shared inputs for sinkd's criterion benchmarks: realistic ~200-byte
//! messages in each wire format, so every group measures the same traffic.
//! The benchmarks themselves are in `default.rs` (`cargo bench -p sinkd-benches`).

/// A 5424 message of about 200 bytes with structured data, as a firewall sends it.
pub const RFC5424_MESSAGE: &[u8] = b"<165>1 2026-03-08T09:15:32.123456+01:00 fw-edge-01.example.net firewalld 4123 CONN [origin ip=\"192.0.2.10\" software=\"fw\"][meta sequenceId=\"2817\"] Accepted TCP 198.51.100.7:51034 -> 10.0.0.5:443";

/// A 3164 message of about 200 bytes as a switch sends it.
pub const RFC3164_MESSAGE: &[u8] = b"<189>Mar  8 09:15:32 switch-042.site-a.example.net linkd[1203]: Link up on eth1, speed 1000Mbps full duplex, autonegotiation complete, LLDP neighbour core-sw-01 port Gi1/0/24 vlan 20";

/// A Cisco IOS message with a sequence number and a `%FAC-SEV-MNEMONIC`.
pub const CISCO_MESSAGE: &[u8] = b"<189>4711: *Mar  1 18:46:11.123: %LINEPROTO-5-UPDOWN: Line protocol on Interface GigabitEthernet0/1, changed state to down after keepalive timeout from peer 10.1.1.2";

/// `count` copies of `message`, each framed for `framing`.
pub fn framed_stream(message: &[u8], count: usize, octet_counting: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity((message.len() + 8) * count);
    for _ in 0..count {
        if octet_counting {
            out.extend_from_slice(message.len().to_string().as_bytes());
            out.push(b' ');
            out.extend_from_slice(message);
        } else {
            out.extend_from_slice(message);
            out.push(b'\n');
        }
    }
    out
}
