//! Unit tests for reading, printing and compiling priorities: every row of
//! the manual's modifier and wildcard tables, order dependence, the manual's
//! examples, and the exact wording of each error.

use expect_test::{expect, Expect};
use sinkd_proto::{Facility, Severity};

use super::*;

/// Compiles `text` with the default templates and renders the result as one
/// line per facility that passes anything, or the error message.
fn check(text: &str, expected: Expect) {
    let rendered = match crate::compile(text, &Templates::with_defaults()) {
        Ok(table) => render(&table),
        Err(error) => format!("error: {error}"),
    };
    expected.assert_eq(&rendered);
}

fn render(table: &PriorityTable) -> String {
    let mut lines = Vec::new();
    for facility in Facility::ALL {
        let severities: Vec<&str> = Severity::ALL
            .iter()
            .filter(|severity| table.matches(facility, **severity))
            .map(|severity| severity.keyword())
            .collect();
        if !severities.is_empty() {
            lines.push(format!("{}: {}", facility.keyword(), severities.join(" ")));
        }
    }
    if lines.is_empty() {
        "(nothing)".to_owned()
    } else {
        lines.join("\n")
    }
}

fn table(text: &str) -> PriorityTable {
    crate::compile(text, &Templates::with_defaults()).unwrap()
}

fn row(text: &str, facility: Facility) -> u8 {
    table(text).rows()[usize::from(facility.code())]
}

fn error(text: &str) -> String {
    Priority::parse(text).unwrap_err().to_string()
}

// --- The manual's "Filter Expression Modifiers" table, one row each. ---

#[test]
fn modifier_include_takes_severity_and_more_severe() {
    // `.`: facility.severity, "severity equal or greater".
    assert_eq!(row("auth.notice", Facility::Auth), 0b0011_1111);
    assert_eq!(row("auth.emerg", Facility::Auth), 0b0000_0001);
    assert_eq!(row("auth.debug", Facility::Auth), 0b1111_1111);
    let only_auth = table("auth.notice");
    for facility in Facility::ALL {
        if facility != Facility::Auth {
            assert_eq!(only_auth.rows()[usize::from(facility.code())], 0);
        }
    }
}

#[test]
fn modifier_exclude_removes_severity_and_more_severe() {
    // `.!`: facility.!severity.
    assert_eq!(row("auth.*;auth.!notice", Facility::Auth), 0b1100_0000);
    assert_eq!(row("auth.*;auth.!debug", Facility::Auth), 0);
    assert_eq!(row("auth.*;auth.!emerg", Facility::Auth), 0b1111_1110);
}

#[test]
fn modifier_include_exact_takes_one_severity() {
    // `.=`: facility.=severity.
    assert_eq!(row("auth.=notice", Facility::Auth), 0b0010_0000);
    assert_eq!(row("auth.=emerg;auth.=debug", Facility::Auth), 0b1000_0001);
}

#[test]
fn modifier_exclude_exact_removes_one_severity() {
    // `.!=`: facility.!=severity.
    assert_eq!(row("auth.*;auth.!=notice", Facility::Auth), 0b1101_1111);
    assert_eq!(row("auth.info;auth.!=err", Facility::Auth), 0b0111_0111);
}

// --- The manual's wildcard table, one row each. ---

#[test]
fn wildcard_facility_takes_a_severity_from_every_facility() {
    // `*.severity`: all 24 facilities, 15 (no keyword) included.
    assert_eq!(table("*.warning").rows(), [0b0001_1111; 24]);
    assert!(table("*.warning").matches(Facility::Facility15, Severity::Warning));
    assert!(!table("*.warning").matches(Facility::Facility15, Severity::Notice));
}

#[test]
fn wildcard_severity_takes_every_severity_of_a_facility() {
    // `facility.*`
    assert_eq!(row("ntp.*", Facility::Ntp), 0xff);
    assert_eq!(table("ntp.*").rows().iter().filter(|r| **r != 0).count(), 1);
}

#[test]
fn wildcard_both_takes_everything() {
    // `*.*`
    assert_eq!(table("*.*"), PriorityTable::all());
}

#[test]
fn wildcard_severity_ignores_exactness() {
    assert_eq!(row("auth.=*", Facility::Auth), 0xff);
    assert_eq!(row("*.*;auth.!=*", Facility::Auth), 0);
    assert_eq!(row("*.*;auth.!*", Facility::Auth), 0);
}

#[test]
fn bare_facility_means_every_severity() {
    assert_eq!(
        Priority::parse("auth").unwrap(),
        Priority::parse("auth.*").unwrap()
    );
    assert_eq!(Priority::parse("auth").unwrap().to_string(), "auth.*");
    assert_eq!(Priority::parse("*").unwrap().to_string(), "*.*");
    assert_eq!(table("*"), PriorityTable::all());
}

// --- Order and set semantics. ---

#[test]
fn order_matters_as_in_the_manual() {
    // "*.* ... If additional rules, say auth.!* and authpriv.!*, are added
    // this means that we will now exclude all messages with the auth and
    // authpriv facility"
    check(
        "*.*;auth.!*;authpriv.!*",
        expect![[r#"
            kern: emerg alert crit err warning notice info debug
            user: emerg alert crit err warning notice info debug
            mail: emerg alert crit err warning notice info debug
            daemon: emerg alert crit err warning notice info debug
            syslog: emerg alert crit err warning notice info debug
            lpr: emerg alert crit err warning notice info debug
            news: emerg alert crit err warning notice info debug
            uucp: emerg alert crit err warning notice info debug
            cron: emerg alert crit err warning notice info debug
            ftp: emerg alert crit err warning notice info debug
            ntp: emerg alert crit err warning notice info debug
            security: emerg alert crit err warning notice info debug
            console: emerg alert crit err warning notice info debug
            15: emerg alert crit err warning notice info debug
            local0: emerg alert crit err warning notice info debug
            local1: emerg alert crit err warning notice info debug
            local2: emerg alert crit err warning notice info debug
            local3: emerg alert crit err warning notice info debug
            local4: emerg alert crit err warning notice info debug
            local5: emerg alert crit err warning notice info debug
            local6: emerg alert crit err warning notice info debug
            local7: emerg alert crit err warning notice info debug"#]],
    );
    // "If we would have added the exclude rules first ... it would not do
    // anything, since no base to exclude them from existed."
    assert_eq!(table("auth.!*;authpriv.!*;*.*"), PriorityTable::all());
    assert_ne!(table("*.*;auth.!*"), table("auth.!*;*.*"));
}

#[test]
fn exclusion_with_nothing_before_it_does_nothing() {
    assert!(table("auth.!*").is_empty());
    assert!(table("*.!=debug").is_empty());
    assert_eq!(table("auth.!notice;auth.=info"), table("auth.=info"));
}

#[test]
fn later_inclusion_restores_an_exclusion() {
    check(
        "auth.*;auth.!warning;auth.=err",
        expect![[r#"auth: err notice info debug"#]],
    );
}

// --- The manual's examples. ---

#[test]
fn manual_simple_example() {
    check(
        "*.notice",
        expect![[r#"
            kern: emerg alert crit err warning notice
            user: emerg alert crit err warning notice
            mail: emerg alert crit err warning notice
            daemon: emerg alert crit err warning notice
            auth: emerg alert crit err warning notice
            syslog: emerg alert crit err warning notice
            lpr: emerg alert crit err warning notice
            news: emerg alert crit err warning notice
            uucp: emerg alert crit err warning notice
            cron: emerg alert crit err warning notice
            authpriv: emerg alert crit err warning notice
            ftp: emerg alert crit err warning notice
            ntp: emerg alert crit err warning notice
            security: emerg alert crit err warning notice
            console: emerg alert crit err warning notice
            15: emerg alert crit err warning notice
            local0: emerg alert crit err warning notice
            local1: emerg alert crit err warning notice
            local2: emerg alert crit err warning notice
            local3: emerg alert crit err warning notice
            local4: emerg alert crit err warning notice
            local5: emerg alert crit err warning notice
            local6: emerg alert crit err warning notice
            local7: emerg alert crit err warning notice"#]],
    );
}

#[test]
fn manual_security_events_example() {
    let short = Priority::parse("auth;security;console;ntp").unwrap();
    // `show` prints the short form in full, as in the manual's listing.
    assert_eq!(short.to_string(), "auth.*;security.*;console.*;ntp.*");
    assert_eq!(
        Priority::parse("auth.*;security.*;console.*;ntp.*").unwrap(),
        short
    );
    check(
        "auth;security;console;ntp",
        expect![[r#"
            auth: emerg alert crit err warning notice info debug
            ntp: emerg alert crit err warning notice info debug
            security: emerg alert crit err warning notice info debug
            console: emerg alert crit err warning notice info debug"#]],
    );
}

#[test]
fn manual_console_security_example() {
    let priority = Priority::parse("console.notice;security.warning").unwrap();
    let shown: Vec<(Option<Facility>, &str, Option<Severity>)> = priority
        .expressions()
        .iter()
        .map(|e| (e.facility(), e.modifier().symbol(), e.severity()))
        .collect();
    // The manual's `show`: "1 console . notice", "2 security . warning".
    assert_eq!(
        shown,
        [
            (Some(Facility::Console), ".", Some(Severity::Notice)),
            (Some(Facility::Security), ".", Some(Severity::Warning)),
        ]
    );
    check(
        "console.notice;security.warning",
        expect![[r#"
            security: emerg alert crit err warning
            console: emerg alert crit err warning notice"#]],
    );
}

// --- Spelling. ---

#[test]
fn severity_aliases_read_as_their_keywords() {
    assert_eq!(
        Priority::parse("auth.panic;auth.!=error;ntp.=warn")
            .unwrap()
            .to_string(),
        "auth.emerg;auth.!=err;ntp.=warning"
    );
    assert_eq!(table("*.warn"), table("*.warning"));
    assert_eq!(table("*.error"), table("*.err"));
    assert_eq!(table("*.panic"), table("*.emerg"));
}

#[test]
fn every_keyword_round_trips() {
    for facility in Facility::ALL {
        if facility == Facility::Facility15 {
            continue;
        }
        for severity in Severity::ALL {
            for modifier in Modifier::ALL {
                let expression = Expression::new(Some(facility), modifier, Some(severity)).unwrap();
                let text = expression.to_string();
                let parsed = Priority::parse(&text).unwrap();
                assert_eq!(parsed.expressions(), [expression], "{text}");
            }
        }
    }
}

#[test]
fn facility_15_cannot_be_named() {
    assert_eq!(
        Expression::new(Some(Facility::Facility15), Modifier::Include, None),
        None
    );
    expect![[r#"expression 1 "15.info": unknown facility "15""#]].assert_eq(&error("15.info"));
}

#[test]
fn whitespace_around_semicolons_is_ignored() {
    let spaced = Priority::parse("  console.notice ; security.warning\t;\tntp  ").unwrap();
    assert_eq!(spaced.to_string(), "console.notice;security.warning;ntp.*");
    assert_eq!(
        Priority::parse(" template  all ").unwrap().to_string(),
        "template all"
    );
}

#[test]
fn expression_count_limit() {
    let sixteen = vec!["auth.=info"; 16].join(";");
    assert_eq!(Priority::parse(&sixteen).unwrap().expressions().len(), 16);
    let seventeen = vec!["auth.=info"; 17].join(";");
    expect![[r#"too many expressions: 17 given, at most 16 allowed"#]]
        .assert_eq(&error(&seventeen));
    // An error before the 17th is reported first, in reading order.
    let bad_third = ["auth", "ntp", "bogus"]
        .into_iter()
        .chain(std::iter::repeat_n("ntp", 17))
        .collect::<Vec<_>>()
        .join(";");
    expect![[r#"expression 3 "bogus": unknown facility "bogus""#]].assert_eq(&error(&bad_third));
    assert_eq!(
        Priority::from_expressions(Vec::new()),
        Err(PriorityError::EmptyPriority)
    );
    let expression = Expression::new(None, Modifier::Include, None).unwrap();
    assert_eq!(
        Priority::from_expressions(vec![expression; 17]),
        Err(PriorityError::TooManyExpressions { count: 17 })
    );
    assert!(Priority::from_expressions(vec![expression; 16]).is_ok());
}

// --- Errors, snapshot by snapshot. ---

#[test]
fn one_trailing_semicolon_is_accepted() {
    // The device manual's own example: `priority auth;`.
    let templates = Templates::with_defaults();
    for (text, same_as) in [
        ("auth;", "auth"),
        ("auth ; ", "auth"),
        ("auth.notice;ntp.!info;", "auth.notice;ntp.!info"),
        ("template all;", "template all"),
    ] {
        let priority = Priority::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
        assert_eq!(priority, Priority::parse(same_as).unwrap(), "{text}");
        assert!(!priority.to_string().ends_with(';'), "{text}");
        assert_eq!(
            crate::compile(text, &templates).unwrap(),
            crate::compile(same_as, &templates).unwrap()
        );
    }
    // Sixteen expressions and the trailing `;` are still sixteen.
    let sixteen = ["kern"; MAX_EXPRESSIONS].join(";") + ";";
    assert_eq!(
        Priority::parse(&sixteen).unwrap().expressions().len(),
        MAX_EXPRESSIONS
    );
}

#[test]
fn error_messages() {
    let cases = [
        "",
        "   ",
        "auth.bogus",
        "auth.notice;auth.bogus",
        "bogus.info",
        "AUTH.info",
        "auth;;ntp",
        ";auth",
        ";",
        ";;",
        " ; ",
        "auth;;",
        "auth; ;",
        ".notice",
        "auth.",
        "auth.!",
        "auth.!=",
        "auth. notice",
        "auth.notice.info",
        "auth.=!notice",
        "auth.none",
        "auth;template all",
        "template all;auth",
        "template",
        "template ",
        "template a b",
        "template bad/name",
        "template \"quoted\"\n",
        "auth.\u{7}",
    ];
    let rendered: Vec<String> = cases
        .iter()
        .map(|text| format!("{text:?} => {}", error(text)))
        .collect();
    expect![[r#"
        "" => empty priority: give at least one expression, such as `*.notice`
        "   " => empty priority: give at least one expression, such as `*.notice`
        "auth.bogus" => expression 1 "auth.bogus": unknown severity "bogus"
        "auth.notice;auth.bogus" => expression 2 "auth.bogus": unknown severity "bogus"
        "bogus.info" => expression 1 "bogus.info": unknown facility "bogus"
        "AUTH.info" => expression 1 "AUTH.info": unknown facility "AUTH"
        "auth;;ntp" => expression 2 is empty (two `;` in a row, or a `;` at the start)
        ";auth" => expression 1 is empty (two `;` in a row, or a `;` at the start)
        ";" => empty priority: give at least one expression, such as `*.notice`
        ";;" => expression 1 is empty (two `;` in a row, or a `;` at the start)
        " ; " => empty priority: give at least one expression, such as `*.notice`
        "auth;;" => expression 2 is empty (two `;` in a row, or a `;` at the start)
        "auth; ;" => expression 2 is empty (two `;` in a row, or a `;` at the start)
        ".notice" => expression 1 ".notice": missing facility before the `.`
        "auth." => expression 1 "auth.": missing severity after "."
        "auth.!" => expression 1 "auth.!": missing severity after ".!"
        "auth.!=" => expression 1 "auth.!=": missing severity after ".!="
        "auth. notice" => expression 1 "auth. notice": whitespace inside an expression (it is only allowed around `;`)
        "auth.notice.info" => expression 1 "auth.notice.info": unknown severity "notice.info"
        "auth.=!notice" => expression 1 "auth.=!notice": unknown severity "!notice"
        "auth.none" => expression 1 "auth.none": unknown severity "none"
        "auth;template all" => expression 2 "template all": `template NAME` must be the whole priority, not one of several expressions
        "template all;auth" => expression 1 "template all": `template NAME` must be the whole priority, not one of several expressions
        "template" => `template` needs a NAME, as in `template my-template`
        "template " => `template` needs a NAME, as in `template my-template`
        "template a b" => invalid template name "a b": use 1 to 32 of the characters A-Z a-z 0-9 _ . -
        "template bad/name" => invalid template name "bad/name": use 1 to 32 of the characters A-Z a-z 0-9 _ . -
        "template \"quoted\"\n" => invalid template name "\"quoted\"": use 1 to 32 of the characters A-Z a-z 0-9 _ . -
        "auth.\u{7}" => expression 1 "auth.\u{7}": unknown severity "\u{7}""#]]
    .assert_eq(&rendered.join("\n"));
}

#[test]
fn errors_carry_index_and_text() {
    assert_eq!(
        Priority::parse("auth;ntp.bogus"),
        Err(PriorityError::UnknownSeverity {
            index: 2,
            text: "ntp.bogus".to_owned(),
            severity: "bogus".to_owned(),
        })
    );
}

#[test]
fn unknown_template_is_named_when_compiling() {
    let priority = Priority::parse("template nosuch").unwrap();
    assert_eq!(priority.template_name(), Some("nosuch"));
    assert!(priority.expressions().is_empty());
    expect![[r#"unknown template "nosuch""#]].assert_eq(
        &priority
            .compile(&Templates::with_defaults())
            .unwrap_err()
            .to_string(),
    );
}

#[test]
fn template_reference_compiles_to_the_body() {
    let mut templates = Templates::with_defaults();
    templates
        .define("security", "auth.*;authpriv.*;security.*")
        .unwrap();
    assert_eq!(
        crate::compile("template security", &templates).unwrap(),
        crate::compile("auth.*;authpriv.*;security.*", &templates).unwrap()
    );
    assert_eq!(
        crate::compile("template all", &templates).unwrap(),
        PriorityTable::all()
    );
}

#[test]
fn from_str_matches_parse() {
    let parsed: Priority = "auth.!=debug".parse().unwrap();
    assert_eq!(parsed, Priority::parse("auth.!=debug").unwrap());
}

#[test]
fn modifier_symbols_follow_the_manual_table() {
    let symbols: Vec<&str> = Modifier::ALL.iter().map(|m| m.symbol()).collect();
    assert_eq!(symbols, [".", ".!", ".=", ".!="]);
    assert_eq!(Modifier::ExcludeExact.to_string(), ".!=");
    assert!(Modifier::Exclude.is_exclusion() && !Modifier::Exclude.is_exact());
    assert!(Modifier::IncludeExact.is_exact() && !Modifier::IncludeExact.is_exclusion());
}
