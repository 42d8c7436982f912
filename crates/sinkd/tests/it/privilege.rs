//! The `user` setting: started as root, sinkd binds its ports, hands its
//! data directory to the user and then runs as that user — every thread of
//! it — and what it stores stays that user's. Judged from outside, by the
//! process's `/proc` entries and the owners of the files it leaves. Needs
//! root (CI runs as root); skipped with a message otherwise.

use crate::harness::{read_stream, send_tcp, stream_names, Sandbox, Server};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

/// `nobody` and `nogroup` on Debian.
const NOBODY: u32 = 65534;

/// The `Uid:`/`Gid:`/`Groups:` lines of every thread of `pid`.
fn thread_credentials(pid: i32) -> Vec<(String, String)> {
    let mut threads = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("read the task list") {
        let task = task.expect("task entry");
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue; // the thread ended meanwhile
        };
        let lines: Vec<&str> = status
            .lines()
            .filter(|line| {
                line.starts_with("Uid:") || line.starts_with("Gid:") || line.starts_with("Groups:")
            })
            .collect();
        threads.push((
            task.file_name().to_string_lossy().into_owned(),
            lines.join(" | "),
        ));
    }
    threads
}

#[test]
fn a_root_start_with_a_user_binds_then_runs_as_that_user() {
    if !crate::harness::root_for("switching users") {
        return;
    }
    let sandbox = Sandbox::new();
    // The user must reach data_dir through the sandbox's directories, as
    // it reaches /var/lib/sinkd on a real system.
    for dir in ["", "var", "var/lib", "var/lib/sinkd"] {
        let path = sandbox.root().join(dir);
        std::fs::create_dir_all(&path).expect("create sandbox dirs");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("open the sandbox dirs");
    }
    // A file root left behind in data_dir (an earlier root run) is handed
    // over too; a link pointing out of data_dir is not followed.
    let data_dir = sandbox.data_dir();
    std::fs::create_dir_all(data_dir.join("old-host")).expect("create data_dir");
    std::fs::write(data_dir.join("old-host/left-by-root"), "x").expect("root's file");
    let outside = sandbox.write("outside", "must stay root's");
    std::os::unix::fs::symlink(&outside, data_dir.join("escape")).expect("symlink");

    let server = Server::start(&sandbox, |ports| {
        format!(
            "user = \"nobody\"\n\n[[listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:{}\"\n\n\
             [[sink]]\ntarget = \"file {{device}}/messages\"\n",
            ports.tcp
        )
    });
    let threads = thread_credentials(server.pid());
    assert!(threads.len() > 2, "{threads:?}");
    for (task, credentials) in &threads {
        assert!(
            credentials.contains("Uid:\t65534\t65534\t65534\t65534")
                && credentials.contains("Gid:\t65534\t65534\t65534\t65534"),
            "thread {task} of sinkd: {credentials}"
        );
        let groups = credentials.split("Groups:").nth(1).unwrap_or_default();
        assert!(
            groups.trim().is_empty(),
            "thread {task} kept groups: {credentials}"
        );
    }

    send_tcp(
        server.ports.tcp,
        b"<13>Oct 11 22:14:15 router1 app: after the switch\n",
    );
    server.wait_count("sinkd_store_lines_written_total", 1);
    server.stop().assert_clean_exit();

    let streams = stream_names(&data_dir);
    let lines: Vec<String> = streams
        .iter()
        .flat_map(|stream| read_stream(&data_dir, stream))
        .map(|(_, line)| line)
        .collect();
    assert!(
        lines.iter().any(|line| line.contains("after the switch")),
        "{streams:?}: {lines:?}"
    );
    let mut pending = vec![data_dir.clone()];
    let mut n_checked = 0;
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path).expect("metadata");
        if meta.file_type().is_symlink() {
            continue;
        }
        assert_eq!(
            (meta.uid(), meta.gid()),
            (NOBODY, NOBODY),
            "{}",
            path.display()
        );
        n_checked += 1;
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).expect("read_dir") {
                pending.push(entry.expect("entry").path());
            }
        }
    }
    assert!(n_checked >= 4, "only {n_checked} entries under data_dir");
    let outside_meta = std::fs::metadata(&outside).expect("outside file");
    assert_eq!(outside_meta.uid(), 0, "a link out of data_dir was followed");
}

#[test]
fn an_unknown_user_is_named() {
    let sandbox = Sandbox::new();
    let config = sandbox.write(
        "sinkd.toml",
        format!(
            "data_dir = \"{}\"\nmetrics = \"off\"\nuser = \"no-such-sinkd-user\"\n",
            sandbox.data_dir().display()
        ),
    );
    let output = std::process::Command::new(crate::support::sinkd_bin())
        .arg("--config")
        .arg(&config)
        .output()
        .expect("run sinkd");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("user \"no-such-sinkd-user\" does not exist"),
        "{stderr}"
    );
}
