//! `sinkd completions SHELL` prints a shell completion script, and the
//! hidden `sinkd man DIR` writes the manual pages (`sinkd.1` and one per
//! subcommand); both are generated from the clap definition itself, so they
//! cannot drift from the CLI. The Debian package installs their output
//! (deploy/debian/build.sh).

use clap::CommandFactory as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub(crate) struct CompletionsArgs {
    /// The shell to print the completion script for.
    shell: clap_complete::Shell,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ManArgs {
    /// Directory to write the pages into (it must exist).
    dir: PathBuf,
}

pub(crate) fn run_completions(args: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut command = crate::Args::command();
    clap_complete::generate(args.shell, &mut command, "sinkd", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run_man(args: &ManArgs) -> anyhow::Result<ExitCode> {
    clap_mangen::generate_to(crate::Args::command(), &args.dir).map_err(|error| {
        anyhow::anyhow!(
            "cannot write manual pages into {}: {error}",
            args.dir.display()
        )
    })?;
    Ok(ExitCode::SUCCESS)
}
