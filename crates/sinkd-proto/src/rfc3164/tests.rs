//! Unit tests for the RFC 3164 / vendor / bare-form parser.
//!
//! They go through [`crate::parse`], the way the collector calls the
//! parser, with a fixed receive time (2026-03-08 10:00 at UTC+01:00 unless a
//! test needs another). The vendor corpus with its snapshots lives in
//! `tests/it/corpus.rs`; here each rule of the grammar gets its own case,
//! plus property tests for robustness.

use super::{is_mnemonic_body, MAX_MSGID_LEN};
use crate::message::{Format, Message};
use crate::time::{receive_at, ReceiveTime};
use proptest::prelude::*;

fn received() -> ReceiveTime {
    receive_at((2026, 3, 8), (9, 0, 0), 60)
}

fn parse_with<'a>(input: &'a [u8], received: &ReceiveTime) -> Message<'a> {
    crate::parse(input, received)
}

fn parse(input: &str) -> Message<'_> {
    parse_with(input.as_bytes(), &received())
}

fn stamp(message: &Message<'_>) -> String {
    message
        .timestamp
        .map_or_else(|| "-".to_owned(), |ts| ts.to_string())
}

/// `(hostname, app_name, procid, msg)` as a test case expects them.
type HostTagMsg<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, &'a str);

/// `(hostname, app_name, procid, msgid, msg)` for compact assertions.
fn header<'a>(
    message: &Message<'a>,
) -> (
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
) {
    (
        message.hostname,
        message.app_name,
        message.procid,
        message.msgid,
        std::str::from_utf8(message.msg).unwrap_or("<not utf-8>"),
    )
}

// --- RFC 3164 §5.4 ---------------------------------------------------------

#[test]
fn rfc3164_example_1() {
    let m = parse("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8");
    assert_eq!(m.format, Format::Rfc3164);
    assert_eq!(m.pri().value(), 34);
    // October is more than six months after March: last year.
    assert_eq!(stamp(&m), "2025-10-11T22:14:15+01:00");
    assert_eq!(
        header(&m),
        (
            Some("mymachine"),
            Some("su"),
            None,
            None,
            "'su root' failed for lonvick on /dev/pts/8"
        )
    );
}

#[test]
fn rfc3164_example_2_relayed() {
    let m = parse("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!");
    assert_eq!(stamp(&m), "2026-02-05T17:32:18+01:00");
    // RFC 3164 §4.1.3: the TAG ends at the first character that cannot be
    // in it, so `Use` is the tag, as rsyslog and syslog-ng read it.
    assert_eq!(
        header(&m),
        (Some("10.0.0.99"), Some("Use"), None, None, "the BFG!")
    );
    // As originally sent, without PRI, it is kept whole by the caller.
    let m = parse("Use the BFG!");
    assert_eq!(m.format, Format::Unparsed);
    assert_eq!(m.msg, b"Use the BFG!");
}

#[test]
fn rfc3164_example_3_zone_and_year_after_time() {
    let m = parse(
        "<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to make the do-nuts.  %%  Ingredients: Mix=OK",
    );
    assert_eq!(m.format, Format::Rfc3164);
    assert_eq!(stamp(&m), "1987-08-24T05:34:00-06:00");
    assert_eq!(
        header(&m),
        (
            Some("mymachine"),
            Some("myproc"),
            Some("10"),
            None,
            "%% It's time to make the do-nuts.  %%  Ingredients: Mix=OK"
        )
    );
}

#[test]
fn rfc3164_example_4_year_first_and_relayed() {
    let m = parse(
        "<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!",
    );
    assert_eq!(stamp(&m), "1990-10-22T10:52:01-06:00");
    assert_eq!(m.hostname, Some("scapegoat.dmz.example.org"));
    assert_eq!(m.app_name, Some("10.1.2.3"));
    assert_eq!(m.msg, b"sched[0]: That's All Folks!");

    let m = parse("<0>Oct 22 10:52:12 scapegoat 1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!");
    assert_eq!(stamp(&m), "2025-10-22T10:52:12+01:00");
    assert_eq!(m.hostname, Some("scapegoat"));
    assert!(m.msg.starts_with(b"1990 Oct 22 10:52:01 TZ-6 "));
}

// --- Timestamps ------------------------------------------------------------

#[test]
fn day_padding_variants() {
    for input in [
        "<13>Mar  8 09:15:32 host app: x",
        "<13>Mar 08 09:15:32 host app: x",
        "<13>Mar 8 09:15:32 host app: x",
        "<13>MAR 08 09:15:32 host app: x",
        "<13>mar  8 09:15:32 host app: x",
    ] {
        let m = parse(input);
        assert_eq!(m.format, Format::Rfc3164, "{input}");
        assert_eq!(stamp(&m), "2026-03-08T09:15:32+01:00", "{input}");
        assert_eq!(header(&m), (Some("host"), Some("app"), None, None, "x"));
    }
}

#[test]
fn year_fraction_and_zone() {
    let cases = [
        (
            "<13>Mar  8 2024 09:15:32 h a: x",
            "2024-03-08T09:15:32+01:00",
        ),
        (
            "<13>Mar  8 09:15:32.123 h a: x",
            "2026-03-08T09:15:32.123+01:00",
        ),
        (
            "<13>Mar  8 09:15:32.123456 h a: x",
            "2026-03-08T09:15:32.123456+01:00",
        ),
        (
            "<13>Mar  8 09:15:32.123456789 h a: x",
            "2026-03-08T09:15:32.123456789+01:00",
        ),
        (
            "<13>Mar  8 09:15:32.1234567891 h a: x",
            "2026-03-08T09:15:32.123456789+01:00",
        ),
        ("<13>Mar  8 09:15:32 UTC h a: x", "2026-03-08T09:15:32Z"),
        (
            "<13>Mar  8 09:15:32 CEST h a: x",
            "2026-03-08T09:15:32+02:00",
        ),
        (
            "<13>Mar  8 09:15:32 +0530 h a: x",
            "2026-03-08T09:15:32+05:30",
        ),
        (
            "<13>Mar  8 09:15:32 -07:00 h a: x",
            "2026-03-08T09:15:32-07:00",
        ),
        (
            "<13>2026-03-08T09:15:32.123+02:00 h a: x",
            "2026-03-08T09:15:32.123+02:00",
        ),
        ("<13>2026-03-08T09:15:32Z h a: x", "2026-03-08T09:15:32Z"),
        (
            "<13>2026-03-08T09:15:32 h a: x",
            "2026-03-08T09:15:32+01:00",
        ),
        (
            "<13>2026 Mar  8 09:15:32 UTC: h a: x",
            "2026-03-08T09:15:32Z",
        ),
    ];
    for (input, expected) in cases {
        let m = parse(input);
        assert_eq!(m.format, Format::Rfc3164, "{input}");
        assert_eq!(stamp(&m), expected, "{input}");
    }
    let m = parse("<13>Mar  8 09:15:32.120 h a: x");
    let ts = m.timestamp.expect("timestamp");
    assert_eq!((ts.nanos, ts.frac_digits), (120_000_000, 3));
}

#[test]
fn cisco_markers_zone_and_colon() {
    let m =
        parse("<189>*Mar  1 18:46:11.123 UTC: %SYS-5-CONFIG_I: Configured from console by vty0");
    assert_eq!(m.format, Format::Rfc3164);
    assert_eq!(stamp(&m), "2026-03-01T18:46:11.123Z");
    assert_eq!(m.hostname, None);
    assert_eq!(m.app_name, Some("%SYS-5-CONFIG_I"));
    assert_eq!(m.msgid, Some("SYS-5-CONFIG_I"));
    assert_eq!(m.msg, b"Configured from console by vty0");

    // A zone name we do not know is skipped; the receiver's offset applies.
    let m = parse("<189>.Mar  1 18:46:11 XYZT: %SYS-5-CONFIG_I: x");
    assert_eq!(stamp(&m), "2026-03-01T18:46:11+01:00");
    assert_eq!(m.msg, b"x");
}

#[test]
fn missing_zone_takes_receiver_offset() {
    let received = receive_at((2026, 7, 1), (12, 0, 0), -300);
    let m = parse_with(b"<13>Jul  1 07:00:00 host app: x", &received);
    assert_eq!(stamp(&m), "2026-07-01T07:00:00-05:00");
    let m = parse_with(b"<13>2026-07-01T07:00:00 host app: x", &received);
    assert_eq!(stamp(&m), "2026-07-01T07:00:00-05:00");
    // An explicit zone wins.
    let m = parse_with(b"<13>2026-07-01T07:00:00+02:00 host app: x", &received);
    assert_eq!(stamp(&m), "2026-07-01T07:00:00+02:00");
}

#[test]
fn year_rollover() {
    // A December message read just after New Year belongs to last year.
    let new_year = receive_at((2026, 1, 1), (0, 0, 5), 0);
    let m = parse_with(b"<13>Dec 31 23:59:58 host app: late", &new_year);
    assert_eq!(stamp(&m), "2025-12-31T23:59:58Z");
    // A sender whose clock already reached January belongs to next year.
    let new_years_eve = receive_at((2025, 12, 31), (23, 59, 58), 0);
    let m = parse_with(b"<13>Jan  1 00:00:01 host app: early", &new_years_eve);
    assert_eq!(stamp(&m), "2026-01-01T00:00:01Z");
}

#[test]
fn invalid_dates_are_not_timestamps() {
    for input in [
        "<13>Feb 30 09:15:32 host app: x",
        "<13>Mar 32 09:15:32 host app: x",
        "<13>Mar  8 24:00:00 host app: x",
        "<13>Mar  8 09:60:00 host app: x",
        "<13>Foo  8 09:15:32 host app: x",
        "<13>2026-02-30T09:15:32Z host app: x",
        "<13>2026-03-08T09:15:32+25:00 host app: x",
        "<13>Mar  8 09:15:32x host app: x",
        "<13>Mar  8 9:15:32 host app: x",
    ] {
        let m = parse(input);
        assert_eq!(m.format, Format::Bsd, "{input}");
        assert_eq!(m.timestamp, None, "{input}");
        assert_eq!(m.msg, &input.as_bytes()[4..], "{input}");
    }
    // Feb 29 exists only in leap years; the year comes from the receiver.
    let in_2025 = receive_at((2025, 3, 1), (0, 0, 0), 0);
    assert_eq!(
        parse_with(b"<13>Feb 29 09:15:32 h a: x", &in_2025).format,
        Format::Bsd
    );
    let in_2024 = receive_at((2024, 3, 1), (0, 0, 0), 0);
    assert_eq!(
        stamp(&parse_with(b"<13>Feb 29 09:15:32 h a: x", &in_2024)),
        "2024-02-29T09:15:32Z"
    );
    // A leap second is kept.
    assert_eq!(
        stamp(&parse("<13>2016-12-31T23:59:60Z h a: x")),
        "2016-12-31T23:59:60Z"
    );
}

// --- HOSTNAME and TAG ------------------------------------------------------

#[test]
fn hostname_present_or_absent() {
    let cases: [(&str, HostTagMsg<'_>); 16] = [
        (
            "<13>Mar  8 09:15:32 sshd[123]: msg",
            (None, Some("sshd"), Some("123"), "msg"),
        ),
        (
            "<13>Mar  8 09:15:32 host sshd[123]: msg",
            (Some("host"), Some("sshd"), Some("123"), "msg"),
        ),
        (
            "<13>Mar  8 09:15:32 host tag: msg",
            (Some("host"), Some("tag"), None, "msg"),
        ),
        (
            "<13>Mar  8 09:15:32 tag: msg",
            (None, Some("tag"), None, "msg"),
        ),
        // A word followed by a space is a tag (RFC 3164 §4.1.3; rsyslog
        // and syslog-ng read it so).
        (
            "<13>Mar  8 09:15:32 host tag msg",
            (Some("host"), Some("tag"), None, "msg"),
        ),
        (
            "<13>Mar  8 09:15:32 host -- MARK --",
            (Some("host"), Some("--"), None, "MARK --"),
        ),
        // `@`, `/` and UTF-8 in hostnames, as syslog-ng takes them.
        (
            "<13>Mar  8 09:15:32 user@host app: x",
            (Some("user@host"), Some("app"), None, "x"),
        ),
        (
            "<13>Mar  8 09:15:32 fw/vdom1 app: x",
            (Some("fw/vdom1"), Some("app"), None, "x"),
        ),
        (
            "<13>Mar  8 09:15:32 höst äpp[7]: x",
            (Some("höst"), Some("äpp"), Some("7"), "x"),
        ),
        // The device manual's rfc3164 output: no colon after proc[123].
        (
            "<13>Nov 18 09:36:42 hostname proc[123] message",
            (Some("hostname"), Some("proc"), Some("123"), "message"),
        ),
        (
            "<13>Mar  8 09:15:32 fe80::1 app: v6",
            (Some("fe80::1"), Some("app"), None, "v6"),
        ),
        (
            "<13>Mar  8 09:15:32 host.example.com postfix/qmgr[9]: x",
            (
                Some("host.example.com"),
                Some("postfix/qmgr"),
                Some("9"),
                "x",
            ),
        ),
        // One word alone is the hostname, as rsyslog reads it.
        (
            "<13>Mar  8 09:15:32 rebooting",
            (Some("rebooting"), None, None, ""),
        ),
        ("<13>Mar  8 09:15:32 host ", (Some("host"), None, None, "")),
        ("<13>Mar  8 09:15:32", (None, None, None, "")),
        // Extra spaces between fields are tolerated.
        (
            "<13>Mar  8 09:15:32  host   app[1]:  two spaces",
            (Some("host"), Some("app"), Some("1"), " two spaces"),
        ),
    ];
    for (input, (hostname, app_name, procid, msg)) in cases {
        let m = parse(input);
        assert_eq!(m.format, Format::Rfc3164, "{input}");
        assert_eq!(
            (m.hostname, m.app_name, m.procid, m.msg),
            (hostname, app_name, procid, msg.as_bytes()),
            "{input}"
        );
    }
}

#[test]
fn tag_limits() {
    // Longer than RFC 3164's 32: rsyslog and syslog-ng take such tags.
    let long_tag = "a".repeat(256);
    let input = format!("<13>Mar  8 09:15:32 host {long_tag}: x");
    let m = parse(&input);
    assert_eq!(m.app_name, None);
    assert_eq!(m.msg, format!("{long_tag}: x").as_bytes());
    let ok_tag = "a".repeat(255);
    let input = format!("<13>Mar  8 09:15:32 host {ok_tag}: x");
    assert_eq!(parse(&input).app_name, Some(ok_tag.as_str()));
    // `app:text` is a tag glued to MSG, but not a URL or a time.
    let m = parse("<13>Mar  8 09:15:32 host app:glued");
    assert_eq!((m.app_name, m.msg), (Some("app"), &b"glued"[..]));
    let m = parse("<13>Mar  8 09:15:32 host http://example.com/ down");
    assert_eq!(
        (m.app_name, m.msg),
        (None, &b"http://example.com/ down"[..])
    );
    let m = parse("<13>Mar  8 09:15:32 host at:10 down");
    assert_eq!((m.app_name, m.msg), (None, &b"at:10 down"[..]));
    // A number is never a program name.
    let m = parse("<13>Mar  8 09:15:32 host 42: answer");
    assert_eq!((m.app_name, m.msg), (None, &b"42: answer"[..]));
    // Empty brackets: a tag without a PID.
    let m = parse("<13>Mar  8 09:15:32 host app[]: x");
    assert_eq!((m.app_name, m.procid), (Some("app"), None));
}

#[test]
fn invalid_utf8_is_not_a_field() {
    let m = parse_with(b"<13>Mar  8 09:15:32 h\xffst app: x", &received());
    assert_eq!(m.format, Format::Rfc3164);
    assert_eq!((m.hostname, m.app_name), (None, None));
    assert_eq!(m.msg, b"h\xffst app: x");
    let m = parse_with(b"<13>Mar  8 09:15:32 host app[\xff\xfe]: x", &received());
    assert_eq!(
        (m.hostname, m.app_name, m.procid),
        (Some("host"), None, None)
    );
    assert_eq!(m.msg, b"app[\xff\xfe]: x");
    let m = parse_with(b"<13>Mar  8 09:15:32 host app: \xff\xfe", &received());
    assert_eq!((m.app_name, m.msg), (Some("app"), &b"\xff\xfe"[..]));
}

#[test]
fn bom_is_stripped_from_msg() {
    let m = parse("<13>Mar  8 09:15:32 host app: \u{feff}hello");
    assert_eq!(m.msg, b"hello");
}

// --- Bare form ---------------------------------------------------------------

#[test]
fn bare_form() {
    let m = parse("<13>hello world");
    assert_eq!(m.format, Format::Bsd);
    assert_eq!(header(&m), (None, None, None, None, "hello world"));
    let m = parse("<13>myapp[77]: started");
    assert_eq!(
        header(&m),
        (None, Some("myapp"), Some("77"), None, "started")
    );
    let m = parse("<13>myapp[77] started");
    assert_eq!(
        header(&m),
        (None, Some("myapp"), Some("77"), None, "started")
    );
    // `Word:` alone is too common in plain text to be a tag here.
    let m = parse("<13>Error: disk full");
    assert_eq!(header(&m), (None, None, None, None, "Error: disk full"));
    let m = parse("<13> spaced out");
    assert_eq!(m.msg, b"spaced out");
    let m = parse("<13>");
    assert_eq!((m.format, m.msg), (Format::Bsd, &b""[..]));
    let m = parse("<28>mgd[1234]: UI_COMMIT: User 'admin' requested 'commit' operation");
    assert_eq!(m.msgid, Some("UI_COMMIT"));
}

// --- Vendors -------------------------------------------------------------------

#[test]
fn cisco_sequence_numbers() {
    let m =
        parse("<189>123: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: Configured from console by vty0");
    assert_eq!(m.format, Format::Rfc3164);
    assert_eq!(stamp(&m), "2026-03-01T18:46:11.123+01:00");
    assert_eq!(
        header(&m),
        (
            None,
            Some("%SYS-5-CONFIG_I"),
            None,
            Some("SYS-5-CONFIG_I"),
            "Configured from console by vty0"
        )
    );
    let m = parse("<189>123: router1: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: x");
    assert_eq!(
        (m.hostname, m.msgid),
        (Some("router1"), Some("SYS-5-CONFIG_I"))
    );
    let m = parse("<189>Mar  1 18:46:12 router1 123: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: x");
    assert_eq!(stamp(&m), "2026-03-01T18:46:12+01:00");
    assert_eq!(
        (m.hostname, m.app_name, m.msg),
        (Some("router1"), Some("%SYS-5-CONFIG_I"), &b"x"[..])
    );
    // Uptime stamps are skipped, and are not mistaken for an origin host.
    let m = parse("<189>26: 1w2d: %DUAL-5-NBRCHANGE: x");
    assert_eq!((m.format, m.hostname), (Format::Bsd, None));
    assert_eq!(
        (m.app_name, m.msgid, m.msg),
        (
            Some("%DUAL-5-NBRCHANGE"),
            Some("DUAL-5-NBRCHANGE"),
            &b"x"[..]
        )
    );
    // Without a timestamp or mnemonic to confirm it, a number is text.
    let m = parse("<13>2024: a year to remember");
    assert_eq!(
        (m.format, m.msg),
        (Format::Bsd, &b"2024: a year to remember"[..])
    );
    let m = parse("<13>Mar  8 09:15:32 host 42: the answer");
    assert_eq!(m.msg, b"42: the answer");
}

#[test]
fn cisco_mnemonics() {
    // In the bare form a `%...:` tag is the tag and gives the MSGID when it
    // is a mnemonic; anything else stays in MSG.
    let tagged = [
        ("<189>%SYS-5-CONFIG_I: x", Some("SYS-5-CONFIG_I")),
        (
            "<189>%C4K_EBM-4-HOSTFLAPPING: x",
            Some("C4K_EBM-4-HOSTFLAPPING"),
        ),
        (
            "<189>%ROUTING-BGP-5-ADJCHANGE : x",
            Some("ROUTING-BGP-5-ADJCHANGE"),
        ),
        ("<166>%ASA-4-106023: x", Some("ASA-4-106023")),
        ("<166>%ASA: x", None),
        ("<189>%SYS-9-BAD: x", None),
        ("<189>%SYS-CONFIG: x", None),
        ("<189>%SYS--5-X: x", None),
    ];
    for (input, msgid) in tagged {
        let m = parse(input);
        let tag_end = input.find([' ', ':']).expect("a tag");
        assert_eq!(m.app_name, Some(&input[5..tag_end]), "{input}");
        assert_eq!((m.msgid, m.msg), (msgid, &b"x"[..]), "{input}");
    }
    let untagged = [
        ("<189>%SYS-5-RESTART", Some("SYS-5-RESTART")),
        ("<189>%% not a mnemonic", None),
        ("<189>%SYS-5-CONFIG_I text without colon", None),
    ];
    for (input, msgid) in untagged {
        let m = parse(input);
        assert_eq!((m.app_name, m.msgid), (None, msgid), "{input}");
        assert_eq!(m.msg, &input.as_bytes()[5..], "{input}");
    }
    // After a program's tag, the mnemonic stays in MSG and gives the MSGID.
    let m = parse("<181>Mar  8 09:15:32 leaf1 Ebra: %LINEPROTO-5-UPDOWN: x");
    assert_eq!(
        (m.app_name, m.msgid, m.msg),
        (
            Some("Ebra"),
            Some("LINEPROTO-5-UPDOWN"),
            &b"%LINEPROTO-5-UPDOWN: x"[..]
        )
    );
}

#[test]
fn asa_device_id_colon() {
    let m = parse("<166>Mar 08 2026 09:15:33 asa01 : %ASA-6-302014: Teardown TCP connection 1");
    assert_eq!(stamp(&m), "2026-03-08T09:15:33+01:00");
    assert_eq!(
        header(&m),
        (
            Some("asa01"),
            Some("%ASA-6-302014"),
            None,
            Some("ASA-6-302014"),
            "Teardown TCP connection 1"
        )
    );
}

#[test]
fn juniper_event_names_need_a_tag() {
    let m = parse("<29>Mar  8 09:15:32 mx1 mgd[4242]: UI_COMMIT: User 'netops' requested 'commit'");
    assert_eq!((m.app_name, m.msgid), (Some("mgd"), Some("UI_COMMIT")));
    let m = parse("<29>Mar  8 09:15:32 mx1 UI_COMMIT: x");
    assert_eq!((m.app_name, m.msgid), (Some("UI_COMMIT"), None));
    let m = parse("<29>Mar  8 09:15:32 mx1 app: NOUNDERSCORE: x");
    assert_eq!(m.msgid, None);
}

#[test]
fn fortinet_borrows_fields() {
    let input = b"<189>date=2019-05-13 time=11:20:54 devname=\"FGT60E\" devid=\"FGT60E4Q1\" logid=\"0000000013\" type=\"traffic\" tz=\"+0200\" msg=\"a \\\"quoted\\\" text\"";
    let m = parse_with(input, &received());
    assert_eq!(m.format, Format::Bsd);
    assert_eq!(stamp(&m), "2019-05-13T11:20:54+02:00");
    assert_eq!((m.hostname, m.msgid), (Some("FGT60E"), Some("0000000013")));
    assert_eq!(m.msg, &input[5..]);
    let host = m.hostname.expect("hostname");
    let input_range = input.as_ptr_range();
    assert!(input_range.contains(&host.as_ptr()), "devname is borrowed");
    // Without tz the receiver's offset applies; a bad date leaves no timestamp.
    let m = parse("<189>date=2019-05-13 time=11:20:54 devname=FGT60E logid=1");
    assert_eq!(stamp(&m), "2019-05-13T11:20:54+01:00");
    let m = parse("<189>date=2019-02-30 time=11:20:54 devname=FGT60E");
    assert_eq!((m.timestamp, m.hostname), (None, Some("FGT60E")));
    // An unterminated quote does not run past the end.
    let m = parse("<189>date=2019-05-13 time=11:20:54 devname=\"FGT");
    assert_eq!(m.hostname, Some("FGT"));
}

#[test]
fn clavister_log_ids() {
    let m = parse(
        "<134>[2019-05-13 11:20:54] EFW: ALG: prio=1 id=00200001 rev=1 event=alg_session_open",
    );
    assert_eq!(m.format, Format::Rfc3164);
    assert_eq!(stamp(&m), "2019-05-13T11:20:54+01:00");
    assert_eq!(
        header(&m),
        (
            None,
            Some("EFW"),
            None,
            Some("00200001"),
            "ALG: prio=1 id=00200001 rev=1 event=alg_session_open"
        )
    );
    // `rid=` is not `id=`, and IDs have eight digits.
    let m = parse("<134>[2019-05-13 11:20:54] EFW: ALG: rid=00200001 id=123");
    assert_eq!(m.msgid, None);
}

// --- Robustness --------------------------------------------------------------

/// What every parse must guarantee: the raw input is kept, and `msg` is a
/// suffix of the trimmed input (nothing after the header is lost).
fn check_invariants(raw: &[u8]) {
    let m = parse_with(raw, &received());
    assert!(std::ptr::eq(m.raw, raw));
    let mut trimmed_len = raw.len();
    while trimmed_len > 0 && matches!(raw[trimmed_len - 1], b'\n' | b'\r' | 0) {
        trimmed_len -= 1;
    }
    if matches!(m.format, Format::Bsd | Format::Rfc3164) {
        let msg_end = m.msg.as_ptr() as usize + m.msg.len();
        assert_eq!(msg_end, raw.as_ptr() as usize + trimmed_len);
    }
    if m.format == Format::Rfc3164 {
        assert!(m.timestamp.is_some_and(|ts| ts.is_valid()));
    }
}

const FRAGMENTS: &[&str] = &[
    "Mar",
    "JAN",
    " ",
    "  ",
    "8",
    "08",
    "2026",
    "09:15:32",
    ".123",
    ":",
    ": ",
    "*",
    ".",
    "UTC",
    "CET:",
    "+0100",
    "-07:00",
    "TZ-6",
    "T",
    "2026-03-08",
    "Z",
    "host",
    "fe80::1",
    "app",
    "[",
    "]",
    "123",
    "%SYS-5-CONFIG_I",
    "%ASA-4-1",
    "date=",
    "time=",
    "devname=",
    "\"",
    "tz=",
    "logid=",
    "[2026-03-08 09:15:32]",
    "EFW: ",
    "id=00200001",
    "\\",
    "RP/0/CPU0:",
    "1w2d: ",
    "UI_COMMIT: ",
    "\u{feff}",
    "\u{e9}",
    "\t",
    "\n",
    "\0",
];

proptest! {
    #[test]
    fn arbitrary_bytes_after_pri(pri in 0u8..=191, body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut raw = format!("<{pri}>").into_bytes();
        raw.extend_from_slice(&body);
        check_invariants(&raw);
    }

    #[test]
    fn header_like_fragments(pri in 0u8..=191, parts in proptest::collection::vec(0..FRAGMENTS.len(), 0..24)) {
        let mut raw = format!("<{pri}>").into_bytes();
        for index in parts {
            raw.extend_from_slice(FRAGMENTS[index].as_bytes());
        }
        check_invariants(&raw);
    }
}

#[test]
fn every_truncation_of_valid_messages() {
    let messages: &[&[u8]] = &[
        b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n",
        b"<189>123: router1: *Mar  1 18:46:11.123 UTC: %SYS-5-CONFIG_I: Configured\n",
        b"<190>881204: xr-pe1 RP/0/RSP0/CPU0:2026 Mar  8 09:15:32.417 CET: sshd_[66012]: %SECURITY-SSHD-6-INFO_SUCCESS : ok\n",
        b"<187>: 2026 Mar  8 09:15:32 UTC: %ETHPORT-5-IF_DOWN_LINK_FAILURE: down\n",
        b"<166>Mar 08 2026 09:15:33 asa01 : %ASA-6-302014: Teardown\n",
        b"<30>2026-03-08T09:15:37.412093+01:00 web01 systemd-logind[612]: New session\n",
        b"<189>date=2019-05-13 time=11:20:54 devname=\"FGT60E\" logid=\"0000000013\" tz=\"+0200\"\n",
        b"<134>[2019-05-13 11:20:54] EFW: ALG: prio=1 id=00200001 rev=1\n",
        b"<189>38: [syslog@9 s_id=\"sw1:666\"]: *Mar  2 00:14:37: %LINK-5-CHANGED: x\n",
        b"<13>myapp[77]: started\r\n\0",
    ];
    for message in messages {
        for end in 0..=message.len() {
            check_invariants(&message[..end]);
        }
    }
}

/// `is_mnemonic_body` spelled out: split at every `-`, no part empty, at
/// least three parts, the second from the end one digit 0-7.
fn mnemonic_body_reference(body: &[u8]) -> bool {
    let parts: Vec<&[u8]> = body.split(|&b| b == b'-').collect();
    !body.is_empty()
        && body.len() <= MAX_MSGID_LEN
        && parts.len() >= 3
        && parts.iter().all(|part| !part.is_empty())
        && matches!(parts[parts.len() - 2], [b'0'..=b'7'])
}

#[test]
fn mnemonic_bodies() {
    for (body, expected) in [
        ("SYS-5-CONFIG_I", true),
        ("SEC_LOGIN-5-LOGIN_SUCCESS", true),
        ("ASA-4-106023", true),
        ("FAC-SUB-3-MNEM", true),
        ("SYS-8-CONFIG_I", false),
        ("SYS-55-CONFIG_I", false),
        ("5-CONFIG_I", false),
        ("-5-X", false),
        ("SYS--5-X", false),
        ("SYS-5-", false),
        ("SYS-5", false),
        ("", false),
    ] {
        assert_eq!(is_mnemonic_body(body.as_bytes()), expected, "{body}");
        assert_eq!(mnemonic_body_reference(body.as_bytes()), expected, "{body}");
    }
}

proptest! {
    #[test]
    fn mnemonic_body_matches_its_reference(
        body in proptest::collection::vec(proptest::sample::select(b"A5-_9".to_vec()), 0..12)
    ) {
        prop_assert_eq!(is_mnemonic_body(&body), mnemonic_body_reference(&body));
    }
}
