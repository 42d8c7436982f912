//! What `sinkd dir`, `sinkd show` and `sinkd follow` share: where the stored data is
//! (`--config FILE`'s `data_dir`, else `--data-dir DIR`, else the embedded
//! default's), finding a device or one of its files, and the message for an
//! unknown name, which lists the existing names closest first.

use sinkd_config::Config;
use sinkd_store::{list_devices, DeviceInfo};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

/// `--data-dir`; `--config` is the global option of `sinkd`.
#[derive(clap::Args, Debug)]
pub(crate) struct DataDirArgs {
    /// The data directory to read when no --config is given
    /// (default: the embedded default's ./sinkd-data).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// A failure that exits with status 2 (a usage error: unknown name, bad
/// option value) rather than 1.
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The exit code of a reading command: a [`UsageError`] is printed here and
/// exits with 2; other errors go on to `main`.
pub(crate) fn exit_code(result: anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    match result {
        Err(error) => match error.downcast_ref::<UsageError>() {
            Some(usage) => {
                eprintln!("sinkd: {usage}");
                Ok(ExitCode::from(2))
            }
            None => Err(error),
        },
        ok => ok,
    }
}

impl DataDirArgs {
    /// The data directory to read.
    pub(crate) fn resolve(&self, config: Option<&Path>) -> Result<PathBuf, UsageError> {
        if let Some(file) = config {
            let config = Config::from_file(file)
                .map_err(|error| UsageError(format!("{}: {error}", file.display())))?;
            return Ok(config.data_dir().to_owned());
        }
        Ok(match &self.data_dir {
            Some(dir) => dir.clone(),
            None => Config::default_config().data_dir().to_owned(),
        })
    }
}

/// Every device under `data_dir`; a missing directory is a usage error
/// naming it.
pub(crate) fn devices(data_dir: &Path) -> anyhow::Result<Vec<DeviceInfo>> {
    require_dir(data_dir)?;
    Ok(list_devices(data_dir)?)
}

/// The devices `sinkd show`/`follow` need for `target`: the named one alone
/// when it exists, else all of them (see `sinkd_read::candidates`).
pub(crate) fn candidates(data_dir: &Path, target: &str) -> anyhow::Result<Vec<DeviceInfo>> {
    require_dir(data_dir)?;
    Ok(sinkd_read::candidates(data_dir, target)?)
}

fn require_dir(data_dir: &Path) -> Result<(), UsageError> {
    if data_dir.is_dir() {
        return Ok(());
    }
    Err(UsageError(format!(
        "{}: no such data directory (give --config FILE or --data-dir DIR)",
        data_dir.display()
    )))
}

/// The device called `name`, or a usage error listing the others.
pub(crate) fn find_device<'a>(
    devices: &'a [DeviceInfo],
    name: &str,
) -> Result<&'a DeviceInfo, UsageError> {
    sinkd_read::find_device(devices, name).map_err(|error| UsageError(error.to_string()))
}

/// `YYYY-MM-DD HH:MM:SS` in the local zone, or `-` when unknown.
pub(crate) fn local_time(time: Option<SystemTime>, zone: &jiff::tz::TimeZone) -> String {
    time.and_then(|time| jiff::Timestamp::try_from(time).ok())
        .map(|instant| {
            instant
                .to_zoned(zone.clone())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|| String::from("-"))
}
