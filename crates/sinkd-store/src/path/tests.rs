//! Tests of template parsing, sanitising and the "never outside data_dir"
//! property.

use super::*;
use proptest::prelude::*;
use std::path::{Component, Path};

fn fields<'a>(device: &'a str) -> TemplateFields<'a> {
    TemplateFields {
        device,
        facility: "local7",
        severity: "notice",
        app_name: "sshd",
    }
}

#[test]
fn expands_the_manual_style_targets() {
    let template = PathTemplate::parse("{device}/messages").unwrap();
    assert_eq!(template.expand(&fields("router1")), "router1/messages");
    let template = PathTemplate::parse("firewalls/{device}/{facility}.log").unwrap();
    assert_eq!(
        template.expand(&fields("fw-2.example.net")),
        "firewalls/fw-2.example.net/local7.log"
    );
    let template = PathTemplate::parse("{device}/{app_name}-{severity}").unwrap();
    assert_eq!(template.expand(&fields("r")), "r/sshd-notice");
}

#[test]
fn reports_which_fields_are_used() {
    let template = PathTemplate::parse("{device}/{facility}.log").unwrap();
    assert!(template.uses(Field::Device));
    assert!(template.uses(Field::Facility));
    assert!(!template.uses(Field::Severity));
    assert!(!template.is_static());
    assert!(PathTemplate::parse("all/messages").unwrap().is_static());
}

#[test]
fn refuses_unsafe_templates_with_a_clear_error() {
    let cases: &[(&str, TemplateError)] = &[
        ("", TemplateError::Empty),
        ("/var/log/{device}", TemplateError::Absolute),
        ("../{device}", TemplateError::ParentComponent { index: 1 }),
        ("{device}/../x", TemplateError::ParentComponent { index: 2 }),
        ("./{device}", TemplateError::CurrentComponent { index: 1 }),
        (
            ".relay/{device}",
            TemplateError::HiddenComponent { index: 1 },
        ),
        (
            "{device}/.{facility}",
            TemplateError::HiddenComponent { index: 2 },
        ),
        (
            "{device}//messages",
            TemplateError::EmptyComponent { index: 2 },
        ),
        ("{device}/", TemplateError::EmptyComponent { index: 2 }),
        ("{device", TemplateError::UnbalancedBrace { offset: 0 }),
        ("device}", TemplateError::UnbalancedBrace { offset: 6 }),
        ("{dev/ice}", TemplateError::UnbalancedBrace { offset: 0 }),
        (
            "{host}/messages",
            TemplateError::UnknownField {
                name: "host".into(),
                offset: 0,
            },
        ),
        (
            "my logs/{device}",
            TemplateError::BadCharacter { ch: ' ', offset: 2 },
        ),
        (
            "a\\b/{device}",
            TemplateError::BadCharacter {
                ch: '\\',
                offset: 1,
            },
        ),
        (
            "é/{device}",
            TemplateError::BadCharacter {
                ch: 'é', offset: 0
            },
        ),
    ];
    for (source, expected) in cases {
        assert_eq!(
            PathTemplate::parse(source).as_ref(),
            Err(expected),
            "{source:?}"
        );
    }
    let message = PathTemplate::parse("{host}").unwrap_err().to_string();
    assert!(
        message.contains("{host}") && message.contains("{device}"),
        "{message}"
    );
}

#[test]
fn sanitizes_hostile_device_names() {
    assert_eq!(sanitize_component("router1"), "router1");
    assert!(matches!(sanitize_component("router1"), Cow::Borrowed(_)));
    assert_eq!(sanitize_component("10.0.0.1"), "10.0.0.1");
    assert_eq!(sanitize_component("fe80::1"), "fe80::1");
    assert_eq!(sanitize_component(""), "_");
    assert_eq!(sanitize_component("."), "_.");
    assert_eq!(sanitize_component(".."), "_..");
    assert_eq!(sanitize_component(".hidden"), "_.hidden");
    assert_eq!(sanitize_component("../../etc/passwd"), "_.._.._etc_passwd");
    assert_eq!(sanitize_component("a/b"), "a_b");
    assert_eq!(sanitize_component("nul\0byte"), "nul_byte");
    assert_eq!(sanitize_component("tab\there\n"), "tab_here_");
    assert_eq!(sanitize_component("héllo"), "h__llo");
    assert_eq!(sanitize_component_bytes(b"\xff\xfe"), "__");
    let long = "x".repeat(10_000);
    assert_eq!(sanitize_component(&long).len(), MAX_COMPONENT_BYTES);
    let long_dot = format!(".{}", "y".repeat(500));
    let cut = sanitize_component(&long_dot);
    assert_eq!(cut.len(), MAX_COMPONENT_BYTES);
    assert!(cut.starts_with("_."));
}

#[test]
fn caps_components_built_from_several_long_fields() {
    let template = PathTemplate::parse("{device}{app_name}{facility}/x").unwrap();
    let long = "z".repeat(1000);
    let fields = TemplateFields {
        device: &long,
        app_name: &long,
        facility: &long,
        severity: "",
    };
    let path = template.expand(&fields);
    let first = path.split('/').next().unwrap();
    assert_eq!(first.len(), 255);
    validate_stream_path(&path).unwrap();
}

#[test]
fn expand_into_appends_without_clearing() {
    let template = PathTemplate::parse("{device}/messages").unwrap();
    let mut out = String::from("prefix:");
    template.expand_into(&fields("r1"), &mut out);
    assert_eq!(out, "prefix:r1/messages");
}

#[test]
fn validates_stream_paths() {
    validate_stream_path("router1/messages").unwrap();
    for bad in [
        "", "/abs", "a//b", "a/", "../x", "a/./b", "a/..", "nul\0", "ctl\x01",
    ] {
        assert!(validate_stream_path(bad).is_err(), "{bad:?}");
    }
    assert!(validate_stream_path(&"a".repeat(256)).is_err());
}

/// Lexically normalises `path` the way a path walk would: `..` pops.
fn normalise(path: &Path) -> Vec<Component<'_>> {
    let mut out = Vec::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

proptest! {
    #[test]
    fn no_field_value_escapes_data_dir(
        device in any::<String>(),
        facility in any::<String>(),
        app_name in "(\\PC|[./\\\\\u{0}])*",
        template_index in 0usize..4,
    ) {
        let sources = [
            "{device}/messages",
            "firewalls/{device}/{facility}.log",
            "{device}{app_name}",
            "x.{app_name}/{severity}/{device}",
        ];
        let template = PathTemplate::parse(sources[template_index]).unwrap();
        let fields = TemplateFields { device: &device, facility: &facility, severity: &app_name, app_name: &app_name };
        let stream = template.expand(&fields);
        prop_assert!(validate_stream_path(&stream).is_ok(), "{:?}", stream);
        let data_dir = Path::new("/var/lib/sinkd");
        let joined = data_dir.join(&stream);
        prop_assert!(joined.components().all(|c| !matches!(c, Component::ParentDir | Component::CurDir)));
        let normalised = normalise(&joined);
        let root = normalise(data_dir);
        prop_assert!(normalised.len() > root.len());
        prop_assert_eq!(&normalised[..root.len()], &root[..]);
        prop_assert_eq!(normalised.len() - root.len(), stream.split('/').count());
    }

    #[test]
    fn sanitized_value_is_one_normal_component(value in any::<Vec<u8>>()) {
        let component = sanitize_component_bytes(&value);
        let mut components = Path::new(component.as_ref()).components();
        prop_assert!(matches!(components.next(), Some(Component::Normal(_))));
        prop_assert!(components.next().is_none());
        prop_assert!(!component.is_empty() && component.len() <= MAX_COMPONENT_BYTES);
        prop_assert!(!component.starts_with('.'));
    }
}
