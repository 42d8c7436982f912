//! The conformance corpus: `tests/data/conformance.jsonl`, one case per
//! line, each a raw message with the fields the sources say it carries.
//!
//! A case is a JSON object: `raw` (the message), `expect` (the fields that
//! the sources determine, named and valued as `sinkd parse` prints them;
//! `structured_data` is the SD text as sent), optionally `strict` (`ok` or
//! `error`: what `parse_strict` must do), `class` (the issue-14 class it
//! tests), `source` (the RFC section, vendor document or peer behind the
//! expectation) and `note` (where rsyslog and syslog-ng disagree with it or
//! with each other; `load-tests/conformance/peers.sh` shows what they
//! extract). A case whose expectation sinkd knowingly does not meet carries
//! `deviation` with the reason; it counts as a disagreement.
//!
//! The test prints the conformance figure (the share of cases whose every
//! expected field, and the strict verdict, agree) per class and overall:
//! `cargo test -p sinkd-proto --test it conformance -- --nocapture`.
//! It fails when a case without `deviation` disagrees.

use crate::corpus::received;
use serde_json::{json, Map, Value};
use sinkd_proto::{parse, parse_strict, Message, ReceiveTime};
use std::collections::BTreeMap;
use std::path::Path;

/// The message's fields as `sinkd parse` names and prints them.
fn fields(message: &Message<'_>) -> Map<String, Value> {
    let text = |field: Option<&str>| field.map_or(Value::Null, |value| json!(value));
    let mut out = Map::new();
    out.insert("format".into(), json!(message.format.name()));
    out.insert("facility".into(), json!(message.facility.code()));
    out.insert("severity".into(), json!(message.severity.code()));
    out.insert("version".into(), json!(message.version));
    out.insert(
        "timestamp".into(),
        json!(message.timestamp.map(|ts| ts.to_string())),
    );
    out.insert("hostname".into(), text(message.hostname));
    out.insert("app_name".into(), text(message.app_name));
    out.insert("procid".into(), text(message.procid));
    out.insert("msgid".into(), text(message.msgid));
    out.insert(
        "structured_data".into(),
        text(message.structured_data.map(|sd| sd.as_str())),
    );
    out.insert(
        "msg".into(),
        json!(String::from_utf8_lossy(message.msg).into_owned()),
    );
    out
}

/// What disagrees in one case, one line per field; empty when it agrees.
fn mismatches(case: &Map<String, Value>, received: &ReceiveTime) -> Vec<String> {
    let raw = case["raw"].as_str().expect("every case has a raw string");
    let actual = fields(&parse(raw.as_bytes(), received));
    let mut out = Vec::new();
    let expect = case["expect"].as_object().expect("every case has expect");
    for (name, wanted) in expect {
        let got = actual
            .get(name)
            .unwrap_or_else(|| panic!("unknown field {name:?} in {raw:?}"));
        if got != wanted {
            out.push(format!("{name}: expected {wanted}, got {got}"));
        }
    }
    if let Some(verdict) = case.get("strict").and_then(Value::as_str) {
        let got = match parse_strict(raw.as_bytes()) {
            Ok(_) => "ok".to_owned(),
            Err(error) => format!("error ({error})"),
        };
        if !got.starts_with(verdict) {
            out.push(format!("strict: expected {verdict}, got {got}"));
        }
    }
    out
}

#[test]
fn conformance() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/conformance.jsonl");
    let text = std::fs::read_to_string(&path).expect("readable conformance corpus");
    let received = received();
    let mut per_class: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut n_agree = 0;
    let mut n_cases = 0;
    let mut unexpected = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let case: Map<String, Value> = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("line {}: {error}", index + 1));
        let class = case["class"].as_str().unwrap_or("-").to_owned();
        let diffs = mismatches(&case, &received);
        let tally = per_class.entry(class.clone()).or_default();
        tally.0 += 1;
        n_cases += 1;
        if diffs.is_empty() {
            tally.1 += 1;
            n_agree += 1;
            continue;
        }
        let deviation = case.get("deviation").and_then(Value::as_str);
        println!(
            "line {} [{class}] {}{}",
            index + 1,
            case["raw"],
            deviation.map_or(String::new(), |why| format!(" (known deviation: {why})"))
        );
        for diff in &diffs {
            println!("    {diff}");
        }
        if deviation.is_none() {
            unexpected.push(index + 1);
        }
    }
    for (class, (cases, agree)) in &per_class {
        println!("{class:>10}: {agree}/{cases}");
    }
    println!(
        "conformance: {n_agree}/{n_cases} cases agree ({:.1}%)",
        100.0 * n_agree as f64 / n_cases as f64
    );
    assert!(
        unexpected.is_empty(),
        "cases on lines {unexpected:?} of {} disagree; see above",
        path.display()
    );
}
