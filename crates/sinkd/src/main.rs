//! The `sinkd` binary: command-line entry point and wiring only.
//!
//! Each subcommand lives in its own module under `cli/`; the real work is in
//! the library crates (`sinkd-proto` parses and formats, `sinkd-route`
//! compiles priority expressions). Errors are reported through `anyhow` here
//! and nowhere else; a usage error exits with status 2, like clap's own.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cli;
mod clock;

/// Central syslog collector and relay.
#[derive(Parser, Debug)]
#[command(name = "sinkd", version, about, long_about = None)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse raw syslog messages from stdin and print one JSON object per message.
    Parse(cli::parse::ParseArgs),
    /// Compile a priority expression and print its facility/severity table as JSON.
    Priority(cli::priority::PriorityArgs),
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Some(Command::Parse(parse_args)) => cli::parse::run(&parse_args),
        Some(Command::Priority(priority_args)) => cli::priority::run(&priority_args),
        None => {
            use clap::CommandFactory;
            let _ = Args::command().print_help();
            Ok(ExitCode::from(2))
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("sinkd: {error:#}");
            ExitCode::FAILURE
        }
    }
}
