//! Helpers shared by the integration tests: locating the binary and running
//! it, or a peer program (`logger`, `openssl`), with stdin.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// The `sinkd` binary cargo built for this test run.
pub(crate) fn sinkd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_sinkd")
}

/// Runs `sinkd ARGS` with `stdin` as its input and waits for it.
pub(crate) fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    run_fed(Command::new(sinkd_bin()).args(args), stdin, "spawn sinkd")
}

/// Runs `command` with `stdin` as its input and its stdout and stderr
/// captured, and waits for it to exit; `cannot_start` is the panic message
/// when it does not start (say which package brings it).
pub(crate) fn run_fed(command: &mut Command, stdin: &[u8], cannot_start: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(cannot_start);
    let program = command.get_program().to_owned();
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin)
        .unwrap_or_else(|error| panic!("write to {program:?}: {error}"));
    child
        .wait_with_output()
        .unwrap_or_else(|error| panic!("wait for {program:?}: {error}"))
}

/// Stdout split into parsed JSON lines.
pub(crate) fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON {line:?}: {e}")))
        .collect()
}
