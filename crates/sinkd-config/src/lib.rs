//! sinkd's configuration: TOML in, each stage's own settings out.
//!
//! Loading goes in two steps, like ripgrep's LowArgs → HiArgs: `raw.rs`
//! deserializes the keys exactly as written (unknown keys are errors), then
//! the checks in `check/` read every value in context — priority
//! expressions against the templates, targets in the device's vocabulary
//! (`file PATH`, `udp|tcp|tls address HOST[:PORT]`), CIDRs, sizes and
//! durations — straight into the settings types of the stages that use
//! them: [`ListenerConfig`] (`sinkd-listen`), [`SinkConfig`] and
//! [`WorkerConfig`] (`sinkd-worker`), [`RelayConfig`] inside a relay sink's
//! [`Target`] (`sinkd-relay`) and [`StoreConfig`] (`sinkd-store`). Each of
//! those crates owns its defaults; a key left out of the file keeps the
//! owner's default, so every setting is written down once. Every error
//! names its line. `model.rs` holds the assembled [`Config`];
//! `docs/config.md` documents every key and default.

mod check;
mod import;
mod model;
mod raw;
pub mod units;

pub use import::{import_device_config, ImportError};
pub use model::{Config, ConfigError, PemKind, RunAs};

pub use sinkd_listen::{ListenerConfig, StreamConfig, TlsConfig, UdpConfig};
pub use sinkd_relay::{Overflow, RelayConfig, RelayTransport, TlsClientFiles};
pub use sinkd_store::{FsyncPolicy, StoreConfig};
pub use sinkd_worker::{SinkConfig, Target, WorkerConfig};

use std::path::Path;

/// The configuration `sinkd` runs when started without `--config`.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

/// Loading: the model (`model.rs`) knows nothing of TOML; these read a
/// file's text through the checks in `check/`.
impl Config {
    /// The embedded default configuration.
    pub fn default_config() -> Config {
        // The embedded text is covered by a test; failing here would be a
        // build-time mistake, not an input error.
        #[allow(clippy::expect_used)]
        Config::from_toml(DEFAULT_CONFIG).expect("the embedded default configuration is valid")
    }

    /// Reads and validates a configuration file's text.
    pub fn from_toml(source: &str) -> Result<Config, ConfigError> {
        check::config(source)
    }

    /// Reads and validates a configuration file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let source = std::fs::read_to_string(path).map_err(|error| {
            ConfigError::Global(format!("cannot read {}: {error}", path.display()))
        })?;
        Config::from_toml(&source)
    }
}

#[cfg(test)]
mod tests;
