//! Integration tests of sinkd-listen, mini-redis style: real sockets on
//! 127.0.0.1 port 0, a test worker draining the queues, raw bytes in, frames
//! and metrics checked on the way out. One test binary (`autotests = false`)
//! with a module per transport and one for reloads (`reload.rs`);
//! `support.rs` holds the shared harness.

mod reload;
mod support;
mod tcp;
mod tls;
mod udp;
