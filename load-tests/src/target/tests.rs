//! The loopback guard: what it accepts and what it refuses.

use super::loopback_target;

#[test]
fn accepts_ipv4_and_ipv6_loopback() {
    assert_eq!(
        loopback_target("127.0.0.1:5514").unwrap(),
        "127.0.0.1:5514".parse().unwrap()
    );
    assert_eq!(
        loopback_target("127.3.2.1:9").unwrap(),
        "127.3.2.1:9".parse().unwrap()
    );
    assert_eq!(
        loopback_target("[::1]:6514").unwrap(),
        "[::1]:6514".parse().unwrap()
    );
}

#[test]
fn accepts_localhost_by_name() {
    let address = loopback_target("localhost:5514").unwrap();
    assert!(address.ip().is_loopback());
    assert_eq!(address.port(), 5514);
}

#[test]
fn refuses_every_other_address() {
    for text in [
        "10.0.0.9:514",
        "192.168.1.1:514",
        "8.8.8.8:53",
        "0.0.0.0:514",
        "[2001:db8::1]:514",
        "[::]:514",
    ] {
        let error = loopback_target(text).unwrap_err().to_string();
        assert!(error.contains("not a loopback address"), "{text}: {error}");
    }
}

#[test]
fn refuses_port_zero_and_garbage() {
    assert!(loopback_target("127.0.0.1:0").is_err());
    assert!(loopback_target("127.0.0.1").is_err());
    assert!(loopback_target("").is_err());
}
