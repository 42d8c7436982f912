//! Network namespaces joined to the test's own by a veth pair, for tests
//! that need other hosts: a client that is not on loopback (the read API's
//! access rule), or nodes of a cluster behind a balancer (`scaleout.rs`).
//! Root only; every namespace and link is removed on drop, and what a
//! killed earlier run left under the same name is removed first.

use std::process::{Command, Stdio};

/// A namespace and its veth pair: the host end is `host_ip`, the
/// namespace's end `ns_ip`, a /30 of 10.`net`.x.0; the namespace routes
/// everything through the host end.
pub(crate) struct Namespace {
    pub(crate) name: String,
    host_link: String,
    pub(crate) host_ip: String,
    pub(crate) ns_ip: String,
}

/// `ip ARGS`, which must succeed.
pub(crate) fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().expect("run ip");
    assert!(status.success(), "ip {args:?} failed");
}

impl Namespace {
    /// A namespace named after `tag` and this process, on 10.`net`.x.0/30.
    pub(crate) fn new(tag: &str, net: u8) -> Namespace {
        let id = std::process::id() % 60_000;
        let name = format!("sinkd-{tag}-{id}");
        // Interface names are at most 15 bytes: named after the network.
        let host_link = format!("sh{net}x{id}");
        let ns_link = format!("sn{net}x{id}");
        let octet = id % 250;
        let host_ip = format!("10.{net}.{octet}.1");
        let ns_ip = format!("10.{net}.{octet}.2");
        for leftover in [["netns", "del", &name], ["link", "del", &host_link]] {
            let _ = Command::new("ip")
                .args(leftover)
                .stderr(Stdio::null())
                .status();
        }
        ip(&["netns", "add", &name]);
        let namespace = Namespace {
            name,
            host_link,
            host_ip,
            ns_ip,
        };
        ip(&[
            "link",
            "add",
            &namespace.host_link,
            "type",
            "veth",
            "peer",
            "name",
            &ns_link,
        ]);
        ip(&["link", "set", &ns_link, "netns", &namespace.name]);
        ip(&[
            "addr",
            "add",
            &format!("{}/30", namespace.host_ip),
            "dev",
            &namespace.host_link,
        ]);
        ip(&["link", "set", &namespace.host_link, "up"]);
        namespace.ip(&[
            "addr",
            "add",
            &format!("{}/30", namespace.ns_ip),
            "dev",
            &ns_link,
        ]);
        namespace.ip(&["link", "set", &ns_link, "up"]);
        namespace.ip(&["link", "set", "lo", "up"]);
        namespace.ip(&["route", "add", "default", "via", &namespace.host_ip]);
        namespace
    }

    /// `ip ARGS` inside the namespace.
    pub(crate) fn ip(&self, args: &[&str]) {
        let mut full = vec!["netns", "exec", &self.name, "ip"];
        full.extend_from_slice(args);
        ip(&full);
    }

    /// A command run inside the namespace.
    pub(crate) fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
