//! The server's life: SIGTERM under load and right after a burst (nothing
//! accepted is lost, docs/ARCHITECTURE.md), `kill -9` and a restart on the same
//! data directory (torn lines cut, sequence numbers continue, every segment
//! readable), and SIGHUP (new routing and listeners while an open
//! connection carries on; a broken file keeps the running configuration).

use crate::harness::{
    connect, read_stream, send_tcp, send_udp, stream_names, wait_closed, Ports, Sandbox, Server,
};
use std::io::Write as _;
use std::net::Shutdown;
use std::path::Path;

/// A TCP listener and one sink that takes everything.
fn store_everything(ports: &Ports) -> String {
    format!(
        "[[listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:{}\"\n\n\
         [[sink]]\ntarget = \"file {{device}}/messages\"\n",
        ports.tcp
    )
}

/// Message `index` of device `load-{sender}`.
fn load_message(sender: usize, index: usize) -> String {
    format!("<13>Oct 11 22:14:15 load-{sender} app: m{index}\n")
}

/// Writes `count` messages on one connection, 100 per `write`; returns
/// how many were written before the server closed the connection.
fn send_load(port: u16, sender: usize, count: usize, half_close: bool) -> usize {
    let mut stream = connect(port);
    let mut sent = 0;
    let mut chunk = String::new();
    while sent < count {
        chunk.clear();
        let end = (sent + 100).min(count);
        for index in sent..end {
            chunk.push_str(&load_message(sender, index));
        }
        if stream.write_all(chunk.as_bytes()).is_err() {
            return sent;
        }
        sent = end;
    }
    if half_close {
        let _ = stream.shutdown(Shutdown::Write);
    }
    sent
}

/// Checks that the stream of `load-{sender}` holds exactly `m0..m{n-1}` in
/// order, numbered 1..=n, and returns n.
fn check_load_stream(data_dir: &Path, sender: usize) -> usize {
    let stream = format!("load-{sender}/messages");
    if !stream_names(data_dir).contains(&stream) {
        return 0;
    }
    let lines = read_stream(data_dir, &stream);
    for (index, (seq, line)) in lines.iter().enumerate() {
        assert_eq!(*seq, index as u64 + 1, "{stream}: sequence numbers");
        assert!(
            line.ends_with(&format!(" app: m{index}")),
            "{stream}: line {index} is {line:?} (gap, duplicate or reorder)"
        );
    }
    lines.len()
}

#[test]
fn sigterm_under_tcp_load_stores_every_accepted_message() {
    const SENDERS: usize = 4;
    const PER_SENDER: usize = 20_000;
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, store_everything);
    let port = server.ports.tcp;
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| std::thread::spawn(move || send_load(port, sender, PER_SENDER, false)))
        .collect();
    // Midway: a quarter of the load has been received.
    server.wait_count(
        "sinkd_messages_received_total{transport=\"tcp\"}",
        (SENDERS * PER_SENDER / 4) as u64,
    );
    let stopped = server.stop();
    stopped.assert_clean_exit();
    for sender in senders {
        sender.join().expect("sender thread");
    }
    let stored: usize = (0..SENDERS)
        .map(|sender| check_load_stream(&sandbox.data_dir(), sender))
        .sum();
    assert_eq!(stored as u64, stopped.received(), "{}", stopped.log);
}

#[test]
fn sigterm_right_after_a_burst_stores_all_of_it() {
    const SENDERS: usize = 2;
    const PER_SENDER: usize = 10_000;
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, store_everything);
    let port = server.ports.tcp;
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| std::thread::spawn(move || send_load(port, sender, PER_SENDER, true)))
        .collect();
    for sender in senders {
        assert_eq!(sender.join().expect("sender thread"), PER_SENDER);
    }
    // Every byte is written and the connections half-closed: stop now,
    // whatever the server has read so far.
    let stopped = server.stop();
    stopped.assert_clean_exit();
    for sender in 0..SENDERS {
        assert_eq!(
            check_load_stream(&sandbox.data_dir(), sender),
            PER_SENDER,
            "{}",
            stopped.log
        );
    }
    assert_eq!(stopped.received(), (SENDERS * PER_SENDER) as u64);
}

/// Small segments, all kept, so a few hundred lines make several closed
/// (compressed) segments.
fn small_segments(ports: &Ports) -> String {
    store_everything(ports) + "\n[storage]\nrotate_size = \"4K\"\nrotate_count = 0\n"
}

fn numbered(device: &str, range: std::ops::Range<usize>) -> Vec<u8> {
    range
        .map(|index| format!("<13>Oct 11 22:14:15 {device} app: n{index:04} padding padding\n"))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn kill9_then_restart_cuts_the_torn_line_and_continues_the_sequence() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, small_segments);
    send_tcp(server.ports.tcp, &numbered("crashy", 0..300));
    server.wait_count("sinkd_store_lines_written_total", 300);
    server.kill9();

    // A write the crash cut in half: the active segment ends mid-line.
    let stream_dir = sandbox.data_dir().join("crashy/messages");
    let active = std::fs::read_dir(&stream_dir)
        .expect("stream directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
        .max()
        .expect("an active .log segment");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&active)
        .expect("open active segment");
    file.write_all(b"<13>Oct 11 22:14:15 crashy app: TORN half a li")
        .expect("append torn line");
    drop(file);

    let server = Server::start(&sandbox, small_segments);
    send_tcp(server.ports.tcp, &numbered("crashy", 300..500));
    server.wait_count("sinkd_store_lines_written_total", 200);
    server.stop().assert_clean_exit();

    let lines = read_stream(&sandbox.data_dir(), "crashy/messages");
    assert_eq!(lines.len(), 500);
    for (index, (seq, line)) in lines.iter().enumerate() {
        assert_eq!(*seq, index as u64 + 1);
        assert!(
            line.contains(&format!(" app: n{index:04} ")),
            "line {index}: {line:?}"
        );
    }
    // Every segment on disk is whole: closed ones decompress completely and
    // end with a full line; the plain ones end with a newline.
    let mut n_compressed = 0;
    for entry in std::fs::read_dir(&stream_dir).expect("stream directory") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let text = if name.ends_with(".log.zst") {
            n_compressed += 1;
            zstd::decode_all(std::fs::File::open(&path).expect("open"))
                .unwrap_or_else(|error| panic!("{name} does not decompress: {error}"))
        } else if name.ends_with(".log") {
            std::fs::read(&path).expect("read")
        } else {
            continue;
        };
        assert!(
            text.is_empty() || text.ends_with(b"\n"),
            "{name} ends mid-line"
        );
        assert!(
            !String::from_utf8_lossy(&text).contains("TORN"),
            "{name} kept the torn line"
        );
    }
    assert!(n_compressed > 0, "no segment was closed and compressed");
}

fn hup_config(ports: &Ports, sinks: &str, extra_listen: &str) -> String {
    format!(
        "[[listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:{}\"\n{extra_listen}\n{sinks}",
        ports.tcp
    )
}

const HUP_SINKS_BEFORE: &str =
    "[[sink]]\nname = \"messages\"\ntarget = \"file {device}/messages\"\npriority = \"*.notice\"\n";

#[test]
fn sighup_applies_new_routes_and_listeners_without_dropping_a_connection() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, |ports| hup_config(ports, HUP_SINKS_BEFORE, ""));
    let mut open = connect(server.ports.tcp);
    open.write_all(
        b"<14>Oct 11 22:14:15 hup app: before-info\n<13>Oct 11 22:14:15 hup app: before-notice\n",
    )
    .expect("write");
    server.wait_count("sinkd_store_lines_written_total", 1);
    server.wait_count("sinkd_messages_unrouted_total", 1);

    // Change a priority, add a sink and a UDP listener.
    let sinks_after = "[[sink]]\nname = \"messages\"\ntarget = \"file {device}/messages\"\npriority = \"*.info\"\n\n\
         [[sink]]\nname = \"auth\"\ntarget = \"file {device}/auth\"\npriority = \"auth.*\"\n";
    let udp_listen = format!(
        "[[listen]]\ntransport = \"udp\"\naddress = \"127.0.0.1:{}\"\n",
        server.ports.udp2
    );
    server.rewrite_config(&hup_config(&server.ports, sinks_after, &udp_listen));
    server.signal(libc::SIGHUP);
    server.wait_count("sinkd_config_reloads_total{result=\"ok\"}", 1);
    open.write_all(
        b"<14>Oct 11 22:14:15 hup app: after-info\n<38>Oct 11 22:14:15 hup sshd: after-auth\n",
    )
    .expect("write on the connection opened before the reload");
    send_udp(server.ports.udp2, b"<13>Oct 11 22:14:15 hup app: after-udp");
    // before-notice, after-info, after-auth twice, after-udp.
    server.wait_count("sinkd_store_lines_written_total", 5);

    // A broken file: logged and counted, the running configuration stays.
    server.rewrite_config(&hup_config(
        &server.ports,
        "[[sink]]\ntarget = \"file {device}/messages\"\npriority = \"bogus.x\"\n",
        "",
    ));
    server.signal(libc::SIGHUP);
    server.wait_count("sinkd_config_reloads_total{result=\"error\"}", 1);
    open.write_all(b"<14>Oct 11 22:14:15 hup app: after-broken\n")
        .expect("write after the failed reload");
    send_udp(
        server.ports.udp2,
        b"<13>Oct 11 22:14:15 hup app: after-broken-udp",
    );
    let scrape = server.wait_count("sinkd_store_lines_written_total", 7);
    assert_eq!(
        scrape.count("sinkd_connections_closed_total{reason=\"peer_closed\"}")
            + scrape.count("sinkd_connections_closed_total{reason=\"shutdown\"}")
            + scrape.count("sinkd_connections_closed_total{reason=\"io_error\"}"),
        0,
        "no connection was closed by the reloads"
    );
    assert_eq!(scrape.count("sinkd_config_reloads_total{result=\"ok\"}"), 1);
    open.shutdown(Shutdown::Write).expect("half-close");
    assert!(wait_closed(&mut open));
    let stopped = server.stop();
    stopped.assert_clean_exit();
    assert!(
        stopped
            .log
            .contains("configuration reload failed; keeping the running configuration"),
        "{}",
        stopped.log
    );

    let words = |stream: &str| -> Vec<String> {
        let mut words: Vec<String> = read_stream(&sandbox.data_dir(), stream)
            .into_iter()
            .map(|(_, line)| line.rsplit(' ').next().unwrap_or("").to_owned())
            .collect();
        words.sort();
        words
    };
    assert_eq!(
        words("hup/messages"),
        [
            "after-auth",
            "after-broken",
            "after-broken-udp",
            "after-info",
            "after-udp",
            "before-notice"
        ]
    );
    assert_eq!(words("hup/auth"), ["after-auth"]);
}
