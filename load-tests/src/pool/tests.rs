//! The pool: determinism, sizes, formats, sequence patching and exact
//! passing counts.

use super::{hostname, Pool, PoolOptions, SizeClass, SEQ_DIGITS};
use sinkd_route::{compile, Templates};
use std::collections::HashSet;

fn options(seed: u64, devices: u32, size: SizeClass, entries: usize) -> PoolOptions {
    PoolOptions {
        seed,
        devices,
        size,
        entries,
        base_time: "2026-11-22T10:15:30Z".parse().unwrap(),
    }
}

fn message(pool: &Pool, index: u64) -> String {
    let mut out = Vec::new();
    pool.write_message(index, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn same_seed_same_pool_other_seed_other_pool() {
    let a = Pool::generate(&options(7, 100, SizeClass::Small, 500));
    let b = Pool::generate(&options(7, 100, SizeClass::Small, 500));
    let c = Pool::generate(&options(8, 100, SizeClass::Small, 500));
    let all = |p: &Pool| (0..500).map(|i| message(p, i)).collect::<Vec<_>>();
    assert_eq!(all(&a), all(&b));
    assert_ne!(all(&a), all(&c));
}

#[test]
fn lengths_stay_in_the_size_class() {
    for size in [SizeClass::Small, SizeClass::Large] {
        let pool = Pool::generate(&options(1, 1000, size, 2000));
        let (min, max) = size.range();
        for index in 0..2000 {
            let text = message(&pool, index);
            assert!(
                (min - 5..=max).contains(&text.len()),
                "{size:?} message {index} has {} bytes: {text}",
                text.len()
            );
            assert!(!text.contains('\n'), "{text}");
            assert!(text.is_ascii());
        }
    }
}

#[test]
fn mixes_both_formats_structured_data_and_many_devices() {
    let pool = Pool::generate(&options(3, 1000, SizeClass::Small, 20_000));
    let texts: Vec<String> = (0..20_000).map(|i| message(&pool, i)).collect();
    let rfc5424 = texts.iter().filter(|t| t.contains(">1 20")).count();
    let with_sd = texts
        .iter()
        .filter(|t| t.contains("@2636") || t.contains("[origin "))
        .count();
    let cisco = texts.iter().filter(|t| t.contains(": %")).count();
    assert!(rfc5424 > 8_000 && rfc5424 < 12_000, "{rfc5424}");
    assert!(with_sd > 4_000, "{with_sd}");
    assert!(cisco > 3_000, "{cisco}");
    let hosts: HashSet<&str> = texts
        .iter()
        .filter_map(|t| {
            t.split(' ').find(|w| {
                w.contains('-') && w.ends_with(|c: char| c.is_ascii_digit()) && w.len() <= 9
            })
        })
        .collect();
    assert!(hosts.len() > 950, "{} distinct hostnames", hosts.len());
    let facilities: HashSet<u8> = (0..20_000).map(|i| pool.priority(i).0.code()).collect();
    let severities: HashSet<u8> = (0..20_000).map(|i| pool.priority(i).1.code()).collect();
    assert!(facilities.len() >= 14, "{facilities:?}");
    assert_eq!(severities.len(), 8);
}

#[test]
fn sequence_digits_carry_the_global_index() {
    let pool = Pool::generate(&options(5, 10, SizeClass::Small, 16));
    let first = message(&pool, 3);
    let again = message(&pool, 16 + 3);
    assert!(first.contains("seq=0000000003 "), "{first}");
    assert!(again.contains("seq=0000000019 "), "{again}");
    assert_eq!(
        first.replace("0000000003", "X"),
        again.replace("0000000019", "X")
    );
    let big = message(&pool, 9_876_543_210);
    assert!(big.contains(&format!(
        "seq={:0width$}",
        9_876_543_210u64,
        width = SEQ_DIGITS
    )));
}

#[test]
fn priority_matches_the_pri_on_the_wire() {
    let pool = Pool::generate(&options(9, 50, SizeClass::Small, 300));
    for index in 0..300 {
        let text = message(&pool, index);
        let pri: u8 = text[1..text.find('>').unwrap()].parse().unwrap();
        let (facility, severity) = pool.priority(index);
        assert_eq!(pri, facility.code() * 8 + severity.code(), "{text}");
    }
}

#[test]
fn passing_count_is_exact_across_cycles_and_offsets() {
    let pool = Pool::generate(&options(11, 40, SizeClass::Small, 97));
    let table = compile("*.notice;auth.*", &Templates::with_defaults()).unwrap();
    for (first, count) in [
        (0, 0),
        (0, 97),
        (0, 1000),
        (13, 500),
        (96, 5),
        (1_000_003, 777),
    ] {
        let brute = (first..first + count)
            .filter(|i| pool.passes(&table, *i))
            .count() as u64;
        assert_eq!(
            pool.count_passing(&table, first, count),
            brute,
            "{first}+{count}"
        );
    }
    let everything = compile("*.*", &Templates::with_defaults()).unwrap();
    assert_eq!(pool.count_passing(&everything, 5, 1234), 1234);
    let share = pool.count_passing(&table, 0, 97) as f64 / 97.0;
    assert!(share > 0.3 && share < 0.8, "{share}");
}

#[test]
fn hostnames_follow_the_device_kind() {
    assert_eq!(hostname(0), "srv-00000");
    assert_eq!(hostname(1), "sw-00001");
    assert_eq!(hostname(42), "rtr-00042");
    assert_eq!(hostname(12_347), "fw-12347");
}

#[test]
fn entries_for_covers_devices_and_never_exceeds_count() {
    assert_eq!(
        PoolOptions::entries_for(1_000_000, 100, SizeClass::Small),
        65_536
    );
    assert_eq!(
        PoolOptions::entries_for(1_000_000, 100_000, SizeClass::Small),
        200_000
    );
    assert_eq!(
        PoolOptions::entries_for(2_000, 100, SizeClass::Large),
        2_000
    );
    assert_eq!(PoolOptions::entries_for(0, 100, SizeClass::Small), 1);
}
