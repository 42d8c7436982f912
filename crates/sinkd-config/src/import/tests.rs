//! The manual's own examples, pasted with prompts, must import into a
//! configuration with the same targets, priorities and formats.

use super::*;
use crate::Target;

#[test]
fn manual_examples_with_prompts() {
    let text = "\
example:/#> configure
example:/config/#> logging
example:/config/logging/#> external-logging 10M 10
example:/config/logging/#> template sec priority auth.*;security.*
example:/config/logging/#> sink
example:/config/logging/sink-1/#> target udp address foobar.example.com
example:/config/logging/sink-1/#> priority *.notice
example:/config/logging/sink-1/#> end
example:/config/logging/#> sink target udp address 10.0.0.9 format rfc5424 priority console.notice;security.warning
example:/config/logging/#> sink 5 target file internal my-file.log priority template sec
example:/config/logging/#> show sink
example:/config/logging/#> leave
";
    let toml = import_device_config(text).unwrap();
    let config = Config::from_toml(&toml).unwrap();
    assert_eq!(config.sinks.len(), 3, "{toml}");
    assert_eq!(config.sinks[0].name, "sink-1");
    assert_eq!(
        config.sinks[0].target_text,
        "udp address foobar.example.com"
    );
    assert_eq!(config.sinks[0].priority_text, "*.notice");
    assert_eq!(config.sinks[0].format.name(), "rfc3164");
    assert_eq!(
        config.sinks[1].priority_text,
        "console.notice;security.warning"
    );
    assert_eq!(config.sinks[1].format.name(), "rfc5424");
    assert!(matches!(config.sinks[2].target, Target::File(_)));
    assert_eq!(config.sinks[2].name, "sink-5");
    assert_eq!(config.storage.segment_max_bytes, 10 << 20);
    assert_eq!(config.storage.segment_max_count, 10);
    assert!(toml.contains("media \"internal\" dropped"), "{toml}");
}

#[test]
fn no_sink_and_no_template_remove() {
    let text = "sink 1 target udp address a\nsink 2 target udp address b\nno sink 1\ntemplate t priority auth\nno template t\n";
    let toml = import_device_config(text).unwrap();
    let config = Config::from_toml(&toml).unwrap();
    assert_eq!(config.sinks.len(), 1);
    assert_eq!(config.sinks[0].name, "sink-2");
    assert!(config.templates.get("t").is_none());
}

#[test]
fn errors_name_the_line() {
    let error =
        import_device_config("sink\ntarget udp address a\npriority auth.bogus\nend\n").unwrap_err();
    assert!(error.to_string().contains("bogus"), "{error}");
    let error = import_device_config("logging\nfrobnicate 3\n").unwrap_err();
    assert!(error.to_string().starts_with("line 2:"), "{error}");
    let error = import_device_config("priority *.*\n").unwrap_err();
    assert!(
        error.to_string().contains("outside a `sink` context"),
        "{error}"
    );
}

#[test]
fn dhcp_targets_become_notes() {
    let toml = import_device_config("sink target udp dhcp priority *.*\n").unwrap();
    assert!(toml.contains("# note: sink 1: `udp dhcp`"), "{toml}");
    assert_eq!(Config::from_toml(&toml).unwrap().sinks.len(), 0);
}

#[test]
fn trailing_semicolon_as_the_manual_types_it() {
    let text = "sink target udp address 10.0.0.9 priority auth;\n";
    let toml = import_device_config(text).unwrap();
    let config = Config::from_toml(&toml).unwrap();
    assert_eq!(config.sinks.len(), 1, "{toml}");
    assert_eq!(config.sinks[0].priority_text, "auth;");
}
