//! [`Worker`]: one thread's loop from `RawBatch` to `AppendBatch`.
//!
//! Per frame: parse (zero-copy), pick the device key, offer the message to
//! every sink in order, and for each sink whose table matches, expand the
//! sink's path template and format the message straight into the store
//! batch (a second file sink of the same format copies the line already
//! there instead of formatting it again). Per batch: one `ArcSwap` load, one store submission, one update of
//! each counter. Nothing here allocates per message once buffers have
//! grown, except the first time a worker meets a device.

use crate::devices::{DeviceSet, LocalDevices};
use crate::routes::{Output, Routes, SinkFormat};
use crate::zone::ZoneCache;
use arc_swap::ArcSwap;
use jiff::tz::TimeZone;
use sinkd_listen::Ack;
use sinkd_listen::RawBatch;
use sinkd_metrics::{DropReason, Metrics};
use sinkd_proto::format::{write_escaped, write_message, OutputFormat};
use sinkd_proto::{parse, Format, Message, ReceiveTime, Timestamp};
use sinkd_relay::RelayBatch;
use sinkd_store::{Completion, StoreWriter, TemplateFields};
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The routes every worker reads, swapped whole on reload.
pub type SharedRoutes = Arc<ArcSwap<Routes>>;

/// A RELP batch's [`Ack`] as the store's [`Completion`]: the store holds
/// clones of it, and the batch is acknowledged once they are gone.
#[derive(Debug)]
struct StoreAck(Ack);

impl Completion for StoreAck {
    fn fail(&self) {
        self.0.fail();
    }
}

/// Per-sink tallies of one batch.
#[derive(Clone, Copy, Default)]
struct SinkTally {
    messages: u64,
    bytes: u64,
}

/// One worker thread's state.
pub struct Worker {
    routes: SharedRoutes,
    store: StoreWriter,
    metrics: Arc<Metrics>,
    devices: LocalDevices,
    zone: ZoneCache,
    stream_path: String,
    tallies: Vec<SinkTally>,
    /// Per sink: the batch being filled for a relay sink in this batch.
    relay_batches: Vec<Option<RelayBatch>>,
    /// The last second turned into an index key.
    seconds: SecondCache,
}

/// The last wall-clock second (with its offset) turned into seconds since
/// the epoch: the messages of a batch mostly share their second, so the
/// calendar conversion of the index key runs about once per second.
#[derive(Default)]
struct SecondCache {
    key: Option<(u16, u8, u8, u8, u8, u8, i16)>,
    unix_seconds: i64,
}

impl SecondCache {
    fn unix_micros(&mut self, time: &Timestamp) -> i64 {
        let key = (
            time.year,
            time.month,
            time.day,
            time.hour,
            time.minute,
            time.second,
            time.offset_minutes,
        );
        if self.key != Some(key) {
            self.key = Some(key);
            self.unix_seconds = time.unix_seconds();
        }
        self.unix_seconds * 1_000_000 + i64::from(time.nanos / 1000)
    }
}

/// A Kafka sink's JSON record value: the object `sinkd show --json` prints
/// for the message, with the receive time as its timestamp when the device
/// sent none (a stored line always has one).
fn write_kafka_json(
    message: &Message<'_>,
    device: &str,
    received: &ReceiveTime,
    buf: &mut Vec<u8>,
) {
    let message = Message {
        timestamp: message.timestamp.or(Some(received.local)),
        ..*message
    };
    sinkd_read::write_json(device, &message, buf);
}

impl Worker {
    pub fn new(
        routes: SharedRoutes,
        store: StoreWriter,
        metrics: Arc<Metrics>,
        devices: Arc<DeviceSet>,
        zone: TimeZone,
    ) -> Worker {
        Worker {
            routes,
            store,
            metrics,
            devices: LocalDevices::new(devices),
            zone: ZoneCache::new(zone),
            stream_path: String::with_capacity(256),
            tallies: Vec::new(),
            relay_batches: Vec::new(),
            seconds: SecondCache::default(),
        }
    }

    /// Processes batches until every sender of `queue` is gone.
    pub fn run(mut self, mut queue: mpsc::Receiver<RawBatch>) {
        while let Some(batch) = queue.blocking_recv() {
            self.process(&batch);
        }
    }

    /// Parses, filters and stores one batch. Blocks while the store is
    /// behind.
    pub fn process(&mut self, raw: &RawBatch) {
        let routes = self.routes.load();
        let received_secs = raw.received_unix_micros.div_euclid(1_000_000);
        let received = ReceiveTime::new(
            received_secs,
            raw.received_unix_micros.rem_euclid(1_000_000) as u32,
            self.zone.offset_at(received_secs),
        );
        self.devices.begin(received_secs);
        self.tallies.clear();
        self.tallies
            .resize(routes.sinks.len(), SinkTally::default());
        self.relay_batches.clear();
        self.relay_batches.resize_with(routes.sinks.len(), || None);
        let mut out = self.store.batch();
        let mut n_unparsed = 0u64;
        let mut n_unrouted = 0u64;
        for (frame, peer) in raw.iter() {
            let mut peer_text = [0u8; 64];
            let message = parse(frame, &received);
            if message.format == Format::Unparsed {
                n_unparsed += 1;
            }
            let device = match message.hostname {
                Some(hostname) if !hostname.is_empty() => hostname,
                _ => peer_key(peer, &mut peer_text),
            };
            let message = Message {
                hostname: Some(device),
                ..message
            };
            self.devices.observe(device, message.severity.code());
            let fields = TemplateFields {
                device,
                facility: message.facility.keyword(),
                severity: message.severity.keyword(),
                app_name: message.app_name.unwrap_or(""),
            };
            let mut routed = false;
            // The line this message was last stored as: its format and
            // where it lies in the store batch's arena. A second file sink
            // of the same format copies it instead of formatting again.
            let mut stored: Option<(OutputFormat, std::ops::Range<usize>)> = None;
            for ((sink, tally), relay_batch) in routes
                .sinks
                .iter()
                .zip(self.tallies.iter_mut())
                .zip(self.relay_batches.iter_mut())
            {
                if !sink.table.matches(message.facility, message.severity) {
                    continue;
                }
                routed = true;
                match &sink.output {
                    Output::File(template, format) => {
                        self.stream_path.clear();
                        template.expand_into(&fields, &mut self.stream_path);
                        let mut line = 0..0;
                        out.push_received_with(
                            &self.stream_path,
                            stored_time_micros(&message, *format, &received, &mut self.seconds),
                            raw.received_unix_micros,
                            |buf| {
                                let start = buf.len();
                                match &stored {
                                    Some((earlier, range)) if earlier == format => {
                                        buf.extend_from_within(range.clone());
                                    }
                                    _ => write_escaped(&message, *format, &received.local, buf),
                                }
                                line = start..buf.len();
                            },
                        );
                        tally.messages += 1;
                        tally.bytes += line.len() as u64 + 1;
                        stored = Some((*format, line));
                    }
                    Output::Relay(handle, format) => {
                        // The sink's format as it goes on the wire: not the
                        // escaped store form.
                        let batch = relay_batch.get_or_insert_with(|| handle.batch());
                        let len = batch.push_with(|buf| {
                            write_message(&message, *format, &received.local, buf)
                        });
                        tally.bytes += len as u64;
                    }
                    Output::Kafka(handle, format) => {
                        let batch = relay_batch.get_or_insert_with(|| handle.batch());
                        let len = batch.push_keyed_with(device.as_bytes(), |buf| match format {
                            SinkFormat::Line(format) => {
                                write_message(&message, *format, &received.local, buf)
                            }
                            SinkFormat::Json => write_kafka_json(&message, device, &received, buf),
                        });
                        tally.bytes += len as u64;
                    }
                }
            }
            if !routed {
                n_unrouted += 1;
            }
        }
        self.devices.flush();
        // `sinkd_messages_received_total` is counted by the listeners, as
        // the frames come off the wire (with the ones they drop); counting
        // again here would double it.
        if n_unparsed > 0 {
            self.metrics.unparsed.inc_by(n_unparsed);
        }
        if n_unrouted > 0 {
            self.metrics.unrouted.inc_by(n_unrouted);
        }
        // One non-blocking hand-off per relay sink; a refused batch is
        // counted as dropped by the relay handle.
        for ((sink, tally), relay_batch) in routes
            .sinks
            .iter()
            .zip(&self.tallies)
            .zip(self.relay_batches.iter_mut())
        {
            if let (Some(handle), Some(batch)) = (sink.output.relay(), relay_batch.take()) {
                let offered = batch.len();
                let accepted = handle.offer(batch);
                if accepted > 0 {
                    sink.counters.messages.inc_by(accepted as u64);
                    sink.counters.bytes.inc_by(tally.bytes);
                }
                if accepted < offered {
                    if let Some(ack) = &raw.ack {
                        ack.fail();
                    }
                }
            }
        }
        if out.is_empty() {
            return;
        }
        // A RELP batch is acknowledged once the store has written its
        // lines; the worker's own clone of the ack goes with `raw`.
        if let Some(ack) = &raw.ack {
            out.set_completion(Arc::new(StoreAck(ack.clone())));
        }
        match self.store.submit(out) {
            Ok(()) => {
                for (sink, tally) in routes.sinks.iter().zip(&self.tallies) {
                    if tally.messages > 0 && matches!(sink.output, Output::File(..)) {
                        sink.counters.messages.inc_by(tally.messages);
                        sink.counters.bytes.inc_by(tally.bytes);
                    }
                }
            }
            Err(refused) => {
                // Only after the store was shut down, which the binary does
                // after every worker has finished; counted all the same.
                if let Some(ack) = &raw.ack {
                    ack.fail();
                }
                let n_lost = refused.0.len() as u64;
                self.metrics.dropped(DropReason::WriteError).inc_by(n_lost);
                tracing::error!(
                    lines = n_lost,
                    "store closed before the workers; lines dropped"
                );
            }
        }
    }
}

/// The time the line `write_escaped` stores for `message` in `format` is
/// read back as by `sinkd show` (which parses the stored line with the
/// local zone, as the receiver does): the store keys its time index by it,
/// so a seek by the messages' own timestamps is exact.
///
/// The written time is the message's timestamp, or the receive time when it
/// has none (or none that can be written). RFC 5424 writes it whole. RFC
/// 3164 writes its wall-clock fields to the second, without year or zone,
/// and a reader completes them with the local zone's offset: the one the
/// worker stands for here is the offset at receipt. The bsd format writes
/// no time, so the receive time stands in (a line without a timestamp
/// passes no time bound anyway).
fn stored_time_micros(
    message: &Message<'_>,
    format: OutputFormat,
    received: &ReceiveTime,
    seconds: &mut SecondCache,
) -> i64 {
    let written: &Timestamp = message
        .timestamp
        .as_ref()
        .filter(|timestamp| timestamp.is_valid() && timestamp.year <= 9999)
        .unwrap_or(&received.local);
    match format {
        OutputFormat::Rfc5424 => seconds.unix_micros(written),
        OutputFormat::Rfc3164 => seconds.unix_micros(&Timestamp {
            nanos: 0,
            offset_minutes: received.local.offset_minutes,
            ..*written
        }),
        OutputFormat::Bsd => received.local.unix_micros(),
    }
}

/// Writes the source IP (IPv4-mapped addresses as plain IPv4) into `buf`
/// and returns it as the device key.
fn peer_key(peer: SocketAddr, buf: &mut [u8; 64]) -> &str {
    let ip = peer.ip().to_canonical();
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    // An IP address is at most 45 characters; the buffer holds 64.
    let written = match write!(cursor, "{ip}") {
        Ok(()) => cursor.position() as usize,
        Err(_) => 0,
    };
    std::str::from_utf8(&buf[..written]).unwrap_or("unknown")
}

#[cfg(test)]
mod tests;
