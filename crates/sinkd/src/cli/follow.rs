//! `sinkd follow DEVICE[/FILE]`: the device's `follow`. Prints a stored
//! file's new lines as the store writes them, with the filters of
//! `sinkd show` (no `--until`), until SIGINT or SIGTERM, then exits 0.
//!
//! Where it starts: with `--tail N` at the last N lines that pass (of those
//! from `--since` on, when given); with `--since` alone at the first line
//! from then; otherwise at the end. Then it polls the stream every
//! [`POLL`]: [`StreamReader`] already returns `None` for "nothing more
//! now" and carries on across rotation (it keeps the segment it reads open
//! while the store closes and compresses it, finishes it, then enters the
//! next one), so no line is lost or repeated. The store writes at its flush
//! interval, so a line shows within that interval plus one poll. Reads only.

use crate::cli::show::{self, ReadArgs};
use crate::cli::store_args;
use crate::clock::Clock;
use anyhow::Context as _;
use sinkd_store::StreamReader;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};

/// How often the stream is looked at for new lines.
const POLL: Duration = Duration::from_millis(200);

#[derive(clap::Args, Debug)]
pub(crate) struct FollowArgs {
    /// DEVICE or DEVICE/FILE (`sinkd dir DEVICE` lists the files).
    target: String,
    #[command(flatten)]
    read: ReadArgs,
    /// First the last N stored lines that pass the filters.
    #[arg(long, value_name = "N")]
    tail: Option<usize>,
}

pub(crate) fn run(args: &FollowArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    store_args::exit_code(follow(args, config))
}

fn follow(args: &FollowArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let stop = watch_stop_signals()?;
    let data_dir = args.read.data_dir.resolve(config)?;
    let clock = Clock::system();
    let received = clock.now();
    let filter = args
        .read
        .filter
        .compile(None, received.local.unix_micros(), clock.zone())?;
    let devices = store_args::candidates(&data_dir, &args.target)?;
    let (device, file) = show::find_file(&devices, &args.target)?;
    let mut reader = StreamReader::open(&data_dir, &file.stream.path)?;
    let mut out = io::stdout().lock();
    let result = (|| -> anyhow::Result<()> {
        sinkd_read::start(&mut reader, &filter)?;
        if filter.since().is_some() || args.tail.is_some() {
            show::copy(
                &mut reader,
                &filter,
                (args.read.form(), args.tail),
                (device, &received),
                &mut out,
            )?;
        } else {
            // From the end: the line after the newest one the listing saw
            // (any written since are new, and shown).
            let next = file
                .stream
                .last_seq
                .map_or(file.stream.first_seq, |last| last + 1);
            reader.seek_seq(next)?;
        }
        out.flush()?;
        show::report_damage(&mut reader);
        loop {
            match stop.recv_timeout(POLL) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            }
            let received = clock.now();
            show::copy(
                &mut reader,
                &filter,
                (args.read.form(), None),
                (device, &received),
                &mut out,
            )?;
            out.flush()?;
            show::report_damage(&mut reader);
        }
    })();
    match result {
        // The reader of the output went away (`| head`): done.
        Err(error) if show::is_broken_pipe(&error) => Ok(ExitCode::SUCCESS),
        other => other.map(|()| ExitCode::SUCCESS),
    }
}

/// A channel that receives once SIGINT or SIGTERM arrives. The handlers are
/// installed before this returns, so a signal sent at any later moment ends
/// the follow (with status 0) instead of killing the process.
fn watch_stop_signals() -> anyhow::Result<mpsc::Receiver<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("cannot start the signal watcher")?;
    let (mut interrupt, mut terminate) = {
        let _entered = runtime.enter();
        (
            signal(SignalKind::interrupt()).context("cannot watch SIGINT")?,
            signal(SignalKind::terminate()).context("cannot watch SIGTERM")?,
        )
    };
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name(String::from("signals"))
        .spawn(move || {
            runtime.block_on(async {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            });
            let _ = sender.send(());
        })
        .context("cannot start the signal watcher")?;
    Ok(receiver)
}
