//! Integration tests of sinkd-relay: real relays against real receivers on
//! loopback (a small in-test TCP/TLS/UDP receiver, and rsyslog when it is
//! installed).

mod delivery;
mod outage;
mod rsyslog;
mod support;
