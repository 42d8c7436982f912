//! Relays into a real rsyslog: imtcp (octet counting and LF), imudp, and
//! imtcp over TLS with rsyslog's gtls driver requiring our client
//! certificate. Each rsyslog is a foreground instance of its own
//! (`rsyslogd -n -f CONF -i PIDFILE`) on an unprivileged loopback port, with
//! its own work directory, writing `%rawmsg%` (the message exactly as it
//! arrived, framing removed) to a file; the system's rsyslog is never
//! touched. The three formats are compared byte for byte with the device
//! manual's examples.
//!
//! Needs the Debian packages `rsyslog` and `rsyslog-gnutls` (installed by
//! `.ci/run`).

use crate::delivery::offer_all;
use crate::support::{eventually, free_port, metrics, numbered, relay_config, Pki};
use sinkd_proto::format::{write_message, OutputFormat};
use sinkd_proto::framing::Framing;
use sinkd_proto::{parse, ReceiveTime};
use sinkd_relay::{Relay, RelayTransport};
use std::fs;
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

/// The device manual's RFC 5424 example, as a sender would send it.
const MANUAL_RFC5424: &str = "<30>1 2019-11-18T09:36:42.000321+01:00 hostname proc 123 - - message";
/// The manual's shapes of that message in each format (`format
/// bsd|rfc3164|rfc5424`).
const MANUAL_SHAPES: [(OutputFormat, &str); 3] = [
    (OutputFormat::Bsd, "<30>proc[123]: message"),
    (
        OutputFormat::Rfc3164,
        "<30>Nov 18 09:36:42 hostname proc[123] message",
    ),
    (OutputFormat::Rfc5424, MANUAL_RFC5424),
];

enum Input<'a> {
    Tcp,
    Udp,
    Tls(&'a Pki),
}

/// A foreground rsyslogd of our own.
struct Rsyslog {
    child: Child,
    port: u16,
    output: PathBuf,
}

impl Rsyslog {
    fn start(dir: &Path, input: Input<'_>) -> Rsyslog {
        assert!(
            Path::new(RSYSLOGD).exists(),
            "rsyslogd not found: install the Debian packages rsyslog and rsyslog-gnutls"
        );
        let port = free_port();
        let work = dir.join("rsyslog-work");
        fs::create_dir_all(&work).unwrap();
        let output = dir.join("rsyslog-out.log");
        let (module, input_line) = match &input {
            Input::Tcp => (
                "module(load=\"imtcp\")".to_owned(),
                format!("input(type=\"imtcp\" port=\"{port}\" address=\"127.0.0.1\" ruleset=\"out\")"),
            ),
            Input::Udp => (
                "module(load=\"imudp\")".to_owned(),
                format!("input(type=\"imudp\" port=\"{port}\" address=\"127.0.0.1\" ruleset=\"out\")"),
            ),
            Input::Tls(_) => (
                "module(load=\"imtcp\" StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"x509/certvalid\")".to_owned(),
                format!("input(type=\"imtcp\" port=\"{port}\" address=\"127.0.0.1\" ruleset=\"out\")"),
            ),
        };
        let tls_globals = match &input {
            Input::Tls(pki) => {
                let (cert, key) = pki.server_files("rsyslog");
                format!(
                    " DefaultNetstreamDriver=\"gtls\" DefaultNetstreamDriverCAFile=\"{}\" DefaultNetstreamDriverCertFile=\"{}\" DefaultNetstreamDriverKeyFile=\"{}\"",
                    pki.ca_path().display(),
                    cert.display(),
                    key.display()
                )
            }
            _ => String::new(),
        };
        let conf = dir.join("rsyslog.conf");
        fs::write(
            &conf,
            format!(
                "global(workDirectory=\"{work}\" maxMessageSize=\"64k\"{tls_globals})\n\
                 {module}\n\
                 template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n\
                 ruleset(name=\"out\") {{ action(type=\"omfile\" file=\"{out}\" template=\"raw\" asyncWriting=\"off\" flushOnTXEnd=\"on\") }}\n\
                 {input_line}\n",
                work = work.display(),
                out = output.display(),
            ),
        )
        .unwrap();
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslog.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rsyslogd");
        let rsyslog = Rsyslog {
            child,
            port,
            output,
        };
        match input {
            Input::Udp => {
                // Ready once a probe datagram comes out the other end.
                let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
                assert!(
                    eventually(Duration::from_secs(15), || {
                        let _ = socket.send_to(b"<13>probe", ("127.0.0.1", port));
                        std::thread::sleep(Duration::from_millis(40));
                        fs::read_to_string(&rsyslog.output)
                            .is_ok_and(|text| text.lines().any(|line| line == "<13>probe"))
                    }),
                    "rsyslog (imudp) did not start"
                );
            }
            _ => assert!(
                eventually(Duration::from_secs(15), || TcpStream::connect((
                    "127.0.0.1",
                    port
                ))
                .is_ok()),
                "rsyslog (imtcp) did not start"
            ),
        }
        rsyslog
    }

    /// The lines rsyslog wrote, probes left out.
    fn lines(&self) -> Vec<String> {
        fs::read_to_string(&self.output)
            .unwrap_or_default()
            .lines()
            .filter(|line| *line != "<13>probe")
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The manual's message written in each format.
fn manual_messages() -> Vec<Vec<u8>> {
    let received = ReceiveTime::now_utc();
    let message = parse(MANUAL_RFC5424.as_bytes(), &received);
    MANUAL_SHAPES
        .iter()
        .map(|(format, _)| {
            let mut out = Vec::new();
            write_message(&message, *format, &received.local, &mut out);
            out
        })
        .collect()
}

fn expected_shapes() -> Vec<String> {
    MANUAL_SHAPES
        .iter()
        .map(|(_, shape)| (*shape).to_owned())
        .collect()
}

/// Sends the manual's three shapes and 5,000 numbered messages through a
/// relay into `rsyslog` and checks what it wrote.
fn relay_into(rsyslog: &Rsyslog, config: sinkd_relay::RelayConfig) {
    let relay = Relay::start(config, metrics()).unwrap();
    let mut messages = manual_messages();
    messages.extend(numbered("r1", 0..5000));
    assert_eq!(offer_all(&relay.handle(), &messages, 100), messages.len());
    assert!(
        eventually(Duration::from_secs(30), || rsyslog.lines().len()
            >= messages.len()),
        "rsyslog got {} of {} lines",
        rsyslog.lines().len(),
        messages.len()
    );
    let lines = rsyslog.lines();
    assert_eq!(lines[..3], expected_shapes()[..]);
    let expected: Vec<String> = messages
        .iter()
        .map(|message| String::from_utf8(message.clone()).unwrap())
        .collect();
    assert_eq!(lines, expected);
    relay.shutdown().unwrap();
}

#[test]
fn rsyslog_imtcp_octet_counting() {
    let dir = tempfile::tempdir().unwrap();
    let rsyslog = Rsyslog::start(dir.path(), Input::Tcp);
    let config = relay_config("rs-tcp", RelayTransport::Tcp, rsyslog.port, dir.path());
    relay_into(&rsyslog, config);
}

#[test]
fn rsyslog_imtcp_lf_framing() {
    let dir = tempfile::tempdir().unwrap();
    let rsyslog = Rsyslog::start(dir.path(), Input::Tcp);
    let mut config = relay_config("rs-lf", RelayTransport::Tcp, rsyslog.port, dir.path());
    config.framing = Framing::NonTransparent;
    relay_into(&rsyslog, config);
}

#[test]
fn rsyslog_imudp() {
    let dir = tempfile::tempdir().unwrap();
    let rsyslog = Rsyslog::start(dir.path(), Input::Udp);
    let config = relay_config("rs-udp", RelayTransport::Udp, rsyslog.port, dir.path());
    let relay = Relay::start(config, metrics()).unwrap();
    // UDP may lose datagrams under load, so only the shapes plus a short
    // run, paced, are compared exactly.
    let mut messages = manual_messages();
    messages.extend(numbered("r1", 0..200));
    for chunk in messages.chunks(10) {
        offer_all(&relay.handle(), chunk, 10);
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(eventually(Duration::from_secs(20), || rsyslog
        .lines()
        .len()
        >= messages.len()));
    let expected: Vec<String> = messages
        .iter()
        .map(|message| String::from_utf8(message.clone()).unwrap())
        .collect();
    assert_eq!(rsyslog.lines(), expected);
    assert_eq!(rsyslog.lines()[..3], expected_shapes()[..]);
    relay.shutdown().unwrap();
}

#[test]
fn rsyslog_gtls_with_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let rsyslog = Rsyslog::start(dir.path(), Input::Tls(&pki));
    let mut config = relay_config("rs-tls", RelayTransport::Tls, rsyslog.port, dir.path());
    config.tls = Some(pki.client_files(true, "localhost"));
    relay_into(&rsyslog, config);
}
