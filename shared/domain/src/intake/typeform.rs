//! Typeform: `Typeform-Signature: sha256=<base64 HMAC-SHA256 of the raw body>`, keyed
//! with the webhook's secret. Answers are `form_response.answers[]`, each naming its
//! field by id and `ref`; titles are in `form_response.definition.fields[]`; hidden
//! fields (where UTM parameters go) in `form_response.hidden`.

use serde_json::Value;

use super::fields::{Collector, Slot, slot_for, text};
use super::{PayloadError, SignatureError, Signed, base64_body_signature, json};
use crate::lead::LeadFields;

pub const SIGNATURE_HEADER: &str = "typeform-signature";

pub fn verify(req: &Signed<'_>) -> Result<(), SignatureError> {
    let secret = req.secret()?;
    let given = req.required(SIGNATURE_HEADER)?;
    let b64 = given
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed("Typeform-Signature"))?;
    base64_body_signature(req, secret, b64)
}

pub fn parse(body: &[u8]) -> Result<LeadFields, PayloadError> {
    let value = json(body)?;
    let response = value
        .get("form_response")
        .ok_or(PayloadError::UnexpectedShape("Typeform"))?;
    let answers = response
        .get("answers")
        .and_then(Value::as_array)
        .ok_or(PayloadError::UnexpectedShape("Typeform"))?;
    let definitions = response
        .pointer("/definition/fields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let title_of = |id: &str| {
        definitions
            .iter()
            .find(|d| d.get("id").and_then(Value::as_str) == Some(id))
            .and_then(|d| d.get("title").and_then(Value::as_str))
            .unwrap_or_default()
            .to_owned()
    };
    let mut c = Collector::default();
    for answer in answers {
        let kind = answer
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let field = answer.get("field").cloned().unwrap_or(Value::Null);
        let reference = field.get("ref").and_then(Value::as_str).unwrap_or_default();
        let title = title_of(field.get("id").and_then(Value::as_str).unwrap_or_default());
        let slot = match kind {
            "email" => Some(Slot::Email),
            "phone_number" => Some(Slot::Phone),
            _ => slot_for(reference).or_else(|| slot_for(&title)).or((field
                .get("type")
                .and_then(Value::as_str)
                == Some("long_text"))
            .then_some(Slot::Message)),
        };
        let Some(slot) = slot else { continue };
        // The value sits under the answer's type: {"type": "text", "text": "…"}.
        let raw = match kind {
            "choice" => answer.pointer("/choice/label").cloned(),
            "choices" => answer.pointer("/choices/labels").cloned(),
            _ => answer.get(kind).cloned(),
        };
        c.put(
            slot,
            reference,
            raw.and_then(|v| text(&v, "field").ok().flatten()),
        );
    }
    if let Some(hidden) = response.get("hidden").and_then(Value::as_object) {
        for (key, value) in hidden {
            if key.starts_with("utm_") {
                c.put(Slot::Utm, key, text(value, "utm").ok().flatten());
            }
        }
    }
    let id = response
        .get("token")
        .and_then(Value::as_str)
        .or_else(|| value.get("event_id").and_then(Value::as_str))
        .map(str::to_owned);
    Ok(c.finish(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{hmac_sha256, to_base64};

    /// Shaped like the example `form_response` in Typeform's webhook documentation.
    pub const SAMPLE: &str = r#"{
      "event_id": "01HXQ6W5M2H7T6Q7W1H5E0Z8YB",
      "event_type": "form_response",
      "form_response": {
        "form_id": "lT4Z3j",
        "token": "a3a12ec67a1365927098a606107fac15",
        "landed_at": "2026-01-18T18:07:02Z",
        "submitted_at": "2026-01-18T18:17:02Z",
        "hidden": {"utm_source": "linkedin", "utm_campaign": "q1"},
        "definition": {
          "id": "lT4Z3j",
          "title": "Talk to sales",
          "fields": [
            {"id": "DlXFaesGBpoF", "title": "What's your full name?", "type": "short_text", "ref": "01HXQ6W5"},
            {"id": "SMEUb7VJz92Q", "title": "Work email", "type": "email", "ref": "email"},
            {"id": "JwWggjAKtOkA", "title": "Where do you work?", "type": "short_text", "ref": "company"},
            {"id": "pn48RmPazVdM", "title": "Tell us what you need", "type": "long_text", "ref": "01HXQ6X0"},
            {"id": "k6TP9oLGgHjl", "title": "Best number to reach you", "type": "phone_number", "ref": "tel"}
          ]
        },
        "answers": [
          {"type": "text", "text": "Laura Diaz", "field": {"id": "DlXFaesGBpoF", "type": "short_text", "ref": "01HXQ6W5"}},
          {"type": "email", "email": "laura@example.com", "field": {"id": "SMEUb7VJz92Q", "type": "email", "ref": "email"}},
          {"type": "text", "text": "Globex", "field": {"id": "JwWggjAKtOkA", "type": "short_text", "ref": "company"}},
          {"type": "text", "text": "A demo next week", "field": {"id": "pn48RmPazVdM", "type": "long_text", "ref": "01HXQ6X0"}},
          {"type": "phone_number", "phone_number": "+15550100", "field": {"id": "k6TP9oLGgHjl", "type": "phone_number", "ref": "tel"}}
        ]
      }
    }"#;

    #[test]
    fn the_documented_payload_maps_to_a_lead() {
        let f = parse(SAMPLE.as_bytes()).unwrap();
        assert_eq!(f.email.as_deref(), Some("laura@example.com"));
        assert_eq!(
            f.name.as_deref(),
            Some("Laura Diaz"),
            "found by the field's title"
        );
        assert_eq!(
            f.company.as_deref(),
            Some("Globex"),
            "found by the field's ref"
        );
        assert_eq!(
            f.message.as_deref(),
            Some("A demo next week"),
            "a long text answer"
        );
        assert_eq!(f.phone.as_deref(), Some("+15550100"));
        assert_eq!(f.utm.get("utm_campaign").map(String::as_str), Some("q1"));
        assert_eq!(
            f.submission_id.as_deref(),
            Some("a3a12ec67a1365927098a606107fac15")
        );
    }

    #[test]
    fn prefixed_base64_signature_of_the_raw_body() {
        let secret = b"typeform-secret";
        let digest = to_base64(&hmac_sha256(secret, &[SAMPLE.as_bytes()]));
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
        assert_eq!(run(format!("sha256={digest}"), SAMPLE.as_bytes()), Ok(()));
        assert_eq!(
            run(digest.clone(), SAMPLE.as_bytes()),
            Err(SignatureError::Malformed("Typeform-Signature"))
        );
        let tampered = SAMPLE.replace("Globex", "Initech");
        assert_eq!(
            run(format!("sha256={digest}"), tampered.as_bytes()),
            Err(SignatureError::Mismatch)
        );
    }
}
