//! Fuzz target: the priority-expression compiler. Whatever compiles must
//! print in a canonical form that compiles to the same table.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sinkd_route::{Priority, Templates};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let templates = Templates::with_defaults();
    if let Ok(priority) = Priority::parse(text) {
        if let Ok(table) = priority.compile(&templates) {
            let canonical = priority.to_string();
            let again = Priority::parse(&canonical).and_then(|p| p.compile(&templates));
            assert_eq!(again.ok(), Some(table), "canonical form {canonical:?} of {text:?}");
        }
    }
});
