//! Deployment: `sinkd healthcheck` against a running server, and the two
//! artefacts an operator builds (the top-level Dockerfile, the Debian
//! package), each proven by its script in `deploy/tests/` — the image built
//! with buildah from local base images, run, fed with `logger` and stopped;
//! the package installed into a debootstrap chroot. The scripts need root,
//! buildah, debootstrap and cargo-deb (`.ci/run` installs them); without
//! them these two tests say loudly that they did not run.

use crate::harness::{Ports, Sandbox, Server};
use crate::support::sinkd_bin;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Both scripts run a release build of the workspace; one at a time.
static HEAVY: Mutex<()> = Mutex::new(());

fn tcp_store(ports: &Ports) -> String {
    format!(
        "[[listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:{}\"\n\n\
         [[sink]]\ntarget = \"file {{device}}/messages\"\n",
        ports.tcp
    )
}

fn healthcheck(address: &str) -> std::process::Output {
    Command::new(sinkd_bin())
        .args(["healthcheck", "--address", address, "--timeout", "2"])
        .output()
        .expect("run sinkd healthcheck")
}

#[test]
fn healthcheck_is_healthy_only_while_sinkd_serves_healthz() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, tcp_store);
    let address = server.metrics_addr().to_string();
    let output = healthcheck(&address);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("{address}: healthy\n")
    );
    server.stop().assert_clean_exit();

    let output = healthcheck(&address);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!("{address}: unhealthy: cannot connect")),
        "{stderr}"
    );
}

#[test]
fn healthcheck_refuses_an_answer_that_is_not_200() {
    // A listener that answers every request with 404, as a wrong port might.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let answer = std::thread::spawn(move || {
        use std::io::{Read as _, Write as _};
        let (mut stream, _) = listener.accept().expect("accept");
        let mut request = [0_u8; 1024];
        let _ = stream.read(&mut request).expect("read");
        stream
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            .expect("write");
    });
    let output = healthcheck(&address);
    answer.join().expect("answering thread");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("answered \"HTTP/1.1 404 Not Found\""),
        "{output:?}"
    );
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The first of `needs` (programs) missing on PATH, or a reason the
/// scripts cannot run here (not root).
fn cannot_run(needs: &[&str]) -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some(String::from("not root"));
    }
    needs
        .iter()
        .find(|program| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {program}")])
                .output()
                .is_ok_and(|output| output.status.success())
        })
        .map(|program| format!("{program} is not installed"))
}

/// Runs `deploy/tests/SCRIPT` and asserts it passed; its output is shown
/// (timings, sizes) with `--nocapture`, and on failure in any case.
fn run_script(script: &str, needs: &[&str]) {
    if let Some(reason) = cannot_run(needs) {
        // In CI (.ci/run installs everything and runs as root) a skip
        // would let an untested artefact pass.
        assert!(
            std::env::var_os("CI").is_none(),
            "deploy/tests/{script} cannot run in CI: {reason}"
        );
        eprintln!(
            "\n********\nSKIPPED deploy/tests/{script}: {reason} (needs root and {}; .ci/run installs them)\n********\n",
            needs.join(", ")
        );
        return;
    }
    let _one_at_a_time = HEAVY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let output = Command::new("bash")
        .arg(repository().join("deploy/tests").join(script))
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}{stderr}");
    assert!(
        output.status.success(),
        "deploy/tests/{script} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
}

#[test]
fn container_image_builds_runs_stores_and_drains() {
    run_script(
        "container.sh",
        &["buildah", "debootstrap", "logger", "ss", "ps"],
    );
}

#[test]
fn debian_package_installs_into_a_chroot() {
    run_script("package.sh", &["debootstrap", "cargo-deb", "dpkg-deb"]);
}
