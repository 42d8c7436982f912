//! Fuzz target: the configuration readers an operator feeds by hand. The
//! TOML reader and its checks must answer any text with a configuration or
//! an error, never a panic; so must the device-config importer, and
//! whatever it prints must read back as a valid configuration.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sinkd_config::{import_device_config, Config};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Config::from_toml(text);
    if let Ok(toml) = import_device_config(text) {
        if let Err(error) = Config::from_toml(&toml) {
            panic!("imported {text:?} into TOML that does not read back: {error}\n{toml}");
        }
    }
});
