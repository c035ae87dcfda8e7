//! Every provider's payload parser, then the lead's validation, over arbitrary bytes:
//! a lead or a named error, never a panic; a valid lead's fields fit Notion's limits.

#![no_main]

use crm_domain::Lead;
use crm_domain::intake::PROVIDERS;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for provider in PROVIDERS {
        let Ok(fields) = (provider.parse)(data) else {
            continue;
        };
        if let Ok(lead) = Lead::parse(fields, provider.name, data, 1_780_000_000_000) {
            assert!(!lead.dedupe_key().is_empty());
            let _ = lead.activity_details(&lead.dedupe_key());
            let _ = lead.display_name();
        }
    }
});
