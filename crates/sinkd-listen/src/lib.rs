//! sinkd's network listeners: where syslog messages enter the collector.
//!
//! Three transports feed one worker pool:
//!
//! - **UDP** (RFC 5426), [`bind_udp`] then [`BoundUdp::start`] (or
//!   [`start_udp`]): `threads` SO_REUSEPORT sockets on one
//!   address, each read by its own OS thread with `recvmmsg`, so a burst of
//!   datagrams costs one system call per batch. UDP cannot push back on a
//!   sender, so every loss is counted instead, the kernel's included
//!   (its per-socket drop count, read with SO_MEMINFO once per batch).
//! - **TCP** (RFC 6587) and **TLS** (RFC 5425, rustls with the `ring`
//!   provider, optional client certificates), [`bind_stream`] then
//!   [`BoundStream::start`] (or [`start_stream`]): a tokio
//!   accept loop and one task per connection, framing detected per
//!   connection (octet counting or LF) by `sinkd_proto`'s sans-IO
//!   `Deframer`. A full worker queue stops the connection from reading, so
//!   the sender feels the backpressure and nothing is dropped.
//!
//! - **RELP** (rsyslog's `omrelp`), a stream listener with `relp` set,
//!   over TCP or TLS: the same accept loop and admission, then a RELP
//!   session (`relp.rs`) that answers each message once the workers and
//!   the store report it stored (its batches carry an [`Ack`]).
//!
//! All hand the workers [`RawBatch`]es: the frames of one read in one
//! arena (for TCP and TLS the read buffer's decoded front itself, for UDP
//! and RELP a copy) with each frame's peer address and the receive time,
//! over the bounded channels of [`WorkerQueues`]. Parsing,
//! routing and storage happen in the workers; a listener only delimits
//! messages, checks the allow list and counts (`sinkd-metrics`).
//!
//! Every listener is built in two steps so a reload can do everything that
//! can fail before it changes anything: binding ([`bind_udp`],
//! [`bind_stream`], [`StreamListener::bind_beside`]) checks the settings,
//! reads the certificate files and binds the sockets; starting cannot fail
//! for a foreseeable reason. A running stream listener is reconfigured the
//! same way ([`StreamListener::prepare_update`], then
//! [`StreamListener::commit_update`]). An unstarted [`BoundUdp`] must be
//! given up with [`BoundUdp::abandon`], which reads its sockets empty.
//!
//! Invariants: **no message is dropped without incrementing a drop
//! counter**; **no read buffers more than `max_frame` + 64 KiB per
//! connection**; **a connection's messages reach one worker queue, in
//! order**.
//!
//! Layout: `config.rs` (the settings `sinkd-config` fills in, and their
//! defaults), `allow.rs` (source allow lists), `batch.rs` (the batch and
//! queue types), `udp.rs` (UDP sockets, threads and counting) with
//! `udp/recvmmsg.rs` (the `recvmmsg` buffers and the kernel interface,
//! most of the crate's `unsafe`), `stream.rs` (TCP/TLS/RELP listener,
//! accept loop, updates), `connection.rs` (one connection's handshake and
//! read loop), `relp.rs` (one RELP session), `tls.rs`
//! (certificates to rustls), `error.rs`.

mod allow;
mod batch;
mod budget;
mod config;
mod connection;
mod error;
mod ratelimit;
mod relp;
mod slots;
mod stream;
mod tls;
mod udp;

pub use allow::{parse_entry as parse_allow_entry, AllowList, AllowListError};
pub use batch::{Ack, AckWait, BatchSender, RawBatch, RawFrame, WorkerQueues};
pub use budget::{input_buffered, set_input_budget, DEFAULT_INPUT_BUDGET};
pub use config::{
    ListenerConfig, StreamConfig, TlsConfig, UdpConfig, DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
    DEFAULT_MAX_FRAME, DEFAULT_PORT, DEFAULT_RELP_PORT, DEFAULT_TLS_PORT, DEFAULT_UDP_BATCH_SIZE,
    DEFAULT_UDP_RECV_BUFFER, DEFAULT_UDP_THREADS, MIN_MAX_FRAME, STREAM_MAX_FRAME_LIMIT,
    UDP_BATCH_SIZE_LIMIT, UDP_MAX_FRAME_LIMIT, UDP_THREADS_LIMIT,
};
pub use error::ListenError;
pub use ratelimit::RateLimit;
pub use sinkd_proto::framing::Framing;
pub use stream::{bind_stream, start_stream, BoundStream, StreamListener, StreamUpdate};
pub use udp::{bind_udp, start_udp, BoundUdp, UdpListener};
