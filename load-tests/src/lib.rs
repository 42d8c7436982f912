//! Load generation and peer comparison for sinkd: the tools behind the
//! claim "faster than rsyslog and syslog-ng on the same machine".
//!
//! Two binaries sit on this library. `sinkd-load` sends a seeded, realistic
//! mix of syslog traffic to one server; `sinkd-compare` starts sinkd,
//! rsyslog and syslog-ng one after another with equivalent configurations,
//! drives each with the same `sinkd-load` run, and reports what each wrote
//! to disk, how fast, and at what CPU and memory cost.
//!
//! The pieces, in the order the traffic flows:
//!
//! - [`pool`]: the message mix. A [`pool::Pool`] is generated once from a
//!   seed — RFC 5424 (with and without STRUCTURED-DATA) and RFC 3164
//!   (plain and Cisco-style) messages from many devices, with a realistic
//!   facility/severity spread — and cycled through while sending; each
//!   copy gets its own sequence number patched in, so every message on the
//!   wire is distinct. Because the pool is fixed, the number of generated
//!   messages a priority expression selects is known exactly.
//! - [`target`]: the guard that keeps every run on loopback.
//! - [`send`]: the senders: UDP with `sendmmsg` batches, TCP with LF or
//!   octet-counting framing over many connections, and TLS (rustls), each
//!   bounded by a count and a deadline, optionally paced to a fixed rate.
//! - [`load`]: one `sinkd-load` run from options to a [`load::Summary`].
//! - [`compare`]: the peer scenarios: configurations for the three
//!   servers, process control, measurements from `/proc`, the smoke check
//!   and the report.
//!
//! This is a tool crate, like an `xtask`: its errors go to a person at a
//! terminal or to CI's log, so it uses `anyhow` throughout rather than the
//! typed errors of the library crates. Nothing here is on sinkd's own
//! message path.

pub mod bench;
pub mod compare;
pub mod load;
pub mod pool;
pub mod send;
pub mod target;
