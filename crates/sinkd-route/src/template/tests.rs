//! Unit tests for templates: the built-in defaults stay fixed, user
//! templates come and go, and names and bodies are checked.

use expect_test::expect;

use super::*;
use crate::{compile, PriorityTable};

#[test]
fn defaults_parse_and_compile() {
    let templates = Templates::with_defaults();
    for (name, text) in DEFAULT_TEMPLATES {
        assert!(templates.is_default(name), "{name}");
        check_name(name).unwrap();
        let body = templates.get(name).unwrap();
        assert_eq!(body, &Priority::parse(text).unwrap());
        assert_eq!(body.to_string(), text, "defaults are written canonically");
        assert!(!compile(&format!("template {name}"), &templates)
            .unwrap()
            .is_empty());
    }
    let names: Vec<&str> = templates.iter().map(|(name, _)| name).collect();
    expect![[r#"["alarms", "all", "audit", "errors", "ppp", "security-events", "vpn"]"#]]
        .assert_eq(&format!("{names:?}"));
    assert_eq!(
        compile("template all", &templates).unwrap(),
        PriorityTable::all()
    );
    assert_eq!(
        compile("template security-events", &templates).unwrap(),
        compile("auth;security;console;ntp", &templates).unwrap()
    );
    assert_eq!(Templates::default(), templates);
}

#[test]
fn defaults_cannot_be_changed_or_removed() {
    let mut templates = Templates::with_defaults();
    let before = templates.clone();
    expect![[r#"template "all" is a built-in default and cannot be changed or removed"#]]
        .assert_eq(&templates.define("all", "auth.*").unwrap_err().to_string());
    expect![[r#"template "vpn" is a built-in default and cannot be changed or removed"#]]
        .assert_eq(&templates.remove("vpn").unwrap_err().to_string());
    templates.clear();
    assert_eq!(templates, before);
}

#[test]
fn user_templates_are_defined_replaced_and_removed() {
    let mut templates = Templates::with_defaults();
    assert!(templates.get("security").is_none());
    templates
        .define("security", "auth.*;authpriv.*;security.*")
        .unwrap();
    assert!(!templates.is_default("security"));
    assert_eq!(
        templates.get("security").unwrap().to_string(),
        "auth.*;authpriv.*;security.*"
    );
    // Defining again replaces, as repeating the device command does.
    templates.define("security", " auth ; authpriv ").unwrap();
    assert_eq!(
        templates.get("security").unwrap().to_string(),
        "auth.*;authpriv.*"
    );
    templates.define("Ops_2.x-y", "*.err").unwrap();
    assert_eq!(templates.iter().count(), DEFAULT_TEMPLATES.len() + 2);

    let removed = templates.remove("security").unwrap();
    assert_eq!(removed.to_string(), "auth.*;authpriv.*");
    expect![[r#"unknown template "security""#]]
        .assert_eq(&templates.remove("security").unwrap_err().to_string());
    expect![[r#"unknown template "security""#]].assert_eq(
        &compile("template security", &templates)
            .unwrap_err()
            .to_string(),
    );

    templates.clear();
    assert!(templates.get("Ops_2.x-y").is_none());
    assert_eq!(templates, Templates::with_defaults());
}

#[test]
fn bad_names_and_bodies_are_refused() {
    let mut templates = Templates::with_defaults();
    let longest = "n".repeat(MAX_TEMPLATE_NAME_LEN);
    templates.define(&longest, "auth").unwrap();
    let cases = [
        ("", "auth"),
        (&"n".repeat(MAX_TEMPLATE_NAME_LEN + 1), "auth"),
        ("has space", "auth"),
        ("slash/", "auth"),
        ("café", "auth"),
        ("mine", "auth;ntp.bogus"),
        ("mine", ""),
        ("mine", "template all"),
        ("mine", "template mine"),
        ("mine", "auth;template all"),
    ];
    let rendered: Vec<String> = cases
        .iter()
        .map(|(name, body)| {
            let error = templates.define(name, body).unwrap_err();
            format!("{name:?} = {body:?} => {error}")
        })
        .collect();
    expect![[r#"
        "" = "auth" => invalid template name "": use 1 to 32 of the characters A-Z a-z 0-9 _ . -
        "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn" = "auth" => invalid template name "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn": use 1 to 32 of the characters A-Z a-z 0-9 _ . -
        "has space" = "auth" => invalid template name "has space": use 1 to 32 of the characters A-Z a-z 0-9 _ . -
        "slash/" = "auth" => invalid template name "slash/": use 1 to 32 of the characters A-Z a-z 0-9 _ . -
        "café" = "auth" => invalid template name "café": use 1 to 32 of the characters A-Z a-z 0-9 _ . -
        "mine" = "auth;ntp.bogus" => template "mine": expression 2 "ntp.bogus": unknown severity "bogus"
        "mine" = "" => template "mine": empty priority: give at least one expression, such as `*.notice`
        "mine" = "template all" => template "mine": a template's body must be expressions, not another template
        "mine" = "template mine" => template "mine": a template's body must be expressions, not another template
        "mine" = "auth;template all" => template "mine": expression 2 "template all": `template NAME` must be the whole priority, not one of several expressions"#]]
    .assert_eq(&rendered.join("\n"));
    assert!(templates.get("mine").is_none());
    assert_eq!(
        templates.define("mine", "auth;ntp.bogus"),
        Err(PriorityError::InTemplate {
            name: "mine".to_owned(),
            error: Box::new(PriorityError::UnknownSeverity {
                index: 2,
                text: "ntp.bogus".to_owned(),
                severity: "bogus".to_owned(),
            }),
        })
    );
}
