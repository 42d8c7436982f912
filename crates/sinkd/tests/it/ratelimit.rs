//! Per-source rate limits end to end: over UDP a source past its limit
//! loses the excess, counted as `rate_limited` and reported by address in
//! the log, while another source passes whole; over TCP the limited
//! source is read more slowly and loses nothing, and another source's
//! messages are not held up behind it.

use crate::harness::{connect_from, read_stream, Ports, Sandbox, Server};
use std::io::Write as _;
use std::net::{Shutdown, UdpSocket};
use std::time::{Duration, Instant};

fn config(ports: &Ports) -> String {
    format!(
        "[[listen]]\ntransport = \"udp\"\naddress = \"127.0.0.1:{}\"\nrate_limit = \"50/s\"\nrate_burst = 100\n\n\
         [[listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:{}\"\nrate_limit = \"100/s\"\n\n\
         [[sink]]\ntarget = \"file {{device}}/messages\"\n",
        ports.udp, ports.tcp
    )
}

#[test]
fn udp_over_the_limit_is_dropped_and_counted_and_others_pass() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, config);
    let started = Instant::now();
    let noisy = UdpSocket::bind("127.0.0.2:0").expect("bind 127.0.0.2");
    let quiet = UdpSocket::bind("127.0.0.3:0").expect("bind 127.0.0.3");
    let target = ("127.0.0.1", server.ports.udp);
    const NOISY: u64 = 3000;
    const QUIET: u64 = 40;
    for n in 0..NOISY {
        let line = format!("<13>Oct 11 22:14:15 noisy app: flood {n}");
        noisy.send_to(line.as_bytes(), target).expect("send");
        if n % 75 == 0 {
            let line = format!("<13>Oct 11 22:14:15 quiet app: steady {}", n / 75);
            quiet.send_to(line.as_bytes(), target).expect("send");
        }
        if n % 200 == 0 {
            // Slow enough that the kernel keeps every datagram.
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let flood_took = started.elapsed();
    let scrape = server.wait_for("every datagram accounted for", |scrape| {
        scrape.count("sinkd_messages_received_total{transport=\"udp\"}") >= NOISY + QUIET
    });
    let limited = scrape.count("sinkd_messages_dropped_total{reason=\"rate_limited\"}");
    assert_eq!(scrape.count("sinkd_udp_kernel_drops_total"), 0);
    server.wait_count("sinkd_store_lines_written_total", NOISY + QUIET - limited);
    // The burst, plus at most the rate over the time it took (and a second
    // for scheduling), passed.
    let allowed = 100 + (50.0 * (flood_took.as_secs_f64() + 1.0)) as u64;
    assert!(
        NOISY - limited <= allowed && limited > 0,
        "{limited} limited in {flood_took:?}"
    );
    // Past the report interval, the next datagram brings the report.
    std::thread::sleep(Duration::from_secs(10).saturating_sub(started.elapsed()));
    noisy
        .send_to(b"<13>Oct 11 22:14:15 noisy app: after", target)
        .expect("send");
    let scrape = server.wait_for("the limited sources reported", |scrape| {
        scrape.count("sinkd_rate_limited_sources") >= 1
    });
    assert_eq!(scrape.count("sinkd_rate_limited_sources"), 1);
    let stopped = server.stop();
    stopped.assert_clean_exit();
    assert!(
        stopped.log.contains("sources over the rate limit") && stopped.log.contains("127.0.0.2"),
        "{}",
        stopped.log
    );
    assert!(!stopped.log.contains("127.0.0.3 ("), "{}", stopped.log);
    let data_dir = sandbox.data_dir();
    assert_eq!(read_stream(&data_dir, "quiet/messages").len() as u64, QUIET);
}

#[test]
fn tcp_over_the_limit_is_read_slowly_and_loses_nothing() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, config);
    const NOISY: usize = 400;
    const QUIET: usize = 50;
    let started = Instant::now();
    let port = server.ports.tcp;
    let noisy = std::thread::spawn(move || {
        let mut stream = connect_from([127, 0, 0, 4], port);
        let lines: String = (0..NOISY)
            .map(|n| format!("<13>Oct 11 22:14:15 tcp-noisy app: line {n}\n"))
            .collect();
        stream.write_all(lines.as_bytes()).expect("write");
        stream.shutdown(Shutdown::Write).expect("half-close");
        let mut rest = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stream, &mut rest);
    });
    let mut quiet = connect_from([127, 0, 0, 5], port);
    let lines: String = (0..QUIET)
        .map(|n| format!("<13>Oct 11 22:14:15 tcp-quiet app: line {n}\n"))
        .collect();
    quiet.write_all(lines.as_bytes()).expect("write");
    quiet.shutdown(Shutdown::Write).expect("half-close");
    // The quiet source is stored while the noisy one is still being held.
    let data_dir = sandbox.data_dir();
    let deadline = Instant::now() + crate::harness::PATIENCE;
    while (read_stream_len(&data_dir, "tcp-quiet/messages")) < QUIET {
        assert!(Instant::now() < deadline, "the quiet source was held up");
        std::thread::sleep(Duration::from_millis(20));
    }
    let quiet_done = started.elapsed();
    noisy.join().expect("noisy sender");
    server.wait_count("sinkd_store_lines_written_total", (NOISY + QUIET) as u64);
    let noisy_done = started.elapsed();
    // 400 lines at 100/s with a burst of 100 cannot take less than 3 s.
    assert!(noisy_done >= Duration::from_secs(3), "{noisy_done:?}");
    assert!(quiet_done < noisy_done, "{quiet_done:?} vs {noisy_done:?}");
    let scrape = server.scrape();
    assert_eq!(
        scrape.count("sinkd_messages_dropped_total{reason=\"rate_limited\"}"),
        0
    );
    server.stop().assert_clean_exit();
    assert_eq!(read_stream(&data_dir, "tcp-noisy/messages").len(), NOISY);
}

/// Lines stored so far in `stream` (0 before it exists).
fn read_stream_len(data_dir: &std::path::Path, stream: &str) -> usize {
    if !data_dir.join(stream).is_dir() {
        return 0;
    }
    read_stream(data_dir, stream).len()
}
