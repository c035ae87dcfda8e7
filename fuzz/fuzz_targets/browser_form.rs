//! A browser form's body in every encoding (url-encoded, multipart, JSON), then the
//! spam checks and the lead's validation, over arbitrary bytes: fields or a named error,
//! never a panic; what passes is a lead whose Activity can be written.

#![no_main]

use std::sync::LazyLock;

use crm_domain::Lead;
use crm_domain::browser_form::{Encoding, FormConfig, body, parse_forms, screen};
use libfuzzer_sys::fuzz_target;

static FORM: LazyLock<FormConfig> = LazyLock::new(|| {
    parse_forms(
        r#"{"f": {"origins": ["https://a.com"], "min_fill_seconds": 2,
                  "captcha": {"provider": "turnstile", "site_key": "k"}}}"#,
    )
    .expect("the fuzz form")
    .remove("f")
    .expect("the fuzz form")
});

fuzz_target!(|data: &[u8]| {
    let encodings = [
        Encoding::UrlEncoded,
        Encoding::Json,
        Encoding::Multipart {
            boundary: "XyZ".into(),
        },
    ];
    for encoding in &encodings {
        let Ok(fields) = body::fields(encoding, data) else {
            continue;
        };
        let Ok(screened) = screen(&FORM, &fields) else {
            continue;
        };
        assert!(screened.captcha_token.is_some(), "a captcha form passed without a token");
        if let Ok(lead) = Lead::parse(screened.fields, "form:f", screened.canonical.as_bytes(), 0) {
            let _ = lead.activity_details(&lead.dedupe_key());
        }
    }
});
