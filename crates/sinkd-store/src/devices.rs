//! Streams grouped by device, for `sinkd dir`, `sinkd show` and the read
//! API: the first component of a stream path names the device, the rest
//! names the file (`router1/auth.log` is the file `auth.log` of the device
//! `router1`), the way the device lists its own `log:` directory.
//!
//! A stream directly under `data_dir` (a template without a `/`) is a
//! device with one file whose name is the empty string.

use crate::error::StoreError;
use crate::reader::{list_device_streams, list_streams, StreamInfo};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

/// One file (stream) of a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceFile {
    /// The file's name under the device (`messages`, `auth.log`, or a
    /// deeper `/`-separated path).
    pub name: String,
    /// The stream as [`list_streams`] reports it; `stream.path` is what
    /// [`crate::StreamReader::open`] takes.
    pub stream: StreamInfo,
}

/// One device: every stream whose path starts with its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    pub name: String,
    /// Its files, sorted by name.
    pub files: Vec<DeviceFile>,
}

impl DeviceInfo {
    /// Bytes on disk over all its files.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|file| file.stream.total_bytes).sum()
    }

    /// The newest modification time over all its files.
    pub fn last_modified(&self) -> Option<SystemTime> {
        self.files
            .iter()
            .filter_map(|file| file.stream.last_modified)
            .max()
    }

    /// The file called `name`, if the device has it.
    pub fn file(&self, name: &str) -> Option<&DeviceFile> {
        self.files.iter().find(|file| file.name == name)
    }

    /// The file read when none is named: `messages` when the device has
    /// it, else its only file; `None` when that is ambiguous.
    pub fn default_file(&self) -> Option<&DeviceFile> {
        match (self.file("messages"), self.files.as_slice()) {
            (Some(messages), _) => Some(messages),
            (None, [only]) => Some(only),
            (None, _) => None,
        }
    }
}

/// Every device under `data_dir`, sorted by name; reads directories and
/// metadata only, never writes.
pub fn list_devices(data_dir: &Path) -> Result<Vec<DeviceInfo>, StoreError> {
    Ok(group(list_streams(data_dir)?))
}

/// The device called `name`, reading only its own directory (a name that
/// is not one plain directory name is no device); `None` when it has no
/// stream.
pub fn find_device(data_dir: &Path, name: &str) -> Result<Option<DeviceInfo>, StoreError> {
    Ok(group(list_device_streams(data_dir, name)?)
        .into_iter()
        .next())
}

/// Streams grouped into devices by their first path component.
fn group(streams: Vec<StreamInfo>) -> Vec<DeviceInfo> {
    let mut by_name: BTreeMap<String, Vec<DeviceFile>> = BTreeMap::new();
    for stream in streams {
        let (device, file) = match stream.path.split_once('/') {
            Some((device, file)) => (device.to_owned(), file.to_owned()),
            None => (stream.path.clone(), String::new()),
        };
        by_name
            .entry(device)
            .or_default()
            .push(DeviceFile { name: file, stream });
    }
    by_name
        .into_iter()
        .map(|(name, mut files)| {
            files.sort_by(|a, b| a.name.cmp(&b.name));
            DeviceInfo { name, files }
        })
        .collect()
}
