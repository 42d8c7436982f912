//! Integration tests: run the real `sinkd` binary as a user would.
//!
//! One test binary for the crate (see `autotests = false` in Cargo.toml);
//! each module covers one subcommand or server behaviour. The server tests
//! start the binary through `harness.rs` on 127.0.0.1 ports and a temporary
//! data directory, and judge it by its sockets, `/metrics`, its log and the
//! segment files it leaves.

mod api;
mod cli;
mod config;
mod console;
mod deploy;
mod disk;
mod follow;
mod harness;
mod holds;
mod hostile;
mod ingest;
mod kafka;
mod lifecycle;
mod netns;
mod privilege;
mod prometheus;
mod ratelimit;
mod read;
mod relay;
mod reload;
mod relp;
mod scaleout;
mod support;
mod systemd;
mod tidy;
mod tls;
