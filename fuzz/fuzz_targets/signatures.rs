//! Every signature verifier, with arbitrary headers, bodies, secrets and clocks: never
//! a panic, and what the sender's own signing makes always verifies.

#![no_main]

use arbitrary::Arbitrary;
use crm_domain::intake::{PROVIDERS, Signed, own};
use crm_domain::notion_signature;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    provider: u8,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    secret: Option<Vec<u8>>,
    now_secs: i64,
    accept_plain: bool,
    token: String,
    notion_header: Option<String>,
}

fuzz_target!(|input: Input| {
    let provider = &PROVIDERS[usize::from(input.provider) % PROVIDERS.len()];
    let header = |name: &str| {
        input
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let signed = Signed {
        header: &header,
        body: &input.body,
        secret: input.secret.as_deref(),
        now_secs: input.now_secs,
        accept_plain: input.accept_plain,
    };
    let _ = (provider.verify)(&signed);
    let _ = notion_signature::verify(&input.token, &input.body, input.notion_header.as_deref());

    // What a sender signs with the secret verifies.
    if let Some(secret) = input.secret.as_deref().filter(|s| !s.is_empty()) {
        let now = input.now_secs.clamp(0, 4_102_444_800);
        let ts = now.to_string();
        let signature = own::sign(secret, &ts, &input.body);
        let header = |name: &str| match name.to_ascii_lowercase().as_str() {
            "x-form-timestamp" => Some(ts.clone()),
            "x-form-signature" => Some(signature.clone()),
            _ => None,
        };
        let signed = Signed {
            header: &header,
            body: &input.body,
            secret: Some(secret),
            now_secs: now,
            accept_plain: false,
        };
        assert!(own::verify(&signed).is_ok(), "own signature refused");
    }
    let notion = notion_signature::sign(&input.token, &input.body);
    assert!(notion_signature::verify(&input.token, &input.body, Some(&notion)));
});
