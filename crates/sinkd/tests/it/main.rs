//! Integration tests: run the real `sinkd` binary as a user would.
//!
//! One test binary for the crate (see `autotests = false` in Cargo.toml);
//! each module covers one subcommand or server behaviour.

mod cli;
mod support;
