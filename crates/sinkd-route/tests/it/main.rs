//! Integration tests for sinkd-route through its public API only.
//!
//! The property tests compare the compiled bit table with the most literal
//! reading of the manual: a set of (facility, severity) pairs, each
//! expression adding or removing pairs in order. They also check that what
//! `Display` prints reads back to the same priority, whatever aliases and
//! spacing the original text used.

use std::collections::HashSet;

use proptest::prelude::*;
use sinkd_route::{
    compile, table_json, Expression, Facility, Modifier, Priority, PriorityTable, Severity,
    Templates, MAX_EXPRESSIONS,
};

/// The reference model: a plain set, changed one pair at a time.
fn model(expressions: &[Expression]) -> HashSet<(u8, u8)> {
    let mut set = HashSet::new();
    for expression in expressions {
        let facilities: Vec<u8> = match expression.facility() {
            None => (0..24).collect(),
            Some(facility) => vec![facility.code()],
        };
        let severities: Vec<u8> = match (expression.severity(), expression.modifier()) {
            (None, _) => (0..8).collect(),
            (Some(severity), Modifier::Include | Modifier::Exclude) => {
                (0..=severity.code()).collect()
            }
            (Some(severity), Modifier::IncludeExact | Modifier::ExcludeExact) => {
                vec![severity.code()]
            }
        };
        for &facility in &facilities {
            for &severity in &severities {
                match expression.modifier() {
                    Modifier::Include | Modifier::IncludeExact => {
                        set.insert((facility, severity));
                    }
                    Modifier::Exclude | Modifier::ExcludeExact => {
                        set.remove(&(facility, severity));
                    }
                }
            }
        }
    }
    set
}

fn table_set(table: &PriorityTable) -> HashSet<(u8, u8)> {
    let mut set = HashSet::new();
    for facility in Facility::ALL {
        for severity in Severity::ALL {
            if table.matches(facility, severity) {
                set.insert((facility.code(), severity.code()));
            }
        }
    }
    set
}

fn any_expression() -> impl Strategy<Value = Expression> {
    let facility = prop::option::of(
        prop::sample::select(Facility::ALL.to_vec())
            .prop_filter("facility 15 has no keyword", |f| *f != Facility::Facility15),
    );
    let modifier = prop::sample::select(Modifier::ALL.to_vec());
    let severity = prop::option::of(prop::sample::select(Severity::ALL.to_vec()));
    (facility, modifier, severity).prop_filter_map("facility 15 has no keyword", |(f, m, s)| {
        Expression::new(f, m, s)
    })
}

/// Writes an expression the way a person might: bare facility for `.*`,
/// old severity aliases, no canonical spelling guaranteed.
fn loose_spelling(expression: &Expression, use_alias: bool, bare: bool) -> String {
    let facility = expression.facility().map_or("*", |f| f.keyword());
    match expression.severity() {
        None if bare && expression.modifier() == Modifier::Include => facility.to_owned(),
        None => format!("{facility}{}*", expression.modifier().symbol()),
        Some(severity) => {
            let word = match (use_alias, severity) {
                (true, Severity::Emerg) => "panic",
                (true, Severity::Err) => "error",
                (true, Severity::Warning) => "warn",
                _ => severity.keyword(),
            };
            format!("{facility}{}{word}", expression.modifier().symbol())
        }
    }
}

proptest! {
    #[test]
    fn compiled_table_equals_the_set_model(
        expressions in prop::collection::vec(any_expression(), 1..=MAX_EXPRESSIONS),
    ) {
        let priority = Priority::from_expressions(expressions.clone()).unwrap();
        let table = priority.compile(&Templates::with_defaults()).unwrap();
        prop_assert_eq!(table_set(&table), model(&expressions));
    }

    #[test]
    fn display_reads_back_to_the_same_priority(
        expressions in prop::collection::vec(any_expression(), 1..=MAX_EXPRESSIONS),
    ) {
        let priority = Priority::from_expressions(expressions).unwrap();
        let text = priority.to_string();
        prop_assert_eq!(Priority::parse(&text).unwrap(), priority);
    }

    #[test]
    fn loose_spelling_parses_to_the_canonical_priority(
        items in prop::collection::vec(
            (any_expression(), any::<bool>(), any::<bool>(), "[ \t]{0,2}", "[ \t]{0,2}"),
            1..=MAX_EXPRESSIONS,
        ),
    ) {
        let mut text = String::new();
        for (offset, (expression, use_alias, bare, before, after)) in items.iter().enumerate() {
            if offset > 0 {
                text.push(';');
            }
            text.push_str(before);
            text.push_str(&loose_spelling(expression, *use_alias, *bare));
            text.push_str(after);
        }
        let expressions: Vec<Expression> = items.iter().map(|item| item.0).collect();
        let parsed = Priority::parse(&text).unwrap();
        prop_assert_eq!(parsed.expressions(), &expressions[..]);
        prop_assert_eq!(
            compile(&text, &Templates::with_defaults()).unwrap(),
            PriorityTable::from_expressions(&expressions)
        );
    }

    #[test]
    fn parse_never_panics(text in "[a-z*.!=; \t0-9]{0,80}") {
        let _ = Priority::parse(&text);
    }

    #[test]
    fn seventeen_or_more_expressions_are_refused(
        expressions in prop::collection::vec(any_expression(), MAX_EXPRESSIONS + 1..40),
    ) {
        let text = expressions.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(";");
        prop_assert!(Priority::parse(&text).is_err());
        prop_assert!(Priority::from_expressions(expressions).is_err());
    }
}

/// The manual's sink walkthroughs, end to end: text in, table and JSON out.
#[test]
fn manual_walkthrough() {
    let templates = Templates::with_defaults();

    // "send all log messages of severity notice and above"
    let notice = compile("*.notice", &templates).unwrap();
    assert!(notice.matches(Facility::Auth, Severity::Notice));
    assert!(notice.matches(Facility::Local5, Severity::Emerg));
    assert!(!notice.matches(Facility::Kern, Severity::Info));

    // Table 3's security events: every listed event passes.
    let events = compile("auth;security;console;ntp", &templates).unwrap();
    for (facility, severity) in [
        (Facility::Auth, Severity::Notice),
        (Facility::Auth, Severity::Warning),
        (Facility::Security, Severity::Notice),
        (Facility::Console, Severity::Notice),
        (Facility::Console, Severity::Warning),
        (Facility::Ntp, Severity::Info),
        (Facility::Ntp, Severity::Err),
    ] {
        assert!(events.matches(facility, severity), "{facility}.{severity}");
    }
    // ... but not the maintenance or TTDP lines, which are user and daemon.
    assert!(!events.matches(Facility::User, Severity::Notice));
    assert!(!events.matches(Facility::Daemon, Severity::Notice));

    // "any message of facility console and severity notice or higher, and
    // facility security with severity warning or higher"
    let sink = compile("console.notice;security.warning", &templates).unwrap();
    assert!(sink.matches(Facility::Console, Severity::Notice));
    assert!(!sink.matches(Facility::Console, Severity::Info));
    assert!(sink.matches(Facility::Security, Severity::Warning));
    assert!(!sink.matches(Facility::Security, Severity::Notice));
    assert_eq!(
        table_json(&sink),
        concat!(
            r#"{"kern":[],"user":[],"mail":[],"daemon":[],"auth":[],"syslog":[],"lpr":[],"#,
            r#""news":[],"uucp":[],"cron":[],"authpriv":[],"ftp":[],"ntp":[],"#,
            r#""security":["emerg","alert","crit","err","warning"],"#,
            r#""console":["emerg","alert","crit","err","warning","notice"],"#,
            r#""15":[],"local0":[],"local1":[],"local2":[],"local3":[],"local4":[],"#,
            r#""local5":[],"local6":[],"local7":[]}"#,
        )
    );
}

/// The example configuration from the design brief: a user template named
/// `security` next to the defaults.
#[test]
fn design_example_config() {
    let mut templates = Templates::with_defaults();
    templates
        .define("security", "auth.*;authpriv.*;security.*")
        .unwrap();
    let sink = compile("template security", &templates).unwrap();
    assert!(sink.matches(Facility::Authpriv, Severity::Debug));
    assert!(!sink.matches(Facility::Console, Severity::Emerg));
}
