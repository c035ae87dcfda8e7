//! What a browser form's fields say: a lead's fields, or spam. Pure: the checks that
//! need the network or the store (captcha, per-address limit) are the handler's.

use super::config::{CaptchaProvider, FormConfig};
use crate::lead::LeadFields;

/// The field the snippet fills with the milliseconds between the page loading and the
/// form being sent (measured in the browser, so no clock skew enters it).
pub const FILL_TIME_FIELD: &str = "_crm_fill_ms";
/// The field the snippet fills with an id made once per page view, so a double click
/// or a resent post is one lead.
pub const SUBMISSION_ID_FIELD: &str = "submission_id";

/// Why a submission is taken for a bot's. The sender is answered as if it succeeded
/// (a bot learns nothing); nothing reaches the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spam {
    /// The hidden field was filled in.
    Honeypot,
    /// Sent sooner after the page loaded than a person can fill the form, or without
    /// the timing the snippet's script adds.
    TooFast,
    /// The form has a captcha and the submission carries no token.
    CaptchaMissing,
    /// The captcha provider said the token is not a person's.
    CaptchaRefused,
}

impl Spam {
    pub fn code(self) -> &'static str {
        match self {
            Self::Honeypot => "honeypot",
            Self::TooFast => "too_fast",
            Self::CaptchaMissing => "captcha_missing",
            Self::CaptchaRefused => "captcha_refused",
        }
    }
}

/// A submission that passed the checks this module can make.
#[derive(Debug, Clone, PartialEq)]
pub struct Screened {
    pub fields: LeadFields,
    /// The captcha widget's token, when the form has a captcha and one was sent.
    pub captcha_token: Option<String>,
    /// The lead's fields and every other field the visitor filled, in a fixed form: what
    /// identifies the submission when it names no id.
    pub canonical: String,
}

/// Checks `submitted` against `form` and maps its fields. A field the form does not
/// name is kept in the message (`Budget: 5k`), so nothing a visitor typed is lost.
pub fn screen(form: &FormConfig, submitted: &[(String, String)]) -> Result<Screened, Spam> {
    let get = |name: &str| {
        submitted
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    if let Some(honeypot) = &form.honeypot
        && get(honeypot).is_some_and(|v| !v.is_empty())
    {
        return Err(Spam::Honeypot);
    }
    if form.min_fill_seconds > 0 {
        let fill_ms = get(FILL_TIME_FIELD).and_then(|v| v.parse::<u64>().ok());
        if fill_ms.is_none_or(|ms| ms < u64::from(form.min_fill_seconds) * 1000) {
            return Err(Spam::TooFast);
        }
    }
    let captcha_token = match &form.captcha {
        Some(c) => match get(c.provider.token_field()).filter(|t| !t.is_empty()) {
            Some(token) => Some(token.to_owned()),
            None => return Err(Spam::CaptchaMissing),
        },
        None => None,
    };

    let Mapped { fields, canonical } = mapped(form, submitted);
    Ok(Screened {
        fields,
        captcha_token,
        canonical,
    })
}

/// A submission's fields as a lead's, mapped by the form's names, and its canonical
/// text — whatever the checks make of it: spam is answered with the id a kept
/// submission would get, so the mapping is the same for both.
pub struct Mapped {
    pub fields: LeadFields,
    pub canonical: String,
}

/// The mapping of [`screen`], without its checks.
pub fn mapped(form: &FormConfig, submitted: &[(String, String)]) -> Mapped {
    let get = |name: &str| {
        submitted
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    let names = &form.fields;
    let is_control = |name: &str| {
        let n = name.to_ascii_lowercase();
        n.starts_with("_crm_")
            || n == SUBMISSION_ID_FIELD
            || form.honeypot.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(&n))
            || [CaptchaProvider::Turnstile, CaptchaProvider::Hcaptcha]
                .iter()
                .any(|p| p.token_field() == n)
            // hCaptcha's widget also fills reCAPTCHA's field, for drop-in compatibility.
            || n == "g-recaptcha-response"
    };
    let mut fields = LeadFields::default();
    let mut extra = Vec::new();
    for (name, value) in submitted {
        let value = value.trim();
        if is_control(name) || value.is_empty() {
            continue;
        }
        let slot = if name.eq_ignore_ascii_case(&names.email) {
            &mut fields.email
        } else if name.eq_ignore_ascii_case(&names.name) {
            &mut fields.name
        } else if name.eq_ignore_ascii_case(&names.company) {
            &mut fields.company
        } else if name.eq_ignore_ascii_case(&names.phone) {
            &mut fields.phone
        } else if name.eq_ignore_ascii_case(&names.message) {
            &mut fields.message
        } else if name.to_ascii_lowercase().starts_with("utm_") {
            fields
                .utm
                .entry(name.to_ascii_lowercase())
                .or_insert_with(|| value.to_owned());
            continue;
        } else {
            extra.push(format!("{}: {value}", label(name)));
            continue;
        };
        // Checkboxes repeat a name: every value is kept.
        match slot {
            Some(existing) => {
                existing.push_str(", ");
                existing.push_str(value);
            }
            None => *slot = Some(value.to_owned()),
        }
    }
    if !extra.is_empty() {
        let extra = extra.join("\n");
        fields.message = Some(match fields.message.take() {
            Some(m) => format!("{m}\n\n{extra}"),
            None => extra,
        });
    }
    let canonical = serde_json::json!([
        fields.email,
        fields.name,
        fields.company,
        fields.phone,
        fields.message,
        fields.utm,
    ])
    .to_string();
    fields.submission_id = get(SUBMISSION_ID_FIELD)
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    Mapped { fields, canonical }
}

/// `company_size` → `Company size`.
fn label(name: &str) -> String {
    let spaced = name.replace(['_', '-'], " ");
    let mut chars = spaced.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::browser_form::config::parse_forms;

    fn form(extra: &str) -> FormConfig {
        let json = format!(r#"{{"f": {{"origins": ["https://a.com"]{extra}}}}}"#);
        parse_forms(&json).unwrap().remove("f").unwrap()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn fields_map_by_the_forms_names_and_the_rest_join_the_message() {
        let form = form(r#", "fields": {"email": "your-email", "message": "how"}"#);
        let s = screen(
            &form,
            &pairs(&[
                ("your-email", "Ann@Example.com"),
                ("name", "Ann"),
                ("how", "Call me"),
                ("company_size", "11-50"),
                ("topic", "pricing"),
                ("topic", "support"),
                ("utm_Source", "ads"),
                ("_gotcha", ""),
                ("submission_id", "p-1"),
                ("_crm_fill_ms", "5000"),
            ]),
        )
        .unwrap();
        assert_eq!(s.fields.email.as_deref(), Some("Ann@Example.com"));
        assert_eq!(s.fields.name.as_deref(), Some("Ann"));
        assert_eq!(
            s.fields.message.as_deref(),
            Some("Call me\n\nCompany size: 11-50\nTopic: pricing\nTopic: support")
        );
        assert_eq!(s.fields.utm["utm_source"], "ads");
        assert_eq!(s.fields.submission_id.as_deref(), Some("p-1"));
        assert_eq!(s.captcha_token, None);
        assert!(!s.canonical.contains("p-1"), "the id is not content");
    }

    #[test]
    fn a_filled_honeypot_is_spam_an_empty_one_is_not() {
        let form = form("");
        let mut fields = pairs(&[("email", "a@b.co"), ("_gotcha", "")]);
        assert!(screen(&form, &fields).is_ok());
        fields[1].1 = "http://spam.example".into();
        assert_eq!(screen(&form, &fields), Err(Spam::Honeypot));
        let off = self::form(r#", "honeypot": """#);
        assert!(screen(&off, &pairs(&[("email", "a@b.co"), ("_gotcha", "x")])).is_ok());
    }

    #[test]
    fn too_fast_or_untimed_is_spam_when_a_fill_time_is_set() {
        let form = form(r#", "min_fill_seconds": 3"#);
        let with = |ms: &str| pairs(&[("email", "a@b.co"), (FILL_TIME_FIELD, ms)]);
        assert!(screen(&form, &with("3000")).is_ok());
        assert_eq!(screen(&form, &with("2999")), Err(Spam::TooFast));
        assert_eq!(screen(&form, &with("soon")), Err(Spam::TooFast));
        assert_eq!(
            screen(&form, &pairs(&[("email", "a@b.co")])),
            Err(Spam::TooFast)
        );
        assert!(self::form("").min_fill_seconds == 0);
        assert!(screen(&self::form(""), &pairs(&[("email", "a@b.co")])).is_ok());
    }

    #[test]
    fn a_captcha_form_needs_the_widgets_token() {
        let form = form(r#", "captcha": {"provider": "hcaptcha", "site_key": "k"}"#);
        assert_eq!(
            screen(&form, &pairs(&[("email", "a@b.co")])),
            Err(Spam::CaptchaMissing)
        );
        let s = screen(
            &form,
            &pairs(&[
                ("email", "a@b.co"),
                ("h-captcha-response", "tok"),
                ("g-recaptcha-response", "tok"),
            ]),
        )
        .unwrap();
        assert_eq!(s.captcha_token.as_deref(), Some("tok"));
        assert_eq!(s.fields.message, None, "tokens are not message lines");
    }

    #[test]
    fn the_same_content_is_the_same_canonical_text() {
        let form = form("");
        let a = screen(
            &form,
            &pairs(&[("email", "a@b.co"), ("_crm_fill_ms", "100")]),
        )
        .unwrap();
        let b = screen(
            &form,
            &pairs(&[("email", "a@b.co"), ("_crm_fill_ms", "900")]),
        )
        .unwrap();
        assert_eq!(a.canonical, b.canonical);
    }
}
