//! Worker tests on real stores in temporary directories: routing by
//! priority, device keys, and the counters.

use super::*;
use crate::{SinkConfig, Target};
use sinkd_listen::RawBatch;
use sinkd_metrics::Transport;
use sinkd_proto::format::OutputFormat;
use sinkd_relay::{RelayConfig, RelayTransport};
use sinkd_route::Templates;
use sinkd_store::{PathTemplate, Store, StoreConfig};

/// A file sink writing `path` (a template) in `format`, taking `priority`.
fn file_sink(name: &str, path: &str, priority: &str, format: OutputFormat) -> SinkConfig {
    SinkConfig {
        name: name.to_owned(),
        target: Target::File(PathTemplate::parse(path).unwrap()),
        target_text: format!("file {path}"),
        priority_text: priority.to_owned(),
        table: sinkd_route::compile(priority, &Templates::with_defaults()).unwrap(),
        format: SinkFormat::Line(format),
    }
}

fn setup(sinks: &[SinkConfig]) -> (tempfile::TempDir, Store, Worker, Arc<Metrics>) {
    let dir = tempfile::tempdir().unwrap();
    let metrics = Metrics::new();
    let routes = Arc::new(ArcSwap::from_pointee(
        Routes::build(sinks, &metrics, |_| None).unwrap(),
    ));
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let devices = DeviceSet::new(Arc::clone(&metrics));
    let worker = Worker::new(
        routes,
        store.writer(),
        Arc::clone(&metrics),
        devices,
        TimeZone::UTC,
    );
    (dir, store, worker, metrics)
}

fn batch(frames: &[&[u8]]) -> RawBatch {
    let mut batch = RawBatch::with_capacity(Transport::Udp, 1_772_960_000_000_000, 4096, 16);
    for frame in frames {
        assert!(batch.push(frame, "192.0.2.7:40000".parse().unwrap()));
    }
    batch
}

fn read_stream(dir: &std::path::Path, stream: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut reader = sinkd_store::StreamReader::open(dir, stream).unwrap();
    while let Some((_seq, line)) = reader.next_line().unwrap() {
        lines.push(String::from_utf8_lossy(line).into_owned());
    }
    lines
}

#[test]
fn routes_by_priority_and_device() {
    let (dir, store, mut worker, metrics) = setup(&[
        file_sink("all", "{device}/messages", "*.*", OutputFormat::Rfc3164),
        file_sink("auth", "{device}/auth.log", "auth.*", OutputFormat::Rfc5424),
    ]);
    worker.process(&batch(&[
        b"<38>Mar  8 09:15:32 sw1 sshd[12]: Accepted password for admin",
        b"<13>no header at all",
        b"garbage",
    ]));
    store.shutdown().unwrap();
    let messages = read_stream(dir.path(), "sw1/messages");
    assert_eq!(
        messages,
        vec!["<38>Mar  8 09:15:32 sw1 sshd[12] Accepted password for admin"]
    );
    let auth = read_stream(dir.path(), "sw1/auth.log");
    assert_eq!(auth.len(), 1);
    assert!(
        auth[0].starts_with("<38>1 2026-03-08T09:15:32.000000Z sw1 sshd 12 - -"),
        "{}",
        auth[0]
    );
    // No hostname: the source address is the device.
    assert_eq!(read_stream(dir.path(), "192.0.2.7/messages").len(), 2);
    // Receipt is the listeners' count; the worker must not add to it.
    assert_eq!(metrics.received(Transport::Udp).get(), 0);
    assert_eq!(metrics.unparsed.get(), 1);
    assert_eq!(metrics.devices.get(), 2);
    assert_eq!(metrics.sink("all").messages.get(), 3);
    assert_eq!(metrics.sink("auth").messages.get(), 1);
}

#[test]
fn sinks_of_one_format_store_the_same_line() {
    // The third sink copies the first one's line; the second, of another
    // format, sits between them and formats its own.
    let (dir, store, mut worker, metrics) = setup(&[
        file_sink("a", "{device}/a", "*.*", OutputFormat::Rfc5424),
        file_sink("b", "{device}/b", "*.*", OutputFormat::Rfc3164),
        file_sink("c", "{device}/c", "auth.*", OutputFormat::Rfc5424),
    ]);
    let frames: [&[u8]; 3] = [
        b"<38>Mar  8 09:15:32 sw1 sshd[12]: Accepted\tpassword",
        b"<13>1 2026-03-08T09:15:32.5Z sw1 app - - [x a=\"1\"] user line",
        b"<34>1 2026-03-08T09:15:33Z sw1 su - ID47 [x  a=\"]\"] su\x01 line",
    ];
    worker.process(&batch(&frames));
    store.shutdown().unwrap();
    let received = ReceiveTime::new(1_772_960_000, 0, 0);
    let expected = |format, frames: &[&[u8]]| -> Vec<String> {
        frames
            .iter()
            .map(|frame| {
                let mut line = Vec::new();
                write_escaped(&parse(frame, &received), format, &received.local, &mut line);
                String::from_utf8(line).unwrap()
            })
            .collect()
    };
    let rfc5424 = expected(OutputFormat::Rfc5424, &frames);
    assert_eq!(read_stream(dir.path(), "sw1/a"), rfc5424);
    assert_eq!(
        read_stream(dir.path(), "sw1/b"),
        expected(OutputFormat::Rfc3164, &frames)
    );
    assert_eq!(
        read_stream(dir.path(), "sw1/c"),
        vec![rfc5424[0].clone(), rfc5424[2].clone()]
    );
    let bytes = |lines: &[String]| lines.iter().map(|line| line.len() as u64 + 1).sum::<u64>();
    assert_eq!(metrics.sink("c").messages.get(), 2);
    assert_eq!(
        metrics.sink("c").bytes.get(),
        bytes(&[rfc5424[0].clone(), rfc5424[2].clone()])
    );
}

#[test]
fn filtered_messages_are_counted_not_stored() {
    let (dir, store, mut worker, metrics) = setup(&[file_sink(
        "sink-1",
        "{device}/messages",
        "*.notice;kern.!*",
        OutputFormat::Rfc3164,
    )]);
    worker.process(&batch(&[
        b"<7>Mar  8 09:15:32 sw1 kernel: debug line",
        b"<14>Mar  8 09:15:32 sw1 app: info line",
        b"<13>Mar  8 09:15:32 sw1 app: notice line",
    ]));
    store.shutdown().unwrap();
    let lines = read_stream(dir.path(), "sw1/messages");
    assert_eq!(lines.len(), 1);
    assert!(lines[0].ends_with("notice line"));
    assert_eq!(metrics.unrouted.get(), 2);
}

#[test]
fn hostile_hostnames_stay_inside_data_dir() {
    let (dir, store, mut worker, _metrics) = setup(&[file_sink(
        "sink-1",
        "{device}/messages",
        "*.*",
        OutputFormat::Rfc3164,
    )]);
    worker.process(&batch(&[
        b"<13>Mar  8 09:15:32 ../../etc/passwd app: x",
        b"<13>1 2026-03-08T09:15:32Z .. app - - - y",
    ]));
    store.shutdown().unwrap();
    let streams = sinkd_store::list_streams(dir.path()).unwrap();
    assert_eq!(streams.len(), 2, "{streams:?}");
    for stream in streams {
        assert!(
            stream
                .path
                .split('/')
                .all(|component| component != ".." && component != "."),
            "{stream:?}"
        );
    }
}

#[test]
fn control_characters_are_escaped_in_lines() {
    let (dir, store, mut worker, _metrics) = setup(&[file_sink(
        "sink-1",
        "{device}/messages",
        "*.*",
        OutputFormat::Bsd,
    )]);
    worker.process(&batch(&[b"<13>1 - sw1 app - - - one\ttwo\rthree"]));
    store.shutdown().unwrap();
    assert_eq!(
        read_stream(dir.path(), "sw1/messages"),
        vec!["<13>app: one#011two#015three"]
    );
}

#[test]
fn relay_sinks_get_the_wire_format_not_the_store_form() {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let mut relay = RelayConfig::new(
        "central",
        RelayTransport::Tcp,
        "127.0.0.1",
        port,
        dir.path(),
    );
    relay.framing = sinkd_proto::framing::Framing::NonTransparent;
    let sink = SinkConfig {
        target: Target::Relay(relay),
        target_text: format!("tcp address 127.0.0.1:{port}"),
        ..file_sink("central", "x", "*.*", OutputFormat::Rfc5424)
    };
    let metrics = Metrics::new();
    let relays = sinkd_relay::Relays::new(Arc::clone(&metrics));
    let plan = relays.prepare(vec![sink.relay().unwrap().clone()]).unwrap();
    let routes = Arc::new(ArcSwap::from_pointee(
        Routes::build(&[sink], &metrics, |relay| plan.handle(&relay.name)).unwrap(),
    ));
    plan.commit();
    assert_eq!(routes.load().relay_names(), ["central"]);
    let store = Store::open(StoreConfig::new(dir.path().join("store"))).unwrap();
    let mut worker = Worker::new(
        routes,
        store.writer(),
        Arc::clone(&metrics),
        DeviceSet::new(Arc::clone(&metrics)),
        TimeZone::UTC,
    );
    worker.process(&batch(&[
        b"<34>1 2026-03-08T09:00:00Z router1 sshd 42 ID7 - tab\there",
        b"<13>1 2026-03-08T09:00:01Z router2 app - - - second",
    ]));
    let (connection, _) = listener.accept().unwrap();
    connection
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let lines: Vec<String> = BufReader::new(connection)
        .lines()
        .take(2)
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        lines,
        [
            "<34>1 2026-03-08T09:00:00.000000Z router1 sshd 42 ID7 - tab\there",
            "<13>1 2026-03-08T09:00:01.000000Z router2 app - - - second",
        ]
    );
    assert_eq!(metrics.sink("central").messages.get(), 2);
    relays.shutdown();
    store.shutdown().unwrap();
}

#[test]
fn the_index_time_is_the_time_the_stored_line_reads_back_as() {
    // Received 2026-03-08T08:53:20Z, seen at +01:00.
    let received = ReceiveTime::new(1_772_960_000, 250_000, 60);
    let frames: [&[u8]; 6] = [
        b"<34>1 2026-03-08T13:00:00.123456+05:00 sw1 app 1 - - sender zone",
        b"<34>1 2026-03-07T23:59:59.5Z sw1 app 1 - - yesterday, UTC",
        b"<13>Mar  8 09:10:11 sw1 app: no zone, no year",
        b"<13>Dec 31 23:59:59 sw1 app: last year's",
        b"<13>no timestamp at all",
        b"not syslog",
    ];
    // One cache across all, as a worker keeps it: a hit must give what a
    // fresh conversion gives.
    let mut seconds = SecondCache::default();
    for frame in frames.iter().chain(frames.iter()) {
        let message = parse(frame, &received);
        for format in OutputFormat::ALL {
            let key = stored_time_micros(&message, format, &received, &mut seconds);
            assert_eq!(
                key,
                stored_time_micros(&message, format, &received, &mut SecondCache::default())
            );
            let mut line = Vec::new();
            write_escaped(&message, format, &received.local, &mut line);
            let read_back = parse(&line, &received).timestamp;
            match format {
                OutputFormat::Bsd => assert_eq!(key, received.local.unix_micros()),
                _ => assert_eq!(
                    read_back.map(|time| time.unix_micros()),
                    Some(key),
                    "{format}: {}",
                    String::from_utf8_lossy(&line)
                ),
            }
        }
    }
}

#[test]
fn an_acknowledged_batch_resolves_once_stored_and_unrouted_ones_at_once() {
    let (dir, store, mut worker, _metrics) = setup(&[file_sink(
        "notice",
        "{device}/messages",
        "*.notice",
        OutputFormat::Rfc3164,
    )]);
    let mut raw = batch(&[b"<13>Mar  8 09:15:32 sw1 app: stored"]);
    let (ack, mut wait) = sinkd_listen::Ack::new();
    raw.ack = Some(ack);
    worker.process(&raw);
    drop(raw);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let stored = loop {
        match wait.try_recv() {
            Ok(stored) => break stored,
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {
                assert!(std::time::Instant::now() < deadline, "never acknowledged");
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(error) => panic!("{error}"),
        }
    };
    assert!(stored);
    let segment = dir.path().join("sw1/messages/00000000000000000001.log");
    assert!(std::fs::read_to_string(segment)
        .unwrap()
        .ends_with("app: stored\n"));
    // A message no sink wants is acknowledged when the worker is done.
    let mut raw = batch(&[b"<15>Mar  8 09:15:32 sw1 app: debug"]);
    let (ack, mut wait) = sinkd_listen::Ack::new();
    raw.ack = Some(ack);
    worker.process(&raw);
    drop(raw);
    assert_eq!(wait.try_recv(), Ok(true));
    store.shutdown().unwrap();
}
