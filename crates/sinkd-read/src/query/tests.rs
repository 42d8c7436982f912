//! Tests of the time forms and of how `grep` searches.

use super::*;

const NOW: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z

#[test]
fn durations_count_back_from_now() {
    let utc = TimeZone::UTC;
    assert_eq!(parse_time("90s", NOW, &utc), Ok(NOW - 90_000_000));
    assert_eq!(parse_time("15m", NOW, &utc), Ok(NOW - 900_000_000));
    assert_eq!(parse_time("2h", NOW, &utc), Ok(NOW - 7_200_000_000));
    assert_eq!(parse_time("7d", NOW, &utc), Ok(NOW - 604_800_000_000));
}

#[test]
fn absolute_times_are_rfc3339_or_local() {
    let utc = TimeZone::UTC;
    assert_eq!(parse_time("2026-01-01T00:00:00Z", 0, &utc), Ok(NOW));
    assert_eq!(parse_time("2026-01-01T01:00:00+01:00", 0, &utc), Ok(NOW));
    assert_eq!(parse_time("2026-01-01", 0, &utc), Ok(NOW));
    assert_eq!(
        parse_time("2026-01-01 00:01", 0, &utc),
        Ok(NOW + 60_000_000)
    );
    assert_eq!(
        parse_time("2026-01-01 00:00:05", 0, &utc),
        Ok(NOW + 5_000_000)
    );
    let plus_two = TimeZone::fixed(jiff::tz::offset(2));
    assert_eq!(parse_time("2026-01-01 02:00", 0, &plus_two), Ok(NOW));
    for bad in ["", "yesterday", "5w", "2026-13-01", "h", "é", "1é"] {
        assert!(parse_time(bad, 0, &utc).is_err(), "{bad:?}");
    }
}

#[test]
fn literal_and_regex_grep() {
    let compile = |grep| {
        QueryText {
            grep: Some(grep),
            ..QueryText::default()
        }
        .compile(NOW, &TimeZone::UTC)
    };
    let query = compile("login").unwrap();
    assert!(matches!(query.grep, Some(Grep::Literal(_))));
    assert!(query.may_match(b"a login here"));
    assert!(!query.may_match(b"logout"));
    let query = compile("log(in|out)$").unwrap();
    assert!(matches!(query.grep, Some(Grep::Regex(_))));
    assert_eq!(query.needle().map(|n| n.needle()), Some(&b"log"[..]));
    let error = compile("(").err().unwrap();
    assert_eq!(error.field, "grep");
    assert_eq!(error.value, "(");
}

#[test]
fn errors_name_the_field_and_value() {
    let error = QueryText {
        priority: Some("auth.bogus"),
        ..QueryText::default()
    }
    .compile(NOW, &TimeZone::UTC)
    .err()
    .unwrap();
    assert_eq!(error.field, "priority");
    assert!(
        error.to_string().starts_with("priority \"auth.bogus\": "),
        "{error}"
    );
    let error = QueryText {
        until: Some("soon"),
        ..QueryText::default()
    }
    .compile(NOW, &TimeZone::UTC)
    .err()
    .unwrap();
    assert_eq!(error.field, "until");
}

#[test]
fn time_bounds_are_inclusive_then_exclusive() {
    let query = QueryText {
        since: Some("2026-01-01T00:00:00Z"),
        until: Some("2026-01-01T00:00:02Z"),
        ..QueryText::default()
    }
    .compile(NOW, &TimeZone::UTC)
    .unwrap();
    let received = sinkd_proto::ReceiveTime::new(NOW / 1_000_000, 0, 0);
    let judge = |line: &str| {
        let message = sinkd_proto::parse(line.as_bytes(), &received);
        query.matches(line.as_bytes(), &message)
    };
    assert!(!judge("<13>1 2025-12-31T23:59:59Z h a - - - before"));
    assert!(judge("<13>1 2026-01-01T00:00:00Z h a - - - at since"));
    assert!(judge("<13>1 2026-01-01T00:00:01Z h a - - - inside"));
    assert!(!judge("<13>1 2026-01-01T00:00:02Z h a - - - at until"));
    assert!(!judge("no timestamp at all"));
}

#[test]
fn a_regex_lends_the_literal_all_its_matches_contain() {
    let literal = |pattern: &str| required_literal(pattern).map(|l| String::from_utf8(l).unwrap());
    assert_eq!(
        literal("port (4[0-9]|5[0-2]) link"),
        Some(String::from("port "))
    );
    assert_eq!(
        literal("(up|down) on eth0$"),
        Some(String::from(" on eth0"))
    );
    assert_eq!(literal("link (up|down)"), Some(String::from("link ")));
    // Nothing shared, too short, or not literal at all.
    assert_eq!(literal("foo|bar"), None);
    assert_eq!(literal("a.*"), None);
    assert_eq!(literal("[0-9]+"), None);
    assert_eq!(literal(""), None);
    // Case-insensitive: the variants share nothing.
    assert_eq!(literal("(?i)error"), None);
    // Each found literal is in every line the regex matches.
    for (pattern, lines) in [
        (
            "port (4[0-9]|5[0-2]) link",
            &["x port 47 link up", "port 50 link"][..],
        ),
        (
            "(up|down) on eth0$",
            &["link up on eth0", "went down on eth0"][..],
        ),
    ] {
        let regex = regex::bytes::Regex::new(pattern).unwrap();
        let needle = required_literal(pattern).unwrap();
        for line in lines {
            assert!(regex.is_match(line.as_bytes()), "{pattern} {line}");
            assert!(memmem::find(line.as_bytes(), &needle).is_some());
        }
    }
}
