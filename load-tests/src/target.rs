//! Where load may be sent: loopback only.
//!
//! Load tests on these machines must never leave the host, so every address
//! `sinkd-load` is given passes through [`loopback_target`] first. A name
//! such as `localhost:5514` is resolved, and every address it resolves to
//! must be in 127.0.0.0/8 or be `::1`; anything else is refused with an
//! error rather than filtered, so a typo cannot quietly aim a flood at a
//! real network.

use anyhow::{bail, Context as _};
use std::net::{SocketAddr, ToSocketAddrs};

#[cfg(test)]
mod tests;

/// Resolves `text` (`IP:PORT`, `[::1]:PORT` or `localhost:PORT`) and
/// returns the first address, provided every resolved address is loopback.
pub fn loopback_target(text: &str) -> anyhow::Result<SocketAddr> {
    let addresses: Vec<SocketAddr> = match text.parse::<SocketAddr>() {
        Ok(address) => vec![address],
        Err(_) => text
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve target {text:?} (expected IP:PORT)"))?
            .collect(),
    };
    let Some(first) = addresses.first().copied() else {
        bail!("target {text:?} resolves to no address");
    };
    if let Some(outside) = addresses.iter().find(|a| !a.ip().is_loopback()) {
        bail!(
            "refusing target {text:?}: {} is not a loopback address; load is only ever sent to 127.0.0.0/8 or ::1",
            outside.ip()
        );
    }
    if first.port() == 0 {
        bail!("target {text:?} has port 0");
    }
    Ok(first)
}
