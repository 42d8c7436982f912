//! Unit tests of allow-list parsing and matching.

use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

#[test]
fn empty_list_allows_everyone() {
    let allow = AllowList::default();
    assert!(allow.is_empty());
    assert!(allow.contains(ip("203.0.113.9")));
    assert!(allow.contains(ip("2001:db8::1")));
    let parsed: AllowList = "".parse().expect("empty list");
    assert!(parsed.is_empty());
}

#[test]
fn networks_and_plain_addresses() {
    let allow: AllowList = "10.0.0.0/8, 192.0.2.7 2001:db8::/32"
        .parse()
        .expect("valid list");
    assert_eq!(allow.nets.len(), 3);
    assert!(allow.contains(ip("10.255.0.1")));
    assert!(!allow.contains(ip("11.0.0.1")));
    assert!(allow.contains(ip("192.0.2.7")));
    assert!(!allow.contains(ip("192.0.2.8")));
    assert!(allow.contains(ip("2001:db8:ffff::1")));
    assert!(!allow.contains(ip("2001:db9::1")));
    assert_eq!(allow.to_string(), "10.0.0.0/8, 192.0.2.7/32, 2001:db8::/32");
    assert_eq!(allow.to_string().parse::<AllowList>(), Ok(allow));
}

#[test]
fn ipv4_mapped_addresses_match_ipv4_networks_and_back() {
    let v4_list = AllowList::parse(["10.0.0.0/8"]).expect("valid");
    assert!(v4_list.contains(ip("::ffff:10.1.2.3")));
    assert!(!v4_list.contains(ip("::ffff:11.1.2.3")));
    let mapped_list = AllowList::parse(["::ffff:192.0.2.0/120"]).expect("valid");
    assert!(mapped_list.contains(ip("192.0.2.200")));
    assert!(!mapped_list.contains(ip("192.0.3.1")));
}

#[test]
fn host_bits_in_a_network_are_tolerated() {
    let allow = AllowList::parse([" 10.1.2.3/8 "]).expect("valid");
    assert!(allow.contains(ip("10.200.0.1")));
}

#[test]
fn bad_entries_are_named() {
    let error = AllowList::parse(["10.0.0.0/8", "10.0.0.300"]).expect_err("invalid");
    assert_eq!(error.entry, "10.0.0.300");
    assert!(error.to_string().contains("`10.0.0.300`"));
    assert!("10.0.0.0/33".parse::<AllowList>().is_err());
    assert!("example.com".parse::<AllowList>().is_err());
    assert!(parse_entry("").is_err());
}
