//! Unit tests for the bit table: lookups against its rows, the constructors,
//! and the exact JSON that `sinkd priority` prints.

use expect_test::expect;
use sinkd_proto::{Facility, Pri, Severity};

use super::*;
use crate::{compile, Templates};

#[test]
fn matches_reads_bit_severity_of_row_facility() {
    let mut rows = [0u8; FACILITY_COUNT];
    rows[4] = 0b0010_0001; // auth: emerg, notice
    rows[23] = 0b1000_0000; // local7: debug
    let table = PriorityTable::from_rows(rows);
    for facility in Facility::ALL {
        for severity in Severity::ALL {
            let expected = matches!(
                (facility, severity),
                (Facility::Auth, Severity::Emerg)
                    | (Facility::Auth, Severity::Notice)
                    | (Facility::Local7, Severity::Debug)
            );
            assert_eq!(
                table.matches(facility, severity),
                expected,
                "{facility}.{severity}"
            );
        }
    }
    assert_eq!(table.rows(), rows);
    assert!(table.matches_pri(Pri {
        facility: Facility::Auth,
        severity: Severity::Notice
    }));
    assert!(!table.matches_pri(Pri::DEFAULT));
}

#[test]
fn empty_and_all() {
    assert!(PriorityTable::empty().is_empty());
    assert!(!PriorityTable::all().is_empty());
    for facility in Facility::ALL {
        for severity in Severity::ALL {
            assert!(!PriorityTable::empty().matches(facility, severity));
            assert!(PriorityTable::all().matches(facility, severity));
        }
    }
    assert_eq!(PriorityTable::from_expressions(&[]), PriorityTable::empty());
    assert!(!PriorityTable::from_rows({
        let mut rows = [0; FACILITY_COUNT];
        rows[15] = 1;
        rows
    })
    .is_empty());
}

#[test]
fn json_lists_every_facility_in_numeric_order() {
    let templates = Templates::with_defaults();
    let table = compile("console.notice;security.warning;*.!=alert", &templates).unwrap();
    expect![[r#"{"kern":[],"user":[],"mail":[],"daemon":[],"auth":[],"syslog":[],"lpr":[],"news":[],"uucp":[],"cron":[],"authpriv":[],"ftp":[],"ntp":[],"security":["emerg","crit","err","warning"],"console":["emerg","crit","err","warning","notice"],"15":[],"local0":[],"local1":[],"local2":[],"local3":[],"local4":[],"local5":[],"local6":[],"local7":[]}"#]]
        .assert_eq(&table_json(&table));
}

#[test]
fn json_of_everything_fits_its_reserve() {
    let json = table_json(&PriorityTable::all());
    assert!(json.len() <= 2048, "{}", json.len());
    assert!(json.starts_with(
        r#"{"kern":["emerg","alert","crit","err","warning","notice","info","debug"],"user":["#
    ));
    assert!(
        json.contains(r#""15":["emerg","alert","crit","err","warning","notice","info","debug"]"#)
    );
    assert_eq!(json.matches(':').count(), FACILITY_COUNT);
}
