//! Relay sinks end to end, with the real binary: tiered sites (an edge
//! sinkd relaying over TLS with a client certificate to a central sinkd),
//! an outage of the target during which the edge itself is restarted, and
//! targets that never read or refuse connections next to file sinks and a
//! healthy relay. Messages go in over TCP like a device's; what arrives is
//! judged per device, in order, with duplicates counted and printed.

use crate::harness::{connect, octet_counted, read_stream, Sandbox, Server, PATIENCE};
use crate::tls::{mutual_server_files, tls_listener};
use bytes::BytesMut;
use sinkd_proto::framing::{Deframer, Framing};
use sinkd_tls::test_pki::Ca;
use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A syslog receiver on 127.0.0.1 that records every octet-counted frame,
/// or (`reading == false`) accepts connections and never reads.
struct Recorder {
    port: u16,
    frames: Arc<Mutex<Vec<Vec<u8>>>>,
    accepted: Arc<Mutex<usize>>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Connection reader threads, joined on stop so every frame read
    /// before the close is recorded.
    readers: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Recorder {
    fn start(port: u16, reading: bool) -> Recorder {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind recorder");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("address").port();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(Mutex::new(0));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let readers = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let readers = Arc::clone(&readers);
            let (frames, accepted, connections, stop) = (
                Arc::clone(&frames),
                Arc::clone(&accepted),
                Arc::clone(&connections),
                Arc::clone(&stop),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok((stream, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    stream.set_nonblocking(false).expect("blocking");
                    *accepted.lock().unwrap() += 1;
                    connections
                        .lock()
                        .unwrap()
                        .push(stream.try_clone().expect("clone"));
                    if reading {
                        let frames = Arc::clone(&frames);
                        readers
                            .lock()
                            .unwrap()
                            .push(std::thread::spawn(move || record(stream, &frames)));
                    }
                }
            })
        };
        Recorder {
            port,
            frames,
            accepted,
            connections,
            stop,
            thread: Some(thread),
            readers,
        }
    }

    fn frames(&self) -> Vec<Vec<u8>> {
        self.frames.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.frames.lock().unwrap().len()
    }

    fn accepted(&self) -> usize {
        *self.accepted.lock().unwrap()
    }

    /// Stops listening and resets every connection (a target that dies).
    fn stop(mut self) -> Vec<Vec<u8>> {
        self.halt();
        self.frames()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("recorder thread");
        }
        // Like a receiver that exits: stop reading and close. A socket
        // closed with unread data sends a reset, otherwise a FIN.
        for connection in self.connections.lock().unwrap().drain(..) {
            let _ = connection.shutdown(Shutdown::Read);
        }
        for reader in self.readers.lock().unwrap().drain(..) {
            let _ = reader.join();
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.halt();
    }
}

fn record(mut stream: TcpStream, frames: &Mutex<Vec<Vec<u8>>>) {
    let mut deframer = Deframer::with_framing(Framing::OctetCounting, 1 << 20);
    let mut buf = BytesMut::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n_read = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n_read) => n_read,
        };
        buf.extend_from_slice(&chunk[..n_read]);
        while let Ok(Some(frame)) = deframer.decode(&mut buf) {
            frames.lock().unwrap().push(frame.to_vec());
        }
    }
}

/// A port with nothing listening on it.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

/// The RFC 5424 message number `seq` of `device`.
pub(crate) fn message(device: &str, seq: u32) -> String {
    format!("<13>1 2026-03-08T09:00:00Z {device} app - - - seq {seq:06}")
}

/// Sends messages `range` of `device` over one TCP connection, octet
/// counted, and waits until sinkd has read them all (it closes after EOF).
pub(crate) fn send_device(port: u16, device: &str, range: std::ops::Range<u32>) {
    let mut stream = connect(port);
    let mut chunk = Vec::with_capacity(1 << 20);
    for seq in range {
        chunk.extend_from_slice(&octet_counted(message(device, seq).as_bytes()));
        if chunk.len() >= 1 << 20 {
            stream.write_all(&chunk).expect("write");
            chunk.clear();
        }
    }
    stream.write_all(&chunk).expect("write");
    stream.shutdown(Shutdown::Write).expect("half-close");
    let mut scratch = [0u8; 1024];
    while matches!(stream.read(&mut scratch), Ok(n) if n > 0) {}
}

/// What arrived, per device: the sequence numbers in arrival order.
pub(crate) fn by_device(frames: &[Vec<u8>]) -> BTreeMap<String, Vec<u32>> {
    let mut devices: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for frame in frames {
        let text = String::from_utf8_lossy(frame);
        let fields: Vec<&str> = text.split_whitespace().collect();
        // `... DEVICE app ...` (rfc5424) or `... DEVICE app: ...` (rfc3164).
        let device = fields
            .iter()
            .position(|field| matches!(*field, "app" | "app:"))
            .and_then(|at| at.checked_sub(1))
            .and_then(|at| fields.get(at));
        let (Some(device), Some(seq)) = (device, fields.last()) else {
            panic!("unexpected frame {text:?}");
        };
        let seq: u32 = seq
            .parse()
            .unwrap_or_else(|_| panic!("unexpected frame {text:?}"));
        devices.entry((*device).to_owned()).or_default().push(seq);
    }
    devices
}

/// Checks that every device's messages `0..per_device` arrived, in order
/// once repeats are set aside, and returns the number of duplicates.
pub(crate) fn check_in_order(frames: &[Vec<u8>], devices: &[&str], per_device: u32) -> usize {
    let arrived = by_device(frames);
    let mut duplicates = 0;
    for device in devices {
        let seqs = arrived
            .get(*device)
            .unwrap_or_else(|| panic!("nothing arrived from {device}"));
        let mut seen = HashSet::new();
        let unique: Vec<u32> = seqs
            .iter()
            .copied()
            .filter(|seq| seen.insert(*seq))
            .collect();
        duplicates += seqs.len() - unique.len();
        let first_gap = unique
            .iter()
            .enumerate()
            .find(|(index, seq)| **seq != *index as u32)
            .map(|(index, seq)| (index, *seq));
        assert!(
            unique.len() == per_device as usize && first_gap.is_none(),
            "{device}: {} unique of {per_device}, first out of place: {first_gap:?}",
            unique.len()
        );
    }
    duplicates
}

fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn tcp_listener(port: u16) -> String {
    format!("[[listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:{port}\"\n\n")
}

#[test]
fn tiered_sites_edge_relays_over_tls_with_a_client_certificate() {
    let ca = Ca::new("tiered test CA");
    let central_box = Sandbox::new();
    let server_lines = mutual_server_files(&central_box, &ca);
    let central = Server::start(&central_box, |ports| {
        tls_listener(ports.tls, &server_lines)
            + "[[sink]]\ntarget = \"file {device}/messages\"\nformat = \"rfc5424\"\n"
    });
    let edge_box = Sandbox::new();
    let ca_path = ca.write_pem(edge_box.root(), "central-ca");
    let (cert_path, key_path) = ca.client_cert("edge").write_pem(edge_box.root(), "edge");
    let central_port = central.ports.tls;
    let edge = Server::start(&edge_box, |ports| {
        format!(
            "{}[[sink]]\nname = \"local\"\ntarget = \"file {{device}}/messages\"\nformat = \"rfc5424\"\n\n\
             [[sink]]\nname = \"central\"\ntarget = \"tls address 127.0.0.1:{central_port}\"\nformat = \"rfc5424\"\n\
             ca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\nserver_name = \"localhost\"\n",
            tcp_listener(ports.tcp),
            ca_path.display(),
            cert_path.display(),
            key_path.display()
        )
    });
    for device in ["site-a-sw1", "site-a-fw1"] {
        send_device(edge.ports.tcp, device, 0..2000);
    }
    edge.wait_count("sinkd_relay_messages_sent_total{sink=\"central\"}", 4000);
    central.wait_count("sinkd_sink_messages_total{sink=\"sink-1\"}", 4000);
    let edge_stopped = edge.stop();
    edge_stopped.assert_clean_exit();
    let central_data = central.data_dir.clone();
    central.stop().assert_clean_exit();
    // The central site stores exactly what the edge stores.
    for device in ["site-a-sw1", "site-a-fw1"] {
        let stream = format!("{device}/messages");
        let at_edge = read_stream(&edge_box.data_dir(), &stream);
        let at_central = read_stream(&central_data, &stream);
        assert_eq!(at_edge.len(), 2000);
        let edge_lines: Vec<&String> = at_edge.iter().map(|(_, line)| line).collect();
        let central_lines: Vec<&String> = at_central.iter().map(|(_, line)| line).collect();
        assert_eq!(central_lines, edge_lines, "{device}");
    }
}

#[test]
fn outage_with_an_edge_restart_loses_nothing_and_keeps_device_order() {
    const DEVICES: [&str; 4] = ["dev-1", "dev-2", "dev-3", "dev-4"];
    const PER_DEVICE: u32 = 50_000;
    let target = Recorder::start(0, true);
    let target_port = target.port;
    let sandbox = Sandbox::new();
    let body = |ports: &crate::harness::Ports| {
        format!(
            "{}[[sink]]\nname = \"local\"\ntarget = \"file {{device}}/messages\"\n\n\
             [[sink]]\nname = \"central\"\ntarget = \"tcp address 127.0.0.1:{target_port}\"\n\
             format = \"rfc5424\"\nqueue_memory = 20000\nsend_timeout = \"2s\"\n",
            tcp_listener(ports.tcp)
        )
    };
    let started = Instant::now();
    let edge = Server::start(&sandbox, body);
    // Phase 1: the target is up.
    for device in DEVICES {
        send_device(edge.ports.tcp, device, 0..PER_DEVICE / 2);
    }
    edge.wait_count(
        "sinkd_relay_messages_sent_total{sink=\"central\"}",
        u64::from(PER_DEVICE) * 2,
    );
    // Phase 2: the target goes away for 30 seconds.
    let mut arrived = target.stop();
    let outage_began = Instant::now();
    for device in DEVICES {
        send_device(edge.ports.tcp, device, PER_DEVICE / 2..PER_DEVICE * 3 / 4);
    }
    edge.wait_for("messages spilled to the relay spool", |scrape| {
        scrape.count("sinkd_relay_queue_disk_messages{sink=\"central\"}") > 0
    });
    // Phase 3: sinkd itself restarts in the middle of the outage.
    edge.stop().assert_clean_exit();
    let edge = Server::start(&sandbox, body);
    edge.wait_for("the relay resuming from its spool", |scrape| {
        scrape.count("sinkd_relay_queue_disk_messages{sink=\"central\"}") > 0
    });
    for device in DEVICES {
        send_device(edge.ports.tcp, device, PER_DEVICE * 3 / 4..PER_DEVICE);
    }
    let remaining = Duration::from_secs(30).saturating_sub(outage_began.elapsed());
    std::thread::sleep(remaining);
    // Phase 4: the target comes back on the same port.
    let target = Recorder::start(target_port, true);
    let total = DEVICES.len() * PER_DEVICE as usize;
    wait_until("every message at the target", PATIENCE * 6, || {
        let frames = target.frames();
        by_device(&frames)
            .values()
            .map(|seqs| seqs.iter().collect::<HashSet<_>>().len())
            .sum::<usize>()
            + by_device(&arrived)
                .values()
                .map(|seqs| seqs.iter().collect::<HashSet<_>>().len())
                .sum::<usize>()
            >= total
    });
    arrived.extend(target.stop());
    let duplicates = check_in_order(&arrived, &DEVICES, PER_DEVICE);
    let scrape = edge.scrape();
    println!(
        "relay outage: {total} messages, {} arrived, {duplicates} duplicates \
         (second run resent {}), {:.1} s",
        arrived.len(),
        scrape.count("sinkd_relay_messages_resent_total{sink=\"central\"}"),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        scrape.count("sinkd_messages_dropped_total{reason=\"relay_queue_full\"}"),
        0
    );
    let data_dir = edge.data_dir.clone();
    edge.stop().assert_clean_exit();
    // The file sink next to the relay has every message too.
    for device in DEVICES {
        assert_eq!(
            read_stream(&data_dir, &format!("{device}/messages")).len(),
            PER_DEVICE as usize
        );
    }
}

#[test]
fn stuck_and_refusing_targets_hold_up_neither_files_nor_other_relays() {
    const PER_DEVICE: u32 = 25_000;
    let stuck = Recorder::start(0, false);
    let healthy = Recorder::start(0, true);
    let refusing = closed_port();
    let (stuck_port, healthy_port) = (stuck.port, healthy.port);
    let sandbox = Sandbox::new();
    let edge = Server::start(&sandbox, |ports| {
        format!(
            "{}[[sink]]\nname = \"files\"\ntarget = \"file {{device}}/messages\"\n\n\
             [[sink]]\nname = \"stuck\"\ntarget = \"tcp address 127.0.0.1:{stuck_port}\"\nqueue_memory = 5000\n\n\
             [[sink]]\nname = \"refusing\"\ntarget = \"tcp address 127.0.0.1:{refusing}\"\nqueue_memory = 5000\n\n\
             [[sink]]\nname = \"healthy\"\ntarget = \"tcp address 127.0.0.1:{healthy_port}\"\n",
            tcp_listener(ports.tcp)
        )
    });
    for device in ["sw-1", "sw-2", "sw-3", "sw-4"] {
        send_device(edge.ports.tcp, device, 0..PER_DEVICE);
    }
    let total = 4 * u64::from(PER_DEVICE);
    edge.wait_count("sinkd_relay_messages_sent_total{sink=\"healthy\"}", total);
    edge.wait_count("sinkd_store_lines_written_total", total);
    // A file sink's count follows the store's acceptance of the batch, a
    // moment after the relays were offered theirs: wait for it too.
    let scrape = edge.wait_count("sinkd_sink_messages_total{sink=\"files\"}", total);
    // Every sink took every message; the bad targets hold theirs on disk.
    for sink in ["files", "stuck", "refusing", "healthy"] {
        assert_eq!(
            scrape.count(&format!("sinkd_sink_messages_total{{sink=\"{sink}\"}}")),
            total,
            "{sink}"
        );
    }
    assert!(stuck.accepted() >= 1);
    assert!(scrape.count("sinkd_relay_messages_sent_total{sink=\"stuck\"}") < total);
    assert_eq!(
        scrape.count("sinkd_relay_messages_sent_total{sink=\"refusing\"}"),
        0
    );
    assert!(scrape.count("sinkd_relay_connect_errors_total{sink=\"refusing\"}") >= 1);
    edge.wait_for("the refusing relay's queue on disk", |scrape| {
        scrape.count("sinkd_relay_queue_disk_messages{sink=\"refusing\"}") > 0
    });
    assert_eq!(
        scrape.count("sinkd_messages_dropped_total{reason=\"relay_queue_full\"}"),
        0
    );
    let frames = healthy.frames();
    assert_eq!(frames.len() as u64, total);
    check_in_order(&frames, &["sw-1", "sw-2", "sw-3", "sw-4"], PER_DEVICE);
    assert_eq!(healthy.count(), frames.len());
    edge.stop().assert_clean_exit();
}

#[test]
fn a_relay_keeps_its_connection_across_sighup_and_stops_when_removed() {
    let target = Recorder::start(0, true);
    let target_port = target.port;
    let sandbox = Sandbox::new();
    let sinks = |priority: &str, with_relay: bool| {
        let relay = if with_relay {
            format!(
                "[[sink]]\nname = \"central\"\ntarget = \"tcp address 127.0.0.1:{target_port}\"\n\
                 priority = \"{priority}\"\nformat = \"rfc5424\"\n"
            )
        } else {
            String::new()
        };
        format!("[[sink]]\nname = \"local\"\ntarget = \"file {{device}}/messages\"\n\n{relay}")
    };
    let edge = Server::start(&sandbox, |ports| {
        tcp_listener(ports.tcp) + &sinks("*.*", true)
    });
    let listener = tcp_listener(edge.ports.tcp);
    send_device(edge.ports.tcp, "hup-1", 0..1000);
    edge.wait_count("sinkd_relay_messages_sent_total{sink=\"central\"}", 1000);
    // A new priority keeps the relay, its connection and its counters.
    edge.rewrite_config(&(listener.clone() + &sinks("user.*", true)));
    edge.signal(libc::SIGHUP);
    edge.wait_count("sinkd_config_reloads_total{result=\"ok\"}", 1);
    send_device(edge.ports.tcp, "hup-1", 1000..2000);
    let scrape = edge.wait_count("sinkd_relay_messages_sent_total{sink=\"central\"}", 2000);
    assert_eq!(
        scrape.count("sinkd_relay_connects_total{sink=\"central\"}"),
        1
    );
    assert_eq!(target.accepted(), 1);
    // Removing the sink stops the relay; bringing it back resumes it.
    edge.rewrite_config(&(listener.clone() + &sinks("*.*", false)));
    edge.signal(libc::SIGHUP);
    edge.wait_count("sinkd_config_reloads_total{result=\"ok\"}", 2);
    edge.wait_for("the relay to stop", |scrape| {
        scrape.count("sinkd_relay_connection_state{sink=\"central\"}") == 0
    });
    edge.rewrite_config(&(listener + &sinks("*.*", true)));
    edge.signal(libc::SIGHUP);
    edge.wait_count("sinkd_config_reloads_total{result=\"ok\"}", 3);
    send_device(edge.ports.tcp, "hup-1", 2000..3000);
    edge.wait_count("sinkd_relay_messages_sent_total{sink=\"central\"}", 3000);
    edge.stop().assert_clean_exit();
    let frames = target.stop();
    let duplicates = check_in_order(&frames, &["hup-1"], 3000);
    assert_eq!(duplicates, 0);
}
