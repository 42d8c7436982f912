//! `sinkd import-device-config`: the device's CLI logging lines on stdin,
//! the equivalent sinkd TOML on stdout (docs/specs/cli.md). The translation
//! itself lives in `sinkd_config::import_device_config`.

use std::io::Read;
use std::process::ExitCode;

/// Largest input accepted: a device's logging section is a few kilobytes.
const MAX_INPUT: u64 = 1024 * 1024;

#[derive(clap::Args, Debug)]
pub(crate) struct ImportArgs {}

pub(crate) fn run(_args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let mut text = String::new();
    std::io::stdin()
        .lock()
        .take(MAX_INPUT)
        .read_to_string(&mut text)?;
    match sinkd_config::import_device_config(&text) {
        Ok(toml) => {
            print!("{toml}");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("sinkd: import-device-config: {error}");
            Ok(ExitCode::from(2))
        }
    }
}
