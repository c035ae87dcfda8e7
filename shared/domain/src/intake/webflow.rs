//! Webflow's form-submission webhook (developers.webflow.com, "Working with webhooks"
//! and "Verifying requests"): `x-webflow-timestamp` is milliseconds since the epoch and
//! `x-webflow-signature` the hex HMAC-SHA256 of `"{timestamp}:{body}"`, keyed with the
//! app's client secret (webhooks made with an OAuth app; those made in the site
//! dashboard are unsigned, and are refused here: fail closed). A request older than
//! five minutes is refused as a replay. The body is `{"triggerType": "form_submission",
//! "payload": {"name", "data": {label: value}, "id", …}}`.

use serde_json::Value;

use super::fields::{Collector, slot_for, text};
use super::{PayloadError, SignatureError, Signed, check_age, json};
use crate::lead::LeadFields;

pub const SIGNATURE_HEADER: &str = "x-webflow-signature";
pub const TIMESTAMP_HEADER: &str = "x-webflow-timestamp";

pub fn verify(req: &Signed<'_>) -> Result<(), SignatureError> {
    let secret = req.secret()?;
    let stamp = req.required(TIMESTAMP_HEADER)?;
    let given = req.required(SIGNATURE_HEADER)?;
    let millis: i64 = stamp
        .parse()
        .map_err(|_| SignatureError::Malformed(TIMESTAMP_HEADER))?;
    check_age(millis.div_euclid(1000), req.now_secs)?;
    let expected = crate::signature::hmac_sha256(secret, &[stamp.as_bytes(), b":", req.body]);
    if crate::signature::matches_hex(&expected, &given) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

pub fn parse(body: &[u8]) -> Result<LeadFields, PayloadError> {
    let value = json(body)?;
    if value.get("triggerType").and_then(Value::as_str) != Some("form_submission") {
        return Err(PayloadError::UnexpectedShape("Webflow form_submission"));
    }
    let payload = value
        .get("payload")
        .ok_or(PayloadError::UnexpectedShape("Webflow form_submission"))?;
    let data = payload
        .get("data")
        .and_then(Value::as_object)
        .ok_or(PayloadError::UnexpectedShape("Webflow form_submission"))?;
    let mut c = Collector::default();
    for (label, value) in data {
        if let Some(slot) = slot_for(label) {
            c.put(slot, label, text(value, "field").ok().flatten());
        }
    }
    let id = payload.get("id").and_then(Value::as_str).map(str::to_owned);
    Ok(c.finish(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{hmac_sha256, to_hex};

    /// Shaped like the form_submission example in Webflow's webhook documentation.
    pub const SAMPLE: &str = r#"{
      "triggerType": "form_submission",
      "payload": {
        "name": "Contact Us",
        "siteId": "65427cf400e02b306eaa049c",
        "data": {
          "First Name": "Zaphod",
          "Last Name": "Beeblebrox",
          "email": "zaphod@heartofgold.ai",
          "Phone Number": 15550000000,
          "Company": "Heart of Gold",
          "Message": "Improbable, but interested"
        },
        "schema": [
          {"fieldName": "First Name", "fieldType": "FormTextInput", "fieldElementId": "285042f7-d554-dc7f-102c-aa10d6a2d2c4"},
          {"fieldName": "email", "fieldType": "FormTextInput", "fieldElementId": "285042f7-d554-dc7f-102c-aa10d6a2d2c6"}
        ],
        "submittedAt": "2022-09-14T12:35:16.117Z",
        "id": "6321ca84df3949bfc6752327",
        "formId": "65429eadebe8a9f3a30f62d0",
        "formElementId": "4e038d2c-6a1e-4953-7be9-a59a2b453177"
      }
    }"#;

    #[test]
    fn the_documented_payload_maps_to_a_lead() {
        let f = parse(SAMPLE.as_bytes()).unwrap();
        assert_eq!(f.email.as_deref(), Some("zaphod@heartofgold.ai"));
        assert_eq!(f.name.as_deref(), Some("Zaphod Beeblebrox"));
        assert_eq!(f.phone.as_deref(), Some("15550000000"));
        assert_eq!(f.company.as_deref(), Some("Heart of Gold"));
        assert_eq!(f.message.as_deref(), Some("Improbable, but interested"));
        assert_eq!(f.submission_id.as_deref(), Some("6321ca84df3949bfc6752327"));
        assert_eq!(
            parse(br#"{"triggerType": "site_publish", "payload": {}}"#).unwrap_err(),
            PayloadError::UnexpectedShape("Webflow form_submission")
        );
    }

    #[test]
    fn hex_signature_of_the_timestamp_and_the_raw_body() {
        let secret = b"webflow-client-secret";
        let now_ms: i64 = 1_663_849_649_733;
        let sign = |stamp: &str, body: &str| {
            to_hex(&hmac_sha256(
                secret,
                &[stamp.as_bytes(), b":", body.as_bytes()],
            ))
        };
        let run = |stamp: String, sig: String, body: &[u8], now_ms: i64| {
            let lookup = move |n: &str| match n {
                SIGNATURE_HEADER => Some(sig.clone()),
                TIMESTAMP_HEADER => Some(stamp.clone()),
                _ => None,
            };
            verify(&Signed {
                header: &lookup,
                body,
                secret: Some(secret),
                now_secs: now_ms / 1000,
                accept_plain: false,
            })
        };
        let stamp = now_ms.to_string();
        let good = sign(&stamp, SAMPLE);
        assert_eq!(
            run(stamp.clone(), good.clone(), SAMPLE.as_bytes(), now_ms),
            Ok(())
        );
        let tampered = SAMPLE.replace("Zaphod", "Mallory");
        assert_eq!(
            run(stamp.clone(), good.clone(), tampered.as_bytes(), now_ms),
            Err(SignatureError::Mismatch)
        );
        // A captured request replayed six minutes later.
        assert!(matches!(
            run(
                stamp.clone(),
                good.clone(),
                SAMPLE.as_bytes(),
                now_ms + 360_000
            ),
            Err(SignatureError::Stale { .. })
        ));
        // The timestamp is part of what is signed.
        let later = (now_ms + 1).to_string();
        assert_eq!(
            run(later, good, SAMPLE.as_bytes(), now_ms),
            Err(SignatureError::Mismatch)
        );
    }
}
