//! Unit tests of the `recvmmsg` receiver on real loopback sockets.

use super::*;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// A bound, configured receive socket on 127.0.0.1 with a small timeout.
fn receive_socket(recv_buffer: Option<usize>) -> (Socket, SocketAddr) {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).expect("socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
    }
    let bind_addr: SocketAddr = "127.0.0.1:0".parse().expect("address");
    socket.bind(&bind_addr.into()).expect("bind");
    let local = socket
        .local_addr()
        .expect("local address")
        .as_socket()
        .expect("inet address");
    (socket, local)
}

#[test]
fn receives_a_batch_with_peers() {
    let (socket, local) = receive_socket(None);
    let sender = UdpSocket::bind("127.0.0.1:0").expect("sender");
    let sender_addr = sender.local_addr().expect("sender address");
    for msg in [&b"<13>one"[..], b"<14>two\n", b"<15>three"] {
        sender.send_to(msg, local).expect("send");
    }
    let mut receiver = Receiver::new(8, 1024);
    let mut payloads = Vec::new();
    while payloads.len() < 3 {
        let n_datagrams = receiver.recv(socket.as_raw_fd()).expect("datagrams arrive");
        for idx in 0..n_datagrams {
            let datagram = receiver.datagram(idx);
            assert_eq!(datagram.peer, Some(sender_addr));
            assert!(!datagram.truncated);
            payloads.push(datagram.payload.to_vec());
        }
    }
    assert_eq!(
        payloads,
        vec![
            b"<13>one".to_vec(),
            b"<14>two\n".to_vec(),
            b"<15>three".to_vec()
        ]
    );
    // Past what recv returned, a datagram is empty.
    assert!(receiver.datagram(7).payload.is_empty());
    assert!(receiver.datagram(100).peer.is_none());
}

#[test]
fn long_datagrams_are_truncated_and_flagged() {
    let (socket, local) = receive_socket(None);
    let sender = UdpSocket::bind("127.0.0.1:0").expect("sender");
    sender.send_to(b"<13>0123456789", local).expect("send");
    let mut receiver = Receiver::new(2, 8);
    let n_datagrams = receiver.recv(socket.as_raw_fd()).expect("datagram arrives");
    assert_eq!(n_datagrams, 1);
    let datagram = receiver.datagram(0);
    assert_eq!(datagram.payload, b"<13>0123");
    assert!(datagram.truncated);
}

#[test]
fn the_kernel_drop_count_is_read_from_the_socket() {
    // The smallest receive buffer holds a handful of datagrams; the rest of
    // the burst is dropped by the kernel and counted on the socket, where
    // SO_MEMINFO reads it at once, with no datagram needed after the drops.
    let (socket, local) = receive_socket(Some(1));
    let fd = socket.as_raw_fd();
    assert_eq!(kernel_drops(fd).expect("SO_MEMINFO"), Some(0));
    let sender = UdpSocket::bind("127.0.0.1:0").expect("sender");
    let payload = [b'x'; 1000];
    for _ in 0..200 {
        sender.send_to(&payload, local).expect("send");
    }
    let mut receiver = Receiver::new(64, 2048);
    let n_kept = receiver.recv(fd).expect("datagrams arrive");
    assert!(n_kept > 0 && n_kept < 200, "{n_kept}");
    assert_eq!(
        kernel_drops(fd).expect("SO_MEMINFO"),
        Some(200 - n_kept as u32)
    );
    // Reading on changes nothing: the count is of drops, not of reads.
    sender.send_to(b"<13>after", local).expect("send");
    assert_eq!(receiver.recv(fd).expect("datagram arrives"), 1);
    assert_eq!(receiver.datagram(0).payload, b"<13>after");
    assert_eq!(
        kernel_drops(fd).expect("SO_MEMINFO"),
        Some(200 - n_kept as u32)
    );
}

#[test]
fn a_receive_timeout_is_would_block() {
    let (socket, _local) = receive_socket(None);
    let mut receiver = Receiver::new(4, 64);
    let error = receiver
        .recv(socket.as_raw_fd())
        .expect_err("nothing was sent");
    assert!(
        matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{error:?}"
    );
}

#[test]
fn ipv6_peers_convert() {
    let Ok(receiver_socket) = UdpSocket::bind("[::1]:0") else {
        // No IPv6 loopback in this environment: nothing to test.
        return;
    };
    receiver_socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let sender = UdpSocket::bind("[::1]:0").expect("sender");
    sender
        .send_to(b"<13>v6", receiver_socket.local_addr().expect("address"))
        .expect("send");
    let mut receiver = Receiver::new(1, 64);
    let n_datagrams = receiver
        .recv(receiver_socket.as_raw_fd())
        .expect("datagram arrives");
    assert_eq!(n_datagrams, 1);
    assert_eq!(
        receiver.datagram(0).peer,
        Some(sender.local_addr().expect("address"))
    );
}

#[test]
fn unknown_address_families_are_none() {
    // SAFETY: all-zero is a valid sockaddr_storage (family AF_UNSPEC).
    let storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    assert_eq!(socket_addr(&storage, 128), None);
}
