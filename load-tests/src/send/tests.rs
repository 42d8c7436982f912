//! The senders against real loopback sockets: what arrives is exactly what
//! was counted, framed as asked.

use super::{
    push_framed, send_stream, send_udp, tcp_connect, udp_socket, Counters, Framing, SendPlan, Stop,
};
use crate::pool::{Pool, PoolOptions, SizeClass};
use sinkd_route::{compile, Templates};
use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn pool(entries: usize) -> Pool {
    Pool::generate(&PoolOptions {
        seed: 42,
        devices: 20,
        size: SizeClass::Small,
        entries,
        base_time: "2026-11-22T10:15:30Z".parse().unwrap(),
    })
}

fn plan<'a>(
    pool: &'a Pool,
    table: Option<&'a sinkd_route::PriorityTable>,
    first: u64,
    count: u64,
) -> SendPlan<'a> {
    SendPlan {
        pool,
        table,
        first,
        count,
        deadline: Instant::now() + Duration::from_secs(20),
        rate: None,
    }
}

#[test]
fn udp_batches_arrive_as_single_datagrams_in_order() {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // Room for the whole burst: the test reads only after sending.
    let size: libc::c_int = 4 << 20;
    // SAFETY: setsockopt reads an int of the given size.
    unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&receiver),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    let sender = udp_socket(receiver.local_addr().unwrap()).unwrap();
    let pool = pool(50);
    let table = compile("*.notice;auth.*", &Templates::with_defaults()).unwrap();
    let counters = Counters::default();
    let stop = send_udp(&sender, &plan(&pool, Some(&table), 100, 200), 64, &counters).unwrap();
    assert_eq!(stop, Stop::Count);
    assert_eq!(counters.sent.load(Ordering::Relaxed), 200);
    assert_eq!(
        counters.passing.load(Ordering::Relaxed),
        pool.count_passing(&table, 100, 200)
    );
    let mut buffer = [0u8; 4096];
    let mut total_bytes = 0;
    for index in 100..300u64 {
        let n = receiver.recv(&mut buffer).unwrap();
        let mut expected = Vec::new();
        pool.write_message(index, &mut expected);
        assert_eq!(&buffer[..n], &expected[..], "datagram {index}");
        total_bytes += n as u64;
    }
    assert_eq!(counters.bytes.load(Ordering::Relaxed), total_bytes);
}

fn receive_all(listener: TcpListener) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut data = Vec::new();
        stream.read_to_end(&mut data).unwrap();
        data
    })
}

#[test]
fn tcp_lf_framing_is_one_message_per_line() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let reader = receive_all(listener);
    let pool = pool(30);
    let counters = Counters::default();
    {
        let mut stream = tcp_connect(address).unwrap();
        let stop = send_stream(
            &mut stream,
            &plan(&pool, None, 0, 2000),
            Framing::Lf,
            &counters,
        )
        .unwrap();
        assert_eq!(stop, Stop::Count);
    }
    let data = reader.join().unwrap();
    let lines: Vec<&[u8]> = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), 2000);
    for (index, line) in lines.iter().enumerate() {
        let mut expected = Vec::new();
        pool.write_message(index as u64, &mut expected);
        assert_eq!(*line, &expected[..]);
    }
    assert_eq!(counters.sent.load(Ordering::Relaxed), 2000);
}

#[test]
fn tcp_octet_counting_frames_parse_back() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let reader = receive_all(listener);
    let pool = pool(30);
    let counters = Counters::default();
    {
        let mut stream = tcp_connect(address).unwrap();
        send_stream(
            &mut stream,
            &plan(&pool, None, 7, 1500),
            Framing::OctetCounting,
            &counters,
        )
        .unwrap();
    }
    let data = reader.join().unwrap();
    let mut rest = &data[..];
    let mut index = 7u64;
    while !rest.is_empty() {
        let space = rest.iter().position(|b| *b == b' ').unwrap();
        let len: usize = std::str::from_utf8(&rest[..space])
            .unwrap()
            .parse()
            .unwrap();
        let message = &rest[space + 1..space + 1 + len];
        let mut expected = Vec::new();
        pool.write_message(index, &mut expected);
        assert_eq!(message, &expected[..]);
        rest = &rest[space + 1 + len..];
        index += 1;
    }
    assert_eq!(index, 7 + 1500);
}

#[test]
fn pacing_holds_the_rate_and_the_deadline_stops_the_run() {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sender = udp_socket(receiver.local_addr().unwrap()).unwrap();
    let pool = pool(10);
    let counters = Counters::default();
    let started = Instant::now();
    let mut paced = plan(&pool, None, 0, 1_000_000);
    paced.rate = Some(2000.0);
    paced.deadline = started + Duration::from_millis(500);
    let stop = send_udp(&sender, &paced, 64, &counters).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(stop, Stop::Deadline);
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    let sent = counters.sent.load(Ordering::Relaxed);
    assert!(
        (700..=1300).contains(&sent),
        "sent {sent} at 2000/s in 0.5 s"
    );
}

#[test]
fn octet_counting_prefix_is_the_message_length() {
    let pool = pool(5);
    let mut out = Vec::new();
    let len = push_framed(&pool, 3, Framing::OctetCounting, &mut out);
    let text = String::from_utf8(out).unwrap();
    let (prefix, message) = text.split_once(' ').unwrap();
    assert_eq!(prefix.parse::<usize>().unwrap(), len);
    assert_eq!(message.len(), len);
}
