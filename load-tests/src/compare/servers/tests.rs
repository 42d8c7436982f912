//! The generated configurations: sinkd's must load with sinkd's own
//! loader, and each peer's must carry the settings the comparison relies
//! on.

use super::{rsyslog_config, sinkd_config, syslog_ng_config, ServerKind, Setup, Wire, PRIORITY};
use crate::compare::certs::CertFiles;
use std::path::PathBuf;

fn setup(kind: ServerKind, wire: Wire, dir: &std::path::Path) -> Setup {
    Setup {
        kind,
        wire,
        port: 5514,
        devices: 10_000,
        connections: 50,
        dir: dir.to_path_buf(),
        out: dir.join("out"),
        certs: Some(CertFiles {
            ca: PathBuf::from("/certs/ca.pem"),
            cert: PathBuf::from("/certs/server.pem"),
            key: PathBuf::from("/certs/server.key"),
        }),
        sinkd_workers: 0,
    }
}

#[test]
fn sinkd_configs_load_with_sinkd_config() {
    let dir = tempfile::tempdir().unwrap();
    for wire in Wire::ALL {
        let text = sinkd_config(&setup(ServerKind::Sinkd, wire, dir.path())).unwrap();
        let config = sinkd_config::Config::from_toml(&text)
            .unwrap_or_else(|e| panic!("{wire:?}: {e}\n{text}"));
        assert_eq!(config.listeners.len(), 1);
        assert_eq!(config.listeners[0].address().port(), 5514);
        assert!(config.listeners[0].address().ip().is_loopback());
        assert_eq!(config.sinks.len(), 1);
        assert_eq!(config.sinks[0].priority_text, PRIORITY);
        assert!(config.storage.max_open_files > 10_000);
        assert_eq!(
            config.listeners[0].transport_name() == "tls",
            wire == Wire::Tls
        );
    }
    let mut two = setup(ServerKind::Sinkd, Wire::TcpLf, dir.path());
    two.sinkd_workers = 2;
    let config = sinkd_config::Config::from_toml(&sinkd_config(&two).unwrap()).unwrap();
    assert_eq!(config.workers.threads, 2);
}

#[test]
fn rsyslog_config_filters_per_host_with_a_cache_as_large_as_the_fleet() {
    let dir = tempfile::tempdir().unwrap();
    let udp = rsyslog_config(&setup(ServerKind::Rsyslog, Wire::Udp, dir.path())).unwrap();
    assert!(udp.contains("module(load=\"imudp\""), "{udp}");
    assert!(udp.contains("port=\"5514\""));
    assert!(udp.contains("dynaFileCacheSize=\"10000\""));
    assert!(udp.contains("prifilt(\"*.notice;auth.*\")"));
    assert!(udp.contains("%HOSTNAME%/messages"));
    assert!(udp.contains("asyncWriting=\"on\""));
    let tls = rsyslog_config(&setup(ServerKind::Rsyslog, Wire::Tls, dir.path())).unwrap();
    assert!(tls.contains("streamDriver.name=\"gtls\""), "{tls}");
    assert!(tls.contains("defaultNetstreamDriverCertFile=\"/certs/server.pem\""));
    assert!(dir.path().join("rsyslog-work").is_dir());
}

#[test]
fn syslog_ng_config_uses_flow_control_and_the_right_source_per_wire() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (Wire::Udp, "transport(\"udp\") flags(syslog-protocol)"),
        (Wire::TcpLf, "network("),
        (Wire::TcpOctet, "syslog("),
        (Wire::Tls, "peer-verify(optional-untrusted)"),
    ];
    for (wire, needle) in cases {
        let text =
            syslog_ng_config(&setup(ServerKind::SyslogNg, wire, dir.path()), "3.38").unwrap();
        assert!(text.starts_with("@version: 3.38\n"));
        assert!(text.contains(needle), "{wire:?}: {text}");
        assert!(text.contains("flags(flow-control)"));
        assert!(text.contains("keep-hostname(yes)"));
        assert!(text.contains("level(notice..emerg) or facility(auth)"));
        assert!(text.contains("${HOST}/messages"));
        if wire != Wire::Udp {
            assert!(text.contains("max-connections(100)"), "{text}");
        }
    }
}

#[test]
fn names_round_trip() {
    for wire in Wire::ALL {
        assert_eq!(Wire::parse(wire.name()), Some(wire));
    }
    for kind in ServerKind::ALL {
        assert_eq!(ServerKind::parse(kind.name()), Some(kind));
    }
    assert_eq!(Wire::parse("tcp"), Some(Wire::TcpLf));
    assert_eq!(Wire::parse("sctp"), None);
}
