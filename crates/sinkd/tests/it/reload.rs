//! SIGHUP under load: a reload is built whole before anything running
//! changes, so a configuration that fails anywhere — a TLS file that does
//! not parse, a listener that cannot be built — changes nothing. Messages
//! keep flowing over TCP while the reload is refused; every one reaches
//! the relay target or the file sink it was routed to, and no sink of the
//! refused file ever receives one.

use crate::harness::{connect, octet_counted, read_stream, Sandbox, Server};
use crate::relay::{check_in_order, message, send_device, tcp_listener};
use crate::tls::server_files;
use sinkd_tls::test_pki::Ca;
use std::io::{Read, Write as _};
use std::net::Shutdown;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Messages each load test sends.
const TOTAL: u32 = 12_000;
/// Messages per pacing step; a step every 50 ms is 2,000 messages a second.
const STEP: u32 = 100;

/// Sends messages `0..TOTAL` of `device` over one TCP connection at about
/// 2,000 a second, then closes and waits for sinkd to close too (it has
/// read everything then).
fn send_paced(port: u16, device: &'static str) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut stream = connect(port);
        let started = Instant::now();
        let mut chunk = Vec::new();
        for step in 0..TOTAL / STEP {
            chunk.clear();
            for seq in step * STEP..(step + 1) * STEP {
                chunk.extend_from_slice(&octet_counted(message(device, seq).as_bytes()));
            }
            stream.write_all(&chunk).expect("write");
            let due = Duration::from_millis(50 * u64::from(step + 1));
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        stream.shutdown(Shutdown::Write).expect("half-close");
        let mut scratch = [0u8; 1024];
        while matches!(stream.read(&mut scratch), Ok(n) if n > 0) {}
    })
}

/// Waits until the sender is part way through, so the reload lands while
/// messages flow.
fn wait_for_traffic(server: &Server, sink: &str) {
    server.wait_for("messages flowing before the reload", |scrape| {
        scrape.count(&format!("sinkd_sink_messages_total{{sink=\"{sink}\"}}"))
            >= u64::from(TOTAL / 6)
    });
}

/// Rewrites the configuration with `body`, sends SIGHUP and waits for the
/// `n`th refused reload.
fn refused_reload(server: &Server, body: &str, n: u64) {
    server.rewrite_config(body);
    server.signal(libc::SIGHUP);
    server.wait_count("sinkd_config_reloads_total{result=\"error\"}", n);
}

/// Central sinkd storing what arrives over TLS, edge sinkd relaying to it.
/// Two reloads are refused while messages flow: the relay's `ca` pointed at
/// a garbage file; then the relay's settings changed together with a new
/// relay sink whose spool cannot be created. Neither may stop, restart or
/// starve the running relay.
#[test]
fn a_refused_reload_keeps_a_tls_relay_delivering() {
    let ca = Ca::new("reload test CA");
    let central_box = Sandbox::new();
    let server_lines = server_files(&central_box, &ca);
    let central = Server::start(&central_box, |ports| {
        format!(
            "[[listen]]\ntransport = \"tls\"\naddress = \"127.0.0.1:{}\"\n{server_lines}\n\
             [[sink]]\nname = \"store\"\ntarget = \"file {{device}}/messages\"\nformat = \"rfc5424\"\n",
            ports.tls
        )
    });
    let edge_box = Sandbox::new();
    let good_ca = edge_box.write("central-ca.pem", ca.cert_pem());
    let garbage_ca = edge_box.write(
        "garbage-ca.pem",
        "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
    );
    let central_port = central.ports.tls;
    let body = |tcp_port: u16, ca_path: &std::path::Path, changed: bool| {
        let (queue_memory, blocked) = if changed {
            (
                50_000,
                "[[sink]]\nname = \"blocked\"\ntarget = \"tcp address 127.0.0.1:9\"\n",
            )
        } else {
            (100_000, "")
        };
        format!(
            "{}[[sink]]\nname = \"central\"\ntarget = \"tls address 127.0.0.1:{central_port}\"\n\
             format = \"rfc5424\"\nca = \"{}\"\nserver_name = \"localhost\"\n\
             queue_memory = {queue_memory}\n\n{blocked}",
            tcp_listener(tcp_port),
            ca_path.display()
        )
    };
    let edge = Server::start(&edge_box, |ports| body(ports.tcp, &good_ca, false));
    // A file where the new relay's spool directory would go.
    let relay_dir = edge.data_dir.join(".relay");
    std::fs::create_dir_all(&relay_dir).expect("relay directory");
    std::fs::write(relay_dir.join("blocked"), "in the way").expect("blocking file");
    let sender = send_paced(edge.ports.tcp, "relay-hup");
    wait_for_traffic(&edge, "central");
    refused_reload(&edge, &body(edge.ports.tcp, &garbage_ca, false), 1);
    refused_reload(&edge, &body(edge.ports.tcp, &good_ca, true), 2);
    sender.join().expect("sender");
    let scrape = edge.wait_count(
        "sinkd_relay_messages_sent_total{sink=\"central\"}",
        u64::from(TOTAL),
    );
    central.wait_count(
        "sinkd_sink_messages_total{sink=\"store\"}",
        u64::from(TOTAL),
    );
    assert_eq!(scrape.count("sinkd_config_reloads_total{result=\"ok\"}"), 0);
    assert_eq!(
        scrape.count("sinkd_messages_dropped_total{reason=\"relay_queue_full\"}"),
        0
    );
    // The relay kept its connection: the refused reload never touched it.
    assert_eq!(
        scrape.count("sinkd_relay_connects_total{sink=\"central\"}"),
        1
    );
    let log = edge.log();
    assert!(
        log.contains("garbage-ca.pem"),
        "the error names the file:\n{log}"
    );
    edge.stop().assert_clean_exit();
    let central_data = central.data_dir.clone();
    central.stop().assert_clean_exit();
    let frames: Vec<Vec<u8>> = read_stream(&central_data, "relay-hup/messages")
        .into_iter()
        .map(|(_, line)| line.into_bytes())
        .collect();
    let duplicates = check_in_order(&frames, &["relay-hup"], TOTAL);
    assert_eq!(duplicates, 0);
}

/// A new file sink added in the same edit as a mistake — first a TLS
/// listener's certificate replaced by garbage, then a new listener on a
/// port another program holds: both reloads are refused, so the new sink
/// never sees a message; once the mistakes are fixed the same sink
/// applies.
#[test]
fn a_refused_reload_adds_no_sink() {
    let ca = Ca::new("reload test CA");
    let sandbox = Sandbox::new();
    let good_cert = server_files(&sandbox, &ca);
    let garbage = sandbox.write("garbage.pem", "this is not a certificate\n");
    let garbage_cert = format!(
        "cert = \"{}\"\nkey = \"{}\"\n",
        garbage.display(),
        garbage.display()
    );
    // Held by the test: a listener asked for on it cannot bind.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_port = taken.local_addr().expect("address").port();
    let body = |ports: (u16, u16), cert_lines: &str, extra_sink: bool, extra_port: bool| {
        let extra = if extra_sink {
            "[[sink]]\nname = \"extra\"\ntarget = \"file extra/{device}\"\n\n"
        } else {
            ""
        };
        let extra_listener = if extra_port {
            tcp_listener(taken_port)
        } else {
            String::new()
        };
        format!(
            "{}{extra_listener}[[listen]]\ntransport = \"tls\"\naddress = \"127.0.0.1:{}\"\n{cert_lines}\n\
             [[sink]]\nname = \"local\"\ntarget = \"file {{device}}/messages\"\n\n{extra}",
            tcp_listener(ports.0),
            ports.1
        )
    };
    let server = Server::start(&sandbox, |ports| {
        body((ports.tcp, ports.tls), &good_cert, false, false)
    });
    let ports = (server.ports.tcp, server.ports.tls);
    let sender = send_paced(server.ports.tcp, "sink-hup");
    wait_for_traffic(&server, "local");
    refused_reload(&server, &body(ports, &garbage_cert, true, false), 1);
    refused_reload(&server, &body(ports, &good_cert, true, true), 2);
    sender.join().expect("sender");
    let scrape = server.wait_count(
        "sinkd_sink_messages_total{sink=\"local\"}",
        u64::from(TOTAL),
    );
    assert_eq!(scrape.count("sinkd_sink_messages_total{sink=\"extra\"}"), 0);
    assert!(
        !server.data_dir.join("extra").exists(),
        "the refused sink wrote files"
    );
    // The listener still serves with the old certificate.
    let mut probe = std::process::Command::new("openssl")
        .args(["s_client", "-connect"])
        .arg(format!("127.0.0.1:{}", ports.1))
        .args(["-brief"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("openssl s_client");
    drop(probe.stdin.take());
    let output = probe.wait_with_output().expect("openssl output");
    let transcript = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    assert!(
        transcript.contains("CONNECTION ESTABLISHED") || transcript.contains("Protocol version"),
        "the TLS listener no longer completes a handshake:\n{transcript}"
    );
    // Fixed, the same sink applies.
    drop(taken);
    server.rewrite_config(&body(ports, &good_cert, true, false));
    server.signal(libc::SIGHUP);
    server.wait_count("sinkd_config_reloads_total{result=\"ok\"}", 1);
    send_device(server.ports.tcp, "sink-hup", TOTAL..TOTAL + 10);
    server.wait_count("sinkd_sink_messages_total{sink=\"extra\"}", 10);
    let data_dir = server.data_dir.clone();
    server.stop().assert_clean_exit();
    assert_eq!(
        read_stream(&data_dir, "sink-hup/messages").len(),
        TOTAL as usize + 10
    );
}
