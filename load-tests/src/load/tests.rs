//! Whole runs against loopback listeners, and the small parsers.

use super::{parse_snmp, parse_snmp6, run, split_ranges, LoadOptions, Transport};
use crate::pool::SizeClass;
use crate::send::Framing;
use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

fn options(target: std::net::SocketAddr, transport: Transport) -> LoadOptions {
    LoadOptions {
        target,
        transport,
        framing: Framing::Lf,
        connections: 1,
        rate: None,
        count: 1000,
        duration: Duration::from_secs(20),
        size: SizeClass::Small,
        devices: 10,
        seed: 1,
        priority: Some("*.notice;auth.*".to_string()),
        tls: None,
        udp_batch: 64,
        progress: false,
    }
}

#[test]
fn snmp_counters_are_read_by_name() {
    let snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 100 2 7 90 5 0\nUdpLite: InDatagrams RcvbufErrors\nUdpLite: 0 9\n";
    assert_eq!(parse_snmp(snmp, "Udp", "RcvbufErrors"), Some(5));
    assert_eq!(parse_snmp(snmp, "Udp", "InErrors"), Some(7));
    assert_eq!(parse_snmp(snmp, "UdpLite", "RcvbufErrors"), Some(9));
    assert_eq!(parse_snmp(snmp, "Udp", "Missing"), None);
    let snmp6 = "Udp6InDatagrams                 \t12\nUdp6RcvbufErrors                \t3\n";
    assert_eq!(parse_snmp6(snmp6, "Udp6RcvbufErrors"), Some(3));
    assert_eq!(parse_snmp6(snmp6, "Udp6SndbufErrors"), None);
}

#[test]
fn ranges_cover_the_count_without_overlap() {
    assert_eq!(split_ranges(10, 3), vec![(0, 4), (4, 3), (7, 3)]);
    assert_eq!(split_ranges(2, 4), vec![(0, 1), (1, 1), (2, 0), (2, 0)]);
    assert_eq!(split_ranges(5, 0), vec![(0, 5)]);
}

#[test]
fn refuses_non_loopback_and_unbounded_runs() {
    let mut outside = options("192.0.2.1:514".parse().unwrap(), Transport::Udp);
    assert!(run(&outside)
        .unwrap_err()
        .to_string()
        .contains("non-loopback"));
    outside.target = "127.0.0.1:9".parse().unwrap();
    outside.count = 0;
    assert!(run(&outside).is_err());
    outside.count = 10;
    outside.duration = Duration::ZERO;
    assert!(run(&outside).is_err());
    outside.duration = Duration::from_secs(1);
    outside.transport = Transport::Tls;
    assert!(run(&outside).unwrap_err().to_string().contains("--ca"));
}

#[test]
fn tcp_run_over_many_connections_sends_every_message_once() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let connections = 4;
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut streams = Vec::new();
        for _ in 0..connections {
            streams.push(listener.accept().unwrap().0);
        }
        for mut stream in streams {
            let mut data = String::new();
            stream.read_to_string(&mut data).unwrap();
            lines.extend(data.lines().map(str::to_string));
        }
        lines
    });
    let mut opts = options(address, Transport::Tcp);
    opts.connections = connections;
    opts.count = 5003;
    let summary = run(&opts).unwrap();
    let lines = reader.join().unwrap();
    assert_eq!(summary.sent, 5003);
    assert_eq!(summary.stopped_by, "count");
    assert_eq!(lines.len(), 5003);
    let mut seqs: Vec<u64> = lines
        .iter()
        .map(|l| {
            let at = l.find("seq=").unwrap() + 4;
            l[at..at + 10].parse().unwrap()
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..5003).collect::<Vec<u64>>());
    let passing = summary.passing.unwrap();
    assert!(passing > 1000 && passing < 4500, "{passing}");
    let json = serde_json::to_value(&summary).unwrap();
    assert_eq!(json["transport"], "tcp");
    assert_eq!(json["framing"], "lf");
    assert_eq!(json["udp_eagain"], serde_json::Value::Null);
    assert!(summary.end_monotonic_ns >= summary.start_monotonic_ns);
}

#[test]
fn udp_run_reports_kernel_counters() {
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut opts = options(receiver.local_addr().unwrap(), Transport::Udp);
    opts.count = 200;
    let summary = run(&opts).unwrap();
    assert_eq!(summary.sent, 200);
    assert!(summary.udp_eagain.is_some() && summary.udp_enobufs.is_some());
    assert!(summary.kernel_udp_rcvbuf_errors.is_some());
    assert!(summary.framing.is_none());
    assert!(summary.to_text().contains("kernel refused sends"));
}
