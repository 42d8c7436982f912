//! Configuration checks: the design's example, defaults, and one test per
//! kind of mistake, each asserting the line number in the message.

use super::*;
use crate::check::parse_target;
use sinkd_proto::framing::Framing;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The relay settings of the first sink, which must be a relay.
fn first_relay(config: &Config) -> RelayConfig {
    config.sinks[0].relay().cloned().expect("a relay sink")
}

fn error_of(source: &str) -> String {
    match Config::from_toml(source) {
        Ok(_) => panic!("expected an error for:\n{source}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn embedded_default_is_valid() {
    let config = Config::default_config();
    assert_eq!(config.listeners.len(), 2);
    assert_eq!(config.listeners[0].transport_name(), "udp");
    assert_eq!(
        config.listeners[0].address(),
        "0.0.0.0:514".parse().unwrap()
    );
    assert_eq!(config.listeners[1].transport_name(), "tcp");
    assert_eq!(config.data_dir(), Path::new("./sinkd-data"));
    assert_eq!(config.http, Some(sinkd_http::HttpConfig::default()));
    let names: Vec<&str> = config.sinks.iter().map(|sink| sink.name.as_str()).collect();
    assert_eq!(names, ["messages", "auth.log"]);
    assert!(config
        .sinks
        .iter()
        .all(|sink| matches!(sink.target, Target::File(_))));
}

#[test]
fn design_example_is_valid() {
    let source = r#"
data_dir = "/var/lib/sinkd"
metrics = "127.0.0.1:9514"

[[listen]]
transport = "udp"
address = "0.0.0.0:514"
allow = ["10.0.0.0/8", "192.0.2.7"]

[[listen]]
transport = "tls"
address = "0.0.0.0:6514"
cert = "/etc/sinkd/server.pem"
key = "/etc/sinkd/server.key"
client_ca = "/etc/sinkd/ca.pem"

[templates]
security = "auth.*;authpriv.*;security.*"

[[sink]]
target = "file {device}/messages"
priority = "*.notice"
format = "rfc3164"

[[sink]]
target = "udp address 10.0.0.9"
priority = "template security"
format = "rfc5424"
"#;
    let config = Config::from_toml(source).unwrap();
    assert_eq!(config.listeners[0].allow().nets.len(), 2);
    assert_eq!(config.sinks[0].name, "sink-1");
    assert_eq!(config.sinks[1].name, "sink-2");
    match &config.sinks[1].target {
        Target::Relay(relay) => {
            assert_eq!(relay.host, "10.0.0.9");
            assert_eq!(relay.port, 514);
            assert_eq!(relay.transport, RelayTransport::Udp);
            assert_eq!(relay.spool_dir, Path::new("/var/lib/sinkd/.relay/sink-2"));
        }
        other => panic!("unexpected target {other:?}"),
    }
    let table = config.sinks[1].table;
    assert!(table.matches(
        sinkd_proto::Facility::Authpriv,
        sinkd_proto::Severity::Debug
    ));
    assert!(!table.matches(sinkd_proto::Facility::User, sinkd_proto::Severity::Emerg));
    let ListenerConfig::Stream(tls_listener) = &config.listeners[1] else {
        panic!("a stream listener")
    };
    assert_eq!(
        tls_listener.tls.as_ref().unwrap().client_ca,
        Some(PathBuf::from("/etc/sinkd/ca.pem"))
    );
}

#[test]
fn unknown_key_names_its_line() {
    let message =
        error_of("data_dir = \"x\"\n\n[[sink]]\ntarget = \"file a\"\nprioritty = \"*.*\"\n");
    assert!(message.contains("line 5"), "{message}");
    assert!(message.contains("prioritty"), "{message}");
}

#[test]
fn bad_priority_names_line_and_expression() {
    let message = error_of("[[sink]]\ntarget = \"file a\"\npriority = \"auth.*;kern.bogus\"\n");
    assert!(message.starts_with("line 3:"), "{message}");
    assert!(message.contains("kern.bogus"), "{message}");
}

#[test]
fn bad_values_name_their_lines() {
    for (source, line, fragment) in [
        ("[[listen]]\ntransport = \"sctp\"\n", 2, "sctp"),
        (
            "[[listen]]\ntransport = \"udp\"\naddress = \"nowhere\"\n",
            3,
            "nowhere",
        ),
        (
            "[[listen]]\ntransport = \"udp\"\nallow = [\"10.0.0.0/33\"]\n",
            3,
            "10.0.0.0/33",
        ),
        (
            "[[listen]]\ntransport = \"tcp\"\nmax_frame = \"10X\"\n",
            3,
            "10X",
        ),
        (
            "[[listen]]\ntransport = \"tcp\"\nidle_timeout = \"5 fortnights\"\n",
            3,
            "fortnights",
        ),
        ("[[sink]]\ntarget = \"ftp address x\"\n", 2, "ftp address x"),
        ("[[sink]]\ntarget = \"file ../etc\"\n", 2, "../etc"),
        (
            "[[sink]]\ntarget = \"file a\"\nformat = \"json\"\n",
            3,
            "json",
        ),
        ("[storage]\nfsync = \"sometimes\"\n", 2, "sometimes"),
        ("[storage]\nmin_free = \"120%\"\n", 2, "120%"),
        ("[storage]\nmin_free = \"lots\"\n", 2, "lots"),
        (
            "[[listen]]\ntransport = \"udp\"\nthreads = 5000\n",
            3,
            "threads",
        ),
        ("metrics = \"here\"\n", 1, "here"),
    ] {
        let message = error_of(source);
        assert!(
            message.contains(&format!("line {line}")),
            "{source:?} -> {message}"
        );
        assert!(message.contains(fragment), "{source:?} -> {message}");
    }
}

#[test]
fn http_address_and_access() {
    let config = Config::from_toml(
        "[http]\naddress = \"0.0.0.0:9600\"\ntoken_file = \"/etc/sinkd/token\"\n",
    )
    .unwrap();
    let http = config.http.unwrap();
    assert_eq!(http.address, "0.0.0.0:9600".parse().unwrap());
    assert_eq!(
        http.token_file.as_deref(),
        Some(Path::new("/etc/sinkd/token"))
    );
    assert!(http.tls.is_none());
    assert!(http.authenticates());
    let config = Config::from_toml(
        "metrics = \":9700\"\n[http]\ncert = \"c.pem\"\nkey = \"k.pem\"\nclient_ca = \"ca.pem\"\n",
    )
    .unwrap();
    let http = config.http.unwrap();
    assert_eq!(http.address.port(), 9700);
    let tls = http.tls.unwrap();
    assert_eq!(tls.client_ca.as_deref(), Some(Path::new("ca.pem")));
    assert!(Config::from_toml("metrics = \"off\"\n")
        .unwrap()
        .http
        .is_none());
    assert!(Config::from_toml("[http]\naddress = \"off\"\n")
        .unwrap()
        .http
        .is_none());
    for (source, fragment) in [
        ("metrics = \":1\"\n[http]\naddress = \":2\"\n", "keep one"),
        (
            "metrics = \"off\"\n[http]\ntoken_file = \"t\"\n",
            "nothing to apply",
        ),
        ("[http]\ncert = \"c\"\n", "needs `key`"),
        ("[http]\nkey = \"k\"\n", "needs `cert`"),
        ("[http]\nclient_ca = \"ca\"\n", "give `cert` and `key`"),
        ("[http]\ntoken_file = \"\"\n", "empty path"),
        ("[http]\ntoken = \"x\"\n", "token"),
        ("[http]\naddress = \"here\"\n", "address"),
    ] {
        let message = error_of(source);
        assert!(message.contains("line "), "{source:?} -> {message}");
        assert!(message.contains(fragment), "{source:?} -> {message}");
    }
}

#[test]
fn transport_specific_keys_are_checked() {
    assert!(
        error_of("[[listen]]\ntransport = \"udp\"\nframing = \"lf\"\n").contains("tcp and tls")
    );
    assert!(
        error_of("[[listen]]\ntransport = \"tcp\"\ncert = \"a\"\n").contains("tls listeners only")
    );
    assert!(error_of("[[listen]]\ntransport = \"tls\"\n").contains("needs cert and key"));
    assert!(
        error_of("[[listen]]\ntransport = \"tcp\"\nbatch_size = 3\n")
            .contains("udp listeners only")
    );
}

#[test]
fn duplicate_targets_and_listeners_are_refused() {
    let message = error_of("[[sink]]\ntarget = \"file a\"\n[[sink]]\ntarget = \"file  a\"\n");
    assert!(
        message.contains("line 3") && message.contains("already used"),
        "{message}"
    );
    let message = error_of("[[listen]]\ntransport = \"tcp\"\n[[listen]]\ntransport = \"tls\"\naddress = \"514\"\ncert = \"c\"\nkey = \"k\"\n");
    assert!(message.contains("clashes"), "{message}");
}

#[test]
fn target_syntax() {
    let parse_target = |text: &str| parse_target(text, "up", Path::new("/data"));
    let relay = |text: &str| match parse_target(text).unwrap() {
        Target::Relay(relay) => (relay.transport, relay.host, relay.port),
        Target::File(_) => panic!("file target"),
    };
    assert_eq!(
        relay("tcp address logs.example.com"),
        (RelayTransport::Tcp, "logs.example.com".into(), 514)
    );
    assert_eq!(
        relay("tls address logs.example.com"),
        (RelayTransport::Tls, "logs.example.com".into(), 6514)
    );
    assert_eq!(
        relay("udp address 10.0.0.9:5514"),
        (RelayTransport::Udp, "10.0.0.9".into(), 5514)
    );
    assert_eq!(
        relay("udp address [2001:db8::1]:5514"),
        (RelayTransport::Udp, "2001:db8::1".into(), 5514)
    );
    assert_eq!(
        relay("udp address 2001:db8::1"),
        (RelayTransport::Udp, "2001:db8::1".into(), 514)
    );
    match parse_target("kafka address k1:9093,[2001:db8::2],k3 topic syslog.all").unwrap() {
        Target::Relay(relay) => {
            assert_eq!(relay.transport, RelayTransport::Kafka);
            assert_eq!((relay.host.as_str(), relay.port), ("k1", 9093));
            let kafka = relay.kafka.clone().unwrap();
            assert_eq!(kafka.topic, "syslog.all");
            assert_eq!(
                kafka.bootstrap_servers(),
                "k1:9093,[2001:db8::2]:9092,k3:9092"
            );
            assert_eq!(
                relay.target_text(),
                "kafka address k1:9093,[2001:db8::2]:9092,k3:9092 topic syslog.all"
            );
            assert_eq!(relay.validate().map_err(|e| e.to_string()), Ok(()));
        }
        Target::File(_) => panic!("file target"),
    }
    assert!(parse_target("udp dhcp").unwrap_err().contains("DHCP"));
    assert!(parse_target("file usb my.log")
        .unwrap_err()
        .contains("media"));
}

#[test]
fn units() {
    assert_eq!(units::parse_size("10M"), Ok(10 << 20));
    assert_eq!(units::parse_size("64k"), Ok(64 << 10));
    assert_eq!(units::parse_size("512"), Ok(512));
    assert!(units::parse_size("-1").is_err());
    assert_eq!(
        units::parse_duration("250ms"),
        Ok(Duration::from_millis(250))
    );
    assert_eq!(units::parse_duration("1d"), Ok(Duration::from_secs(86_400)));
    assert_eq!(units::parse_duration("30"), Ok(Duration::from_secs(30)));
    assert_eq!(
        units::parse_size_or_percent("0.5%"),
        Ok(units::SizeOrPercent::Percent(0.5))
    );
    assert_eq!(
        units::parse_size_or_percent("100M"),
        Ok(units::SizeOrPercent::Bytes(100 << 20))
    );
    for bad in ["%", "-1%", "1.2.3%", "101%", "1e2%"] {
        assert!(units::parse_size_or_percent(bad).is_err(), "{bad}");
    }
}

#[test]
fn min_free_is_a_size_or_a_percentage() {
    let default = Config::from_toml("").expect("valid");
    assert_eq!(default.storage.min_free, sinkd_store::MinFree::default());
    for (value, expected) in [
        ("\"2%\"", sinkd_store::MinFree::percent(2.0)),
        ("\"1G\"", sinkd_store::MinFree::bytes(1 << 30)),
        ("0", sinkd_store::MinFree::bytes(0)),
    ] {
        let config = Config::from_toml(&format!("[storage]\nmin_free = {value}\n")).expect("valid");
        assert_eq!(config.storage.min_free, expected, "{value}");
    }
}

#[test]
fn stream_idle_timeout_defaults_to_five_minutes_and_zero_keeps_streams() {
    let default = Config::from_toml("").expect("valid");
    assert_eq!(
        default.storage.stream_idle_timeout,
        Some(std::time::Duration::from_secs(300))
    );
    for (value, expected) in [
        ("\"30s\"", Some(std::time::Duration::from_secs(30))),
        ("\"1h\"", Some(std::time::Duration::from_secs(3600))),
        ("0", None),
    ] {
        let config = Config::from_toml(&format!("[storage]\nstream_idle_timeout = {value}\n"))
            .expect("valid");
        assert_eq!(config.storage.stream_idle_timeout, expected, "{value}");
    }
    assert!(Config::from_toml("[storage]\nstream_idle_timeout = \"soon\"\n").is_err());
}

#[test]
fn compress_threads_default_to_one_per_writer_and_are_bounded() {
    let default = Config::from_toml("").unwrap();
    assert_eq!(default.storage.compress_threads, 0);
    assert_eq!(default.storage.resolved(8).compress_threads, 4);
    let config = Config::from_toml("[storage]\ncompress_threads = 3\n").unwrap();
    assert_eq!(config.storage.resolved(8).compress_threads, 3);
    let error = Config::from_toml("[storage]\ncompress_threads = 1000\n").unwrap_err();
    assert!(error.to_string().contains("at most 256"), "{error}");
}

#[test]
fn relay_keys_have_defaults() {
    let config =
        Config::from_toml("[[sink]]\ntarget = \"tcp address central.example.net\"\n").unwrap();
    let relay = first_relay(&config);
    assert_eq!(relay.framing, Framing::OctetCounting);
    assert_eq!(relay.tls, None);
    assert_eq!(relay.queue_memory, sinkd_relay::DEFAULT_QUEUE_MEMORY);
    assert_eq!(relay.queue_disk, 1 << 30);
    assert_eq!(relay.overflow, Overflow::DropOldest);
    assert_eq!(relay.send_timeout, Duration::from_secs(10));
    let file = Config::from_toml("[[sink]]\ntarget = \"file {device}/messages\"\n").unwrap();
    assert!(file.sinks[0].relay().is_none());
}

#[test]
fn relay_keys_are_read() {
    let source = r#"
[[sink]]
name = "central"
target = "tls address central.example.net"
framing = "lf"
ca = "/etc/sinkd/central-ca.pem"
cert = "/etc/sinkd/edge.pem"
key = "/etc/sinkd/edge.key"
server_name = "collector.example.net"
queue_memory = 5000
queue_disk = "2G"
overflow = "refuse-new"
send_timeout = "30s"
"#;
    let config = Config::from_toml(source).unwrap();
    let relay = first_relay(&config);
    assert_eq!(relay.framing, Framing::NonTransparent);
    assert_eq!(
        relay.tls,
        Some(TlsClientFiles {
            ca: "/etc/sinkd/central-ca.pem".into(),
            client_cert: Some(("/etc/sinkd/edge.pem".into(), "/etc/sinkd/edge.key".into())),
            server_name: "collector.example.net".into(),
        })
    );
    assert_eq!(relay.queue_memory, 5000);
    assert_eq!(relay.queue_disk, 2 << 30);
    assert_eq!(relay.overflow, Overflow::RefuseNew);
    assert_eq!(relay.send_timeout, Duration::from_secs(30));
}

#[test]
fn kafka_keys_have_defaults_and_are_read() {
    let config = Config::from_toml(
        "[[sink]]\nname = \"bus\"\ntarget = \"kafka address 127.0.0.1:9092 topic syslog\"\nformat = \"json\"\n",
    )
    .unwrap();
    assert_eq!(config.sinks[0].format, sinkd_worker::SinkFormat::Json);
    let kafka = first_relay(&config).kafka.unwrap();
    assert_eq!(kafka.compression, sinkd_relay::DEFAULT_KAFKA_COMPRESSION);
    assert_eq!(kafka.linger, sinkd_relay::DEFAULT_KAFKA_LINGER);
    let config = Config::from_toml(
        "[[sink]]\nname = \"bus\"\ntarget = \"kafka address 127.0.0.1:9092 topic syslog\"\nformat = \"rfc5424\"\ncompression = \"snappy\"\nlinger = \"20ms\"\nqueue_disk = \"2G\"\n",
    )
    .unwrap();
    assert_eq!(config.sinks[0].format.name(), "rfc5424");
    let relay = first_relay(&config);
    assert_eq!(relay.queue_disk, 2 << 30);
    assert_eq!(relay.spool_dir, Path::new("./sinkd-data/.relay/bus"));
    let kafka = relay.kafka.unwrap();
    assert_eq!(kafka.compression, sinkd_relay::Compression::Snappy);
    assert_eq!(kafka.linger, Duration::from_millis(20));
}

#[test]
fn relay_keys_that_do_not_apply_are_errors_with_their_line() {
    for (source, expected) in [
        (
            "[[sink]]\ntarget = \"file x\"\n\nqueue_disk = \"1G\"\n",
            "line 4: queue_disk applies to relay sinks",
        ),
        (
            "[[sink]]\ntarget = \"udp address 10.0.0.9\"\nframing = \"lf\"\n",
            "line 3: framing applies to tcp and tls relays",
        ),
        (
            "[[sink]]\ntarget = \"tcp address 10.0.0.9\"\nca = \"ca.pem\"\n",
            "line 3: ca applies to tls relays only",
        ),
        (
            "[[sink]]\ntarget = \"udp address 10.0.0.9\"\nserver_name = \"x\"\n",
            "line 3: server_name applies to tls relays only",
        ),
        (
            "[[sink]]\ntarget = \"tls address 10.0.0.9\"\n",
            "line 1: a tls relay needs ca",
        ),
        (
            "[[sink]]\ntarget = \"tls address 10.0.0.9\"\nca = \"ca.pem\"\ncert = \"c.pem\"\n",
            "line 4: cert needs key",
        ),
        (
            "[[sink]]\ntarget = \"tcp address h\"\nframing = \"auto\"\n",
            "line 3: unknown framing \"auto\"",
        ),
        (
            "[[sink]]\ntarget = \"tcp address h\"\noverflow = \"block\"\n",
            "line 3: unknown overflow \"block\"",
        ),
        (
            "[[sink]]\ntarget = \"tcp address h\"\nqueue_memory = 0\n",
            "line 3: queue_memory must be",
        ),
        (
            "[[sink]]\ntarget = \"tcp address h\"\nqueue_disk = \"100k\"\n",
            "line 3: queue_disk must be at least 512k",
        ),
        (
            "[[sink]]\ntarget = \"tcp address h\"\nsend_timeout = \"10ms\"\n",
            "line 3: send_timeout must be at least 100ms",
        ),
        (
            "[[sink]]\ntarget = \"kafka address k1:9092\"\n",
            "line 2: kafka target",
        ),
        (
            "[[sink]]\ntarget = \"kafka address k1:9092 topic a/b\"\n",
            "line 2: kafka topic \"a/b\"",
        ),
        (
            "[[sink]]\ntarget = \"kafka address k1:x topic logs\"\n",
            "line 2: invalid port",
        ),
        (
            "[[sink]]\ntarget = \"kafka address k1 topic logs\"\nframing = \"lf\"\n",
            "line 3: framing applies to tcp and tls relays",
        ),
        (
            "[[sink]]\ntarget = \"kafka address k1 topic logs\"\nca = \"ca.pem\"\n",
            "line 3: ca applies to tls relays only",
        ),
        (
            "[[sink]]\ntarget = \"kafka address k1 topic logs\"\ncompression = \"gzip\"\n",
            "line 3: unknown compression \"gzip\"",
        ),
        (
            "[[sink]]\ntarget = \"kafka address k1 topic logs\"\nlinger = \"1m\"\n",
            "line 3: linger must be at most 10s",
        ),
        (
            "[[sink]]\ntarget = \"tcp address h\"\nlinger = \"1s\"\n",
            "line 3: linger applies to kafka sinks only",
        ),
        (
            "[[sink]]\ntarget = \"file x\"\ncompression = \"lz4\"\n",
            "line 3: compression applies to kafka sinks only",
        ),
        (
            "[[sink]]\ntarget = \"tcp address h\"\nformat = \"json\"\n",
            "line 3: format json applies to kafka sinks only",
        ),
    ] {
        let error = error_of(source);
        assert!(
            error.contains(expected),
            "{error:?} should contain {expected:?}"
        );
    }
}

#[test]
fn check_files_names_unreadable_tls_files() {
    let config = Config::from_toml(
        "[[sink]]\nname = \"up\"\ntarget = \"tls address central.example.net\"\nca = \"/nonexistent/ca.pem\"\n",
    )
    .unwrap();
    let message = config.check_files().unwrap_err().to_string();
    assert!(
        message.contains("sink \"up\": ca") && message.contains("/nonexistent/ca.pem"),
        "{message}"
    );
    assert!(Config::default_config().check_files().is_ok());
}

#[test]
fn check_files_reads_a_ca_as_trust_anchors() {
    // PEM framing around bytes that are no certificate: the block is found,
    // but no handshake could use it, so the check must say so now.
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let config = Config::from_toml(&format!(
        "[[sink]]\nname = \"up\"\ntarget = \"tls address central.example.net\"\nca = {:?}\n",
        ca.display().to_string()
    ))
    .unwrap();
    let message = config.check_files().unwrap_err().to_string();
    assert!(
        message.contains("sink \"up\": ca") && message.contains("ca.pem"),
        "{message}"
    );
}

#[test]
fn user_and_group_name_the_account_to_run_as() {
    assert_eq!(Config::from_toml("").unwrap().run_as, None);
    let config = Config::from_toml("user = \"sinkd\"\n").unwrap();
    assert_eq!(
        config.run_as,
        Some(RunAs {
            user: "sinkd".into(),
            group: None
        })
    );
    let config = Config::from_toml("user = \"nobody\"\ngroup = \"nogroup\"\n").unwrap();
    assert_eq!(config.run_as.unwrap().group.as_deref(), Some("nogroup"));
    let message = error_of("data_dir = \"/x\"\ngroup = \"adm\"\n");
    assert!(
        message.contains("line 2") && message.contains("needs `user`"),
        "{message}"
    );
    let message = error_of("user = \"root; rm\"\n");
    assert!(
        message.contains("line 1") && message.contains("not a user"),
        "{message}"
    );
    assert!(error_of("user = \"\"\n").contains("not a user"));
}

#[test]
fn data_dir_must_be_a_directory_name() {
    let message = error_of("data_dir = \"\"\n");
    assert!(
        message.contains("line 1") && message.contains("empty path"),
        "{message}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let config = Config::from_toml(&format!("data_dir = \"{}\"\n", file.display())).unwrap();
    let message = config.check_files().unwrap_err().to_string();
    assert!(message.contains("not a directory"), "{message}");
    let config = Config::from_toml(&format!("data_dir = \"{}\"\n", dir.path().display())).unwrap();
    assert!(config.check_files().is_ok());
}

#[test]
fn rate_limits_on_listeners() {
    let config = Config::from_toml(
        "[[listen]]\ntransport = \"udp\"\nrate_limit = \"500/s\"\n\n[[listen]]\ntransport = \"tcp\"\nrate_limit = \"60/m\"\nrate_burst = 20\n",
    )
    .unwrap();
    match (&config.listeners[0], &config.listeners[1]) {
        (ListenerConfig::Udp(udp), ListenerConfig::Stream(tcp)) => {
            let udp = udp.rate_limit.unwrap();
            assert_eq!((udp.per_hour, udp.burst), (500 * 3600, 500));
            let tcp = tcp.rate_limit.unwrap();
            assert_eq!((tcp.per_hour, tcp.burst), (3600, 20));
        }
        other => panic!("{other:?}"),
    }
    for (source, fragment) in [
        (
            "[[listen]]\ntransport = \"udp\"\nrate_limit = \"fast\"\n",
            "rate_limit",
        ),
        (
            "[[listen]]\ntransport = \"udp\"\nrate_limit = \"0/s\"\n",
            "more than zero",
        ),
        (
            "[[listen]]\ntransport = \"udp\"\nrate_burst = 5\n",
            "needs rate_limit",
        ),
        (
            "[[listen]]\ntransport = \"tcp\"\nrate_limit = \"5/s\"\nrate_burst = 0\n",
            "rate_burst",
        ),
    ] {
        let message = error_of(source);
        assert!(message.contains("line "), "{source:?} -> {message}");
        assert!(message.contains(fragment), "{source:?} -> {message}");
    }
}

#[test]
fn relp_listeners_default_to_port_2514_and_may_use_tls() {
    let config = Config::from_toml(
        "[[listen]]\ntransport = \"relp\"\n\n[[listen]]\ntransport = \"relp\"\naddress = \"127.0.0.1:2515\"\ncert = \"c.pem\"\nkey = \"k.pem\"\nhandshake_timeout = \"3s\"\n",
    )
    .unwrap();
    let ListenerConfig::Stream(plain) = &config.listeners[0] else {
        panic!("a stream listener");
    };
    assert!(plain.relp);
    assert!(plain.tls.is_none());
    assert_eq!(plain.address.port(), 2514);
    assert_eq!(plain.transport_name(), "relp");
    let ListenerConfig::Stream(secure) = &config.listeners[1] else {
        panic!("a stream listener");
    };
    assert!(secure.relp);
    assert_eq!(secure.transport_name(), "relp_tls");
    assert_eq!(secure.handshake_timeout, std::time::Duration::from_secs(3));
    for (source, fragment) in [
        (
            "[[listen]]\ntransport = \"relp\"\nframing = \"lf\"\n",
            "line 3: framing applies to tcp and tls listeners, not relp",
        ),
        (
            "[[listen]]\ntransport = \"relp\"\ncert = \"c.pem\"\n",
            "line 1: a relp listener over tls needs cert and key",
        ),
        (
            "[[listen]]\ntransport = \"relp\"\nthreads = 2\n",
            "udp listeners only",
        ),
        (
            "[[listen]]\ntransport = \"relpx\"\n",
            "expected udp, tcp, tls or relp",
        ),
        (
            "[[listen]]\ntransport = \"tcp\"\naddress = \"2514\"\n[[listen]]\ntransport = \"relp\"\n",
            "clashes",
        ),
    ] {
        let message = error_of(source);
        assert!(message.contains(fragment), "{source:?} -> {message}");
    }
}
