//! Many nodes behind a balancer, as `docs/scale-out.md` describes them: two
//! sinkd nodes, each in its own network namespace with its own address,
//! behind a real L4 balancer (nginx's stream module: UDP hashed by source
//! address, TCP per connection), each storing its own files and relaying
//! to one Kafka topic (a tansu broker on the host's end of the first
//! namespace's link, which the second reaches through its route). 1,000
//! devices send over UDP and TCP from their own loopback addresses; one
//! node is killed (SIGKILL) in the middle of the run. The test reports what
//! each node stored, what reached Kafka, what was lost and where, and
//! checks what the design promises: a device's UDP messages all land on
//! one node, the devices hashed to the surviving node lose nothing, every
//! TCP device carries on through the surviving node after the kill, and
//! everything the surviving node stored reaches the topic.
//!
//! Root only (namespaces, veth pairs); nginx with its stream module
//! (Debian: `nginx`, `libnginx-mod-stream`) is installed by `.ci/run`.

use crate::harness::*;
use crate::kafka::Broker;
use crate::netns::Namespace;
use crate::support::sinkd_bin;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where every node listens (inside its own namespace).
const NODE_PORT: u16 = 5514;
const NODE_HTTP: u16 = 9514;
const UDP_DEVICES: u32 = 500;
const TCP_DEVICES: u32 = 500;
const ROUNDS: u32 = 40;
const ROUND_EVERY: Duration = Duration::from_millis(100);
/// The round before which node 1 is killed.
const KILL_AT: u32 = 20;
const NGINX_MODULE: &str = "/usr/lib/nginx/modules/ngx_stream_module.so";
const TOPIC: &str = "scaleout";

/// One sinkd node in its namespace.
struct Node {
    namespace: Namespace,
    child: Child,
    data_dir: PathBuf,
    log: PathBuf,
}

impl Node {
    /// Starts sinkd in `namespace` with a file sink and a Kafka sink to
    /// `broker`'s topic [`TOPIC`].
    fn start(sandbox: &Sandbox, name: &str, namespace: Namespace, broker: &str) -> Node {
        let data_dir = sandbox.root().join(name).join("data");
        let config = sandbox.write(
            &format!("{name}.toml"),
            format!(
                "data_dir = \"{}\"\nmetrics = \"0.0.0.0:{NODE_HTTP}\"\nworkers = 2\n\n\
                 [[listen]]\ntransport = \"udp\"\naddress = \"0.0.0.0:{NODE_PORT}\"\n\n\
                 [[listen]]\ntransport = \"tcp\"\naddress = \"0.0.0.0:{NODE_PORT}\"\n\
                 max_connections_per_source = 4096\n\n\
                 [[sink]]\nname = \"messages\"\ntarget = \"file {{device}}/messages\"\n\
                 priority = \"*.*\"\nformat = \"bsd\"\n\n\
                 [[sink]]\nname = \"kafka\"\ntarget = \"kafka address {broker} topic {TOPIC}\"\n\
                 priority = \"*.*\"\nformat = \"bsd\"\n",
                data_dir.display()
            ),
        );
        let log = sandbox.root().join(format!("{name}.log"));
        let child = namespace
            .command(sinkd_bin())
            .arg("--config")
            .arg(&config)
            .env("SINKD_LOG", "info")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("node log file"))
            .spawn()
            .expect("start a node");
        let node = Node {
            namespace,
            child,
            data_dir,
            log,
        };
        let deadline = Instant::now() + PATIENCE;
        while !matches!(http_get(node.http(), "/healthz"), Ok((200, _))) {
            assert!(
                Instant::now() < deadline,
                "node {name} not ready:\n{}",
                node.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        node
    }

    fn address(&self) -> String {
        format!("{}:{NODE_PORT}", self.namespace.ns_ip)
    }

    fn http(&self) -> SocketAddr {
        format!("{}:{NODE_HTTP}", self.namespace.ns_ip)
            .parse()
            .expect("node address")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn scrape(&self) -> String {
        match http_get(self.http(), "/metrics") {
            Ok((200, text)) => text,
            other => panic!("scrape failed: {other:?}\n{}", self.log()),
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx in the test's namespace, balancing UDP and TCP on 127.0.0.1.
struct Balancer {
    child: Child,
    udp: u16,
    tcp: u16,
}

impl Balancer {
    fn start(sandbox: &Sandbox, nodes: &[&Node]) -> Balancer {
        assert!(
            Path::new(NGINX_MODULE).exists(),
            "the scale-out test needs nginx with its stream module \
             (Debian: apt-get install nginx libnginx-mod-stream; .ci/run does)"
        );
        let udp = UdpSocket::bind("127.0.0.1:0")
            .and_then(|socket| socket.local_addr())
            .expect("free UDP port")
            .port();
        let tcp = TcpListener::bind("127.0.0.1:0")
            .and_then(|socket| socket.local_addr())
            .expect("free TCP port")
            .port();
        let servers: String = nodes
            .iter()
            .map(|node| {
                format!(
                    "        server {} max_fails=1 fail_timeout=30s;\n",
                    node.address()
                )
            })
            .collect();
        let prefix = sandbox.root().join("nginx");
        std::fs::create_dir_all(&prefix).expect("nginx prefix");
        let config = sandbox.write(
            "nginx.conf",
            format!(
                "load_module {NGINX_MODULE};\n\
                 daemon off;\nmaster_process off;\nworker_processes 1;\n\
                 pid {prefix}/nginx.pid;\nerror_log stderr warn;\n\
                 worker_rlimit_nofile 8192;\n\
                 events {{ worker_connections 4096; }}\n\
                 stream {{\n\
                 \x20   upstream syslog_udp {{\n        hash $remote_addr consistent;\n{servers}    }}\n\
                 \x20   upstream syslog_tcp {{\n{servers}    }}\n\
                 \x20   server {{\n        listen 127.0.0.1:{udp} udp rcvbuf=4m;\n        proxy_pass syslog_udp;\n\
                 \x20       proxy_responses 0;\n        proxy_timeout 1s;\n    }}\n\
                 \x20   server {{\n        listen 127.0.0.1:{tcp};\n        proxy_pass syslog_tcp;\n\
                 \x20       proxy_connect_timeout 1s;\n    }}\n\
                 }}\n",
                prefix = prefix.display()
            ),
        );
        let child = Command::new("nginx")
            .args(["-e", "stderr", "-p"])
            .arg(&prefix)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(sandbox.root().join("nginx.log")).expect("nginx log"))
            .spawn()
            .expect("start nginx (Debian: apt-get install nginx libnginx-mod-stream)");
        let balancer = Balancer { child, udp, tcp };
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(local(tcp)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen on {tcp}");
            std::thread::sleep(Duration::from_millis(20));
        }
        balancer
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hostname_of(device: u32) -> String {
    format!("dev-{device:04}")
}

/// The device's own loopback address: 127.2.x.y.
fn source_of(device: u32) -> [u8; 4] {
    [127, 2, (device / 250) as u8, (device % 250 + 1) as u8]
}

fn message(device: u32, round: u32) -> String {
    format!(
        "<134>Dec  4 12:00:00 {} app: round={round}\n",
        hostname_of(device)
    )
}

/// One TCP device: its connection through the balancer, reopened when a
/// write fails (as a device's TCP sink does), and the rounds it sent.
struct TcpDevice {
    device: u32,
    stream: Option<TcpStream>,
    reconnects: u32,
}

impl TcpDevice {
    /// Sends `round`; a failed write reconnects and sends it again (the
    /// failed one may or may not have reached the dead node).
    fn send(&mut self, port: u16, round: u32) -> bool {
        let line = message(self.device, round);
        for _attempt in 0..20 {
            if self.stream.is_none() {
                match try_connect_from(source_of(self.device), port) {
                    Ok(stream) => self.stream = Some(stream),
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                }
            }
            let stream = self.stream.as_mut().expect("connected");
            if stream.write_all(line.as_bytes()).is_ok() {
                return true;
            }
            self.stream = None;
            self.reconnects += 1;
        }
        false
    }
}

/// Rounds stored per device, across the nodes' data directories.
fn stored(data_dirs: &[&Path]) -> BTreeMap<u32, (BTreeSet<u32>, BTreeSet<usize>)> {
    let mut found: BTreeMap<u32, (BTreeSet<u32>, BTreeSet<usize>)> = BTreeMap::new();
    for (node, data_dir) in data_dirs.iter().enumerate() {
        if !data_dir.exists() {
            continue;
        }
        for stream in stream_names(data_dir) {
            let Some(device) = stream
                .strip_prefix("dev-")
                .and_then(|rest| rest.strip_suffix("/messages"))
                .and_then(|number| number.parse::<u32>().ok())
            else {
                continue;
            };
            let entry = found.entry(device).or_default();
            entry.1.insert(node);
            for (_, line) in read_stream(data_dir, &stream) {
                if let Some(round) = line
                    .rsplit("round=")
                    .next()
                    .and_then(|round| round.trim().parse().ok())
                {
                    entry.0.insert(round);
                }
            }
        }
    }
    found
}

#[test]
fn two_nodes_behind_a_balancer_survive_losing_one() {
    if !root_for("the scale-out test (network namespaces)") {
        return;
    }
    let sandbox = Sandbox::new();
    let (ns1, ns2) = (Namespace::new("node1", 232), Namespace::new("node2", 233));
    let broker = Broker::start_at(&ns1.host_ip, &ns1.host_ip);
    broker.create_topic(TOPIC);
    let node1 = Node::start(&sandbox, "node1", ns1, &broker.address());
    let node2 = Node::start(&sandbox, "node2", ns2, &broker.address());
    let balancer = Balancer::start(&sandbox, &[&node1, &node2]);
    let data_dirs = [node1.data_dir.clone(), node2.data_dir.clone()];

    let udp: Vec<UdpSocket> = (0..UDP_DEVICES)
        .map(|device| {
            let socket = UdpSocket::bind(SocketAddr::from((source_of(device), 0)))
                .expect("bind a device's address");
            socket.connect(local(balancer.udp)).expect("connect UDP");
            socket
        })
        .collect();
    let mut tcp: Vec<TcpDevice> = (UDP_DEVICES..UDP_DEVICES + TCP_DEVICES)
        .map(|device| TcpDevice {
            device,
            stream: None,
            reconnects: 0,
        })
        .collect();

    let mut node1 = Some(node1);
    let mut node1_udp_received = 0;
    let mut tcp_failed = 0;
    let started = Instant::now();
    for round in 0..ROUNDS {
        if round == KILL_AT {
            let mut dead = node1.take().expect("node 1 runs");
            node1_udp_received = scrape_count(
                &dead.scrape(),
                "sinkd_messages_received_total{transport=\"udp\"}",
            );
            let _ = dead.child.kill();
            let _ = dead.child.wait();
            // Its namespace and data stay; only the process died.
            node1 = Some(dead);
        }
        let due = started + ROUND_EVERY * round;
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        for (device, socket) in udp.iter().enumerate() {
            let _ = socket.send(message(device as u32, round).as_bytes());
            // Spread over the round, as 500 devices' clocks would.
            if device % 50 == 49 {
                std::thread::sleep(Duration::from_millis(4));
            }
        }
        for device in &mut tcp {
            if !device.send(balancer.tcp, round) {
                tcp_failed += 1;
            }
        }
    }
    // Everything sent has reached the surviving node once its count stops
    // moving.
    let mut last = 0;
    let deadline = Instant::now() + PATIENCE;
    loop {
        std::thread::sleep(Duration::from_millis(1500));
        let text = node2.scrape();
        let now = scrape_count(&text, "sinkd_store_lines_written_total");
        if now == last || Instant::now() > deadline {
            break;
        }
        last = now;
    }
    let reconnects: u32 = tcp.iter().map(|device| device.reconnects).sum();
    let survivor = node2.scrape();
    let survivor_counts: Vec<String> = survivor
        .lines()
        .filter(|line| {
            line.starts_with("sinkd_messages_received_total")
                || (line.starts_with("sinkd_messages_dropped_total") && !line.ends_with(" 0"))
                || line.starts_with("sinkd_udp_kernel_drops_total")
        })
        .map(str::to_owned)
        .collect();
    drop(tcp);
    let found = stored(&[&data_dirs[0], &data_dirs[1]]);
    let on_node2 = stored(&[&data_dirs[1]]);
    // The surviving node's Kafka sink has delivered everything it holds.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = node2.scrape();
        let queued = scrape_count(&text, "sinkd_relay_queue_depth{sink=\"kafka\"}")
            + scrape_count(&text, "sinkd_relay_queue_disk_messages{sink=\"kafka\"}");
        if queued == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node 2's Kafka sink still holds {queued}:\n{}",
            text
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (in_kafka, kafka_records) = from_kafka(&broker);
    let kafka_rounds: usize = in_kafka.values().map(BTreeSet::len).sum();
    let mut node2_missing_in_kafka = 0;
    for (device, (rounds, _)) in &on_node2 {
        let delivered = in_kafka.get(device);
        node2_missing_in_kafka += rounds
            .iter()
            .filter(|round| !delivered.is_some_and(|delivered| delivered.contains(round)))
            .count();
    }
    let stored_rounds: usize = found.values().map(|(rounds, _)| rounds.len()).sum();

    // What each device lost, by transport, and where its UDP went.
    let mut report = String::new();
    let (mut udp_lost, mut udp_lost_node1_devices, mut tcp_lost) = (0u32, 0u32, 0u32);
    let mut udp_lost_node2_devices = 0u32;
    let mut udp_on_node = [0u32; 2];
    let mut tcp_after_kill_on_node2 = 0;
    let mut tcp_lost_rounds = BTreeSet::new();
    for device in 0..UDP_DEVICES + TCP_DEVICES {
        let (rounds, nodes) = found.get(&device).cloned().unwrap_or_default();
        let lost = ROUNDS - rounds.len() as u32;
        if device < UDP_DEVICES {
            assert!(
                nodes.len() <= 1,
                "UDP device {device} was split over nodes {nodes:?}"
            );
            let on_node1 = nodes.contains(&0);
            udp_on_node[usize::from(!on_node1)] += 1;
            udp_lost += lost;
            if on_node1 {
                udp_lost_node1_devices += lost;
            } else {
                udp_lost_node2_devices += lost;
            }
        } else {
            tcp_lost += lost;
            tcp_lost_rounds.extend((0..ROUNDS).filter(|round| !rounds.contains(round)));
            // The write of the round at the kill may land in a socket
            // whose far end is gone (the sender learns it on its next
            // write, and reconnects): from the round after, all are
            // stored.
            let after_kill = rounds.range(KILL_AT + 1..).count() as u32;
            if after_kill >= ROUNDS - KILL_AT - 1 {
                tcp_after_kill_on_node2 += 1;
            }
        }
    }
    report.push_str(&format!(
        "scale-out: {UDP_DEVICES} UDP + {TCP_DEVICES} TCP devices, {ROUNDS} rounds, node 1 killed before round {KILL_AT}\n\
         UDP devices hashed to node 1 / node 2: {} / {}\n\
         UDP sent {}, lost {udp_lost}: {udp_lost_node1_devices} from devices of the dead node (node 1 had received {node1_udp_received} UDP before the kill), {udp_lost_node2_devices} from the others\n\
         TCP sent {}, lost {tcp_lost} (rounds {tcp_lost_rounds:?}), reconnections {reconnects}, sends that failed after 20 attempts {tcp_failed}\n\
         TCP devices with every round after the kill's stored: {tcp_after_kill_on_node2} / {TCP_DEVICES}\n",
        udp_on_node[0],
        udp_on_node[1],
        UDP_DEVICES * ROUNDS,
        TCP_DEVICES * ROUNDS,
    ));
    report.push_str(&format!(
        "Kafka topic: {kafka_records} records, {kafka_rounds} distinct (device, round) of the {stored_rounds} the two nodes stored \
         ({} duplicates); stored by node 2 but not in Kafka: {node2_missing_in_kafka}\n",
        kafka_records - kafka_rounds
    ));
    report.push_str(&format!("node 2: {}\n", survivor_counts.join(", ")));
    eprintln!("{report}");
    if std::env::var_os("SINKD_SCALEOUT_KEEP").is_some() {
        let kept = sandbox.root().to_path_buf();
        std::mem::forget(sandbox);
        eprintln!("kept {}", kept.display());
    }
    assert!(
        udp_on_node[0] > 0 && udp_on_node[1] > 0,
        "the hash used one node only:\n{report}"
    );
    assert_eq!(udp_lost_node2_devices, 0, "{report}");
    assert_eq!(tcp_failed, 0, "{report}");
    // TCP loses only what the dead node held unwritten (at most
    // `flush_interval`, 1 s = 10 rounds, before the kill) and the one
    // write per connection that went into a socket whose far end had
    // died.
    let window = (KILL_AT - 10)..=KILL_AT;
    assert!(
        tcp_lost_rounds.iter().all(|round| window.contains(round)),
        "{report}"
    );
    assert_eq!(tcp_after_kill_on_node2, TCP_DEVICES, "{report}");
    assert_eq!(node2_missing_in_kafka, 0, "{report}");
    drop(balancer);
    drop(node1);
}

/// Rounds per device in the Kafka topic (key = the device's hostname),
/// and the number of records.
fn from_kafka(broker: &Broker) -> (BTreeMap<u32, BTreeSet<u32>>, usize) {
    let records = broker.records(TOPIC);
    let mut rounds: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for (key, value) in &records {
        let device = key
            .as_deref()
            .and_then(|key| std::str::from_utf8(key).ok())
            .and_then(|key| key.strip_prefix("dev-"))
            .and_then(|number| number.parse::<u32>().ok());
        let round = std::str::from_utf8(value)
            .ok()
            .and_then(|line| line.rsplit("round=").next())
            .and_then(|round| round.trim().parse::<u32>().ok());
        if let (Some(device), Some(round)) = (device, round) {
            rounds.entry(device).or_default().insert(round);
        }
    }
    (rounds, records.len())
}

/// A counter's value in a scrape (0 when absent).
fn scrape_count(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse::<f64>().ok())
        .map_or(0, |value| value as u64)
}
