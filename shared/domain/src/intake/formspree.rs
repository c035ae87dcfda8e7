//! Formspree: `Formspree-Signature: t=<unix>,v1=<hex>` where `v1` is the HMAC-SHA256 of
//! `"{t}.{raw body}"`; `t` must be within five minutes of now. The body carries the
//! submitted fields under `submission` (older payloads: at the top level).

use super::fields::{Collector, Slot, slot_for, text};
use super::{PayloadError, SignatureError, Signed, check_age, json};
use crate::lead::LeadFields;
use crate::signature::{hmac_sha256, matches_hex};

pub const SIGNATURE_HEADER: &str = "formspree-signature";

pub fn verify(req: &Signed<'_>) -> Result<(), SignatureError> {
    let secret = req.secret()?;
    let header = req.required(SIGNATURE_HEADER)?;
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = Some(value.to_owned()),
            Some(("v1", value)) => v1 = Some(value.to_owned()),
            _ => {}
        }
    }
    let malformed = SignatureError::Malformed("Formspree-Signature");
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err(malformed);
    };
    let ts: i64 = t.parse().map_err(|_| malformed)?;
    check_age(ts, req.now_secs)?;
    if matches_hex(&hmac_sha256(secret, &[t.as_bytes(), b".", req.body]), &v1) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

pub fn parse(body: &[u8]) -> Result<LeadFields, PayloadError> {
    let value = json(body)?;
    let fields = value
        .get("submission")
        .unwrap_or(&value)
        .as_object()
        .ok_or(PayloadError::UnexpectedShape("Formspree"))?;
    let mut c = Collector::default();
    for (key, value) in fields {
        let slot = match key.as_str() {
            "_replyto" | "email" => Some(Slot::Email),
            k if k.starts_with('_') => None,
            k => slot_for(k),
        };
        if let Some(slot) = slot {
            c.put(slot, key, text(value, "field").ok().flatten());
        }
    }
    // Formspree sends no submission id: the body's hash identifies a retry.
    Ok(c.finish(None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::to_hex;

    /// Shaped like the webhook body in Formspree's documentation.
    pub const SAMPLE: &str = r#"{
      "form": "mqkrwzyx",
      "keys": ["email", "name", "company", "message", "utm_source"],
      "submission": {
        "_date": "2026-05-07T16:09:10.000Z",
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "company": "Analytical Engines Ltd",
        "message": "Loved the docs.",
        "utm_source": "github"
      }
    }"#;

    const NOW: i64 = 1_790_000_000;

    fn run(header: String, body: &[u8]) -> Result<(), SignatureError> {
        let lookup = move |n: &str| (n == SIGNATURE_HEADER).then(|| header.clone());
        verify(&Signed {
            header: &lookup,
            body,
            secret: Some(b"fs-secret"),
            now_secs: NOW,
            accept_plain: false,
        })
    }

    fn sign(t: i64, body: &[u8]) -> String {
        let ts = t.to_string();
        format!(
            "t={ts},v1={}",
            to_hex(&hmac_sha256(b"fs-secret", &[ts.as_bytes(), b".", body]))
        )
    }

    #[test]
    fn the_documented_payload_maps_to_a_lead() {
        let f = parse(SAMPLE.as_bytes()).unwrap();
        assert_eq!(f.email.as_deref(), Some("ada@example.com"));
        assert_eq!(f.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(f.company.as_deref(), Some("Analytical Engines Ltd"));
        assert_eq!(f.message.as_deref(), Some("Loved the docs."));
        assert_eq!(f.utm.get("utm_source").map(String::as_str), Some("github"));
        assert_eq!(f.submission_id, None);
    }

    #[test]
    fn timestamped_hex_signature() {
        let body = SAMPLE.as_bytes();
        assert_eq!(run(sign(NOW - 10, body), body), Ok(()));
        assert!(matches!(
            run(sign(NOW - 301, body), body),
            Err(SignatureError::Stale { .. })
        ));
        let tampered = SAMPLE.replace("Ada", "Eve");
        assert_eq!(
            run(sign(NOW, body), tampered.as_bytes()),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            run("v1=abc".into(), body),
            Err(SignatureError::Malformed("Formspree-Signature"))
        );
    }
}
