//! The email normaliser over arbitrary text: an address or a named error, never a
//! panic; what it accepts reads back as itself (its canonical form and what was typed
//! both parse to the same contact), the canonical form's domain is ASCII, and `Debug`
//! never shows the whole address.

#![no_main]

use crm_domain::ContactEmail;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(email) = ContactEmail::parse(text) else {
        return;
    };
    let canonical = ContactEmail::parse(email.as_str()).expect("the canonical form parses");
    assert_eq!(canonical, email, "the canonical form is a fixed point");
    let typed = ContactEmail::parse(email.typed()).expect("what was typed parses");
    assert_eq!(typed, email, "what was typed is the same contact");
    let (_, domain) = email.as_str().split_once('@').expect("one @");
    assert!(domain.is_ascii(), "the domain is in A-labels");
    assert!(email.as_str().chars().count() <= crm_domain::email::MAX_EMAIL_LEN);
    let debug = format!("{email:?}");
    let local = email.as_str().split('@').next().unwrap_or_default();
    if local.chars().count() > 1 {
        assert!(!debug.contains(email.as_str()), "Debug shows the whole address");
    }
});
