//! The project's own scheme, for forms posting JSON directly.
//!
//! `X-Form-Signature: sha256=<hex HMAC-SHA256>` of `"{timestamp}.{body}"`, with
//! `X-Form-Timestamp: <unix seconds>` within five minutes of now: a captured request
//! cannot be replayed later. Only when the older schemes are enabled for a migration
//! (`CRM_ACCEPT_PLAIN_SIGNATURE`) is a signature of the body alone accepted — prefixed
//! or as bare hex — without a timestamp.

use serde_json::Value;

use super::fields::text;
use super::{PayloadError, SignatureError, Signed, check_age, json};
use crate::lead::LeadFields;
use crate::signature::{hmac_sha256, matches_hex, to_hex};

pub const SIGNATURE_HEADER: &str = "x-form-signature";
pub const TIMESTAMP_HEADER: &str = "x-form-timestamp";

/// The `X-Form-Signature` value for `body` sent with `X-Form-Timestamp: timestamp`: what
/// a form backend (or `crm sign`) computes.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        to_hex(&hmac_sha256(secret, &[timestamp.as_bytes(), b".", body]))
    )
}

pub fn verify(req: &Signed<'_>) -> Result<(), SignatureError> {
    let secret = req.secret()?;
    let signature = req.required(SIGNATURE_HEADER)?;
    let timestamp = (req.header)(TIMESTAMP_HEADER).map(|t| t.trim().to_owned());
    let (hex, prefixed) = match signature.strip_prefix("sha256=") {
        Some(hex) => (hex.to_owned(), true),
        None => (signature.clone(), false),
    };
    if !prefixed && (!req.accept_plain || timestamp.is_some()) {
        return Err(SignatureError::Malformed("X-Form-Signature"));
    }
    // Without a timestamp nothing dates the request: replayable forever.
    if timestamp.is_none() && !req.accept_plain {
        return Err(SignatureError::MissingHeader("X-Form-Timestamp"));
    }
    let expected = match &timestamp {
        Some(ts) => {
            let t: i64 = ts
                .parse()
                .map_err(|_| SignatureError::Malformed("X-Form-Timestamp"))?;
            check_age(t, req.now_secs)?;
            hmac_sha256(secret, &[ts.as_bytes(), b".", req.body])
        }
        None => hmac_sha256(secret, &[req.body]),
    };
    if matches_hex(&expected, &hex) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// `{"email", "name", "company", "phone", "message", "utm_*", "submission_id"}`.
pub fn parse(body: &[u8]) -> Result<LeadFields, PayloadError> {
    let value = json(body)?;
    let Value::Object(map) = value else {
        return Err(PayloadError::UnexpectedShape("lead JSON object"));
    };
    let get = |key: &'static str| -> Result<Option<String>, PayloadError> {
        Ok(map.get(key).map(|v| text(v, key)).transpose()?.flatten())
    };
    let mut fields = LeadFields {
        email: get("email")?,
        name: get("name")?,
        company: get("company")?,
        phone: get("phone")?,
        message: get("message")?,
        submission_id: get("submission_id")?,
        ..LeadFields::default()
    };
    for (key, value) in &map {
        if key.starts_with("utm_")
            && let Some(v) = text(value, "utm").ok().flatten()
        {
            fields.utm.insert(key.clone(), v);
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"form-secret";
    const BODY: &[u8] = br#"{"email":"ann@example.com","message":"hi"}"#;
    const NOW: i64 = 1_790_000_000;

    fn check(
        headers: &[(&str, String)],
        accept_plain: bool,
        secret: Option<&[u8]>,
    ) -> Result<(), SignatureError> {
        let lookup = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        verify(&Signed {
            header: &lookup,
            body: BODY,
            secret,
            now_secs: NOW,
            accept_plain,
        })
    }

    fn sig(parts: &[&[u8]]) -> String {
        to_hex(&hmac_sha256(SECRET, parts))
    }

    #[test]
    fn replay_on_lead_needs_a_timestamp() {
        // A signature of the body alone dates nothing: a captured request would replay
        // forever. Only the migration setting accepts it.
        let h = [("X-Form-Signature", format!("sha256={}", sig(&[BODY])))];
        assert_eq!(
            check(&h, false, Some(SECRET)),
            Err(SignatureError::MissingHeader("X-Form-Timestamp"))
        );
        assert_eq!(check(&h, true, Some(SECRET)), Ok(()));
    }

    #[test]
    fn timestamped_signature_within_five_minutes_is_accepted() {
        for ts in [NOW, NOW - 299, NOW + 60] {
            let t = ts.to_string();
            let h = [
                ("x-form-timestamp", t.clone()),
                (
                    "x-form-signature",
                    format!("sha256={}", sig(&[t.as_bytes(), b".", BODY])),
                ),
            ];
            assert_eq!(check(&h, false, Some(SECRET)), Ok(()), "{ts}");
        }
    }

    #[test]
    fn stale_or_future_timestamps_are_replays() {
        for ts in [NOW - 301, NOW + 301] {
            let t = ts.to_string();
            let h = [
                ("x-form-timestamp", t.clone()),
                (
                    "x-form-signature",
                    format!("sha256={}", sig(&[t.as_bytes(), b".", BODY])),
                ),
            ];
            assert!(matches!(
                check(&h, false, Some(SECRET)),
                Err(SignatureError::Stale { .. })
            ));
        }
    }

    #[test]
    fn a_timestamp_not_covered_by_the_signature_fails() {
        let h = [
            ("x-form-timestamp", NOW.to_string()),
            ("x-form-signature", format!("sha256={}", sig(&[BODY]))),
        ];
        assert_eq!(
            check(&h, false, Some(SECRET)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn what_sign_makes_is_accepted() {
        let ts = NOW.to_string();
        let h = [
            ("x-form-timestamp", ts.clone()),
            ("x-form-signature", sign(SECRET, &ts, BODY)),
        ];
        assert_eq!(check(&h, false, Some(SECRET)), Ok(()));
        assert_eq!(
            sign(SECRET, &ts, BODY),
            format!("sha256={}", sig(&[ts.as_bytes(), b".", BODY]))
        );
    }

    #[test]
    fn plain_scheme_only_when_enabled() {
        let h = [("x-form-signature", sig(&[BODY]))];
        assert_eq!(check(&h, true, Some(SECRET)), Ok(()));
        assert_eq!(
            check(&h, false, Some(SECRET)),
            Err(SignatureError::Malformed("X-Form-Signature"))
        );
    }

    #[test]
    fn missing_secret_header_or_wrong_key_fail_closed() {
        let h = [("x-form-signature", format!("sha256={}", sig(&[BODY])))];
        assert_eq!(check(&h, false, None), Err(SignatureError::MissingSecret));
        assert_eq!(
            check(&[], false, Some(SECRET)),
            Err(SignatureError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            check(&h, true, Some(b"other")),
            Err(SignatureError::Mismatch)
        );
        let t = NOW.to_string();
        let timed = [
            ("x-form-timestamp", t.clone()),
            (
                "x-form-signature",
                format!("sha256={}", sig(&[t.as_bytes(), b".", BODY])),
            ),
        ];
        assert_eq!(
            check(&timed, false, Some(b"other")),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn huge_timestamps_are_stale_not_an_overflow() {
        for ts in [i64::MIN, i64::MAX] {
            let t = ts.to_string();
            let h = [
                ("x-form-timestamp", t.clone()),
                (
                    "x-form-signature",
                    format!("sha256={}", sig(&[t.as_bytes(), b".", BODY])),
                ),
            ];
            assert!(
                matches!(
                    check(&h, false, Some(SECRET)),
                    Err(SignatureError::Stale { .. })
                ),
                "{ts}"
            );
        }
    }

    #[test]
    fn fields_and_utm_are_read() {
        let f = parse(br#"{"email":"a@b.co","name":"Ann","phone":5551234,"utm_source":"ads","utm_medium":"cpc","submission_id":42}"#).unwrap();
        assert_eq!(f.email.as_deref(), Some("a@b.co"));
        assert_eq!(f.phone.as_deref(), Some("5551234"));
        assert_eq!(f.submission_id.as_deref(), Some("42"));
        assert_eq!(f.utm.len(), 2);
        assert_eq!(parse(b"{nope").unwrap_err(), PayloadError::MalformedJson);
        assert_eq!(
            parse(b"[1]").unwrap_err(),
            PayloadError::UnexpectedShape("lead JSON object")
        );
        let err = parse(br#"{"email":"a@b.co","name":{"first":"A"}}"#).unwrap_err();
        assert!(matches!(err, PayloadError::Field(e) if e.code() == "invalid_name"));
    }
}
