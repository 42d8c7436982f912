//! Helpers shared by the integration tests: locating the binary and running
//! it with stdin.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// The `sinkd` binary cargo built for this test run.
pub(crate) fn sinkd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_sinkd")
}

/// Runs `sinkd ARGS` with `stdin` as its input and waits for it.
pub(crate) fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(sinkd_bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sinkd");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("wait for sinkd")
}

/// Stdout split into parsed JSON lines.
pub(crate) fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON {line:?}: {e}")))
        .collect()
}
