//! Finding what a reader names (reading only the named device's directory
//! when it exists, see [`candidates`]): a device, or `DEVICE/FILE` (without FILE,
//! the device's default file: `messages` when it has one, else its only
//! file). An unknown name is answered with the existing names closest
//! first, by edit distance.

use sinkd_store::{DeviceFile, DeviceInfo, StoreError};
use std::fmt::Write as _;
use std::path::Path;

/// Most names an "unknown" message suggests.
const MAX_SUGGESTIONS: usize = 8;

/// A name that matches nothing stored; the message lists what exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No such device.
    #[error("{0}")]
    UnknownDevice(String),
    /// The device exists, the file does not.
    #[error("{0}")]
    UnknownFile(String),
    /// No file named, and the device has several but no `messages`.
    #[error("{0}")]
    NoDefaultFile(String),
}

/// What [`find_file`] needs to answer for `target` (`DEVICE` or
/// `DEVICE/FILE`): the named device alone when it exists, read from its own
/// directory; otherwise every device, for the closest names.
pub fn candidates(data_dir: &Path, target: &str) -> Result<Vec<DeviceInfo>, StoreError> {
    let device = target.split_once('/').map_or(target, |(device, _)| device);
    match sinkd_store::find_device(data_dir, device)? {
        Some(found) => Ok(vec![found]),
        None => sinkd_store::list_devices(data_dir),
    }
}

/// The device called `name`, or an error listing the others.
pub fn find_device<'a>(
    devices: &'a [DeviceInfo],
    name: &str,
) -> Result<&'a DeviceInfo, LookupError> {
    devices
        .iter()
        .find(|device| device.name == name)
        .ok_or_else(|| {
            let names = devices.iter().map(|device| device.name.as_str());
            LookupError::UnknownDevice(unknown("device", name, names))
        })
}

/// The device and file `target` (`DEVICE` or `DEVICE/FILE`) names.
pub fn find_file<'a>(
    devices: &'a [DeviceInfo],
    target: &'a str,
) -> Result<(&'a str, &'a DeviceFile), LookupError> {
    let (device_name, file_name) = match target.split_once('/') {
        Some((device, file)) => (device, Some(file)),
        None => (target, None),
    };
    let device = find_device(devices, device_name)?;
    let file = match file_name {
        Some(name) => device.file(name).ok_or_else(|| {
            let names = device.files.iter().map(|file| file.name.as_str());
            LookupError::UnknownFile(unknown(&format!("file of {device_name}:"), name, names))
        })?,
        None => device.default_file().ok_or_else(|| {
            let names: Vec<&str> = device.files.iter().map(|file| file.name.as_str()).collect();
            LookupError::NoDefaultFile(format!(
                "{device_name} has no `messages`; name one of its files: {}",
                names.join(", ")
            ))
        })?,
    };
    Ok((device_name, file))
}

/// "unknown KIND NAME; closest: a, b" with the existing names closest
/// first (edit distance, then name).
pub fn unknown<'a>(kind: &str, name: &str, existing: impl Iterator<Item = &'a str>) -> String {
    let mut ranked: Vec<(usize, &str)> = existing
        .map(|candidate| (edit_distance(name, candidate), candidate))
        .collect();
    ranked.sort();
    let mut message = format!("unknown {kind} {name:?}");
    if ranked.is_empty() {
        message.push_str(" (there are none)");
        return message;
    }
    message.push_str("; closest: ");
    for (position, (_, candidate)) in ranked.iter().take(MAX_SUGGESTIONS).enumerate() {
        if position > 0 {
            message.push_str(", ");
        }
        message.push_str(candidate);
    }
    if ranked.len() > MAX_SUGGESTIONS {
        let _ = write!(message, " (and {} more)", ranked.len() - MAX_SUGGESTIONS);
    }
    message
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, a_char) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, &b_char) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_char != b_char);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("sw1", "sw1"), 0);
        assert_eq!(edit_distance("sw1", "sw2"), 1);
        assert_eq!(edit_distance("sw", "sw12"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn unknown_names_the_closest_first() {
        let existing = ["router-b", "sw1", "core", "sw12"];
        assert_eq!(
            unknown("device", "sw2", existing.into_iter()),
            "unknown device \"sw2\"; closest: sw1, sw12, core, router-b"
        );
        assert_eq!(
            unknown("device", "x", std::iter::empty()),
            "unknown device \"x\" (there are none)"
        );
    }
}
