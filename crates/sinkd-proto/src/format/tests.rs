//! Unit tests for the output formats, byte for byte against the manual.

use super::*;
use crate::message::Format;
use crate::pri::{Facility, Pri, Severity};

/// 2019-11-18T09:36:42.000321+01:00, the manual's example instant.
fn manual_time() -> Timestamp {
    Timestamp::from_unix(1_574_066_202, 321, 60).unwrap()
}

/// A receive time distinct from the message time, to see which one is used.
fn receive_time() -> Timestamp {
    Timestamp::from_unix(1_700_000_000, 0, 0).unwrap()
}

/// The manual's example message: PRI 13 (user.notice), host, proc[123].
fn manual_message() -> Message<'static> {
    Message {
        timestamp: Some(manual_time()),
        hostname: Some("hostname"),
        app_name: Some("proc"),
        procid: Some("123"),
        msg: b"message",
        ..Message::empty(
            Format::Rfc5424,
            Pri {
                facility: Facility::User,
                severity: Severity::Notice,
            },
            b"",
        )
    }
}

fn render(message: &Message<'_>, format: OutputFormat) -> String {
    let mut out = Vec::new();
    write_message(message, format, &receive_time(), &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn manual_shapes() {
    let message = manual_message();
    assert_eq!(
        render(&message, OutputFormat::Bsd),
        "<13>proc[123]: message"
    );
    assert_eq!(
        render(&message, OutputFormat::Rfc3164),
        "<13>Nov 18 09:36:42 hostname proc[123] message"
    );
    assert_eq!(
        render(&message, OutputFormat::Rfc5424),
        "<13>1 2019-11-18T09:36:42.000321+01:00 hostname proc 123 - - message"
    );
}

#[test]
fn bare_message_shapes() {
    let message = Message {
        app_name: None,
        procid: None,
        ..manual_message()
    };
    assert_eq!(render(&message, OutputFormat::Bsd), "<13>message");
    assert_eq!(
        render(&message, OutputFormat::Rfc3164),
        "<13>Nov 18 09:36:42 hostname message"
    );
    assert_eq!(
        render(&message, OutputFormat::Rfc5424),
        "<13>1 2019-11-18T09:36:42.000321+01:00 hostname - - - - message"
    );
}

#[test]
fn tag_without_procid_uses_a_colon() {
    let message = Message {
        procid: None,
        ..manual_message()
    };
    assert_eq!(render(&message, OutputFormat::Bsd), "<13>proc: message");
    assert_eq!(
        render(&message, OutputFormat::Rfc3164),
        "<13>Nov 18 09:36:42 hostname proc: message"
    );
    assert_eq!(
        render(&message, OutputFormat::Rfc5424),
        "<13>1 2019-11-18T09:36:42.000321+01:00 hostname proc - - - message"
    );
}

#[test]
fn procid_without_app_name_is_left_out_of_bsd_tags() {
    let message = Message {
        app_name: None,
        ..manual_message()
    };
    assert_eq!(render(&message, OutputFormat::Bsd), "<13>message");
    assert_eq!(
        render(&message, OutputFormat::Rfc3164),
        "<13>Nov 18 09:36:42 hostname message"
    );
    assert_eq!(
        render(&message, OutputFormat::Rfc5424),
        "<13>1 2019-11-18T09:36:42.000321+01:00 hostname - 123 - - message"
    );
}

#[test]
fn empty_message_has_no_trailing_space() {
    let message = Message {
        msg: b"",
        ..manual_message()
    };
    assert_eq!(render(&message, OutputFormat::Bsd), "<13>proc[123]:");
    assert_eq!(
        render(&message, OutputFormat::Rfc3164),
        "<13>Nov 18 09:36:42 hostname proc[123]"
    );
    assert_eq!(
        render(&message, OutputFormat::Rfc5424),
        "<13>1 2019-11-18T09:36:42.000321+01:00 hostname proc 123 - -"
    );
    let bare = Message {
        app_name: None,
        procid: None,
        hostname: None,
        ..message
    };
    assert_eq!(render(&bare, OutputFormat::Bsd), "<13>");
    assert_eq!(render(&bare, OutputFormat::Rfc3164), "<13>Nov 18 09:36:42");
    assert_eq!(
        render(&bare, OutputFormat::Rfc5424),
        "<13>1 2019-11-18T09:36:42.000321+01:00 - - - - -"
    );
}

#[test]
fn missing_hostname() {
    let message = Message {
        hostname: None,
        ..manual_message()
    };
    assert_eq!(
        render(&message, OutputFormat::Rfc3164),
        "<13>Nov 18 09:36:42 proc[123] message"
    );
    assert_eq!(
        render(&message, OutputFormat::Rfc5424),
        "<13>1 2019-11-18T09:36:42.000321+01:00 - proc 123 - - message"
    );
}

#[test]
fn missing_timestamp_uses_the_fallback() {
    let message = Message {
        timestamp: None,
        ..manual_message()
    };
    assert_eq!(
        render(&message, OutputFormat::Rfc3164),
        "<13>Nov 14 22:13:20 hostname proc[123] message"
    );
    assert_eq!(
        render(&message, OutputFormat::Rfc5424),
        "<13>1 2023-11-14T22:13:20.000000Z hostname proc 123 - - message"
    );
    // An impossible timestamp is treated as missing.
    let broken = Message {
        timestamp: Some(Timestamp {
            month: 13,
            ..manual_time()
        }),
        ..manual_message()
    };
    assert_eq!(
        render(&broken, OutputFormat::Rfc5424),
        "<13>1 2023-11-14T22:13:20.000000Z hostname proc 123 - - message"
    );
    // And when the fallback is impossible too, RFC 5424 writes NILVALUE.
    let mut out = Vec::new();
    let bad_fallback = Timestamp {
        day: 0,
        ..receive_time()
    };
    write_message(&broken, OutputFormat::Rfc5424, &bad_fallback, &mut out);
    assert_eq!(out, b"<13>1 - hostname proc 123 - - message");
}

#[test]
fn rfc5424_timestamp_precision_and_offsets() {
    let utc = Timestamp::from_unix(1_065_910_455, 3_000, 0).unwrap();
    let west = Timestamp::from_unix(1_065_910_455, 0, -450).unwrap();
    let leap = Timestamp {
        second: 60,
        nanos: 0,
        ..utc
    };
    let cases = [
        (utc, "2003-10-11T22:14:15.003000Z"),
        (west, "2003-10-11T14:44:15.000000-07:30"),
        (leap, "2003-10-11T22:14:59.999999Z"),
    ];
    for (timestamp, expected) in cases {
        let message = Message {
            timestamp: Some(timestamp),
            ..manual_message()
        };
        let line = render(&message, OutputFormat::Rfc5424);
        assert_eq!(&line[6..6 + expected.len()], expected, "{line}");
    }
}

#[test]
fn rfc3164_pads_single_digit_days() {
    let message = Message {
        timestamp: Some(Timestamp::from_unix(1_065_910_455 - 10 * 86_400, 0, 0).unwrap()),
        ..manual_message()
    };
    assert_eq!(
        render(&message, OutputFormat::Rfc3164),
        "<13>Oct  1 22:14:15 hostname proc[123] message"
    );
}

#[test]
fn pri_extremes() {
    for (value, prefix) in [(0u8, "<0>"), (191, "<191>"), (8, "<8>")] {
        let pri = Pri::from_value(value).unwrap();
        let message = Message {
            facility: pri.facility,
            severity: pri.severity,
            ..manual_message()
        };
        for format in OutputFormat::ALL {
            assert!(render(&message, format).starts_with(prefix), "{format}");
        }
    }
}

#[test]
fn rfc5424_header_fields_are_made_valid() {
    let long_app = "a".repeat(60);
    let long_msgid = "m".repeat(40);
    let message = Message {
        hostname: Some("bad host\u{7}é"),
        app_name: Some(&long_app),
        procid: Some(""),
        msgid: Some(&long_msgid),
        ..manual_message()
    };
    let line = render(&message, OutputFormat::Rfc5424);
    let expected = [
        "<13>1 2019-11-18T09:36:42.000321+01:00 bad_host__ ",
        &"a".repeat(48),
        " - ",
        &"m".repeat(32),
        " - message",
    ]
    .concat();
    assert_eq!(line, expected);
}

#[test]
fn bsd_tags_are_made_valid() {
    let message = Message {
        hostname: Some("my host"),
        app_name: Some("odd:app[x]"),
        procid: Some("1 2]"),
        ..manual_message()
    };
    assert_eq!(
        render(&message, OutputFormat::Rfc3164),
        "<13>Nov 18 09:36:42 my_host odd_app_x_[1_2_] message"
    );
    assert_eq!(
        render(&message, OutputFormat::Bsd),
        "<13>odd_app_x_[1_2_]: message"
    );
    let long_tag = ["sshd(pam)/", &"t".repeat(50)].concat();
    let message = Message {
        hostname: Some("fe80::1:"),
        app_name: Some(&long_tag),
        procid: Some("a@b"),
        ..manual_message()
    };
    assert_eq!(
        render(&message, OutputFormat::Rfc3164),
        [
            "<13>Nov 18 09:36:42 fe80::1_ sshd(pam)/",
            &"t".repeat(38),
            "[a@b] message"
        ]
        .concat()
    );
    let message = Message {
        hostname: Some("host!example"),
        app_name: Some("app@x"),
        procid: Some(""),
        ..manual_message()
    };
    assert_eq!(
        render(&message, OutputFormat::Rfc3164),
        "<13>Nov 18 09:36:42 host_example app_x: message"
    );
    // What the RFC 3164 parser reads as hostname and tag goes out as it
    // came: `@`, `/` and UTF-8 in hostnames, Cisco's `%` and UTF-8 in tags.
    for (hostname, app_name) in [
        ("user@host", "%ASA-6-302014"),
        ("fw/vdom1", "%ASA"),
        ("höst", "äpp"),
    ] {
        let message = Message {
            hostname: Some(hostname),
            app_name: Some(app_name),
            procid: None,
            ..manual_message()
        };
        let line = render(&message, OutputFormat::Rfc3164);
        assert_eq!(
            line,
            format!("<13>Nov 18 09:36:42 {hostname} {app_name}: message")
        );
        let parsed = crate::parse(
            line.as_bytes(),
            &crate::ReceiveTime::new(1_574_066_202, 0, 60),
        );
        assert_eq!(
            (parsed.hostname, parsed.app_name, parsed.msg),
            (Some(hostname), Some(app_name), &b"message"[..])
        );
    }
    // RFC 5424 has no room for UTF-8 in its header.
    let message = Message {
        hostname: Some("höst"),
        ..manual_message()
    };
    assert!(render(&message, OutputFormat::Rfc5424).contains(" h_st "));
}

#[test]
fn empty_fields_count_as_missing() {
    let message = Message {
        hostname: Some(""),
        app_name: Some(""),
        procid: Some(""),
        msgid: Some(""),
        ..manual_message()
    };
    assert_eq!(render(&message, OutputFormat::Bsd), "<13>message");
    assert_eq!(
        render(&message, OutputFormat::Rfc3164),
        "<13>Nov 18 09:36:42 message"
    );
    assert_eq!(
        render(&message, OutputFormat::Rfc5424),
        "<13>1 2019-11-18T09:36:42.000321+01:00 - - - - - message"
    );
}

#[test]
fn message_bytes_are_written_as_they_are() {
    let message = Message {
        msg: b"line one\nline two\t\xff",
        ..manual_message()
    };
    let mut out = Vec::new();
    write_message(&message, OutputFormat::Bsd, &receive_time(), &mut out);
    assert_eq!(out, b"<13>proc[123]: line one\nline two\t\xff");
}

#[test]
fn escaped_lines_hold_no_control_characters() {
    let message = Message {
        msg: b"a\nb\r\tc\x7f\x00#012 \xc3\xa9",
        ..manual_message()
    };
    let mut out = b"prefix|".to_vec();
    write_escaped_line(&message, OutputFormat::Rfc3164, &receive_time(), &mut out);
    assert_eq!(
        out,
        b"prefix|<13>Nov 18 09:36:42 hostname proc[123] a#012b#015#011c#177#000#012 \xc3\xa9\n"
            .as_slice()
    );
    let body = &out[..out.len() - 1];
    assert!(!body.iter().any(|&byte| is_control(byte)));
}

#[test]
fn escape_control_covers_every_control_byte() {
    let all: Vec<u8> = (0u8..=255).collect();
    let mut out = Vec::new();
    escape_control(&all, &mut out);
    assert!(!out.iter().any(|&byte| is_control(byte)));
    assert_eq!(&out[..8], b"#000#001");
    assert_eq!(&out[31 * 4..32 * 4 + 1], b"#037 ");
    let after_space = 32 * 4 + 1;
    let del = after_space + (0x7f - 0x21);
    assert_eq!(&out[del..del + 4], b"#177");
    assert_eq!(out.len(), 256 + 33 * 3);
}

#[test]
fn writing_appends_and_only_grows_out() {
    let message = manual_message();
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"xx");
    let pointer = out.as_ptr();
    write_message(&message, OutputFormat::Rfc5424, &receive_time(), &mut out);
    assert!(out.starts_with(b"xx<13>1 "));
    assert_eq!(out.as_ptr(), pointer);
}

#[test]
fn format_names() {
    for format in OutputFormat::ALL {
        assert_eq!(format.name().parse::<OutputFormat>(), Ok(format));
        assert_eq!(format.to_string(), format.name());
    }
    let error = "RFC5424".parse::<OutputFormat>().unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown format `RFC5424`: expected one of bsd, rfc3164, rfc5424"
    );
}

/// A message that starts with a BOM followed by bytes that are not UTF-8
/// (kept whole as `unparsed`) must still give strict RFC 5424 output.
/// Found by the `format_roundtrip` fuzz target.
#[test]
fn fuzz_bom_before_invalid_utf8() {
    let received = crate::ReceiveTime::new(1_767_225_600, 0, 60);
    let message = crate::parse(b"\xEF\xBB\xBF\xBF\n", &received);
    let mut out = Vec::new();
    write_message(&message, OutputFormat::Rfc5424, &received.local, &mut out);
    assert!(
        crate::parse_strict(&out).is_ok(),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
    assert!(out.ends_with(b" \xBF"));
    out.clear();
    let valid = crate::parse(b"\xEF\xBB\xBFvalid text", &received);
    write_message(&valid, OutputFormat::Rfc5424, &received.local, &mut out);
    assert!(out.ends_with(b" \xEF\xBB\xBFvalid text"));
    assert!(crate::parse_strict(&out).is_ok());
}

/// Structured data the lenient parser tolerates must come out strict.
/// Found by the `format_roundtrip` fuzz target.
#[test]
fn fuzz_lenient_structured_data_is_rewritten_strict() {
    let received = crate::ReceiveTime::new(1_767_225_600, 0, 60);
    let mut out = Vec::new();
    for input in [
        &b"<2>1 - h a - - [@1 ] msg"[..],
        b"<13>1 - h a - - [id  k=\"v\" ] msg",
        b"<13>1 - h a - - [a k=\"1\"][a k=\"2\"] msg",
        b"<13>1 - h a - - [x k=\"a]b\"] msg",
        b"<13>1 - h a - - [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaX][aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaY] msg",
    ] {
        let message = crate::parse(input, &received);
        assert_eq!(message.format, crate::Format::Rfc5424, "{input:?}");
        out.clear();
        write_message(&message, OutputFormat::Rfc5424, &received.local, &mut out);
        let strict = crate::parse_strict(&out);
        assert!(
            strict.is_ok(),
            "{:?}: {strict:?}",
            String::from_utf8_lossy(&out)
        );
        assert!(out.ends_with(b" msg"));
    }
}
