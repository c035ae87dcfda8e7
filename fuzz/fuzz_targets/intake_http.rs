//! The lead intake fed raw API Gateway events (bodies base64-encoded or not, signed or
//! not): every answer is one the README documents, never a panic or a 5xx.

#![no_main]

use crm_fuzz::{HttpInput, handlers};
use libfuzzer_sys::fuzz_target;

const DOCUMENTED: &[u16] = &[200, 202, 303, 400, 401, 403, 404, 405, 413, 415, 422, 429];

fuzz_target!(|input: HttpInput| {
    let Some(request) = crm_fuzz::answer_of(&input.event()) else {
        return;
    };
    let h = handlers();
    let response = h.runtime.block_on(h.intake.handle(request));
    let status = response.status().as_u16();
    assert!(DOCUMENTED.contains(&status), "intake answered {status}");
});
