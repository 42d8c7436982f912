//! Unit tests for STRUCTURED-DATA validation and iteration.

use super::*;

/// Parses `input` and returns the validated text and bytes consumed.
fn ok(input: &str, strict: bool) -> (&str, usize) {
    let (sd, consumed) = parse(input.as_bytes(), strict).unwrap_or_else(|error| {
        panic!("{input:?} (strict={strict}) failed: {error:?}");
    });
    (sd.as_str(), consumed)
}

fn err(input: &[u8], strict: bool) -> SdError {
    match parse(input, strict) {
        Ok((sd, consumed)) => panic!("{input:?} parsed as {sd:?} ({consumed} bytes)"),
        Err(error) => error,
    }
}

/// Every element as `(id, [(name, unescaped value)])`.
fn elements(sd: StructuredData<'_>) -> Vec<(String, Vec<(String, String)>)> {
    sd.iter()
        .map(|element| {
            let params = element
                .params()
                .map(|param| (param.name.to_owned(), param.value().into_owned()))
                .collect();
            (element.id.to_owned(), params)
        })
        .collect()
}

fn owned(id: &str, params: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
    (
        id.to_owned(),
        params
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect(),
    )
}

#[test]
fn rfc_example_one_element_three_params() {
    let text = r#"[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]"#;
    let sd = StructuredData::parse(text).expect("valid");
    assert_eq!(sd.as_str(), text);
    assert_eq!(
        elements(sd),
        vec![owned(
            "exampleSDID@32473",
            &[
                ("iut", "3"),
                ("eventSource", "Application"),
                ("eventID", "1011")
            ]
        )]
    );
}

#[test]
fn rfc_example_two_elements() {
    let text = r#"[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]"#;
    let sd = StructuredData::parse(text).expect("valid");
    let all = elements(sd);
    assert_eq!(all.len(), 2);
    assert_eq!(all[1], owned("examplePriority@32473", &[("class", "high")]));
    assert_eq!(
        sd.element("examplePriority@32473")
            .and_then(|e| e.param("class"))
            .map(|p| p.raw_value),
        Some("high")
    );
    assert_eq!(sd.element("missing"), None);
}

#[test]
fn rfc_invalid_examples() {
    // §6.3.5 example 3: a space between elements ends STRUCTURED-DATA, so
    // what follows is not part of it.
    let text = r#"[exampleSDID@32473 iut="3"] [examplePriority@32473 class="high"]"#;
    let (sd, consumed) = ok(text, true);
    assert_eq!(sd, r#"[exampleSDID@32473 iut="3"]"#);
    assert_eq!(consumed, sd.len());
    assert_eq!(StructuredData::parse(text), None);
    // Example 4: a space right after '['.
    let error = err(br#"[ exampleSDID@32473 iut="3"]"#, true);
    assert_eq!(error.offset, 1);
    assert_eq!(error.reason, "expected SD-ID");
    assert_eq!(err(br#"[ exampleSDID@32473 iut="3"]"#, false).offset, 1);
}

#[test]
fn element_without_params() {
    let sd = StructuredData::parse("[origin][meta]").expect("valid");
    assert_eq!(elements(sd), vec![owned("origin", &[]), owned("meta", &[])]);
    assert_eq!(sd.iter().next().map(|e| e.params().count()), Some(0));
}

#[test]
fn escapes_are_removed_by_value() {
    let text = r#"[x a="q\"b" b="back\\slash" c="br\]acket" d="plain" e="stray\n\x"]"#;
    let sd = StructuredData::parse(text).expect("valid");
    let element = sd.iter().next().expect("one element");
    let params: Vec<SdParam<'_>> = element.params().collect();
    assert_eq!(params.len(), 5);
    assert_eq!(params[0].raw_value, r#"q\"b"#);
    assert_eq!(params[0].value(), r#"q"b"#);
    assert_eq!(params[1].value(), r"back\slash");
    assert_eq!(params[2].value(), "br]acket");
    assert!(matches!(params[3].value(), Cow::Borrowed("plain")));
    // §6.3.3: an unknown escape keeps both characters.
    assert_eq!(params[4].raw_value, r"stray\n\x");
    assert_eq!(params[4].value(), r"stray\n\x");
}

#[test]
fn escaped_backslash_before_closing_quote() {
    let sd = StructuredData::parse(r#"[x a="ends\\" b="2"]"#).expect("valid");
    let all = elements(sd);
    assert_eq!(all[0], owned("x", &[("a", r"ends\"), ("b", "2")]));
}

#[test]
fn unescape_edges() {
    assert_eq!(unescape(""), "");
    assert_eq!(unescape(r"\"), r"\");
    assert_eq!(unescape(r"\\\"), r"\\");
    assert_eq!(unescape(r#"\"\]\\"#), r#""]\"#);
    assert_eq!(unescape("\\é"), "\\é");
    assert_eq!(unescape("é\\]ü"), "é]ü");
}

#[test]
fn utf8_values() {
    let text = "[x name=\"Grüße, 世界\"]";
    let sd = StructuredData::parse(text).expect("valid");
    assert_eq!(elements(sd), vec![owned("x", &[("name", "Grüße, 世界")])]);
    let mut bad = b"[x name=\"ab".to_vec();
    bad.extend_from_slice(&[0xC3, 0x28]);
    bad.extend_from_slice(b"\"]");
    for strict in [true, false] {
        let error = err(&bad, strict);
        assert_eq!(error.offset, 11);
        assert_eq!(error.reason, "PARAM-VALUE is not valid UTF-8");
    }
    // A lone continuation byte right after a backslash is caught too.
    let error = err(b"[x a=\"\\\x80\"]", true);
    assert_eq!(error.reason, "PARAM-VALUE is not valid UTF-8");
}

#[test]
fn consumed_stops_after_last_element() {
    let (sd, consumed) = ok("[a][b] msg", true);
    assert_eq!((sd, consumed), ("[a][b]", 6));
    let (sd, consumed) = ok("[a b=\"]\"]tail", false);
    assert_eq!((sd, consumed), ("[a b=\"]\"]", 9));
}

#[test]
fn name_length_limit() {
    let at_limit = format!("[{}]", "i".repeat(32));
    assert!(StructuredData::parse(&at_limit).is_some());
    let over = format!("[{} {}=\"v\"]", "i".repeat(33), "p".repeat(40));
    let error = err(over.as_bytes(), true);
    assert_eq!(
        (error.offset, error.reason),
        (33, "SD-NAME is longer than 32 characters")
    );
    let param_over = format!("[i {}=\"v\"]", "p".repeat(33));
    assert_eq!(err(param_over.as_bytes(), true).offset, 3 + 32);
    // Lenient mode keeps over-long names, and iteration reads them whole.
    let (text, _) = ok(&over, false);
    let sd = parse(text.as_bytes(), false).expect("lenient").0;
    assert_eq!(
        elements(sd),
        vec![owned(&"i".repeat(33), &[(&"p".repeat(40), "v")])]
    );
}

#[test]
fn unescaped_bracket_in_value() {
    let text = br#"[x a="[1]" b="2"]"#;
    let error = err(text, true);
    assert_eq!(error.offset, 8);
    assert_eq!(error.reason, "']' in PARAM-VALUE must be escaped as '\\]'");
    let sd = parse(text, false).expect("lenient").0;
    assert_eq!(elements(sd), vec![owned("x", &[("a", "[1]"), ("b", "2")])]);
}

#[test]
fn extra_spaces_lenient_only() {
    for text in [
        r#"[x  a="1"]"#,
        r#"[x a="1" ]"#,
        r#"[x a="1"  b="2"  ]"#,
        "[x ]",
    ] {
        assert!(parse(text.as_bytes(), true).is_err(), "{text}");
        let sd = parse(text.as_bytes(), false).expect("lenient").0;
        let first = sd.iter().next().expect("element");
        assert_eq!(first.id, "x");
        for param in first.params() {
            assert!(
                !param.name.is_empty() && !param.name.contains(' '),
                "{text}"
            );
        }
    }
    let sd = parse(br#"[x a="1"  b="2"  ]"#, false).expect("lenient").0;
    assert_eq!(elements(sd), vec![owned("x", &[("a", "1"), ("b", "2")])]);
}

#[test]
fn duplicate_sd_id_is_strict_error() {
    let text = br#"[a x="1"][b][a y="2"]"#;
    let error = err(text, true);
    assert_eq!(
        (error.offset, error.reason),
        (13, "SD-ID appears more than once")
    );
    assert!(parse(text, false).is_ok());
    // Same prefix is not the same id.
    assert!(StructuredData::parse("[ab][a][abc]").is_some());
}

#[test]
fn duplicate_sd_id_among_many_elements() {
    let distinct: String = (0..200).map(|n| format!("[id{n}]")).collect();
    assert_eq!(
        StructuredData::parse(&distinct).map(|sd| sd.iter().count()),
        Some(200)
    );
    // Two repeats; the earlier second occurrence is reported.
    let text = format!("{distinct}[id150][id7]");
    let error = err(text.as_bytes(), true);
    assert_eq!(error.offset, distinct.len() + 1);
    assert_eq!(error.reason, "SD-ID appears more than once");
    let text = format!("[x]{distinct}[y][x]");
    assert_eq!(err(text.as_bytes(), true).offset, text.len() - 2);
    assert!(parse(text.as_bytes(), false).is_ok());
}

#[test]
fn malformed_inputs_name_an_offset() {
    let cases: &[(&[u8], usize, &str)] = &[
        (b"", 0, "expected '[' or '-'"),
        (b"x", 0, "expected '[' or '-'"),
        (b"[", 1, "expected SD-ID"),
        (b"[]", 1, "expected SD-ID"),
        (b"[a", 2, "SD-ELEMENT is not closed with ']'"),
        (b"[a ", 3, "expected PARAM-NAME"),
        (b"[a b", 4, "expected '=' after PARAM-NAME"),
        (b"[a b=", 5, "expected '\"' to open PARAM-VALUE"),
        (b"[a b=1]", 5, "expected '\"' to open PARAM-VALUE"),
        (b"[a b=\"1", 7, "PARAM-VALUE is not closed with '\"'"),
        (b"[a b=\"1\\\"", 9, "PARAM-VALUE is not closed with '\"'"),
        (
            b"[a b=\"1\"x]",
            8,
            "expected SP or ']' after SD-ID or SD-PARAM",
        ),
        (b"[a=b]", 2, "expected SP or ']' after SD-ID or SD-PARAM"),
        (b"[a \"b\"=\"1\"]", 3, "expected PARAM-NAME"),
        (b"[a\tb]", 2, "expected SP or ']' after SD-ID or SD-PARAM"),
    ];
    for &(input, offset, reason) in cases {
        for strict in [true, false] {
            let error = err(input, strict);
            assert_eq!(
                (error.offset, error.reason),
                (offset, reason),
                "{:?} strict={strict}",
                String::from_utf8_lossy(input)
            );
        }
    }
}

#[test]
fn every_prefix_is_rejected_without_panic() {
    let text = br#"[exampleSDID@32473 iut="3" eventSource="App\"li\]cation"][p class="high"]"#;
    for end in 0..text.len() {
        let prefix = &text[..end];
        for strict in [true, false] {
            match parse(prefix, strict) {
                // A prefix ending right after the first element is complete.
                Ok((sd, consumed)) => {
                    assert_eq!(consumed, end);
                    assert_eq!(sd.iter().count(), 1);
                }
                Err(error) => assert!(error.offset <= end),
            }
        }
    }
}

#[test]
fn iteration_is_fused() {
    let sd = StructuredData::parse(r#"[a b="1"]"#).expect("valid");
    let mut iter = sd.iter();
    let element = iter.next().expect("one");
    assert_eq!(iter.next(), None);
    assert_eq!(iter.next(), None);
    let mut params = element.params();
    assert!(params.next().is_some());
    assert_eq!(params.next(), None);
    assert_eq!(params.next(), None);
    assert_eq!((&sd).into_iter().count(), 1);
    assert_eq!(sd.into_iter().count(), 1);
}

/// Whether strict mode accepts `text` whole: what `is_strict` stands for.
fn strict_accepts(text: &[u8]) -> bool {
    matches!(parse(text, true), Ok((_, consumed)) if consumed == text.len())
}

#[test]
fn lenient_parse_knows_whether_the_text_is_strict() {
    let long = "n".repeat(SD_NAME_MAX + 1);
    let cases: Vec<(String, bool)> = vec![
        (r#"[x a="1"]"#.into(), true),
        (r#"[x a="1"][y b="2"]"#.into(), true),
        ("[x][y][z]".into(), true),
        (r#"[x a="\]\"\\"]"#.into(), true),
        (r#"[x a="é"]"#.into(), true),
        (r#"[x  a="1"]"#.into(), false),
        (r#"[x a="1" ]"#.into(), false),
        ("[x ]".into(), false),
        (r#"[x a="[1]"]"#.into(), false),
        (format!("[{long}]"), false),
        (format!(r#"[x {long}="1"]"#), false),
        ("[a][b][a]".into(), false),
        ("[ab][a][abc]".into(), true),
    ];
    for (text, strict) in cases {
        let (sd, consumed) = parse(text.as_bytes(), false).expect("lenient");
        assert_eq!(consumed, text.len(), "{text}");
        assert_eq!(sd.is_strict(), strict, "{text}");
        assert_eq!(strict_accepts(text.as_bytes()), strict, "{text}");
    }
    let many: String = (0..40).map(|n| format!("[id{n}]")).collect();
    for (text, strict) in [
        (many.clone(), true),
        (format!("{many}[id3]"), false),
        (format!("{many}[id39]"), false),
    ] {
        let sd = parse(text.as_bytes(), false).expect("lenient").0;
        assert_eq!(sd.is_strict(), strict, "{text}");
    }
    assert!(StructuredData::parse(r#"[x a="1"]"#).is_some_and(|sd| sd.is_strict()));
    // The flag is not part of equality or of what `Debug` shows.
    let lenient = parse(br#"[x a="1"]"#, false).expect("lenient").0;
    assert_eq!(Some(lenient), StructuredData::parse(r#"[x a="1"]"#));
    assert_eq!(
        format!("{lenient:?}"),
        r#"StructuredData { raw: "[x a=\"1\"]" }"#
    );
}

/// Pieces STRUCTURED-DATA is made of, good and bad, for the property below.
const SD_FRAGMENTS: &[&str] = &[
    "[",
    "]",
    " ",
    "  ",
    "x",
    "y",
    "id",
    "a=",
    "\"",
    "\\",
    "\\]",
    "\\\"",
    "=\"v\"",
    "é",
    "\u{1}",
    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",
    "[x",
    "[y",
    " a=\"1\"",
    "][x]",
    "[x]",
    "[y]",
];

proptest::proptest! {
    #[test]
    fn is_strict_is_what_strict_mode_accepts(
        parts in proptest::collection::vec(0..SD_FRAGMENTS.len(), 1..24)
    ) {
        let text: String = parts.iter().map(|&index| SD_FRAGMENTS[index]).collect();
        if let Ok((sd, consumed)) = parse(text.as_bytes(), false) {
            let accepted = &text.as_bytes()[..consumed];
            proptest::prop_assert_eq!(sd.is_strict(), strict_accepts(accepted), "{:?}", text);
        }
    }
}
