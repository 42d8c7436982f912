//! The assembled configuration: [`Config`] holds each stage's settings as
//! that stage defines them, plus the few settings of the process itself
//! (the metrics address, the user it runs as, and the templates). It also knows which files the
//! settings name that are read only later (TLS material), so `check-config`
//! and a reload can read them up front.

use sinkd_http::HttpConfig;
use sinkd_listen::ListenerConfig;
use sinkd_relay::RelayConfig;
use sinkd_route::Templates;
use sinkd_store::StoreConfig;
use sinkd_worker::{SinkConfig, WorkerConfig};
use std::path::Path;

/// A configuration error, with the 1-based line it points at when known.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    #[error("line {line}: {message}")]
    Invalid { line: usize, message: String },
    #[error("{0}")]
    Global(String),
}

/// What a PEM file named by the configuration must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PemKind {
    /// One or more CERTIFICATE blocks.
    Certificates,
    /// One or more CERTIFICATE blocks of CAs, used as trust anchors.
    CaCertificates,
    /// A private key.
    PrivateKey,
}

/// The account a root-started sinkd switches to (`user`, `group`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunAs {
    /// A user name from the system's user database.
    pub user: String,
    /// A group name; `None` means the user's primary group.
    pub group: Option<String>,
}

/// A validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The http address (`/metrics`, `/healthz`, the read API) and its
    /// access settings; `None` when disabled.
    pub http: Option<HttpConfig>,
    /// The `user` and `group` keys: who sinkd runs as once its ports are
    /// bound, when started as root; `None` keeps the starting identity.
    pub run_as: Option<RunAs>,
    /// The `workers` key.
    pub workers: WorkerConfig,
    /// `max_input_buffered`: bytes all TCP/TLS connections together may
    /// hold in their read buffers.
    pub max_input_buffered: usize,
    /// The `[[listen]]` tables, in order.
    pub listeners: Vec<ListenerConfig>,
    pub templates: Templates,
    /// The `[[sink]]` tables, in order (the order messages are offered in).
    pub sinks: Vec<SinkConfig>,
    /// `data_dir` and the `[storage]` table.
    pub storage: StoreConfig,
}

impl Config {
    /// Where every file sink's streams and every relay's spool live.
    pub fn data_dir(&self) -> &Path {
        &self.storage.data_dir
    }

    /// The relay settings of every relay sink, in sink order.
    pub fn relays(&self) -> impl Iterator<Item = &RelayConfig> {
        self.sinks.iter().filter_map(SinkConfig::relay)
    }

    /// Every PEM file the configuration names that sinkd reads only later
    /// (TLS certificates, keys and CAs of listeners and relays), each with
    /// a description of who needs it and what it must hold.
    pub fn referenced_files(&self) -> Vec<(String, &Path, PemKind)> {
        let mut files = Vec::new();
        for listener in &self.listeners {
            let ListenerConfig::Stream(stream) = listener else {
                continue;
            };
            let Some(tls) = &stream.tls else { continue };
            let who = format!("tls listener on {}", stream.address);
            files.push((
                format!("{who}: cert"),
                tls.cert.as_path(),
                PemKind::Certificates,
            ));
            files.push((
                format!("{who}: key"),
                tls.key.as_path(),
                PemKind::PrivateKey,
            ));
            if let Some(ca) = &tls.client_ca {
                files.push((
                    format!("{who}: client_ca"),
                    ca.as_path(),
                    PemKind::CaCertificates,
                ));
            }
        }
        if let Some(tls) = self.http.as_ref().and_then(|http| http.tls.as_ref()) {
            files.push((
                String::from("[http]: cert"),
                tls.cert.as_path(),
                PemKind::Certificates,
            ));
            files.push((
                String::from("[http]: key"),
                tls.key.as_path(),
                PemKind::PrivateKey,
            ));
            if let Some(ca) = &tls.client_ca {
                files.push((
                    String::from("[http]: client_ca"),
                    ca.as_path(),
                    PemKind::CaCertificates,
                ));
            }
        }
        for relay in self.relays() {
            let Some(tls) = &relay.tls else { continue };
            let who = format!("sink {:?}", relay.name);
            files.push((
                format!("{who}: ca"),
                tls.ca.as_path(),
                PemKind::CaCertificates,
            ));
            if let Some((cert, key)) = &tls.client_cert {
                files.push((
                    format!("{who}: cert"),
                    cert.as_path(),
                    PemKind::Certificates,
                ));
                files.push((format!("{who}: key"), key.as_path(), PemKind::PrivateKey));
            }
        }
        files
    }

    /// Checks that `data_dir`, if it exists, is a directory, and reads every file of [`Config::referenced_files`] as the server will
    /// (through `sinkd-tls`), so a configuration that passes `check-config`
    /// does not fail later at start, at a reload or at a relay's first
    /// connection.
    pub fn check_files(&self) -> Result<(), ConfigError> {
        let data_dir = self.data_dir();
        if data_dir.exists() && !data_dir.is_dir() {
            return Err(ConfigError::Global(format!(
                "data_dir {}: exists and is not a directory",
                data_dir.display()
            )));
        }
        for (who, path, kind) in self.referenced_files() {
            let result = match kind {
                PemKind::Certificates => sinkd_tls::read_certificates(path).map(|_| ()),
                PemKind::CaCertificates => sinkd_tls::read_root_store(path).map(|_| ()),
                PemKind::PrivateKey => sinkd_tls::read_private_key(path).map(|_| ()),
            };
            if let Err(reason) = result {
                return Err(ConfigError::Global(format!(
                    "{who}: cannot use {}: {reason}",
                    path.display()
                )));
            }
        }
        if let Some(file) = self.http.as_ref().and_then(|http| http.token_file.as_ref()) {
            sinkd_http::read_token(file)
                .map_err(|error| ConfigError::Global(format!("[http]: {error}")))?;
        }
        Ok(())
    }
}
