//! Kafka sinks end to end against a real Kafka-protocol broker: `tansu`
//! (sqlite storage in a temporary directory, on 127.0.0.1), read back with
//! librdkafka's consumer (the `rdkafka` crate, the same bundled build the
//! sink uses). Records must carry the device as key and arrive in order per
//! device; a broker outage with a sinkd crash (kill -9) and restart in the
//! middle must lose nothing, with the duplicates counted and printed; a
//! broker bounce under load and a SIGTERM restart must lose and repeat
//! nothing.

use crate::harness::{Sandbox, Server, PATIENCE};
use crate::relay::{by_device, check_in_order, send_device, tcp_listener};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The tansu version `.ci/run` installs.
const TANSU_INSTALL: &str =
    "cargo install tansu --locked --features dynostore,libsql --version 0.6.0";

/// Partitions of every test topic.
const PARTITIONS: i32 = 4;

/// The `tansu` binary: on PATH, or where `cargo install` puts it.
fn tansu_bin() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("tansu"))
        .find(|candidate| candidate.is_file());
    let in_cargo_home = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cargo/bin/tansu"))
        .filter(|candidate| candidate.is_file());
    on_path.or(in_cargo_home).unwrap_or_else(|| {
        panic!("the Kafka tests need the tansu broker, which is not installed: run `{TANSU_INSTALL}` (.ci/run does)")
    })
}

/// A tansu broker on 127.0.0.1 (or on every address, advertising one that
/// network namespaces reach: `scaleout.rs`), its sqlite database in a
/// directory of its own, so that what it acknowledged survives
/// [`Broker::stop`] and [`Broker::start_again`].
pub(crate) struct Broker {
    dir: tempfile::TempDir,
    port: u16,
    /// The address clients are told to use.
    host: String,
    /// The address it listens on.
    listen: String,
    child: Option<Child>,
}

impl Broker {
    pub(crate) fn start() -> Broker {
        Broker::start_at("127.0.0.1", "127.0.0.1")
    }

    /// A broker listening on `listen` (an address or `0.0.0.0`) that tells
    /// clients to connect to `host`.
    pub(crate) fn start_at(listen: &str, host: &str) -> Broker {
        let dir = tempfile::tempdir().expect("broker directory");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("reserve a port")
            .port();
        let mut broker = Broker {
            dir,
            port,
            host: host.to_owned(),
            listen: listen.to_owned(),
            child: None,
        };
        broker.start_again();
        broker
    }

    /// `HOST:PORT`, as clients reach it.
    pub(crate) fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Starts the broker (again) on the same port and database, and waits
    /// until it accepts connections.
    fn start_again(&mut self) {
        assert!(self.child.is_none(), "the broker is running");
        let url = format!("tcp://{}:{}", self.listen, self.port);
        let advertised = format!("tcp://{}", self.address());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("tansu.log"))
            .expect("broker log");
        let child = Command::new(tansu_bin())
            .current_dir(self.dir.path())
            .args(["broker", "--listener-url", &url])
            .args(["--advertised-listener-url", &advertised])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("broker log"))
            .stderr(log)
            .spawn()
            .expect("start tansu");
        self.child = Some(child);
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(self.address()).is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("tansu exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "tansu did not listen:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the broker (SIGTERM, then waits for it).
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) with our child's pid has no memory effects.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().expect("wait for tansu").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.wait();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tansu.log")).unwrap_or_default()
    }

    /// Creates `topic` with [`PARTITIONS`] partitions (`tansu topic create`).
    pub(crate) fn create_topic(&self, topic: &str) {
        let output = Command::new(tansu_bin())
            .args(["topic", "create", topic])
            .args(["--broker", &format!("tcp://{}", self.address())])
            .args(["--partitions", &PARTITIONS.to_string()])
            .output()
            .expect("run tansu topic create");
        assert!(
            output.status.success(),
            "tansu topic create {topic}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Every record of `topic` from the beginning, partition by partition
    /// (key, value), read up to each partition's high watermark.
    pub(crate) fn records(&self, topic: &str) -> Vec<(Option<Vec<u8>>, Vec<u8>)> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.address())
            .set("group.id", "sinkd-tests")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .create()
            .expect("make a consumer");
        let mut ends = Vec::new();
        let mut assignment = TopicPartitionList::new();
        for partition in 0..PARTITIONS {
            let (_, high) = consumer
                .fetch_watermarks(topic, partition, Duration::from_secs(10))
                .expect("watermarks");
            ends.push(high);
            assignment
                .add_partition_offset(topic, partition, Offset::Beginning)
                .expect("assign");
        }
        consumer.assign(&assignment).expect("assign");
        let mut next = vec![0i64; PARTITIONS as usize];
        let mut records = Vec::new();
        let deadline = Instant::now() + PATIENCE * 4;
        while next.iter().zip(&ends).any(|(next, end)| next < end) {
            assert!(
                Instant::now() < deadline,
                "reading {topic}: at {next:?} of {ends:?}; broker log:\n{}",
                self.log()
            );
            // Connection errors (a broker connection dropped and made
            // again under load) are retried until the deadline.
            if let Some(Ok(record)) = consumer.poll(Duration::from_millis(200)) {
                let partition = record.partition() as usize;
                next[partition] = next[partition].max(record.offset() + 1);
                records.push((
                    record.key().map(<[u8]>::to_vec),
                    record.payload().unwrap_or_default().to_vec(),
                ));
            }
        }
        records
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A Kafka sink's configuration (with a TCP listener on `tcp`).
fn kafka_config(tcp: u16, sinks: &[(&str, &str, &str, &str)]) -> String {
    let mut body = tcp_listener(tcp);
    for (name, broker, topic, format) in sinks {
        body.push_str(&format!(
            "[[sink]]\nname = \"{name}\"\ntarget = \"kafka address {broker} topic {topic}\"\nformat = \"{format}\"\n\n"
        ));
    }
    body
}

/// Checks that every record's key is the device named in its value, and
/// returns the values.
fn keyed_by_device(records: &[(Option<Vec<u8>>, Vec<u8>)]) -> Vec<Vec<u8>> {
    records
        .iter()
        .map(|(key, value)| {
            let arrived = by_device(std::slice::from_ref(value));
            let device = arrived.keys().next().expect("one device");
            assert_eq!(
                key.as_deref(),
                Some(device.as_bytes()),
                "key of {:?}",
                String::from_utf8_lossy(value)
            );
            value.clone()
        })
        .collect()
}

#[test]
fn kafka_sink_delivers_records_keyed_by_device_in_order() {
    const DEVICES: usize = 20;
    const PER_DEVICE: u32 = 500;
    let started = Instant::now();
    let broker = Broker::start();
    broker.create_topic("syslog");
    broker.create_topic("syslog-json");
    let sandbox = Sandbox::new();
    let address = broker.address();
    let sinkd = Server::start(&sandbox, |ports| {
        kafka_config(
            ports.tcp,
            &[
                ("bus", &address, "syslog", "rfc5424"),
                ("bus-json", &address, "syslog-json", "json"),
            ],
        )
    });
    let devices: Vec<String> = (0..DEVICES).map(|n| format!("kdev-{n:02}")).collect();
    for device in &devices {
        send_device(sinkd.ports.tcp, device, 0..PER_DEVICE);
    }
    let total = DEVICES as u64 * u64::from(PER_DEVICE);
    for sink in ["bus", "bus-json"] {
        sinkd.wait_count(
            &format!("sinkd_relay_messages_sent_total{{sink=\"{sink}\"}}"),
            total,
        );
    }
    // The gauges follow on the sink's next tick.
    sinkd.wait_for("the spool acknowledged and the producer up", |scrape| {
        scrape.count("sinkd_relay_queue_disk_messages{sink=\"bus\"}") == 0
            && scrape.count("sinkd_relay_connection_state{sink=\"bus\"}") == 2
    });
    let records = broker.records("syslog");
    assert_eq!(records.len() as u64, total);
    let names: Vec<&str> = devices.iter().map(String::as_str).collect();
    let duplicates = check_in_order(&keyed_by_device(&records), &names, PER_DEVICE);
    assert_eq!(duplicates, 0);
    // The json sink: one `sinkd show --json` object per record, same key.
    let records = broker.records("syslog-json");
    assert_eq!(records.len() as u64, total);
    let mut last_seq = std::collections::HashMap::new();
    for (key, value) in &records {
        let object: serde_json::Value = serde_json::from_slice(value).expect("a JSON record");
        let device = object["device"].as_str().expect("device");
        assert_eq!(key.as_deref(), Some(device.as_bytes()));
        assert_eq!(object["hostname"], device);
        assert_eq!(object["app_name"], "app");
        assert_eq!(object["format"], "rfc5424");
        assert_eq!(object["timestamp"], "2026-03-08T09:00:00Z");
        let seq: u32 = object["msg"].as_str().expect("msg")[4..]
            .parse()
            .expect("seq");
        let last = last_seq.insert(device.to_owned(), seq);
        assert_eq!(
            last.map_or(0, |last| last + 1),
            seq,
            "{device} out of order"
        );
    }
    sinkd.stop().assert_clean_exit();
    println!(
        "kafka delivery: {total} messages to two topics in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn kafka_outage_with_a_sinkd_crash_loses_nothing_and_keeps_device_order() {
    const DEVICES: usize = 1000;
    const PER_DEVICE: u32 = 100;
    let started = Instant::now();
    let mut broker = Broker::start();
    broker.create_topic("outage");
    let sandbox = Sandbox::new();
    let address = broker.address();
    let body = |ports: &crate::harness::Ports| {
        kafka_config(ports.tcp, &[("bus", &address, "outage", "rfc5424")])
            + "queue_memory = 20000\nsend_timeout = \"2s\"\n"
    };
    let devices: Vec<String> = (0..DEVICES).map(|n| format!("odev-{n:04}")).collect();
    let send = |port: u16, range: std::ops::Range<u32>| {
        std::thread::scope(|scope| {
            for chunk in devices.chunks(DEVICES / 8) {
                let range = range.clone();
                scope.spawn(move || {
                    for device in chunk {
                        send_device(port, device, range.clone());
                    }
                });
            }
        });
    };
    let sent = |per_device: u32| DEVICES as u64 * u64::from(per_device);
    let sinkd = Server::start(&sandbox, body);
    // Phase 1: the broker is up.
    send(sinkd.ports.tcp, 0..40);
    sinkd.wait_count("sinkd_relay_messages_sent_total{sink=\"bus\"}", sent(40));
    // Phase 2: the broker stops for 30 s; sinkd takes more meanwhile.
    broker.stop();
    let outage_began = Instant::now();
    send(sinkd.ports.tcp, 40..70);
    sinkd.wait_count("sinkd_sink_messages_total{sink=\"bus\"}", sent(70));
    sinkd.wait_for("everything accepted in the spool", |scrape| {
        scrape.count("sinkd_relay_queue_disk_messages{sink=\"bus\"}") >= sent(30)
    });
    // The spool's store writes what it holds within 20 ms.
    std::thread::sleep(Duration::from_millis(200));
    // Phase 3: sinkd crashes (kill -9) in the middle of the outage and
    // starts again; the devices go on sending.
    sinkd.kill9();
    let sinkd = Server::start(&sandbox, body);
    sinkd.wait_for("the sink resuming from its spool", |scrape| {
        scrape.count("sinkd_relay_queue_disk_messages{sink=\"bus\"}") >= sent(30)
    });
    send(sinkd.ports.tcp, 70..PER_DEVICE);
    sinkd.wait_count("sinkd_sink_messages_total{sink=\"bus\"}", sent(30));
    let remaining = Duration::from_secs(30).saturating_sub(outage_began.elapsed());
    std::thread::sleep(remaining);
    // Phase 4: the broker comes back with its database.
    broker.start_again();
    let drained = Instant::now();
    sinkd.wait_for("the spool drained into the broker", |scrape| {
        scrape.count("sinkd_relay_queue_disk_messages{sink=\"bus\"}") == 0
            && scrape.count("sinkd_relay_queue_depth{sink=\"bus\"}") == 0
    });
    let drain_seconds = drained.elapsed().as_secs_f64();
    let scrape = sinkd.scrape();
    let resent = scrape.count("sinkd_relay_messages_resent_total{sink=\"bus\"}");
    assert_eq!(
        scrape.count("sinkd_messages_dropped_total{reason=\"relay_queue_full\"}"),
        0
    );
    sinkd.stop().assert_clean_exit();
    let records = broker.records("outage");
    let names: Vec<&str> = devices.iter().map(String::as_str).collect();
    let duplicates = check_in_order(&keyed_by_device(&records), &names, PER_DEVICE);
    println!(
        "kafka outage: {} messages from {DEVICES} devices, {} records in the topic, \
         {duplicates} duplicates (resent after the restart's producer: {resent}), \
         drained in {drain_seconds:.1} s, {:.1} s in all",
        sent(PER_DEVICE),
        records.len(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn kafka_broker_bounce_and_sigterm_restart_lose_nothing() {
    const DEVICES: usize = 200;
    const PER_DEVICE: u32 = 100;
    let started = Instant::now();
    let mut broker = Broker::start();
    broker.create_topic("bounce");
    let sandbox = Sandbox::new();
    let address = broker.address();
    let body = |ports: &crate::harness::Ports| {
        kafka_config(ports.tcp, &[("bus", &address, "bounce", "rfc5424")])
    };
    let devices: Vec<String> = (0..DEVICES).map(|n| format!("bdev-{n:03}")).collect();
    let send = |port: u16, range: std::ops::Range<u32>| {
        for device in &devices {
            send_device(port, device, range.clone());
        }
    };
    let sinkd = Server::start(&sandbox, body);
    // The broker restarts while the devices send.
    std::thread::scope(|scope| {
        let sender = scope.spawn(|| send(sinkd.ports.tcp, 0..PER_DEVICE / 2));
        std::thread::sleep(Duration::from_millis(300));
        broker.stop();
        std::thread::sleep(Duration::from_secs(1));
        broker.start_again();
        sender.join().expect("sender");
    });
    sinkd.wait_count(
        "sinkd_sink_messages_total{sink=\"bus\"}",
        DEVICES as u64 * u64::from(PER_DEVICE / 2),
    );
    // sinkd stops (SIGTERM) with whatever is still unacknowledged, and
    // starts again.
    sinkd.stop().assert_clean_exit();
    let sinkd = Server::start(&sandbox, body);
    send(sinkd.ports.tcp, PER_DEVICE / 2..PER_DEVICE);
    sinkd.wait_for("everything acknowledged", |scrape| {
        scrape.count("sinkd_sink_messages_total{sink=\"bus\"}")
            == DEVICES as u64 * u64::from(PER_DEVICE / 2)
            && scrape.count("sinkd_relay_queue_disk_messages{sink=\"bus\"}") == 0
            && scrape.count("sinkd_relay_queue_depth{sink=\"bus\"}") == 0
    });
    sinkd.stop().assert_clean_exit();
    let records = broker.records("bounce");
    let names: Vec<&str> = devices.iter().map(String::as_str).collect();
    let duplicates = check_in_order(&keyed_by_device(&records), &names, PER_DEVICE);
    println!(
        "kafka bounce: {} messages, {} records, {duplicates} duplicates, {:.1} s",
        DEVICES * PER_DEVICE as usize,
        records.len(),
        started.elapsed().as_secs_f64()
    );
    // Neither a broker restart (idempotent producer) nor a SIGTERM (which
    // waits for the broker's answers) repeats a record.
    assert_eq!(duplicates, 0);
}

#[test]
fn a_sighup_that_changes_a_kafka_sink_restarts_it_on_the_same_queue() {
    const DEVICES: usize = 10;
    const PER_DEVICE: u32 = 1000;
    let broker = Broker::start();
    broker.create_topic("reload");
    let sandbox = Sandbox::new();
    let address = broker.address();
    let sink = |extra: &str| {
        format!(
            "[[sink]]\nname = \"bus\"\ntarget = \"kafka address {address} topic reload\"\n\
             format = \"rfc5424\"\n{extra}"
        )
    };
    let sinkd = Server::start(&sandbox, |ports| tcp_listener(ports.tcp) + &sink(""));
    let devices: Vec<String> = (0..DEVICES).map(|n| format!("rdev-{n}")).collect();
    // New producer settings while the devices send: the sink's engine
    // hands its intake and spool to one with the new settings.
    std::thread::scope(|scope| {
        let sender = scope.spawn(|| {
            for device in &devices {
                send_device(sinkd.ports.tcp, device, 0..PER_DEVICE);
            }
        });
        std::thread::sleep(Duration::from_millis(100));
        // Not snappy: tansu 0.6.0 drops a consumer's connection when it
        // fetches snappy record batches.
        sinkd.rewrite_config(
            &(tcp_listener(sinkd.ports.tcp) + &sink("linger = \"20ms\"\ncompression = \"none\"\n")),
        );
        sinkd.signal(libc::SIGHUP);
        sinkd.wait_count("sinkd_config_reloads_total{result=\"ok\"}", 1);
        sender.join().expect("sender");
    });
    let total = DEVICES as u64 * u64::from(PER_DEVICE);
    sinkd.wait_count("sinkd_relay_messages_sent_total{sink=\"bus\"}", total);
    let stopped = sinkd.stop();
    stopped.assert_clean_exit();
    assert!(
        stopped
            .log
            .contains("relay settings changed; restarting it on the same queue"),
        "{}",
        stopped.log
    );
    let records = broker.records("reload");
    let names: Vec<&str> = devices.iter().map(String::as_str).collect();
    let duplicates = check_in_order(&keyed_by_device(&records), &names, PER_DEVICE);
    assert_eq!(duplicates, 0);
}
