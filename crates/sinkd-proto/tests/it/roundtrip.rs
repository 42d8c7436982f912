//! Format → parse round trips: whatever sinkd writes, sinkd reads back.
//!
//! Each property builds a [`Message`] whose fields the target format can
//! carry (printable ASCII header fields of legal lengths, messages without
//! control characters, real timestamps with whole-minute offsets), writes it
//! with `sinkd_proto::format::write_message`, parses the bytes with
//! `sinkd_proto::parse` and a fixed receive time, and compares field by
//! field. What a format cannot carry is compared as the format defines it:
//! RFC 3164 has whole seconds, no year and no zone, so its timestamp is
//! checked by its wall-clock fields and the year and offset are expected to
//! come from the receive time; the bsd form has no timestamp and no host.
//!
//! Two more properties cover what the formats promise for fields they cannot
//! carry as they are: RFC 5424 output is always strictly valid, and an
//! escaped file line never holds a control character. A last one runs
//! frames through `encode_frame` and the `Deframer`, cut into random reads.

use bytes::BytesMut;
use proptest::prelude::*;
use sinkd_proto::format::{write_escaped_line, write_message, OutputFormat};
use sinkd_proto::framing::{encode_frame, Deframer, Framing};
use sinkd_proto::{
    parse, parse_strict, Format, Message, Pri, ReceiveTime, StructuredData, Timestamp,
};

/// 2024-06-15T12:00:00+02:00: mid-year, so every month maps to 2024 (a leap
/// year, so a written Feb 29 stays a real date), at a non-zero offset.
fn received() -> ReceiveTime {
    ReceiveTime::new(1_718_445_600, 0, 120)
}

/// The owned fields of a generated message.
#[derive(Clone, Debug)]
struct Fields {
    pri: u8,
    timestamp: Timestamp,
    hostname: Option<String>,
    app_name: Option<String>,
    procid: Option<String>,
    msgid: Option<String>,
    structured_data: Option<String>,
    msg: String,
}

impl Fields {
    /// The message view over these fields. The structured data goes through
    /// `StructuredData::parse`, the only way to build one.
    fn message(&self) -> Message<'_> {
        let pri = Pri::from_value(self.pri).expect("generated PRI is 0..=191");
        Message {
            timestamp: Some(self.timestamp),
            hostname: self.hostname.as_deref(),
            app_name: self.app_name.as_deref(),
            procid: self.procid.as_deref(),
            msgid: self.msgid.as_deref(),
            structured_data: self.structured_data.as_deref().map(|text| {
                StructuredData::parse(text).expect("generated STRUCTURED-DATA is valid")
            }),
            msg: self.msg.as_bytes(),
            ..Message::empty(Format::Rfc5424, pri, b"")
        }
    }
}

/// Any instant from 1970 to 9998 with microseconds, at a whole-minute offset
/// within ±23:59.
fn timestamp() -> impl Strategy<Value = Timestamp> {
    (0i64..253_370_764_800, 0u32..1_000_000, -1439i16..=1439)
        .prop_filter_map("year out of range", |(unix_secs, micros, offset)| {
            Timestamp::from_unix(unix_secs, micros, offset)
        })
}

/// An RFC 5424 header field: 1 to `max` printable US-ASCII characters, but
/// not `-`, which is NILVALUE.
fn print_us_ascii(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[!-~]{{1,{max}}}"))
        .expect("valid regex")
        .prop_filter("NILVALUE", |field| field != "-")
}

/// One SD-ELEMENT with a given SD-ID and up to three parameters whose values
/// use all three escapes.
fn sd_element(id: String) -> impl Strategy<Value = String> {
    proptest::collection::vec(("[a-zA-Z0-9_.-]{1,32}", "[ -~é]{0,16}"), 0..3).prop_map(
        move |params| {
            let mut element = format!("[{id}");
            for (name, value) in params {
                element.push(' ');
                element.push_str(&name);
                element.push_str("=\"");
                for ch in value.chars() {
                    if matches!(ch, '"' | '\\' | ']') {
                        element.push('\\');
                    }
                    element.push(ch);
                }
                element.push('"');
            }
            element.push(']');
            element
        },
    )
}

/// One to three SD-ELEMENTs with distinct SD-IDs.
fn structured_data() -> impl Strategy<Value = String> {
    proptest::collection::btree_set("[a-zA-Z][a-zA-Z0-9]{0,15}(@[1-9][0-9]{0,5})?", 1..4)
        .prop_flat_map(|ids| {
            ids.into_iter()
                .map(sd_element)
                .collect::<Vec<_>>()
                .prop_map(|elements| elements.concat())
        })
}

/// Message text without control characters or a leading BOM.
fn rfc5424_msg() -> impl Strategy<Value = String> {
    "([^\\x00-\\x1f\\x7f\\u{feff}][^\\x00-\\x1f\\x7f]{0,40})?"
}

fn rfc5424_fields() -> impl Strategy<Value = Fields> {
    (
        0u8..=191,
        timestamp(),
        proptest::option::of(print_us_ascii(255)),
        proptest::option::of(print_us_ascii(48)),
        proptest::option::of(print_us_ascii(128)),
        proptest::option::of(print_us_ascii(32)),
        proptest::option::of(structured_data()),
        rfc5424_msg(),
    )
        .prop_map(
            |(pri, timestamp, hostname, app_name, procid, msgid, structured_data, msg)| Fields {
                pri,
                timestamp,
                hostname,
                app_name,
                procid,
                msgid,
                structured_data,
                msg,
            },
        )
}

/// Fields a BSD header carries: a hostname always (the collector fills it
/// with the device key before formatting), a tag of the usual alphabet with
/// or without a PROCID, and a message that starts with a letter or digit
/// and does not end in a space. Without a tag, the message's first word is
/// plain letters and digits: `word:` or `word[1]` there would be a tag, and
/// RFC 3164 has no way to say it is not.
fn bsd_fields() -> impl Strategy<Value = Fields> {
    let tag = (
        "[a-zA-Z][a-zA-Z0-9_./()-]{0,47}",
        proptest::option::of("[0-9]{1,7}|[a-zA-Z0-9_.-]{1,12}"),
    );
    (
        0u8..=191,
        timestamp(),
        "[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}",
        proptest::option::of(tag),
        "[a-zA-Z0-9]([ -~é]{0,40}[!-~é])?",
        "[a-zA-Z0-9]{1,10}( [ -~é]{0,40}[!-~é])?",
    )
        .prop_map(
            |(pri, timestamp, hostname, tag, tagged_msg, untagged_msg)| {
                let (app_name, procid, msg) = match tag {
                    Some((app_name, procid)) => (Some(app_name), procid, tagged_msg),
                    None => (None, None, untagged_msg),
                };
                Fields {
                    pri,
                    timestamp,
                    hostname: Some(hostname),
                    app_name,
                    procid,
                    msgid: None,
                    structured_data: None,
                    msg,
                }
            },
        )
}

/// A BSD-side parse may take a MSGID from the message text (a Cisco
/// mnemonic, a Juniper event name); it must then still be in `msg`.
fn msgid_comes_from_msg(parsed: &Message<'_>) -> bool {
    parsed.msgid.is_none_or(|msgid| {
        parsed
            .msg
            .windows(msgid.len())
            .any(|window| window == msgid.as_bytes())
    })
}

/// The tag read from a message written without one, put back in front of
/// its MSG: `app` and `rest` become `app rest`.
fn rejoined(parsed: &Message<'_>) -> Vec<u8> {
    match parsed.app_name {
        Some(app_name) => {
            let mut text = app_name.as_bytes().to_vec();
            if !parsed.msg.is_empty() {
                text.push(b' ');
                text.extend_from_slice(parsed.msg);
            }
            text
        }
        None => parsed.msg.to_vec(),
    }
}

fn render(fields: &Fields, format: OutputFormat) -> Vec<u8> {
    let mut out = Vec::new();
    let fallback = received().local;
    write_message(&fields.message(), format, &fallback, &mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn rfc5424_round_trip(fields in rfc5424_fields()) {
        let wire = render(&fields, OutputFormat::Rfc5424);
        let parsed = parse(&wire, &received());
        let shown = String::from_utf8_lossy(&wire);
        prop_assert_eq!(parsed.format, Format::Rfc5424, "{}", shown);
        prop_assert_eq!(parsed.pri().value(), fields.pri, "{}", shown);
        prop_assert_eq!(parsed.version, Some(1));
        let timestamp = parsed.timestamp.expect("RFC 5424 timestamp");
        prop_assert_eq!(timestamp.unix_micros(), fields.timestamp.unix_micros(), "{}", shown);
        prop_assert_eq!(timestamp.offset_minutes, fields.timestamp.offset_minutes, "{}", shown);
        prop_assert_eq!(parsed.hostname, fields.hostname.as_deref(), "{}", shown);
        prop_assert_eq!(parsed.app_name, fields.app_name.as_deref(), "{}", shown);
        prop_assert_eq!(parsed.procid, fields.procid.as_deref(), "{}", shown);
        prop_assert_eq!(parsed.msgid, fields.msgid.as_deref(), "{}", shown);
        prop_assert_eq!(
            parsed.structured_data.map(|sd| sd.as_str()),
            fields.structured_data.as_deref(),
            "{}",
            shown
        );
        prop_assert_eq!(parsed.msg, fields.msg.as_bytes(), "{}", shown);
    }

    #[test]
    fn rfc3164_round_trip(fields in bsd_fields()) {
        let wire = render(&fields, OutputFormat::Rfc3164);
        let parsed = parse(&wire, &received());
        let shown = String::from_utf8_lossy(&wire);
        prop_assert_eq!(parsed.format, Format::Rfc3164, "{}", shown);
        prop_assert_eq!(parsed.pri().value(), fields.pri, "{}", shown);
        let timestamp = parsed.timestamp.expect("RFC 3164 timestamp");
        let written = fields.timestamp;
        prop_assert_eq!(
            (timestamp.month, timestamp.day, timestamp.hour, timestamp.minute, timestamp.second),
            (written.month, written.day, written.hour, written.minute, written.second),
            "{}",
            shown
        );
        prop_assert_eq!(timestamp.nanos, 0);
        prop_assert_eq!(timestamp.year, received().year_for(written.month), "{}", shown);
        prop_assert_eq!(timestamp.offset_minutes, received().offset_minutes(), "{}", shown);
        prop_assert_eq!(parsed.hostname, fields.hostname.as_deref(), "{}", shown);
        prop_assert_eq!(parsed.procid, fields.procid.as_deref(), "{}", shown);
        prop_assert!(msgid_comes_from_msg(&parsed), "{}", shown);
        prop_assert_eq!(parsed.structured_data, None);
        if fields.app_name.is_some() {
            prop_assert_eq!(parsed.app_name, fields.app_name.as_deref(), "{}", shown);
            prop_assert_eq!(parsed.msg, fields.msg.as_bytes(), "{}", shown);
        } else {
            // RFC 3164 cannot say "no tag": like rsyslog and syslog-ng, the
            // reader takes a leading word as the tag. Nothing is lost.
            prop_assert_eq!(rejoined(&parsed), fields.msg.as_bytes(), "{}", shown);
        }
    }

    #[test]
    fn bsd_round_trip(fields in bsd_fields()) {
        let wire = render(&fields, OutputFormat::Bsd);
        let parsed = parse(&wire, &received());
        let shown = String::from_utf8_lossy(&wire);
        prop_assert_eq!(parsed.format, Format::Bsd, "{}", shown);
        prop_assert_eq!(parsed.pri().value(), fields.pri, "{}", shown);
        prop_assert_eq!(parsed.timestamp, None);
        prop_assert_eq!(parsed.hostname, None);
        prop_assert!(msgid_comes_from_msg(&parsed), "{}", shown);
        // The bare form is `<PRI>message`: a parser may split the BSD tag
        // off or keep it as part of the message; either way nothing is lost.
        if parsed.app_name.is_some() {
            prop_assert_eq!(parsed.app_name, fields.app_name.as_deref(), "{}", shown);
            prop_assert_eq!(parsed.procid, fields.procid.as_deref(), "{}", shown);
            prop_assert_eq!(parsed.msg, fields.msg.as_bytes(), "{}", shown);
        } else {
            let body = match (&fields.app_name, &fields.procid) {
                (Some(app_name), Some(procid)) => format!("{app_name}[{procid}]: {}", fields.msg),
                (Some(app_name), None) => format!("{app_name}: {}", fields.msg),
                (None, _) => fields.msg.clone(),
            };
            prop_assert_eq!(parsed.procid, None);
            prop_assert_eq!(parsed.msg, body.as_bytes(), "{}", shown);
        }
    }

    #[test]
    fn rfc5424_output_is_strictly_valid(
        pri in 0u8..=191,
        timestamp in proptest::option::of(any_timestamp()),
        header in proptest::collection::vec(proptest::option::of(".{0,300}"), 4),
        msg in proptest::collection::vec(any::<u8>(), 0..64)
            .prop_filter("leading BOM", |msg| !msg.starts_with(b"\xEF\xBB\xBF")),
    ) {
        let message = Message {
            timestamp,
            hostname: header[0].as_deref(),
            app_name: header[1].as_deref(),
            procid: header[2].as_deref(),
            msgid: header[3].as_deref(),
            msg: &msg,
            ..Message::empty(Format::Rfc3164, Pri::from_value(pri).unwrap(), b"")
        };
        let mut wire = Vec::new();
        write_message(&message, OutputFormat::Rfc5424, &received().local, &mut wire);
        let shown = String::from_utf8_lossy(&wire);
        let strict = parse_strict(&wire);
        prop_assert!(strict.is_ok(), "{:?}: {}", strict.err(), shown);
    }

    #[test]
    fn escaped_lines_have_no_control_characters(
        fields in rfc5424_fields(),
        msg in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let message = Message { msg: &msg, ..fields.message() };
        for format in OutputFormat::ALL {
            let mut line = Vec::new();
            write_escaped_line(&message, format, &received().local, &mut line);
            prop_assert_eq!(line.last(), Some(&b'\n'));
            let body = &line[..line.len() - 1];
            prop_assert!(
                !body.iter().any(|&byte| byte < 0x20 || byte == 0x7f),
                "{}",
                String::from_utf8_lossy(&line)
            );
        }
    }

    #[test]
    fn frames_survive_any_read_sizes(
        frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..300), 1..20),
        read_sizes in proptest::collection::vec(1usize..200, 1..50),
        octet_counting in any::<bool>(),
    ) {
        let framing = if octet_counting {
            Framing::OctetCounting
        } else {
            Framing::NonTransparent
        };
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for frame in &frames {
            // LF framing carries a message that starts with `<`, as every
            // syslog message does; detection relies on that.
            let mut message = b"<13>".to_vec();
            message.extend_from_slice(frame);
            encode_frame(framing, &message, &mut stream);
            let mut single = Vec::new();
            encode_frame(framing, &message, &mut single);
            expected.push(match framing {
                Framing::OctetCounting => message,
                Framing::NonTransparent => single[..single.len() - 1].to_vec(),
            });
        }
        let mut deframer = Deframer::new(2048);
        let mut buf = BytesMut::new();
        let mut decoded = Vec::new();
        let mut rest = &stream[..];
        let mut read_idx = 0;
        while !rest.is_empty() {
            let n = read_sizes[read_idx % read_sizes.len()].min(rest.len());
            read_idx += 1;
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            while let Some(frame) = deframer.decode(&mut buf).expect("valid stream") {
                decoded.push(frame.to_vec());
            }
            prop_assert!(buf.len() <= deframer.max_buffered());
        }
        while let Some(frame) = deframer.decode_eof(&mut buf).expect("valid stream") {
            decoded.push(frame.to_vec());
        }
        prop_assert_eq!(deframer.framing(), Some(framing));
        prop_assert_eq!(decoded, expected);
    }
}

/// Any valid timestamp, leap seconds included.
fn any_timestamp() -> impl Strategy<Value = Timestamp> {
    (timestamp(), any::<bool>()).prop_map(|(timestamp, leap)| {
        if leap {
            Timestamp {
                hour: 23,
                minute: 59,
                second: 60,
                ..timestamp
            }
        } else {
            timestamp
        }
    })
}
