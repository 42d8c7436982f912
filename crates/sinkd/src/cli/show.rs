//! `sinkd show DEVICE[/FILE]`: a device's stored lines, oldest first, across
//! its closed (zstd) and active segments, filtered (see `filter`), like the
//! device's `show log`. Without FILE it reads `messages` when the device has
//! it, else its only file. `--tail N` keeps the last N that pass; `--json`
//! prints each as `sinkd parse` would, plus `device`. On a terminal the
//! output goes through `$PAGER` (default `less`). Reads only.
//!
use crate::cli::filter::{FilterArgs, UntilArg};
use crate::cli::store_args::{self, DataDirArgs, UsageError};
use crate::clock::Clock;
use sinkd_proto::ReceiveTime;
use sinkd_read::{Form, Query, ScanError};
use sinkd_store::{DeviceFile, DeviceInfo, StreamReader};
use std::io::{self, IsTerminal as _, Write};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};

#[derive(clap::Args, Debug)]
pub(crate) struct ShowArgs {
    /// DEVICE or DEVICE/FILE (`sinkd dir DEVICE` lists the files).
    target: String,
    #[command(flatten)]
    read: ReadArgs,
    #[command(flatten)]
    until: UntilArg,
    /// Only the last N lines that pass the filters.
    #[arg(long, value_name = "N")]
    tail: Option<usize>,
}

/// The options `show` and `follow` share: the filters but `--until`,
/// `--json`, and where the data is.
#[derive(clap::Args, Debug)]
pub(crate) struct ReadArgs {
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// One JSON object per line, with the keys of `sinkd parse` and `device`.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) data_dir: DataDirArgs,
}

impl ReadArgs {
    /// How a matching line is printed.
    pub(crate) fn form(&self) -> Form {
        if self.json {
            Form::Json
        } else {
            Form::Line
        }
    }
}

pub(crate) fn run(args: &ShowArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    store_args::exit_code(show(args, config))
}

fn show(args: &ShowArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let data_dir = args.read.data_dir.resolve(config)?;
    let clock = Clock::system();
    let received = clock.now();
    let filter = args.read.filter.compile(
        args.until.until.as_deref(),
        received.local.unix_micros(),
        clock.zone(),
    )?;
    let devices = store_args::candidates(&data_dir, &args.target)?;
    let (device_name, file) = find_file(&devices, &args.target)?;
    let mut reader = StreamReader::open(&data_dir, &file.stream.path)?;
    // Closed segments ahead are decompressed on the cores to spare.
    reader.set_read_ahead(StreamReader::read_ahead_for_machine());
    sinkd_read::start(&mut reader, &filter)?;
    let mut output = Output::open();
    let result = copy(
        &mut reader,
        &filter,
        (args.read.form(), args.tail),
        (device_name, &received),
        output.writer(),
    );
    let finished = output.finish();
    // After the pager has quit, so the messages are not drawn over.
    report_damage(&mut reader);
    match result {
        Err(error) if is_broken_pipe(&error) => {}
        other => other?,
    }
    finished?;
    Ok(ExitCode::SUCCESS)
}

/// The device and file `target` (`DEVICE` or `DEVICE/FILE`) names; an
/// unknown name is a usage error that lists the closest existing ones.
pub(crate) fn find_file<'a>(
    devices: &'a [DeviceInfo],
    target: &'a str,
) -> Result<(&'a str, &'a DeviceFile), UsageError> {
    sinkd_read::find_file(devices, target).map_err(|error| UsageError(error.to_string()))
}

/// Writes the lines the reader has now that pass, each ended by `\n`, all
/// of them or, with `tail` (the second of `(form, tail)`), the last N.
pub(crate) fn copy(
    reader: &mut StreamReader,
    filter: &Query,
    (form, tail): (Form, Option<usize>),
    at: (&str, &ReceiveTime),
    output: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut emit = |_seq: u64, line: &[u8]| {
        output.write_all(line)?;
        output.write_all(b"\n")
    };
    match sinkd_read::scan(reader, filter, form, at, tail, (&mut emit, &|| false)) {
        Ok(_) => Ok(()),
        Err(ScanError::Emit(error)) => Err(error.into()),
        Err(ScanError::Store(error)) => Err(error.into()),
    }
}

/// Prints, on stderr, the damaged files the reader went past since the
/// last call (`sinkd: FILE: REASON`); reading goes on with the rest.
pub(crate) fn report_damage(reader: &mut StreamReader) {
    for warning in reader.take_warnings() {
        eprintln!("sinkd: {warning}");
    }
}

pub(crate) fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<io::Error>()
        .is_some_and(|error| error.kind() == io::ErrorKind::BrokenPipe)
}

/// Standard output, or `$PAGER` when it is a terminal.
struct Output {
    out: Box<dyn Write>,
    pager: Option<Child>,
}

impl Output {
    fn open() -> Output {
        if io::stdout().is_terminal() {
            if let Some(output) = Output::pager() {
                return output;
            }
        }
        Output {
            out: Box::new(io::BufWriter::with_capacity(64 * 1024, io::stdout().lock())),
            pager: None,
        }
    }

    /// `$PAGER` (default `less`) through `sh -c`, so it may carry options;
    /// `less` is told to quit when the text fits on one screen. `None` when
    /// it cannot be started: the text then goes to the terminal directly.
    fn pager() -> Option<Output> {
        let pager = std::env::var("PAGER")
            .ok()
            .filter(|pager| !pager.trim().is_empty())
            .unwrap_or_else(|| String::from("less"));
        let mut command = Command::new("sh");
        command.arg("-c").arg(&pager).stdin(Stdio::piped());
        if std::env::var_os("LESS").is_none() {
            command.env("LESS", "FRX");
        }
        let mut child = command.spawn().ok()?;
        let stdin = child.stdin.take()?;
        Some(Output {
            out: Box::new(io::BufWriter::new(stdin)),
            pager: Some(child),
        })
    }

    /// Where the text goes.
    fn writer(&mut self) -> &mut dyn Write {
        &mut *self.out
    }

    /// Flushes and, with a pager, waits until the reader quits it.
    fn finish(mut self) -> io::Result<()> {
        let flushed = self.out.flush();
        drop(self.out);
        match self.pager.take() {
            // The reader may quit the pager before the end: not an error.
            Some(mut child) => child.wait().map(drop),
            None => match flushed {
                Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                other => other,
            },
        }
    }
}
