//! Integration tests of sinkd-relay: real relays against real receivers on
//! loopback (a small in-test TCP/TLS/UDP receiver, and rsyslog when it is
//! installed), and reloads that prepare before they commit.

mod delivery;
mod outage;
mod reload;
mod rsyslog;
mod support;
