//! What already held against a hostile probe, kept as tests so it keeps
//! holding: slow senders on 500 connections, a 200,000-datagram garbage
//! flood whose counts add up, and 50 reloads under load that store every
//! message exactly once.

use crate::harness::{connect, connect_from, read_stream, send_tcp, stream_names, Sandbox, Server};
use crate::hostile::udp_and_tcp;
use std::collections::HashSet;
use std::io::Write as _;
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

#[test]
fn slow_senders_on_500_connections_do_not_hold_up_a_fast_one() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, udp_and_tcp);
    // 500 connections from five addresses (each under the per-source
    // limit) dribble a line a few bytes at a time.
    let mut slow: Vec<TcpStream> = (0..500u32)
        .map(|n| connect_from([127, 0, 1, 1 + (n % 5) as u8], server.ports.tcp))
        .collect();
    let line = b"<13>Oct 11 22:14:15 slow app: one byte at a time\n";
    let fast: String = (0..1000)
        .map(|n| format!("<13>Oct 11 22:14:15 fast app: line {n}\n"))
        .collect();
    let mut fast_done = None;
    let started = Instant::now();
    for (step, chunk) in line.chunks(6).enumerate() {
        for stream in &mut slow {
            stream.write_all(chunk).expect("write a dribble");
        }
        if step == 2 {
            send_tcp(server.ports.tcp, fast.as_bytes());
            fast_done = Some(server.wait_count("sinkd_store_lines_written_total", 1000));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(fast_done.is_some());
    // Every slow line completes too.
    server.wait_count("sinkd_store_lines_written_total", 1500);
    let scrape = server.scrape();
    assert_eq!(
        scrape.count("sinkd_tcp_connections{transport=\"tcp\"}"),
        500
    );
    eprintln!(
        "slowloris: 500 dribbling connections, fast sender's 1000 lines stored within {:?}, {} bytes buffered",
        started.elapsed(),
        scrape.count("sinkd_input_buffered_bytes")
    );
    drop(slow);
    server.stop().assert_clean_exit();
    let data_dir = sandbox.data_dir();
    assert_eq!(read_stream(&data_dir, "fast/messages").len(), 1000);
    assert_eq!(read_stream(&data_dir, "slow/messages").len(), 500);
}

#[test]
fn a_garbage_flood_is_counted_to_the_last_datagram() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, udp_and_tcp);
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let target = ("127.0.0.1", server.ports.udp);
    // 200,000 datagrams of pseudo-random bytes (a fixed-seed xorshift),
    // 1 to 200 bytes each, control bytes and invalid UTF-8 included.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const SENT: u64 = 200_000;
    let mut datagram = Vec::with_capacity(200);
    for n in 0..SENT {
        datagram.clear();
        let len = 1 + (next() % 200) as usize;
        while datagram.len() < len {
            datagram.extend_from_slice(&next().to_le_bytes());
        }
        datagram.truncate(len);
        socket.send_to(&datagram, target).expect("send");
        if n % 500 == 0 {
            // Paced so that the kernel keeps every datagram.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let scrape = server.wait_for("every datagram read", |scrape| {
        scrape.count("sinkd_messages_received_total{transport=\"udp\"}")
            + scrape.count("sinkd_udp_kernel_drops_total")
            >= SENT
    });
    let received = scrape.count("sinkd_messages_received_total{transport=\"udp\"}");
    let kernel = scrape.count("sinkd_udp_kernel_drops_total");
    let dropped: u64 = [
        "frame_invalid",
        "frame_too_large",
        "queue_full",
        "not_allowed",
    ]
    .iter()
    .map(|reason| {
        scrape.count(&format!(
            "sinkd_messages_dropped_total{{reason=\"{reason}\"}}"
        ))
    })
    .sum();
    assert_eq!(received + kernel, SENT);
    let scrape = server.wait_count("sinkd_store_lines_written_total", received - dropped);
    assert_eq!(
        scrape.count("sinkd_store_lines_written_total"),
        received - dropped,
        "received {received}, dropped {dropped}"
    );
    server.stop().assert_clean_exit();
    // What was stored is one line per message, no raw control byte.
    let data_dir = sandbox.data_dir();
    let mut lines = 0;
    for stream in stream_names(&data_dir) {
        for (_, line) in read_stream(&data_dir, &stream) {
            assert!(
                !line.bytes().any(|byte| byte < 0x20 && byte != b'\t'),
                "{line:?}"
            );
            lines += 1;
        }
    }
    assert_eq!(lines, received - dropped);
}

#[test]
fn fifty_reloads_under_load_store_every_message_exactly_once() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, udp_and_tcp);
    const MESSAGES: usize = 20_000;
    let port = server.ports.tcp;
    let sender = std::thread::spawn(move || {
        let mut stream = connect(port);
        for chunk in (0..MESSAGES).collect::<Vec<_>>().chunks(200) {
            let lines: String = chunk
                .iter()
                .map(|n| format!("<13>Oct 11 22:14:15 hup50 app: message {n:05}\n"))
                .collect();
            stream.write_all(lines.as_bytes()).expect("write");
            std::thread::sleep(Duration::from_millis(5));
        }
        stream
            .shutdown(std::net::Shutdown::Write)
            .expect("half-close");
        let mut rest = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stream, &mut rest);
    });
    for n in 1..=50u64 {
        server.signal(libc::SIGHUP);
        server.wait_count("sinkd_config_reloads_total{result=\"ok\"}", n);
    }
    sender.join().expect("sender");
    server.wait_count("sinkd_store_lines_written_total", MESSAGES as u64);
    server.stop().assert_clean_exit();
    let stored = read_stream(&sandbox.data_dir(), "hup50/messages");
    let unique: HashSet<&str> = stored.iter().map(|(_, line)| line.as_str()).collect();
    assert_eq!(stored.len(), MESSAGES, "no loss, no duplicate");
    assert_eq!(unique.len(), MESSAGES);
}
