//! `sinkd check-config` on good and broken files (exit codes, the sink
//! table, `line N` in every error), and plain `sinkd` running its embedded
//! default configuration in a fresh working directory (docs/config.md).

use crate::harness::{send_udp, stream_names, Sandbox, Server};
use crate::support::sinkd_bin;
use std::process::{Command, Output};

fn check_config(sandbox: &Sandbox, name: &str, text: &str) -> Output {
    let path = sandbox.write(name, text);
    Command::new(sinkd_bin())
        .arg("check-config")
        .arg(path)
        .output()
        .expect("run sinkd check-config")
}

#[test]
fn check_config_accepts_a_good_file_and_prints_the_sink_table() {
    let sandbox = Sandbox::new();
    let output = check_config(
        &sandbox,
        "good.toml",
        r#"data_dir = "/srv/sinkd"
metrics = "127.0.0.1:9600"

[[listen]]
transport = "udp"
address = "127.0.0.1:5514"
allow = ["10.0.0.0/8"]

[[listen]]
transport = "tcp"
address = "127.0.0.1:5514"

[templates]
security = "auth.*;authpriv.*"

[[sink]]
target = "file {device}/messages"
priority = "*.notice;auth.!*"

[[sink]]
name = "security"
target = "file {device}/security"
priority = "template security"
format = "rfc5424"
"#,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(stdout.contains("good.toml: OK"), "{stdout}");
    assert!(stdout.contains("data_dir: /srv/sinkd"), "{stdout}");
    assert!(
        stdout.contains("127.0.0.1:5514/udp (10.0.0.0/8)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("127.0.0.1:5514/tcp (any source)"),
        "{stdout}"
    );
    let table: Vec<Vec<&str>> = stdout
        .lines()
        .skip_while(|line| !line.starts_with("IDX"))
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(
        table,
        [
            vec!["IDX", "TARGET", "PRIORITY", "FORMAT"],
            vec![
                "1",
                "file",
                "{device}/messages",
                "*.notice;auth.!*",
                "rfc3164"
            ],
            vec![
                "2",
                "file",
                "{device}/security",
                "template",
                "security",
                "rfc5424"
            ],
        ]
    );
}

#[test]
fn check_config_rejects_bad_files_with_exit_2_and_the_line() {
    let cases: [(&str, &str, &str); 6] = [
        (
            "data_dir = \"/x\"\n\n[[sink]]\ntarget = \"file {device}/m\"\npriority = \"*.notice;kern.bogus\"\n",
            "line 5",
            "kern.bogus",
        ),
        (
            "data_dir = \"/x\"\n[[listen]]\ntransport = \"udp\"\nadress = \"127.0.0.1:514\"\n",
            "line 4",
            "adress",
        ),
        ("data_dir = \"/x\"\n[[sink]\ntarget = 3\n", "line 2", "table"),
        (
            "[[listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:514\"\n\n[[listen]]\ntransport = \"quic\"\n",
            "line 6",
            "quic",
        ),
        (
            "[[sink]]\ntarget = \"file a\"\n\n[[sink]]\ntarget = \"udp dhcp\"\n",
            "line 5",
            "address HOST",
        ),
        (
            "[[sink]]\ntarget = \"file ../outside\"\n",
            "line 2",
            "outside",
        ),
    ];
    let sandbox = Sandbox::new();
    for (index, (text, line, fragment)) in cases.iter().enumerate() {
        let output = check_config(&sandbox, &format!("bad{index}.toml"), text);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "case {index}: {stderr}");
        assert!(
            stderr.contains(line) && stderr.contains(fragment),
            "case {index}: expected {line:?} and {fragment:?} in {stderr}"
        );
        assert!(output.stdout.is_empty(), "case {index}: printed a table");
    }
}

#[test]
fn check_config_reports_tls_files_it_cannot_read() {
    let sandbox = Sandbox::new();
    let missing = sandbox.root().join("missing.pem");
    let output = check_config(
        &sandbox,
        "tls.toml",
        &format!(
            "[[listen]]\ntransport = \"tls\"\naddress = \"127.0.0.1:6514\"\ncert = \"{0}\"\nkey = \"{0}\"\n",
            missing.display()
        ),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        stderr.contains(&missing.display().to_string()) && stderr.contains("cert"),
        "{stderr}"
    );
}

/// Whether the embedded default's ports can be bound here (root, and no
/// other syslog daemon or sinkd holding them).
fn default_ports_free() -> bool {
    std::net::UdpSocket::bind("0.0.0.0:514").is_ok()
        && std::net::TcpListener::bind("0.0.0.0:514").is_ok()
        && std::net::TcpListener::bind("127.0.0.1:9514").is_ok()
}

#[test]
fn plain_sinkd_runs_the_embedded_default_in_its_working_directory() {
    if !default_ports_free() {
        eprintln!("skipped: ports 514 or 9514 cannot be bound here");
        return;
    }
    let sandbox = Sandbox::new();
    let server = match Server::start_embedded_default(&sandbox) {
        Ok(server) => server,
        // Taken between the check and the start.
        Err(log) if log.contains("in use") => {
            eprintln!("skipped: {log}");
            return;
        }
        Err(log) => panic!("plain sinkd did not start:\n{log}"),
    };
    send_udp(514, b"<13>Oct 11 22:14:15 default-run app: hello");
    // auth.notice: stored in `messages` and in `auth.log`.
    send_udp(514, b"<37>Oct 11 22:14:16 default-run sshd: login");
    server.wait_count("sinkd_store_lines_written_total", 3);
    server.stop().assert_clean_exit();
    let data_dir = sandbox.root().join("sinkd-data");
    assert!(data_dir.is_dir());
    let names = stream_names(&data_dir);
    assert!(
        names.contains(&"default-run/messages".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"default-run/auth.log".to_owned()),
        "{names:?}"
    );
}
