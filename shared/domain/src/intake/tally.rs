//! Tally: `Tally-Signature` is the base64 HMAC-SHA256 of the raw body, keyed with the
//! webhook's signing secret; no timestamp (replays are caught by the submission id).
//! The body lists the answers as `data.fields[]` with `label`, `type` and `value`.

use serde_json::Value;

use super::fields::{Collector, Slot, slot_for, text};
use super::{PayloadError, SignatureError, Signed, base64_body_signature, json};
use crate::lead::LeadFields;

pub const SIGNATURE_HEADER: &str = "tally-signature";

pub fn verify(req: &Signed<'_>) -> Result<(), SignatureError> {
    let secret = req.secret()?;
    let given = req.required(SIGNATURE_HEADER)?;
    base64_body_signature(req, secret, &given)
}

pub fn parse(body: &[u8]) -> Result<LeadFields, PayloadError> {
    let value = json(body)?;
    let data = value
        .get("data")
        .ok_or(PayloadError::UnexpectedShape("Tally"))?;
    let items = data
        .get("fields")
        .and_then(Value::as_array)
        .ok_or(PayloadError::UnexpectedShape("Tally"))?;
    let mut c = Collector::default();
    for item in items {
        let label = item
            .get("label")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
        let slot = match kind {
            "INPUT_EMAIL" => Some(Slot::Email),
            "INPUT_PHONE_NUMBER" => Some(Slot::Phone),
            _ => slot_for(label).or((kind == "TEXTAREA").then_some(Slot::Message)),
        };
        if let Some(slot) = slot {
            let value = item.get("value").unwrap_or(&Value::Null);
            // A choice field's value is a list of option ids; anything else unreadable
            // is skipped rather than failing the whole lead.
            c.put(slot, label, text(value, "field").ok().flatten());
        }
    }
    let id = data
        .get("submissionId")
        .or_else(|| data.get("responseId"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(c.finish(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{hmac_sha256, to_base64};

    /// Shaped like the example payload in Tally's webhook documentation.
    pub const SAMPLE: &str = r#"{
      "eventId": "a4cb511e-d513-4fa5-baee-b815d718dfd1",
      "eventType": "FORM_RESPONSE",
      "createdAt": "2026-06-28T15:00:21.889Z",
      "data": {
        "responseId": "2wgx4n",
        "submissionId": "2wgx4n",
        "respondentId": "dwQKYm",
        "formId": "VwbNEw",
        "formName": "Contact us",
        "createdAt": "2026-06-28T15:00:21.000Z",
        "fields": [
          {"key": "question_mVGEg3", "label": "First name", "type": "INPUT_TEXT", "value": "Alice"},
          {"key": "question_nPGEg4", "label": "Last name", "type": "INPUT_TEXT", "value": "Ng"},
          {"key": "question_3EKz4n", "label": "Work email", "type": "INPUT_EMAIL", "value": "alice@example.com"},
          {"key": "question_w4Q4Xn", "label": "Company", "type": "INPUT_TEXT", "value": "Acme"},
          {"key": "question_3jZaa2", "label": "Phone", "type": "INPUT_PHONE_NUMBER", "value": "+1 555 0100"},
          {"key": "question_nW8bb3", "label": "Anything else?", "type": "TEXTAREA", "value": "Pricing for 20 seats"},
          {"key": "question_mKrr41", "label": "Plan", "type": "MULTIPLE_CHOICE", "value": ["5f3c"], "options": [{"id": "5f3c", "text": "Pro"}]},
          {"key": "question_utm1", "label": "utm_source", "type": "HIDDEN_FIELDS", "value": "newsletter"}
        ]
      }
    }"#;

    #[test]
    fn the_documented_payload_maps_to_a_lead() {
        let f = parse(SAMPLE.as_bytes()).unwrap();
        assert_eq!(f.email.as_deref(), Some("alice@example.com"));
        assert_eq!(f.name.as_deref(), Some("Alice Ng"));
        assert_eq!(f.company.as_deref(), Some("Acme"));
        assert_eq!(f.phone.as_deref(), Some("+1 555 0100"));
        assert_eq!(f.message.as_deref(), Some("Pricing for 20 seats"));
        assert_eq!(
            f.utm.get("utm_source").map(String::as_str),
            Some("newsletter")
        );
        assert_eq!(f.submission_id.as_deref(), Some("2wgx4n"));
        assert_eq!(
            parse(b"{\"eventId\": 1}").unwrap_err(),
            PayloadError::UnexpectedShape("Tally")
        );
    }

    #[test]
    fn base64_signature_of_the_raw_body() {
        let secret = b"tally-secret";
        let good = to_base64(&hmac_sha256(secret, &[SAMPLE.as_bytes()]));
        let run = |sig: String, body: &[u8]| {
            let lookup = move |n: &str| (n == SIGNATURE_HEADER).then(|| sig.clone());
            verify(&Signed {
                header: &lookup,
                body,
                secret: Some(secret),
                now_secs: 0,
                accept_plain: false,
            })
        };
        assert_eq!(run(good.clone(), SAMPLE.as_bytes()), Ok(()));
        let tampered = SAMPLE.replace("Alice", "Mallory");
        assert_eq!(
            run(good.clone(), tampered.as_bytes()),
            Err(SignatureError::Mismatch)
        );
        let hex = crate::signature::to_hex(&hmac_sha256(secret, &[SAMPLE.as_bytes()]));
        assert_eq!(
            run(hex, SAMPLE.as_bytes()),
            Err(SignatureError::Mismatch),
            "hex is not Tally's format"
        );
    }
}
