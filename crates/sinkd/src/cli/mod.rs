//! One module per `sinkd` subcommand. Each exposes a clap `*Args` struct and
//! a `run` function returning the process exit code.

pub(crate) mod check_config;
pub(crate) mod completions;
pub(crate) mod dir;
pub(crate) mod filter;
pub(crate) mod follow;
pub(crate) mod healthcheck;
pub(crate) mod import_device_config;
pub(crate) mod parse;
pub(crate) mod priority;
pub(crate) mod show;
pub(crate) mod store_args;
