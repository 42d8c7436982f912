//! Bad input over the wire: binary garbage, bogus and gigantic frame
//! headers, an endless line, a connection flood, silent clients, plaintext
//! on the TLS port, and hostnames built to climb out of `data_dir`. After
//! each, the server must still serve the next client, count what it threw
//! away (docs/specs/metrics.md), keep its memory bounded, and write nothing
//! outside the data directory (docs/ARCHITECTURE.md, "Invariants").

use crate::harness::{
    connect, files_under, read_stream, send_tcp, send_udp, stream_names, try_connect_from,
    wait_closed, Ports, Sandbox, Server,
};
use std::io::Write as _;
use std::net::{Shutdown, TcpStream};

pub(crate) fn udp_and_tcp(ports: &Ports) -> String {
    format!(
        "[[listen]]\ntransport = \"udp\"\naddress = \"127.0.0.1:{}\"\n\n\
         [[listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:{}\"\n\n\
         [[sink]]\ntarget = \"file {{device}}/messages\"\n",
        ports.udp, ports.tcp
    )
}

/// Sends a good message over TCP and UDP from `device` and waits until
/// both are stored: proof the server still serves new clients.
fn still_serving(server: &Server, device: &str) {
    let before = server.scrape().count("sinkd_store_lines_written_total");
    send_tcp(
        server.ports.tcp,
        format!("<13>Oct 11 22:14:15 {device} app: still serving tcp\n").as_bytes(),
    );
    send_udp(
        server.ports.udp,
        format!("<13>Oct 11 22:14:15 {device} app: still serving udp").as_bytes(),
    );
    server.wait_count("sinkd_store_lines_written_total", before + 2);
}

/// Peak resident memory of a process (VmHWM), in KiB.
fn peak_rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

#[test]
fn garbage_and_oversized_frames_are_counted_and_the_server_goes_on() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, udp_and_tcp);

    // Binary garbage is kept as unparsed text, control bytes escaped.
    send_udp(server.ports.udp, b"\x00\xff\xfe\x01garbage\x07\x1b[2J");
    send_tcp(server.ports.tcp, b"\xff\xfe\x00junk\x07\x1b[2J\n");
    server.wait_count("sinkd_messages_unparsed_total", 2);
    still_serving(&server, "after-garbage");

    // Octet counting with a bogus header: the stream cannot be trusted.
    send_tcp(server.ports.tcp, b"12x <13>not a frame");
    server.wait_count("sinkd_messages_dropped_total{reason=\"frame_invalid\"}", 1);
    server.wait_count("sinkd_connections_closed_total{reason=\"frame_error\"}", 1);

    // A frame claiming 2 GB: refused at the header, nothing allocated.
    let baseline_rss = peak_rss_kib(server.pid());
    send_tcp(
        server.ports.tcp,
        b"2000000000 <13>Oct 11 22:14:15 big app: x",
    );
    server.wait_count(
        "sinkd_messages_dropped_total{reason=\"frame_too_large\"}",
        1,
    );
    server.wait_count("sinkd_connections_closed_total{reason=\"frame_error\"}", 2);
    still_serving(&server, "after-2gb");

    // An endless line: 24 MiB without LF (max_frame is 64 KiB), then a good
    // message on the same connection, which must survive.
    let mut stream = connect(server.ports.tcp);
    let block = vec![b'A'; 1 << 20];
    for _ in 0..24 {
        stream.write_all(&block).expect("write the endless line");
    }
    stream
        .write_all(b"\n<13>Oct 11 22:14:15 after-long app: still here\n")
        .expect("write after the long line");
    stream.shutdown(Shutdown::Write).expect("half-close");
    assert!(wait_closed(&mut stream));
    let scrape = server.wait_count(
        "sinkd_messages_dropped_total{reason=\"frame_too_large\"}",
        2,
    );
    let grown_kib = peak_rss_kib(server.pid()).saturating_sub(baseline_rss);
    assert!(
        grown_kib < 12 * 1024,
        "peak memory grew by {grown_kib} KiB while a 24 MiB line streamed in"
    );
    still_serving(&server, "after-long-line");
    let stopped = server.stop();
    stopped.assert_clean_exit();

    // What was counted as received is what was stored plus what was
    // dropped.
    let data_dir = sandbox.data_dir();
    assert_eq!(
        read_stream(&data_dir, "after-long/messages").len(),
        1,
        "the message after the long line"
    );
    let n_stored: usize = stream_names(&data_dir)
        .iter()
        .map(|stream| read_stream(&data_dir, stream).len())
        .sum();
    let n_dropped = scrape.count("sinkd_messages_dropped_total{reason=\"frame_invalid\"}")
        + scrape.count("sinkd_messages_dropped_total{reason=\"frame_too_large\"}");
    assert_eq!(stopped.received(), n_stored as u64 + n_dropped);
    for stream in stream_names(&data_dir) {
        for (_, line) in read_stream(&data_dir, &stream) {
            assert!(
                line.bytes().all(|b| b >= 0x20 && b != 0x7f),
                "{stream}: control byte stored raw in {line:?}"
            );
        }
    }
}

#[test]
fn floods_silent_clients_and_plaintext_on_tls_are_cut_off() {
    let sandbox = Sandbox::new();
    let ca = sinkd_tls::test_pki::Ca::new("hostile CA");
    let tls_files = crate::tls::server_files(&sandbox, &ca);
    let server = Server::start(&sandbox, |ports| {
        format!(
            "[[listen]]\ntransport = \"udp\"\naddress = \"127.0.0.1:{}\"\n\n\
             [[listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:{}\"\nidle_timeout = \"1s\"\n\n\
             [[listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:{}\"\nmax_connections = 8\n\n\
             [[listen]]\ntransport = \"tls\"\naddress = \"127.0.0.1:{}\"\n{tls_files}\n\
             [[sink]]\ntarget = \"file {{device}}/messages\"\n",
            ports.udp, ports.tcp, ports.tcp2, ports.tls
        )
    });

    // Fill the limited listener, then knock on it four more times.
    let held: Vec<TcpStream> = (0..8)
        .map(|index| {
            let mut stream = connect(server.ports.tcp2);
            stream
                .write_all(format!("<13>Oct 11 22:14:15 held app: {index}\n").as_bytes())
                .expect("write");
            stream
        })
        .collect();
    // Each has delivered its line, so none can be evicted for a newcomer.
    server.wait_count("sinkd_store_lines_written_total", 8);
    server.wait_count("sinkd_tcp_connections{transport=\"tcp\"}", 8);
    for _ in 0..4 {
        let mut extra = connect(server.ports.tcp2);
        assert!(
            wait_closed(&mut extra),
            "a connection past the limit stayed"
        );
    }
    server.wait_count(
        "sinkd_connections_closed_total{reason=\"limit_reached\"}",
        4,
    );
    for mut stream in held {
        stream.shutdown(Shutdown::Write).expect("half-close");
        assert!(wait_closed(&mut stream));
    }
    send_tcp(
        server.ports.tcp2,
        b"<13>Oct 11 22:14:15 after-flood app: room again\n",
    );

    // A client that connects and says nothing is closed after idle_timeout.
    let mut silent = connect(server.ports.tcp);
    assert!(
        wait_closed(&mut silent),
        "the silent client was never closed"
    );
    server.wait_count("sinkd_connections_closed_total{reason=\"idle_timeout\"}", 1);

    // Plaintext syslog on the TLS port fails the handshake.
    let mut plain = connect(server.ports.tls);
    plain
        .write_all(b"<13>Oct 11 22:14:15 plaintext app: not TLS\n")
        .expect("write");
    assert!(wait_closed(&mut plain));
    server.wait_count(
        "sinkd_connections_closed_total{reason=\"tls_handshake\"}",
        1,
    );
    still_serving(&server, "after-flood");
    server.stop().assert_clean_exit();
    let data_dir = sandbox.data_dir();
    assert_eq!(read_stream(&data_dir, "held/messages").len(), 8);
    assert_eq!(read_stream(&data_dir, "after-flood/messages").len(), 3);
    assert!(!stream_names(&data_dir).contains(&"plaintext/messages".to_owned()));
}

#[test]
fn hostnames_and_app_names_cannot_leave_data_dir() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, |ports| {
        udp_and_tcp(ports)
            + "\n[[sink]]\nname = \"by-app\"\ntarget = \"file apps/{app_name}/{device}\"\n"
    });
    let names = [
        "../../etc/passwd",
        "..",
        ".",
        "/abs",
        "/",
        "a/../../../b",
        "..%2f..%2fx",
        "..\\..\\win",
        "~root",
        "-",
    ];
    let mut n_sent = 0u64;
    let mut frames = Vec::new();
    for (index, name) in names.iter().enumerate() {
        send_udp(
            server.ports.udp,
            format!("<13>Oct 11 22:14:15 {name} {name}: escape-udp-{index}").as_bytes(),
        );
        frames.extend_from_slice(
            format!("<13>1 2026-01-01T00:00:00Z {name} {name} - - - escape-tcp-{index}\n")
                .as_bytes(),
        );
        n_sent += 2;
    }
    // An empty hostname (two spaces) and a NUL byte in one.
    frames.extend_from_slice(b"<13>Oct 11 22:14:15  app: escape-empty\n");
    frames.extend_from_slice(b"<13>Oct 11 22:14:15 a\x00b app: escape-nul\n");
    n_sent += 2;
    send_tcp(server.ports.tcp, &frames);
    // Every message goes to both sinks.
    server.wait_count("sinkd_store_lines_written_total", 2 * n_sent);
    server.stop().assert_clean_exit();

    let data_dir = sandbox.data_dir();
    let config = sandbox.root().join("sinkd.toml");
    for file in files_under(sandbox.root()) {
        assert!(
            file.starts_with(&data_dir) || file == config,
            "{} was written outside data_dir",
            file.display()
        );
    }
    let streams = stream_names(&data_dir);
    let mut n_lines = 0;
    for stream in &streams {
        assert!(
            !stream.starts_with('/')
                && stream
                    .split('/')
                    .all(|part| !matches!(part, "" | "." | "..")),
            "stream path {stream:?}"
        );
        n_lines += read_stream(&data_dir, stream).len() as u64;
    }
    assert_eq!(n_lines, 2 * n_sent, "{streams:#?}");
}

/// Open descriptors of a process.
fn open_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |entries| entries.count())
}

#[test]
fn a_silent_flood_on_tls_does_not_keep_a_device_out() {
    let sandbox = Sandbox::new();
    let ca = sinkd_tls::test_pki::Ca::new("flood CA");
    let tls_files = crate::tls::server_files(&sandbox, &ca);
    let ca_file = ca.write_pem(sandbox.root(), "ca");
    let server = Server::start(&sandbox, |ports| {
        format!(
            "[[listen]]\ntransport = \"tls\"\naddress = \"127.0.0.1:{}\"\n{tls_files}\
             max_connections = 500\nmax_connections_per_source = 300\nhandshake_timeout = \"60s\"\n\n\
             [[listen]]\ntransport = \"udp\"\naddress = \"127.0.0.1:{}\"\n\n\
             [[listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:{}\"\n\n\
             [[sink]]\ntarget = \"file {{device}}/messages\"\n",
            ports.tls, ports.udp, ports.tcp
        )
    });
    let port = server.ports.tls;
    // 2,000 connections that never send a ClientHello, from eight
    // addresses, kept open: four times the table. The handshake timeout is
    // a minute, so only eviction can make room.
    let mut flood: Vec<TcpStream> = Vec::with_capacity(2000);
    for index in 0..2000_u32 {
        let source = [127, 0, 1, 2 + (index % 8) as u8];
        if let Ok(stream) = try_connect_from(source, port) {
            flood.push(stream);
        }
    }
    server.wait_count("sinkd_connections_closed_total{reason=\"evicted\"}", 1000);
    let fds_during = open_fds(server.pid());
    // A device with a real TLS client gets through while the flood goes on
    // arriving (another 500, interleaved with its handshake).
    let flooder = std::thread::spawn(move || {
        let mut more = Vec::new();
        for index in 0..500_u32 {
            if let Ok(stream) = try_connect_from([127, 0, 2, 2 + (index % 8) as u8], port) {
                more.push(stream);
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        more
    });
    let mut openssl = std::process::Command::new("openssl");
    openssl
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", "localhost", "-quiet", "-no_ign_eof"])
        .arg("-CAfile")
        .arg(&ca_file)
        .args(["-verify_return_error"]);
    let lines: String = (0..10)
        .map(|n| format!("<13>Oct 11 22:14:15 legit app: through the flood {n}\n"))
        .collect();
    let output = crate::support::run_fed(
        &mut openssl,
        lines.as_bytes(),
        "openssl is installed; .ci/run installs it",
    );
    assert!(output.status.success(), "{output:?}");
    let more = flooder.join().expect("flood thread");
    let scrape = server.wait_count("sinkd_store_lines_written_total", 10);
    let evicted = scrape.count("sinkd_connections_closed_total{reason=\"evicted\"}");
    let open = scrape.count("sinkd_tcp_connections{transport=\"tls\"}");
    assert!(open <= 500 + 64, "{open} connections open");
    eprintln!(
        "flood: {} + {} silent connections, {evicted} evicted, {open} open, {fds_during} server descriptors, peak RSS {} KiB",
        flood.len(),
        more.len(),
        peak_rss_kib(server.pid())
    );
    drop((flood, more));
    still_serving(&server, "after-tls-flood");
    server.stop().assert_clean_exit();
    let stored = read_stream(&sandbox.data_dir(), "legit/messages");
    assert_eq!(stored.len(), 10, "{stored:?}");
}

#[test]
fn links_already_in_data_dir_are_not_followed() {
    let sandbox = Sandbox::new();
    let outside = tempfile::tempdir().expect("a directory outside data_dir");
    let victim = outside.path().join("victim");
    std::fs::write(&victim, b"precious\n").expect("write the victim");
    // What an attacker (or a careless restore) left in data_dir: a device
    // directory, a stream directory and a segment file that are links.
    let data_dir = sandbox.data_dir();
    std::fs::create_dir_all(data_dir.join("sw-stream")).expect("mkdir");
    std::fs::create_dir_all(data_dir.join("sw-file/messages")).expect("mkdir");
    std::os::unix::fs::symlink(outside.path(), data_dir.join("evil")).expect("link");
    std::os::unix::fs::symlink(outside.path(), data_dir.join("sw-stream/messages")).expect("link");
    std::os::unix::fs::symlink(
        &victim,
        data_dir.join("sw-file/messages/00000000000000000001.log"),
    )
    .expect("link");
    let server = Server::start(&sandbox, udp_and_tcp);
    let frames: String = ["evil", "sw-stream", "sw-file"]
        .iter()
        .map(|host| format!("<13>Oct 11 22:14:15 {host} app: through a link?\n"))
        .collect();
    send_tcp(server.ports.tcp, frames.as_bytes());
    // Refused and counted as write errors; the server goes on.
    server.wait_count("sinkd_messages_dropped_total{reason=\"write_error\"}", 3);
    still_serving(&server, "honest");
    let stopped = server.stop();
    stopped.assert_clean_exit();
    assert!(stopped.log.contains("symbolic link"), "{}", stopped.log);
    assert_eq!(std::fs::read(&victim).expect("victim"), b"precious\n");
    let outside_files: Vec<_> = std::fs::read_dir(outside.path())
        .expect("list outside")
        .flatten()
        .map(|entry| entry.file_name())
        .collect();
    assert_eq!(outside_files, [std::ffi::OsString::from("victim")]);
    assert_eq!(read_stream(&data_dir, "honest/messages").len(), 2);
}

#[test]
fn hoarded_incomplete_frames_stay_within_the_input_budget() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, |ports| {
        format!(
            "max_input_buffered = \"1M\"\n\n\
             [[listen]]\ntransport = \"udp\"\naddress = \"127.0.0.1:{}\"\n\n\
             [[listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:{}\"\nmax_frame = \"256k\"\n\n\
             [[sink]]\ntarget = \"file {{device}}/messages\"\n",
            ports.udp, ports.tcp
        )
    });
    // 40 connections each write 60,000 bytes of one line that never ends:
    // 2.4 MB of incomplete frames against a 1 MiB budget.
    let chunk = vec![b'x'; 60_000];
    let hoarders: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut stream = connect(server.ports.tcp);
            stream
                .write_all(b"<13>Oct 11 22:14:15 hoard app: ")
                .expect("write");
            stream.write_all(&chunk).expect("write");
            stream
        })
        .collect();
    // An ordinary sender is not held up meanwhile.
    let lines: String = (0..100)
        .map(|n| format!("<13>Oct 11 22:14:15 ordinary app: line {n}\n"))
        .collect();
    send_tcp(server.ports.tcp, lines.as_bytes());
    let scrape = server.wait_count("sinkd_store_lines_written_total", 100);
    assert!(
        scrape.count("sinkd_input_buffered_bytes") <= 1024 * 1024 + 64 * 1024,
        "{}",
        scrape.count("sinkd_input_buffered_bytes")
    );
    // Those that found the budget spent wait, then are closed and counted.
    let scrape = server.wait_count(
        "sinkd_connections_closed_total{reason=\"buffer_budget\"}",
        10,
    );
    assert!(scrape.count("sinkd_input_buffered_bytes") <= 1024 * 1024 + 64 * 1024);
    eprintln!(
        "budget: {} connections closed, {} bytes held, peak RSS {} KiB",
        scrape.count("sinkd_connections_closed_total{reason=\"buffer_budget\"}"),
        scrape.count("sinkd_input_buffered_bytes"),
        peak_rss_kib(server.pid())
    );
    drop(hoarders);
    still_serving(&server, "after-hoard");
    server.stop().assert_clean_exit();
    assert_eq!(
        read_stream(&sandbox.data_dir(), "ordinary/messages").len(),
        100
    );
}
