//! Messages in, segments out: util-linux `logger` and hand-made frames over
//! UDP and TCP, in RFC 3164 and RFC 5424, LF-terminated and octet-counted,
//! from several devices, checked against what lands in each device's
//! streams (docs/adr/0001-segment-layout.md) and against the counters on
//! `/metrics` (docs/specs/metrics.md).

use crate::harness::{
    hostname, logger, octet_counted, read_stream, send_tcp, send_udp, stream_names, Sandbox, Server,
};
use std::collections::{BTreeMap, BTreeSet};

fn config(ports: &crate::harness::Ports) -> String {
    format!(
        r#"
[[listen]]
transport = "udp"
address = "127.0.0.1:{udp}"

[[listen]]
transport = "tcp"
address = "127.0.0.1:{tcp}"

[[sink]]
name = "messages"
target = "file {{device}}/messages"
priority = "*.notice;auth.!*"

[[sink]]
name = "debug"
target = "file {{device}}/debug"
priority = "*.=debug"
"#,
        udp = ports.udp,
        tcp = ports.tcp
    )
}

/// A message the test sent: its unique token and the stream it must land
/// in (`None`: filtered by every sink).
struct Expected {
    token: String,
    stream: Option<String>,
}

#[test]
fn logger_and_raw_frames_land_once_in_their_device_streams() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, config);
    let udp = server.ports.udp.to_string();
    let tcp = server.ports.tcp.to_string();
    let host = hostname();
    // logger writes the short name in RFC 3164 headers and the full name in
    // RFC 5424 ones.
    let short_host = host.split('.').next().unwrap_or(&host).to_owned();
    let device_3164 = sinkd_store::sanitize_component(&short_host).into_owned();
    let device_5424 = sinkd_store::sanitize_component(&host).into_owned();
    let mut expected = Vec::new();
    let mut devices = BTreeSet::from([short_host.clone(), host.clone()]);

    // logger over both transports, both formats, and both TCP framings;
    // three messages per run (one connection, or three datagrams).
    let cases: [(&str, &[&str], &str); 6] = [
        ("udp-3164", &["-d", "--rfc3164"], &device_3164),
        ("udp-5424", &["-d", "--rfc5424"], &device_5424),
        ("tcp-3164", &["-T", "--rfc3164"], &device_3164),
        ("tcp-5424", &["-T", "--rfc5424"], &device_5424),
        (
            "tcp-3164-oc",
            &["-T", "--rfc3164", "--octet-count"],
            &device_3164,
        ),
        (
            "tcp-5424-oc",
            &["-T", "--rfc5424", "--octet-count"],
            &device_5424,
        ),
    ];
    let (mut n_udp, mut n_tcp) = (0u64, 0u64);
    for (name, flags, device) in cases {
        let port = if flags[0] == "-d" { &udp } else { &tcp };
        let mut args = vec!["-n", "127.0.0.1", "-P", port.as_str(), "-t", "e2e"];
        args.extend_from_slice(flags);
        let tokens: Vec<String> = (0..3).map(|i| format!("tok-{name}-{i}")).collect();
        logger(&args, &(tokens.join("\n") + "\n"));
        for token in tokens {
            expected.push(Expected {
                token,
                stream: Some(format!("{device}/messages")),
            });
        }
        if flags[0] == "-d" {
            n_udp += 3;
        } else {
            n_tcp += 3;
        }
    }
    // logger with priorities the sinks filter or route elsewhere.
    for (priority, token, stream) in [
        ("auth.err", "tok-auth-err", None),
        ("user.info", "tok-user-info", None),
        (
            "local0.debug",
            "tok-local0-debug",
            Some(format!("{device_3164}/debug")),
        ),
    ] {
        logger(
            &[
                "-n",
                "127.0.0.1",
                "-P",
                &udp,
                "-d",
                "--rfc3164",
                "-p",
                priority,
                token,
            ],
            "",
        );
        n_udp += 1;
        expected.push(Expected {
            token: token.to_owned(),
            stream,
        });
    }

    // Hand-made frames from other devices.
    let mut raw = |token: &str, stream: Option<&str>| {
        expected.push(Expected {
            token: token.to_owned(),
            stream: stream.map(str::to_owned),
        });
    };
    send_udp(
        server.ports.udp,
        b"<13>Oct 11 22:14:15 router-a app: raw-a-udp",
    );
    raw("raw-a-udp", Some("router-a/messages"));
    send_udp(
        server.ports.udp,
        b"<34>Oct 11 22:14:15 router-a sshd[7]: raw-a-auth",
    );
    raw("raw-a-auth", None);
    send_udp(server.ports.udp, b"<13>raw-bare-no-host");
    raw("raw-bare-no-host", Some("127.0.0.1/messages"));
    n_udp += 3;
    send_tcp(
        server.ports.tcp,
        b"<13>1 2026-01-01T00:00:00Z router-b app - - - raw-b-tcp\n\
          <13>1 2026-01-01T00:00:00Z router-c app - - - raw-c-tcp\n\
          <191>Oct 11 22:14:15 router-b app: raw-b-debug\n",
    );
    raw("raw-b-tcp", Some("router-b/messages"));
    raw("raw-c-tcp", Some("router-c/messages"));
    raw("raw-b-debug", Some("router-b/debug"));
    let mut framed = octet_counted(b"<165>1 2026-01-01T00:00:00Z router-d app - - - raw-d-oc-1");
    framed.extend(octet_counted(
        b"<165>1 2026-01-01T00:00:00Z router-d app - - - raw-d-oc-2\nwith a newline inside",
    ));
    send_tcp(server.ports.tcp, &framed);
    raw("raw-d-oc-1", Some("router-d/messages"));
    raw("raw-d-oc-2", Some("router-d/messages"));
    n_tcp += 5;
    devices
        .extend(["router-a", "router-b", "router-c", "router-d", "127.0.0.1"].map(str::to_owned));

    let n_stored = expected.iter().filter(|e| e.stream.is_some()).count() as u64;
    let n_messages_sink = expected
        .iter()
        .filter(|e| {
            e.stream
                .as_deref()
                .is_some_and(|s| s.ends_with("/messages"))
        })
        .count() as u64;
    let n_unrouted = expected.iter().filter(|e| e.stream.is_none()).count() as u64;
    server.wait_count("sinkd_store_lines_written_total", n_stored);
    let scrape = server.scrape();
    let stopped = server.stop();
    stopped.assert_clean_exit();

    assert_eq!(
        scrape.count("sinkd_messages_received_total{transport=\"udp\"}"),
        n_udp,
        "{}",
        scrape.text()
    );
    assert_eq!(
        scrape.count("sinkd_messages_received_total{transport=\"tcp\"}"),
        n_tcp
    );
    assert_eq!(stopped.received(), n_udp + n_tcp);
    assert_eq!(
        scrape.count("sinkd_sink_messages_total{sink=\"messages\"}"),
        n_messages_sink
    );
    assert_eq!(scrape.count("sinkd_sink_messages_total{sink=\"debug\"}"), 2);
    assert_eq!(scrape.count("sinkd_messages_unrouted_total"), n_unrouted);
    assert_eq!(scrape.count("sinkd_devices"), devices.len() as u64);
    assert_eq!(scrape.count("sinkd_store_lines_written_total"), n_stored);
    assert_eq!(scrape.count("sinkd_messages_unparsed_total"), 0);
    // Every segment write is one observation of receive-to-written latency.
    let n_writes = scrape.count("sinkd_receive_to_write_seconds_count");
    assert!(
        n_writes >= 1 && n_writes <= n_stored,
        "{n_writes} writes for {n_stored} lines"
    );

    // Every stream the test expects, and no other.
    let data_dir = sandbox.data_dir();
    let wanted_streams: BTreeSet<String> =
        expected.iter().filter_map(|e| e.stream.clone()).collect();
    let streams: BTreeSet<String> = stream_names(&data_dir).into_iter().collect();
    assert_eq!(streams, wanted_streams);
    let mut all_lines: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut n_lines = 0;
    for stream in &streams {
        let lines = read_stream(&data_dir, stream);
        let seqs: Vec<u64> = lines.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(seqs, (1..=lines.len() as u64).collect::<Vec<_>>());
        n_lines += lines.len();
        all_lines.insert(
            stream.clone(),
            lines.into_iter().map(|(_, line)| line).collect(),
        );
    }
    assert_eq!(n_lines as u64, n_stored);
    for message in &expected {
        let holders: Vec<(&String, usize)> = all_lines
            .iter()
            .map(|(stream, lines)| {
                let n = lines
                    .iter()
                    .filter(|line| holds_token(line, &message.token))
                    .count();
                (stream, n)
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        match &message.stream {
            Some(stream) => assert_eq!(
                holders,
                vec![(stream, 1)],
                "{} must be stored once in {stream}: {all_lines:#?}",
                message.token
            ),
            None => assert!(
                holders.is_empty(),
                "{} was filtered but stored in {holders:?}",
                message.token
            ),
        }
    }
    let router_d = &all_lines["router-d/messages"];
    assert!(router_d[0].ends_with(" raw-d-oc-1"), "{router_d:?}");
    // A newline inside an octet-counted frame is escaped (as rsyslog does,
    // `#012`), so the message stays one line.
    assert!(
        router_d[1].ends_with(" raw-d-oc-2#012with a newline inside"),
        "{router_d:?}"
    );
    // The stored line names its device in its own header.
    assert!(all_lines["router-a/messages"][0].contains(" router-a app: raw-a-udp"));
}

/// Whether `line` holds `token` as a whole word: not followed by another
/// letter, digit or `-` (so `tok-a-1` does not match `tok-a-10`).
fn holds_token(line: &str, token: &str) -> bool {
    line.match_indices(token).any(|(at, _)| {
        line[at + token.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '-'))
    })
}
