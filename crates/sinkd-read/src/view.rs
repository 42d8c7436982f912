//! A stored line as a reader gets it: the line itself, or its JSON object
//! — the keys of `sinkd parse` (`format`, `facility`, `severity`,
//! `version`, `timestamp`, `hostname`, `app_name`, `procid`, `msgid`,
//! `structured_data`, `msg`) plus `device`; and the JSON rows of device
//! and file listings.

use crate::query::Query;
use serde::Serialize;
use sinkd_proto::{Message, ReceiveTime};
use sinkd_store::{DeviceFile, DeviceInfo};
use std::borrow::Cow;
use std::time::SystemTime;

/// The JSON shape of one parsed message.
#[derive(Serialize)]
pub struct MessageView<'a> {
    format: &'static str,
    facility: u8,
    severity: u8,
    version: Option<u16>,
    timestamp: Option<String>,
    hostname: Option<&'a str>,
    app_name: Option<&'a str>,
    procid: Option<&'a str>,
    msgid: Option<&'a str>,
    structured_data: Option<Vec<ElementView<'a>>>,
    msg: Cow<'a, str>,
}

/// One structured-data element: its id and its params in order.
#[derive(Serialize)]
struct ElementView<'a> {
    id: &'a str,
    params: Vec<(&'a str, Cow<'a, str>)>,
}

impl<'a> MessageView<'a> {
    pub fn new(message: &Message<'a>) -> MessageView<'a> {
        MessageView {
            format: message.format.name(),
            facility: message.facility.code(),
            severity: message.severity.code(),
            version: message.version,
            timestamp: message.timestamp.map(|ts| ts.to_string()),
            hostname: message.hostname,
            app_name: message.app_name,
            procid: message.procid,
            msgid: message.msgid,
            structured_data: message.structured_data.map(|sd| {
                sd.iter()
                    .map(|element| ElementView {
                        id: element.id,
                        params: element
                            .params()
                            .map(|param| (param.name, param.value()))
                            .collect(),
                    })
                    .collect()
            }),
            msg: String::from_utf8_lossy(message.msg),
        }
    }
}

/// A stored line's JSON object: the device it was read from, then the
/// message's keys.
#[derive(Serialize)]
pub struct LineView<'a> {
    pub device: &'a str,
    #[serde(flatten)]
    pub message: MessageView<'a>,
}

/// What a matching line becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// The stored line as it is.
    Line,
    /// Its [`LineView`] as one line of JSON.
    Json,
}

/// Appends `line` in `form` (no line ending) to `out` when it passes
/// `query`, and says whether it did. Lines from a device without year or
/// zone are completed against `received`, as the receiver completed them.
pub fn render(
    line: &[u8],
    query: &Query,
    form: Form,
    device: &str,
    received: &ReceiveTime,
    out: &mut Vec<u8>,
) -> bool {
    if !query.may_match(line) {
        return false;
    }
    let message = sinkd_proto::parse(line, received);
    if !query.matches(line, &message) {
        return false;
    }
    match form {
        Form::Line => out.extend_from_slice(line),
        Form::Json => write_json(device, &message, out),
    }
    true
}

/// Appends the [`LineView`] of `message` from `device` (one line of JSON,
/// no line ending) to `out`: what `sinkd show --json` prints, and the value
/// of a Kafka sink's records in its `json` format.
pub fn write_json(device: &str, message: &Message<'_>, out: &mut Vec<u8>) {
    let view = LineView {
        device,
        message: MessageView::new(message),
    };
    // Writing into a Vec fails only for maps with non-string keys, which
    // these views do not have.
    if serde_json::to_writer(&mut *out, &view).is_err() {
        out.extend_from_slice(b"{}");
    }
}

/// A device as listings show it (`sinkd dir --json`, `GET
/// /api/v1/devices`): name, newest modification (RFC 3339, UTC), bytes on
/// disk, and its files' names.
#[derive(Serialize)]
pub struct DeviceView<'a> {
    pub name: &'a str,
    pub last_modified: Option<String>,
    pub bytes: u64,
    pub files: Vec<&'a str>,
}

impl<'a> DeviceView<'a> {
    pub fn new(device: &'a DeviceInfo) -> DeviceView<'a> {
        DeviceView {
            name: &device.name,
            last_modified: rfc3339(device.last_modified()),
            bytes: device.total_bytes(),
            files: device.files.iter().map(|file| file.name.as_str()).collect(),
        }
    }
}

/// One file of a device as listings show it (`sinkd dir DEVICE --json`,
/// `GET /api/v1/devices/{device}`).
#[derive(Serialize)]
pub struct FileView<'a> {
    pub name: &'a str,
    pub last_modified: Option<String>,
    pub bytes: u64,
    pub segments: usize,
}

impl<'a> FileView<'a> {
    pub fn new(file: &'a DeviceFile) -> FileView<'a> {
        FileView {
            name: &file.name,
            last_modified: rfc3339(file.stream.last_modified),
            bytes: file.stream.total_bytes,
            segments: file.stream.segments,
        }
    }
}

/// RFC 3339 in UTC, or `None` when unknown.
pub fn rfc3339(time: Option<SystemTime>) -> Option<String> {
    time.and_then(|time| jiff::Timestamp::try_from(time).ok())
        .map(|instant| instant.to_string())
}
