//! The `sinkd` binary: command-line entry point and wiring only.
//!
//! Without a subcommand, `sinkd` runs the collector (`server/`) on the
//! configuration given with `--config`, or on the embedded default. The
//! subcommands in `cli/` expose the library crates directly: `parse` and
//! `priority` (the protocol core and priority compiler), `check-config` and
//! `import-device-config`; `dir` and `show` read back what the store holds;
//! `healthcheck`, `completions` and the hidden `man`
//! serve deployment (the container's HEALTHCHECK, the Debian package).
//! Errors are reported through `anyhow` here and nowhere else; a usage or
//! validation error exits with status 2, like clap's own.

use clap::{Parser, Subcommand};
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

mod cli;
mod clock;
mod server;

/// Central syslog collector and relay.
///
/// Without a subcommand, runs the collector: on the configuration given
/// with --config, or on the embedded default (514/udp and 514/tcp, every
/// message stored per device under ./sinkd-data, metrics on
/// 127.0.0.1:9514).
#[derive(Parser, Debug)]
#[command(name = "sinkd", version, about, long_about)]
struct Args {
    /// Configuration file (TOML); see docs/config.md.
    #[arg(long, short = 'c', value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Started as root: bind the ports, then run as this user (and group;
    /// default the user's own). Overrides `user` and `group` in the file.
    #[arg(long, value_name = "USER[:GROUP]", value_parser = parse_run_as)]
    user: Option<sinkd_config::RunAs>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse raw syslog messages from stdin and print one JSON object per message.
    Parse(cli::parse::ParseArgs),
    /// Compile a priority expression and print its facility/severity table as JSON.
    Priority(cli::priority::PriorityArgs),
    /// Validate a configuration file and show its sinks, without starting.
    CheckConfig(cli::check_config::CheckConfigArgs),
    /// Translate the device's CLI logging lines (stdin) into sinkd TOML (stdout).
    ImportDeviceConfig(cli::import_device_config::ImportArgs),
    /// Ask a running sinkd's /healthz; exit 0 when healthy, 1 otherwise.
    Healthcheck(cli::healthcheck::HealthcheckArgs),
    /// List the stored devices, or one device's files (like `dir log`).
    Dir(cli::dir::DirArgs),
    /// Print a device's stored lines, filtered (like `show log`).
    Show(cli::show::ShowArgs),
    /// Print a device's new lines as they are stored, filtered (like `follow`).
    Follow(cli::follow::FollowArgs),
    /// Print a shell completion script.
    Completions(cli::completions::CompletionsArgs),
    /// Write the manual pages into a directory (for packaging).
    #[command(hide = true)]
    Man(cli::completions::ManArgs),
}

/// `USER` or `USER:GROUP`.
fn parse_run_as(text: &str) -> Result<sinkd_config::RunAs, String> {
    let (user, group) = match text.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (text, None),
    };
    if user.is_empty() || group.is_some_and(str::is_empty) {
        return Err(format!("{text:?} is not USER or USER:GROUP"));
    }
    Ok(sinkd_config::RunAs {
        user: user.to_owned(),
        group: group.map(str::to_owned),
    })
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SINKD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in journald or
        // a log file.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Restores the default action of SIGPIPE (the Rust runtime ignores it),
/// for commands that print text and hold nothing to clean up: once the
/// reader of their output has gone (`sinkd check-config a.toml | head -1`),
/// they end quietly as `cat` would, instead of failing on a write.
fn end_on_closed_pipe() {
    // SAFETY: signal(2) with SIG_DFL installs no handler; it runs before
    // any other thread exists, so nothing races with the change.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    // `show` and `follow` handle a closed pipe themselves (the pager, the
    // damage report after it); the server must never die of one.
    if matches!(
        args.command,
        Some(
            Command::Parse(_)
                | Command::Priority(_)
                | Command::CheckConfig(_)
                | Command::ImportDeviceConfig(_)
                | Command::Dir(_)
                | Command::Completions(_)
                | Command::Man(_)
        )
    ) {
        end_on_closed_pipe();
    }
    let result = match args.command {
        Some(Command::Parse(parse_args)) => cli::parse::run(&parse_args),
        Some(Command::Priority(priority_args)) => cli::priority::run(&priority_args),
        Some(Command::CheckConfig(check_args)) => cli::check_config::run(&check_args),
        Some(Command::ImportDeviceConfig(import_args)) => {
            cli::import_device_config::run(&import_args)
        }
        Some(Command::Healthcheck(health_args)) => {
            cli::healthcheck::run(&health_args, args.config.as_deref())
        }
        Some(Command::Dir(dir_args)) => cli::dir::run(&dir_args, args.config.as_deref()),
        Some(Command::Show(show_args)) => cli::show::run(&show_args, args.config.as_deref()),
        Some(Command::Follow(follow_args)) => {
            cli::follow::run(&follow_args, args.config.as_deref())
        }
        Some(Command::Completions(completion_args)) => {
            cli::completions::run_completions(&completion_args)
        }
        Some(Command::Man(man_args)) => cli::completions::run_man(&man_args),
        None => {
            init_tracing();
            let source = match args.config {
                Some(path) => server::ConfigSource::File(path),
                None => server::ConfigSource::Embedded,
            };
            server::run(source, args.user)
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
