//! Unit tests for the RFC 5424 parser, strict and lenient.

use super::*;
use crate::pri::{parse_pri, Facility, Severity};
use crate::sd::SdParam;

/// The receive time lenient mode completes a timestamp without offset
/// with: 2026-03-08 09:00:00 UTC seen at UTC+01:00.
fn received() -> ReceiveTime {
    crate::time::receive_at((2026, 3, 8), (9, 0, 0), 60)
}

fn mode(strict: bool, received: &ReceiveTime) -> Mode<'_> {
    if strict {
        Mode::Strict
    } else {
        Mode::Lenient(received)
    }
}

/// Runs the parser the way `crate::parse` and `crate::parse_strict` do.
fn run(input: &[u8], strict: bool) -> Result<Message<'_>, ParseError> {
    let trimmed = crate::trim_trailer(input);
    let (pri, pri_len) = parse_pri(trimmed).expect("test input has a PRI");
    parse(input, trimmed, pri, pri_len, mode(strict, &received()))
}

/// Parses in both modes and expects both to succeed the same way.
fn both(input: &[u8]) -> Message<'_> {
    let strict = run(input, true).unwrap_or_else(|error| panic!("strict: {error}"));
    let lenient = run(input, false).unwrap_or_else(|error| panic!("lenient: {error}"));
    assert_eq!(strict, lenient);
    strict
}

fn strict_err(input: &[u8]) -> ParseError {
    match run(input, true) {
        Ok(message) => panic!("strict accepted {message:?}"),
        Err(error) => error,
    }
}

fn lenient_ok(input: &[u8]) -> Message<'_> {
    run(input, false).unwrap_or_else(|error| panic!("lenient: {error}"))
}

/// Asserts that strict mode fails at `field`/`column`.
fn strict_fails_at(input: &[u8], field: Field, column: usize) {
    let error = strict_err(input);
    assert_eq!(
        (error.field, error.column),
        (field, column),
        "{}: {error}",
        String::from_utf8_lossy(input)
    );
}

/// Asserts that strict mode fails at `field`/`column` and that lenient
/// mode keeps the message as RFC 5424 with what it could read; returns
/// the lenient reading.
fn recovered(input: &[u8], field: Field, column: usize) -> Message<'_> {
    strict_fails_at(input, field, column);
    let message = lenient_ok(input);
    assert_eq!(message.format, Format::Rfc5424);
    message
}

/// Asserts that strict mode fails at `field`/`column` and that lenient
/// mode fails too (the message is not RFC 5424 in any reading).
fn rejected_by_both(input: &[u8], field: Field, column: usize) {
    strict_fails_at(input, field, column);
    assert!(
        run(input, false).is_err(),
        "lenient accepted {}",
        String::from_utf8_lossy(input)
    );
}

fn ts(text: &str) -> Timestamp {
    let input = format!("<14>1 {text} h a p m -");
    both(input.as_bytes()).timestamp.expect("timestamp")
}

fn sd_params<'a>(message: &Message<'a>) -> Vec<(&'a str, Vec<SdParam<'a>>)> {
    message
        .structured_data
        .map(|sd| sd.iter().map(|e| (e.id, e.params().collect())).collect())
        .unwrap_or_default()
}

#[test]
fn rfc_example_1_no_structured_data_bom() {
    let input =
        b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8";
    let message = both(input);
    assert_eq!(message.format, Format::Rfc5424);
    assert_eq!(message.facility, Facility::Auth);
    assert_eq!(message.severity, Severity::Crit);
    assert_eq!(message.version, Some(1));
    assert_eq!(
        message.timestamp,
        Some(Timestamp {
            year: 2003,
            month: 10,
            day: 11,
            hour: 22,
            minute: 14,
            second: 15,
            nanos: 3_000_000,
            frac_digits: 3,
            offset_minutes: 0,
        })
    );
    assert_eq!(message.hostname, Some("mymachine.example.com"));
    assert_eq!(message.app_name, Some("su"));
    assert_eq!(message.procid, None);
    assert_eq!(message.msgid, Some("ID47"));
    assert_eq!(message.structured_data, None);
    assert_eq!(message.msg, b"'su root' failed for lonvick on /dev/pts/8");
    assert_eq!(message.raw, input);
}

#[test]
fn rfc_example_2_offset_and_micros() {
    let input =
        b"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.";
    let message = both(input);
    assert_eq!(message.facility, Facility::Local4);
    assert_eq!(message.severity, Severity::Notice);
    let timestamp = message.timestamp.expect("timestamp");
    assert_eq!(
        (
            timestamp.nanos,
            timestamp.frac_digits,
            timestamp.offset_minutes
        ),
        (3_000, 6, -420)
    );
    assert_eq!(timestamp.to_string(), "2003-08-24T05:14:15.000003-07:00");
    assert_eq!(message.hostname, Some("192.0.2.1"));
    assert_eq!(message.app_name, Some("myproc"));
    assert_eq!(message.procid, Some("8710"));
    assert_eq!(message.msgid, None);
    assert_eq!(message.structured_data, None);
    assert_eq!(message.msg, b"%% It's time to make the do-nuts.");
}

#[test]
fn rfc_example_3_structured_data_and_bom_msg() {
    let input = b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] \xEF\xBB\xBFAn application event log entry...";
    let message = both(input);
    assert_eq!(message.app_name, Some("evntslog"));
    assert_eq!(
        message.structured_data.map(|sd| sd.as_str()),
        Some(r#"[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]"#)
    );
    let elements = sd_params(&message);
    assert_eq!(elements.len(), 1);
    assert_eq!(elements[0].0, "exampleSDID@32473");
    let names: Vec<(&str, &str)> = elements[0]
        .1
        .iter()
        .map(|p| (p.name, p.raw_value))
        .collect();
    assert_eq!(
        names,
        [
            ("iut", "3"),
            ("eventSource", "Application"),
            ("eventID", "1011")
        ]
    );
    assert_eq!(message.msg, b"An application event log entry...");
}

#[test]
fn rfc_example_4_two_elements_no_msg() {
    let input = br#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]"#;
    let message = both(input);
    let elements = sd_params(&message);
    assert_eq!(elements.len(), 2);
    assert_eq!(elements[1].0, "examplePriority@32473");
    assert_eq!(elements[1].1[0].name, "class");
    assert_eq!(elements[1].1[0].value(), "high");
    assert_eq!(message.msg, b"");
}

#[test]
fn public_entry_points() {
    let input = b"<34>1 2003-10-11T22:14:15.003Z host su - ID47 - hi\r\n";
    let message = crate::parse_strict(input).expect("valid");
    assert_eq!(message.msg, b"hi");
    assert_eq!(message.raw, input);
    let received = crate::ReceiveTime::new(1_700_000_000, 0, 0);
    assert_eq!(crate::parse(input, &received), message);
    let version_2 = crate::parse_strict(b"<34>2 2003-10-11T22:14:15.003Z host su - ID47 - hi")
        .expect("VERSION 2 is well-formed");
    assert_eq!(version_2.version, Some(2));
    let error = crate::parse_strict(b"<34>0 2003-10-11T22:14:15.003Z host su - ID47 - hi")
        .expect_err("version 0");
    assert_eq!(
        error.to_string(),
        "RFC 5424 VERSION at column 5: expected VERSION: 1 to 3 digits, the first not 0"
    );
}

#[test]
fn nilvalue_everywhere() {
    let message = both(b"<0>1 - - - - - -");
    assert_eq!(message.facility, Facility::Kern);
    assert_eq!(message.severity, Severity::Emerg);
    assert_eq!(message.timestamp, None);
    assert_eq!(message.hostname, None);
    assert_eq!(message.app_name, None);
    assert_eq!(message.procid, None);
    assert_eq!(message.msgid, None);
    assert_eq!(message.structured_data, None);
    assert_eq!(message.msg, b"");
    // An empty MSG after the separating SP, and a MSG that is just "-".
    assert_eq!(both(b"<0>1 - - - - - - ").msg, b"");
    assert_eq!(both(b"<0>1 - - - - - - -").msg, b"-");
    // "--" is a value, not NILVALUE.
    assert_eq!(both(b"<0>1 - -- - - - -").hostname, Some("--"));
}

#[test]
fn msg_keeps_its_bytes() {
    let message = both(b"<13>1 - h a p m -  two  spaces\tand\x01control \xFF");
    assert_eq!(message.msg, b" two  spaces\tand\x01control \xFF");
    // Only one BOM is stripped; MSG without BOM may be any bytes.
    let message = both(b"<13>1 - h a p m - \xEF\xBB\xBF\xEF\xBB\xBFx");
    assert_eq!(message.msg, b"\xEF\xBB\xBFx");
    // A partial BOM is just bytes.
    assert_eq!(both(b"<13>1 - h a p m - \xEF\xBBx").msg, b"\xEF\xBBx");
}

#[test]
fn bom_msg_must_be_utf8_in_strict_mode() {
    let input = b"<13>1 - h a p m - \xEF\xBB\xBFok \xC3\x28";
    let error = strict_err(input);
    assert_eq!(error.field, Field::Msg);
    // Column of the 0xC3 byte: 18 header bytes + BOM + "ok ".
    assert_eq!(error.column, input.len() - 1);
    assert_eq!(lenient_ok(input).msg, b"ok \xC3\x28");
}

#[test]
fn fractional_seconds_one_to_six_digits() {
    let expected = [
        (".1", 100_000_000),
        (".12", 120_000_000),
        (".123", 123_000_000),
        (".1234", 123_400_000),
        (".12345", 123_450_000),
        (".123456", 123_456_000),
        ("", 0),
    ];
    for (n_digits, (frac, nanos)) in expected.iter().enumerate() {
        let timestamp = ts(&format!("2024-01-02T03:04:05{frac}Z"));
        assert_eq!(timestamp.nanos, *nanos, "{frac}");
        let digits = if frac.is_empty() { 0 } else { n_digits + 1 };
        assert_eq!(usize::from(timestamp.frac_digits), digits, "{frac}");
        assert_eq!(timestamp.to_string(), format!("2024-01-02T03:04:05{frac}Z"));
    }
}

#[test]
fn more_than_six_fraction_digits() {
    let input = b"<14>1 2024-01-02T03:04:05.1234567Z h a p m -";
    let error = strict_err(input);
    assert_eq!((error.field, error.column), (Field::Timestamp, 33));
    // Lenient mode keeps what was sent, to the nanosecond.
    let timestamp = lenient_ok(input).timestamp.expect("timestamp");
    assert_eq!((timestamp.nanos, timestamp.frac_digits), (123_456_700, 7));
    assert_eq!(timestamp.to_string(), "2024-01-02T03:04:05.1234567Z");
    let nanos = lenient_ok(b"<14>1 2024-01-02T03:04:05.999999999+01:00 h a p m -");
    let timestamp = nanos.timestamp.expect("timestamp");
    assert_eq!(
        (
            timestamp.nanos,
            timestamp.frac_digits,
            timestamp.offset_minutes
        ),
        (999_999_999, 9, 60)
    );
    assert_eq!(timestamp.to_string(), "2024-01-02T03:04:05.999999999+01:00");
    // Past nine digits the rest is read and dropped.
    let long = lenient_ok(b"<14>1 2024-01-02T03:04:05.0000000019999Z h a p m -");
    let timestamp = long.timestamp.expect("timestamp");
    assert_eq!((timestamp.nanos, timestamp.frac_digits), (1, 9));
    // A dot without digits is wrong in both modes.
    rejected_by_both(
        b"<14>1 2024-01-02T03:04:05.Z h a p m -",
        Field::Timestamp,
        27,
    );
}

#[test]
fn offsets() {
    assert_eq!(ts("2024-01-02T03:04:05Z").offset_minutes, 0);
    assert_eq!(ts("2024-01-02T03:04:05+00:00").offset_minutes, 0);
    assert_eq!(ts("2024-01-02T03:04:05-00:00").offset_minutes, 0);
    assert_eq!(ts("2024-01-02T03:04:05+05:30").offset_minutes, 330);
    assert_eq!(ts("2024-01-02T03:04:05-09:45").offset_minutes, -585);
    assert_eq!(ts("2024-01-02T03:04:05+23:59").offset_minutes, 1439);
    assert_eq!(ts("2024-01-02T03:04:05.5-23:59").offset_minutes, -1439);
    let bad = [
        ("2024-01-02T03:04:05+24:00", 27),
        ("2024-01-02T03:04:05+01:60", 30),
        ("2024-01-02T03:04:05+1:00", 28),
        ("2024-01-02T03:04:05+01", 29),
        ("2024-01-02T03:04:05+01:0", 31),
    ];
    for (text, column) in bad {
        let input = format!("<14>1 {text} h a p m -");
        rejected_by_both(input.as_bytes(), Field::Timestamp, column);
    }
}

#[test]
fn missing_offset_is_the_receivers_zone_when_lenient() {
    for (text, column, shown) in [
        ("2024-01-02T03:04:05", 26, "2024-01-02T03:04:05+01:00"),
        ("2024-01-02T03:04:05.25", 29, "2024-01-02T03:04:05.25+01:00"),
    ] {
        let input = format!("<14>1 {text} h a p m - msg");
        let error = strict_err(input.as_bytes());
        assert_eq!((error.field, error.column), (Field::Timestamp, column));
        let message = lenient_ok(input.as_bytes());
        let timestamp = message.timestamp.expect("timestamp");
        assert_eq!(timestamp.to_string(), shown);
        assert_eq!((message.hostname, message.msg), (Some("h"), &b"msg"[..]));
    }
    // At the end of the message too (the header then ends there).
    let message = lenient_ok(b"<14>1 2024-01-02T03:04:05 h a p m");
    assert_eq!(message.timestamp.map(|t| t.offset_minutes), Some(60));
    assert_eq!(message.msgid, Some("m"));
}

#[test]
fn lenient_timestamp_spellings() {
    let cases = [
        ("2024-01-02t03:04:05Z", 17),
        ("2024-01-02T03:04:05z", 26),
        ("2024-01-02T03:04:05+0130", 29),
    ];
    for (text, column) in cases {
        let input = format!("<14>1 {text} h a p m -");
        let error = strict_err(input.as_bytes());
        assert_eq!(
            (error.field, error.column),
            (Field::Timestamp, column),
            "{text}"
        );
        let timestamp = lenient_ok(input.as_bytes()).timestamp.expect("timestamp");
        assert_eq!((timestamp.year, timestamp.hour), (2024, 3), "{text}");
    }
    let offset = lenient_ok(b"<14>1 2024-01-02T03:04:05-0130 h a p m -").timestamp;
    assert_eq!(offset.map(|t| t.offset_minutes), Some(-90));
}

#[test]
fn leap_second_is_lenient_only() {
    // RFC 5424 §6.2.3: leap seconds MUST NOT be used.
    let input = b"<14>1 2016-12-31T23:59:60Z h a p m -";
    let error = strict_err(input);
    assert_eq!((error.field, error.column), (Field::Timestamp, 24));
    assert_eq!(lenient_ok(input).timestamp.map(|t| t.second), Some(60));
    rejected_by_both(
        b"<14>1 2016-12-31T23:59:61Z h a p m -",
        Field::Timestamp,
        24,
    );
}

#[test]
fn date_and_time_ranges() {
    assert_eq!(ts("2024-02-29T00:00:00Z").day, 29);
    assert_eq!(ts("2000-02-29T00:00:00Z").day, 29);
    assert_eq!(ts("2023-12-31T23:59:59Z").month, 12);
    assert_eq!(ts("2023-04-30T00:00:00Z").day, 30);
    assert_eq!(ts("0000-01-01T00:00:00Z").year, 0);
    let bad = [
        ("2023-02-29T00:00:00Z", 15),
        ("1900-02-29T00:00:00Z", 15),
        ("2024-02-30T00:00:00Z", 15),
        ("2023-04-31T00:00:00Z", 15),
        ("2023-01-32T00:00:00Z", 15),
        ("2023-01-00T00:00:00Z", 15),
        ("2023-00-10T00:00:00Z", 12),
        ("2023-13-10T00:00:00Z", 12),
        ("2023-01-10T24:00:00Z", 18),
        ("2023-01-10T23:60:00Z", 21),
        ("202-01-10T23:00:00Z", 10),
        ("2023/01/10T23:00:00Z", 11),
        ("2023-1-10T23:00:00Z", 13),
        ("2023-01-10 23:00:00Z", 17),
        ("2023-01-10T23-00:00Z", 20),
        ("2023-01-10T23:00.00Z", 23),
        ("2023-01-10T23:00:0aZ", 25),
        ("2023-01-10", 17),
    ];
    for (text, column) in bad {
        let input = format!("<14>1 {text} h a p m -");
        rejected_by_both(input.as_bytes(), Field::Timestamp, column);
    }
}

#[test]
fn version_rules() {
    rejected_by_both(b"<14>0 - h a p m -", Field::Version, 5);
    rejected_by_both(b"<14>01 - h a p m -", Field::Version, 5);
    rejected_by_both(b"<14> - h a p m -", Field::Version, 5);
    // Three digits at most: the fourth is where SP was expected.
    rejected_by_both(b"<14>1234 - h a p m -", Field::Version, 8);
    rejected_by_both(b"<14>1x - h a p m -", Field::Version, 6);
    // VERSION = NONZERO-DIGIT 0*2DIGIT: every such value is well-formed in
    // both modes, and the message keeps it.
    for version in [1u16, 2, 9, 10, 99, 100, 999] {
        let input = format!("<14>{version} - h a p m -");
        assert_eq!(both(input.as_bytes()).version, Some(version));
    }
}

#[test]
fn has_version_matches_parser_entry() {
    assert!(has_version(b"1 "));
    assert!(has_version(b"999 x"));
    assert!(!has_version(b"1"));
    assert!(!has_version(b"0 "));
    assert!(!has_version(b"1000 "));
    assert!(!has_version(b" 1"));
    assert!(!has_version(b""));
    assert!(!has_version(b"Oct 11"));
}

/// Builds a message with `value` in header field `index` (0 = HOSTNAME).
fn with_field(index: usize, value: &str) -> String {
    let mut fields = ["h", "a", "p", "m"];
    fields[index] = value;
    format!("<14>1 - {} -", fields.join(" "))
}

#[test]
fn header_length_limits() {
    let limits = [
        (Field::Hostname, 255),
        (Field::AppName, 48),
        (Field::Procid, 128),
        (Field::Msgid, 32),
    ];
    for (index, (field, limit)) in limits.into_iter().enumerate() {
        let at_limit = "x".repeat(limit);
        let input = with_field(index, &at_limit);
        let message = both(input.as_bytes());
        let values = [
            message.hostname,
            message.app_name,
            message.procid,
            message.msgid,
        ];
        assert_eq!(values[index], Some(at_limit.as_str()));

        let over = "y".repeat(limit + 1);
        let input = with_field(index, &over);
        let error = strict_err(input.as_bytes());
        let field_start = input.find(&over).expect("present") + 1;
        assert_eq!(error.field, field);
        assert_eq!(error.column, field_start + limit, "{}", field.name());
        let message = lenient_ok(input.as_bytes());
        let values = [
            message.hostname,
            message.app_name,
            message.procid,
            message.msgid,
        ];
        assert_eq!(values[index], Some(over.as_str()));
    }
}

#[test]
fn header_bytes_must_be_printable_ascii() {
    let fields = [Field::Hostname, Field::AppName, Field::Procid, Field::Msgid];
    for (index, field) in fields.into_iter().enumerate() {
        // Control bytes are wrong in strict mode; lenient mode keeps the
        // fields before and puts the rest, from this field, in MSG.
        for bad in ["a\x01b", "a\x7Fb"] {
            let input = with_field(index, bad);
            let column = input.find(bad).expect("present") + 2;
            let message = recovered(input.as_bytes(), field, column);
            let field_start = column - 2;
            assert_eq!(message.msg, &input.as_bytes()[field_start..]);
            let values = [
                message.hostname,
                message.app_name,
                message.procid,
                message.msgid,
            ];
            let expected = [Some("h"), Some("a"), Some("p"), Some("m")];
            assert_eq!(values[..index], expected[..index], "{bad}");
            assert!(values[index..].iter().all(Option::is_none), "{bad}");
        }
        let column = with_field(index, "a\x01b").find('\x01').expect("present") + 1;
        // UTF-8 is tolerated leniently.
        let input = with_field(index, "café");
        let error = strict_err(input.as_bytes());
        assert_eq!((error.field, error.column), (field, column + 2));
        let message = lenient_ok(input.as_bytes());
        let values = [
            message.hostname,
            message.app_name,
            message.procid,
            message.msgid,
        ];
        assert_eq!(values[index], Some("café"));
    }
    // Bytes that are not UTF-8 are wrong in strict mode; lenient mode
    // keeps them in MSG.
    let message = recovered(b"<14>1 - h\xFF a p m -", Field::Hostname, 10);
    assert_eq!(
        (message.hostname, message.msg),
        (None, &b"h\xFF a p m -"[..])
    );
}

#[test]
fn missing_and_doubled_separators() {
    // Up to TIMESTAMP the message is not RFC 5424 in either mode.
    rejected_by_both(b"<14>1  - h a p m -", Field::Timestamp, 7);
    rejected_by_both(b"<14>1 -x h a p m -", Field::Timestamp, 8);
    rejected_by_both(b"<14>1 2024-01-02T03:04:05Zh a p m -", Field::Timestamp, 27);
    // After it, lenient mode keeps what it read and the rest is MSG.
    let message = recovered(b"<14>1 - h  a p m -", Field::AppName, 11);
    assert_eq!((message.hostname, message.app_name), (Some("h"), None));
    assert_eq!(message.msg, b" a p m -");
    let message = recovered(b"<14>1 - h a  p m -", Field::Procid, 13);
    assert_eq!((message.app_name, message.procid), (Some("a"), None));
    assert_eq!(message.msg, b" p m -");
    let message = recovered(b"<14>1 - h a p  m -", Field::Msgid, 15);
    assert_eq!((message.procid, message.msg), (Some("p"), &b" m -"[..]));
    let message = recovered(b"<14>1 - h a p m  -", Field::StructuredData, 17);
    assert_eq!((message.msgid, message.msg), (Some("m"), &b" -"[..]));
    for (input, column, msg) in [
        (&b"<14>1 - h a p m -x"[..], 18, &b"-x"[..]),
        (b"<14>1 - h a p m x", 17, b"x"),
    ] {
        let message = recovered(input, Field::StructuredData, column);
        assert_eq!((message.msgid, message.structured_data), (Some("m"), None));
        assert_eq!(message.msg, msg);
    }
}

#[test]
fn structured_data_after_missing_fields_when_lenient() {
    let sd = r#"[x@1 a="1"]"#;
    for (header, app_name, procid, msgid) in [
        ("h a p", Some("a"), Some("p"), None),
        ("h a", Some("a"), None, None),
        ("h", None, None, None),
    ] {
        let input = format!("<14>1 - {header} {sd} text");
        let error = strict_err(input.as_bytes());
        assert_ne!(error.field, Field::Msg, "{input}");
        let message = lenient_ok(input.as_bytes());
        assert_eq!(
            (
                message.hostname,
                message.app_name,
                message.procid,
                message.msgid
            ),
            (Some("h"), app_name, procid, msgid),
            "{input}"
        );
        assert_eq!(message.structured_data.map(|sd| sd.as_str()), Some(sd));
        assert_eq!(message.msg, b"text");
    }
    // Only fields read before the fault: a bad HOSTNAME keeps it all in MSG.
    let input = format!("<14>1 - h\tx a {sd} text");
    let message = lenient_ok(input.as_bytes());
    assert_eq!((message.hostname, message.structured_data), (None, None));
    assert_eq!(message.msg, format!("h\tx a {sd} text").as_bytes());
    // A field that only looks like an element stays a field.
    let message = both(b"<14>1 - h [a] p m - text");
    assert_eq!((message.app_name, message.msg), (Some("[a]"), &b"text"[..]));
}

#[test]
fn truncated_header_names_missing_field() {
    rejected_by_both(b"<14>1", Field::Timestamp, 6);
    rejected_by_both(b"<14>1 ", Field::Timestamp, 7);
    rejected_by_both(b"<14>1 -", Field::Hostname, 8);
    // After TIMESTAMP, lenient mode keeps the fields that arrived.
    let message = recovered(b"<14>1 - ", Field::Hostname, 9);
    assert_eq!((message.hostname, message.msg), (None, &b""[..]));
    let message = recovered(b"<14>1 - h", Field::AppName, 10);
    assert_eq!((message.hostname, message.app_name), (Some("h"), None));
    let message = recovered(b"<14>1 - h a", Field::Procid, 12);
    assert_eq!((message.app_name, message.procid), (Some("a"), None));
    let message = recovered(b"<14>1 - h a p", Field::Msgid, 14);
    assert_eq!((message.procid, message.msgid), (Some("p"), None));
    for (input, column) in [(&b"<14>1 - h a p m"[..], 16), (b"<14>1 - h a p m ", 17)] {
        let message = recovered(input, Field::StructuredData, column);
        assert_eq!((message.msgid, message.msg), (Some("m"), &b""[..]));
    }
    let error = strict_err(b"<14>1 - h a p m");
    assert_eq!(error.reason, ENDS_EARLY);
}

#[test]
fn structured_data_errors_point_into_the_input() {
    // Offsets inside STRUCTURED-DATA become columns of the whole input.
    let prefix = "<14>1 - h a p m ";
    let cases = [
        ("[", 1),
        ("[a", 2),
        ("[a b=\"1]", 7),
        ("[a b=1]", 5),
        ("[ a]", 1),
    ];
    for (sd, offset) in cases {
        let input = format!("{prefix}{sd}");
        // Lenient mode keeps the header and puts the bad SD in MSG.
        let message = recovered(
            input.as_bytes(),
            Field::StructuredData,
            prefix.len() + offset + 1,
        );
        assert_eq!(message.msgid, Some("m"));
        assert_eq!(
            (message.structured_data, message.msg),
            (None, sd.as_bytes())
        );
    }
    // Strict-only SD rules.
    let strict_only = [("[a b=\"]\"]", 6), ("[a][a]", 4), ("[a  b=\"1\"]", 3)];
    for (sd, offset) in strict_only {
        let input = format!("{prefix}{sd} msg");
        let error = strict_err(input.as_bytes());
        assert_eq!(
            (error.field, error.column),
            (Field::StructuredData, prefix.len() + offset + 1),
            "{sd}"
        );
        assert_eq!(lenient_ok(input.as_bytes()).msg, b"msg");
    }
    let mut bad_utf8 = prefix.as_bytes().to_vec();
    bad_utf8.extend_from_slice(b"[a b=\"\xFF\"]");
    let message = recovered(&bad_utf8, Field::StructuredData, prefix.len() + 7);
    assert_eq!(message.msg, &bad_utf8[prefix.len()..]);
    // An element without params is valid (SD-ELEMENT = "[" SD-ID *(SP
    // SD-PARAM) "]").
    let input = format!("{prefix}[a] msg");
    let message = both(input.as_bytes());
    assert_eq!(message.structured_data.map(|sd| sd.as_str()), Some("[a]"));
}

#[test]
fn structured_data_with_escapes_and_msg() {
    let input =
        br#"<14>1 - h a p m [x@1 q="say \"hi\"" path="C:\\dir" br="a\]b" odd="\d"][y] text"#;
    let message = both(input);
    let elements = sd_params(&message);
    assert_eq!(elements.len(), 2);
    let values: Vec<String> = elements[0]
        .1
        .iter()
        .map(|p| p.value().into_owned())
        .collect();
    assert_eq!(values, [r#"say "hi""#, r"C:\dir", "a]b", r"\d"]);
    assert_eq!((elements[1].0, elements[1].1.len()), ("y", 0));
    assert_eq!(message.msg, b"text");
}

#[test]
fn sd_glued_to_msg_is_lenient_only() {
    let input = br#"<14>1 - h a p m [x a="1"]text"#;
    let error = strict_err(input);
    assert_eq!((error.field, error.column), (Field::StructuredData, 26));
    let message = lenient_ok(input);
    assert_eq!(message.msg, b"text");
    assert_eq!(
        message.structured_data.map(|sd| sd.as_str()),
        Some(r#"[x a="1"]"#)
    );
    // A space between elements starts MSG (RFC 5424 §6.3.5 example 3).
    let message = both(br#"<14>1 - h a p m [x a="1"] [y b="2"]"#);
    assert_eq!(message.msg, br#"[y b="2"]"#);
}

#[test]
fn every_truncation_is_handled() {
    let input = b"<165>1 2003-10-11T22:14:15.003+02:00 mymachine.example.com evntslog 42 ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"App\\\"lication\"][examplePriority@32473 class=\"high\"] \xEF\xBB\xBFAn application event";
    let full = both(input);
    assert_eq!(full.procid, Some("42"));
    let sd_end = input
        .windows(7)
        .position(|w| w == b"\"high\"]")
        .map(|at| at + 7)
        .expect("present");
    for end in 0..input.len() {
        let prefix = &input[..end];
        let Some((pri, pri_len)) = parse_pri(prefix) else {
            continue;
        };
        for strict in [true, false] {
            let result = parse(prefix, prefix, pri, pri_len, mode(strict, &received()));
            if let Err(error) = &result {
                assert!(error.column <= end + 1, "{end}: {error}");
            }
            // Once the SD is complete, every longer prefix is a valid
            // message: a partial BOM is plain MSG-ANY bytes.
            if end >= sd_end {
                assert!(result.is_ok(), "{end} strict={strict}: {result:?}");
            }
        }
    }
}

#[test]
fn garbage_never_panics() {
    let samples: &[&[u8]] = &[
        b"<14>1 ",
        b"<14>1 \xFF\xFF\xFF",
        b"<14>1 9999-99-99T99:99:99.9999999999+99:99 h a p m -",
        b"<14>1 - - - - - [",
        b"<14>1 - - - - - [\\",
        b"<14>1 - - - - - [a b=\"\\",
        b"<14>1 - - - - - [a b=\"\\\"",
        b"<14>1 - - - - - []]]]",
        b"<14>1 - - - - - [a][",
        b"<14>1 - - - - - [a b=\"x\"]\xEF\xBB",
        b"<14>1 - - - - - - \xEF\xBB\xBF\xF0\x9F",
    ];
    for input in samples {
        for strict in [true, false] {
            let _ = run(input, strict);
        }
    }
    // Every byte value in every position of a short valid message.
    let base = *b"<14>1 2024-01-02T03:04:05.6Z h a p m [x y=\"z\"] m";
    for at in 4..base.len() {
        for byte in 0..=255u8 {
            let mut input = base;
            input[at] = byte;
            for strict in [true, false] {
                if let Err(error) = run(&input, strict) {
                    assert!(error.column >= 5 && error.column <= input.len() + 1);
                }
            }
        }
    }
}

/// `field_stop` by the definition, a byte at a time.
fn field_stop_naive(input: &[u8], pos: usize) -> usize {
    input[pos..]
        .iter()
        .position(|byte| !(33..=126).contains(byte))
        .map_or(input.len(), |offset| pos + offset)
}

#[test]
fn field_stop_finds_the_first_byte_outside_printable_ascii() {
    // Every byte value at every position of words longer and shorter than
    // a step, the bytes after it printable or not (the borrow and the
    // carry of the word-wide test must not move the first stop).
    for len in [1usize, 7, 8, 9, 16, 23] {
        for at in 0..len {
            for byte in 0..=255u8 {
                for after in [b'x', b' ', 0x00, 0x7f, 0xff] {
                    let mut input = vec![b'a'; len];
                    input[at] = byte;
                    for slot in input.iter_mut().skip(at + 1) {
                        *slot = after;
                    }
                    for pos in [0, at] {
                        assert_eq!(
                            field_stop(&input, pos),
                            field_stop_naive(&input, pos),
                            "{input:?} from {pos}"
                        );
                    }
                }
            }
        }
    }
}

proptest::proptest! {
    #[test]
    fn field_stop_agrees_with_a_byte_by_byte_scan(
        input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        pos in 0usize..64,
    ) {
        let pos = pos.min(input.len());
        proptest::prop_assert_eq!(field_stop(&input, pos), field_stop_naive(&input, pos));
    }

    #[test]
    fn field_stop_agrees_on_mostly_printable_input(
        input in proptest::collection::vec(
            proptest::prop_oneof![8 => 33u8..=126, 1 => proptest::prelude::any::<u8>()],
            0..64,
        ),
    ) {
        proptest::prop_assert_eq!(field_stop(&input, 0), field_stop_naive(&input, 0));
    }
}

#[test]
fn a_bad_byte_past_the_first_eight_of_a_field_is_found_where_it_is() {
    // HOSTNAME starts at index 8; the control byte is at index 24.
    strict_fails_at(
        b"<14>1 - router-long-name\x01x a p m -",
        Field::Hostname,
        25,
    );
    strict_fails_at(b"<14>1 - h application\x7fname p m -", Field::AppName, 22);
    // UTF-8 past eight bytes: strict stops at its first byte (index 21),
    // lenient keeps it.
    let input = "<14>1 - router-long-n\u{e9}me a p m -".as_bytes();
    let message = recovered(input, Field::Hostname, 22);
    assert_eq!(message.hostname, Some("router-long-n\u{e9}me"));
    assert_eq!(message.app_name, Some("a"));
}
