//! `sinkd dir [DEVICE]`: the stored devices, or one device's files, like
//! the device's `dir log`. Without DEVICE one row per device (last
//! modified, size, name); with DEVICE one row per file. `--json` prints the
//! same as a JSON array. Reads metadata only.

use crate::cli::store_args::{self, DataDirArgs};
use crate::clock::Clock;
use serde::Serialize;
use sinkd_read::{DeviceView, FileView};
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub(crate) struct DirArgs {
    /// The device whose files to list; without it, every device.
    device: Option<String>,
    /// One JSON array instead of the table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    data_dir: DataDirArgs,
}

pub(crate) fn run(args: &DirArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    store_args::exit_code(list(args, config))
}

fn list(args: &DirArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let data_dir = args.data_dir.resolve(config)?;
    let devices = store_args::devices(&data_dir)?;
    let mut out = io::stdout().lock();
    match &args.device {
        None if args.json => write_json(
            &mut out,
            &devices.iter().map(DeviceView::new).collect::<Vec<_>>(),
        )?,
        None => {
            let zone = Clock::system().zone().clone();
            writeln!(out, "{:<21}{:>14}  DEVICE", "LAST MODIFIED", "BYTES")?;
            for device in &devices {
                writeln!(
                    out,
                    "{:<21}{:>14}  {}",
                    store_args::local_time(device.last_modified(), &zone),
                    device.total_bytes(),
                    device.name
                )?;
            }
        }
        Some(name) => {
            let device = store_args::find_device(&devices, name)?;
            if args.json {
                write_json(
                    &mut out,
                    &device.files.iter().map(FileView::new).collect::<Vec<_>>(),
                )?;
            } else {
                let zone = Clock::system().zone().clone();
                writeln!(out, "{:<21}{:>14}  FILE", "LAST MODIFIED", "BYTES")?;
                for file in &device.files {
                    writeln!(
                        out,
                        "{:<21}{:>14}  {}",
                        store_args::local_time(file.stream.last_modified, &zone),
                        file.stream.total_bytes,
                        file.name
                    )?;
                }
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn write_json(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::other)?;
    out.write_all(b"\n")
}
