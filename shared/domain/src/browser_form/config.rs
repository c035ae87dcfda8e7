//! One browser form's settings: where it may be posted from, where the visitor goes
//! afterwards, what its fields are called and which spam checks it runs.
//!
//! The forms of a deployment are one JSON object, form name → settings (the setting
//! `browser_forms`; a TOML table locally), e.g.
//! `{"contact": {"origins": ["https://www.example.com"], "thank_you": "https://www.example.com/thanks"}}`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A form's settings, checked: every origin is an origin, every URL a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormConfig {
    pub name: String,
    /// `scheme://host[:port]`, lower case: the pages allowed to post to this form.
    pub origins: Vec<String>,
    /// Where a browser goes after a plain (no-JavaScript) post; without one it is shown
    /// a short thank-you page.
    pub thank_you: Option<String>,
    /// The form's field name for each lead field.
    pub fields: FieldNames,
    /// A field people never see and bots fill in; `None`: no honeypot.
    pub honeypot: Option<String>,
    /// A submission sent sooner than this after the page loaded is a bot's (0: off).
    pub min_fill_seconds: u32,
    pub captcha: Option<Captcha>,
    /// Submissions one address may send per minute (0: no limit).
    pub per_ip_per_minute: u32,
}

/// The names a form gives its fields.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FieldNames {
    pub email: String,
    pub name: String,
    pub company: String,
    pub phone: String,
    pub message: String,
}

impl Default for FieldNames {
    fn default() -> Self {
        Self {
            email: "email".into(),
            name: "name".into(),
            company: "company".into(),
            phone: "phone".into(),
            message: "message".into(),
        }
    }
}

/// A human check on the page, verified at intake with the provider's siteverify API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Captcha {
    pub provider: CaptchaProvider,
    /// The widget's public site key (the secret key is in the secret's `captcha_secrets`).
    pub site_key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptchaProvider {
    Turnstile,
    Hcaptcha,
}

impl CaptchaProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Turnstile => "turnstile",
            Self::Hcaptcha => "hcaptcha",
        }
    }

    /// The field the provider's widget adds to the form, holding its token
    /// (Turnstile: `cf-turnstile-response`; hCaptcha: `h-captcha-response`).
    pub fn token_field(self) -> &'static str {
        match self {
            Self::Turnstile => "cf-turnstile-response",
            Self::Hcaptcha => "h-captcha-response",
        }
    }
}

/// The default honeypot: a name no real form uses for a real field.
pub const DEFAULT_HONEYPOT: &str = "_gotcha";
/// The default per-address limit.
pub const DEFAULT_PER_IP_PER_MINUTE: u32 = 10;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    origins: Vec<String>,
    #[serde(default)]
    thank_you: Option<String>,
    #[serde(default)]
    fields: FieldNames,
    #[serde(default)]
    honeypot: Option<String>,
    #[serde(default)]
    min_fill_seconds: u32,
    #[serde(default)]
    captcha: Option<Captcha>,
    #[serde(default)]
    per_ip_per_minute: Option<u32>,
}

/// Parses the forms object, naming the form and the part that is wrong.
pub fn parse_forms(json: &str) -> Result<BTreeMap<String, FormConfig>, String> {
    let raw: BTreeMap<String, serde_json::Value> = serde_json::from_str(json)
        .map_err(|e| format!("expected a JSON object of forms, form name → settings ({e})"))?;
    raw.into_iter()
        .map(|(name, raw)| {
            let form = serde_json::from_value::<Raw>(raw)
                .map_err(|e| e.to_string())
                .and_then(|raw| check(&name, raw))
                .map_err(|e| format!("form {name:?}: {e}"))?;
            Ok((name, form))
        })
        .collect()
}

fn check(name: &str, raw: Raw) -> Result<FormConfig, String> {
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !name_ok {
        return Err(
            "a form name is 1 to 64 of a-z, A-Z, 0-9, - and _ (it is part of the URL)".into(),
        );
    }
    if raw.origins.is_empty() {
        return Err("origins: list at least one site, e.g. \"https://www.example.com\"".into());
    }
    let origins = raw
        .origins
        .iter()
        .map(|o| parse_origin(o).ok_or_else(|| format!("origins: {o:?} is not an origin like \"https://www.example.com\" (scheme and host, no path)")))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(url) = &raw.thank_you
        && !is_http_url(url)
    {
        return Err(format!("thank_you: {url:?} is not an http(s) URL"));
    }
    let f = &raw.fields;
    for (slot, value) in [
        ("email", &f.email),
        ("name", &f.name),
        ("company", &f.company),
        ("phone", &f.phone),
        ("message", &f.message),
    ] {
        if value.trim().is_empty() {
            return Err(format!("fields.{slot}: give the form's field name"));
        }
    }
    if raw.min_fill_seconds > 3600 {
        return Err("min_fill_seconds: at most 3600".into());
    }
    if let Some(c) = &raw.captcha
        && c.site_key.trim().is_empty()
    {
        return Err("captcha.site_key: give the widget's site key".into());
    }
    let honeypot = match raw.honeypot {
        None => Some(DEFAULT_HONEYPOT.to_owned()),
        Some(h) if h.trim().is_empty() => None,
        Some(h) => Some(h.trim().to_owned()),
    };
    Ok(FormConfig {
        name: name.to_owned(),
        origins,
        thank_you: raw.thank_you,
        fields: raw.fields,
        honeypot,
        min_fill_seconds: raw.min_fill_seconds,
        captcha: raw.captcha,
        per_ip_per_minute: raw.per_ip_per_minute.unwrap_or(DEFAULT_PER_IP_PER_MINUTE),
    })
}

fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace))
}

/// `https://Example.com:443/` → `https://example.com`; a path, query or userinfo → `None`.
pub fn parse_origin(value: &str) -> Option<String> {
    let value = value.trim().trim_end_matches('/');
    let (scheme, host) = value.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => return None,
    };
    let host = host.to_ascii_lowercase();
    let bad = |c: char| matches!(c, '/' | '?' | '#' | '@') || c.is_whitespace();
    if host.is_empty() || host.contains(bad) {
        return None;
    }
    let host = host.strip_suffix(default_port).unwrap_or(&host);
    Some(format!("{scheme}://{host}"))
}

/// The origin of a URL (what a `Referer` names), or `None`.
pub fn origin_of_url(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    parse_origin(&format!("{scheme}://{}", &rest[..end]))
}

impl FormConfig {
    /// Whether a page of `origin` may post to this form.
    pub fn allows(&self, origin: &str) -> bool {
        parse_origin(origin).is_some_and(|o| self.origins.contains(&o))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_form_gets_the_defaults() {
        let forms = parse_forms(r#"{"contact": {"origins": ["https://Example.com/"]}}"#).unwrap();
        let form = &forms["contact"];
        assert_eq!(form.origins, ["https://example.com"]);
        assert_eq!(form.fields.email, "email");
        assert_eq!(form.honeypot.as_deref(), Some(DEFAULT_HONEYPOT));
        assert_eq!(form.per_ip_per_minute, 10);
        assert_eq!(form.min_fill_seconds, 0);
        assert!(form.captcha.is_none() && form.thank_you.is_none());
    }

    #[test]
    fn every_choice_can_be_set() {
        let forms = parse_forms(
            r#"{"quote": {"origins": ["http://127.0.0.1:8081"], "thank_you": "https://x.io/thanks",
                "fields": {"email": "your-email"}, "honeypot": "", "min_fill_seconds": 3,
                "captcha": {"provider": "turnstile", "site_key": "0x4AAA"}, "per_ip_per_minute": 0}}"#,
        )
        .unwrap();
        let form = &forms["quote"];
        assert_eq!(form.fields.email, "your-email");
        assert_eq!(form.fields.name, "name");
        assert_eq!(form.honeypot, None);
        assert_eq!(
            form.captcha.as_ref().unwrap().provider,
            CaptchaProvider::Turnstile
        );
        assert_eq!(form.per_ip_per_minute, 0);
        assert!(form.allows("http://127.0.0.1:8081"));
        assert!(!form.allows("http://127.0.0.1:8082"));
    }

    #[test]
    fn mistakes_name_the_form_and_the_part() {
        let err = |json: &str| parse_forms(json).unwrap_err();
        assert!(err(r#"{"c": {"origins": []}}"#).contains("form \"c\": origins"));
        assert!(
            err(r#"{"c": {"origins": ["example.com"]}}"#)
                .contains("\"example.com\" is not an origin")
        );
        assert!(err(r#"{"c": {"origins": ["https://a.com/contact"]}}"#).contains("no path"));
        assert!(
            err(r#"{"c": {"origins": ["https://a.com"], "thank_you": "/thanks"}}"#)
                .contains("thank_you")
        );
        assert!(err(r#"{"c": {"origins": ["https://a.com"], "captcha": {"provider": "recaptcha", "site_key": "k"}}}"#).contains("form \"c\""));
        assert!(err(r#"{"c d": {"origins": ["https://a.com"]}}"#).contains("form name"));
        assert!(err(r#"{"c": {"origins": ["https://a.com"], "orgins": []}}"#).contains("orgins"));
        assert!(err("[1]").contains("JSON object"));
    }

    #[test]
    fn origins_compare_in_canonical_form() {
        assert_eq!(
            parse_origin("HTTPS://WWW.Example.com:443").as_deref(),
            Some("https://www.example.com")
        );
        assert_eq!(
            parse_origin("http://localhost:80").as_deref(),
            Some("http://localhost")
        );
        assert_eq!(
            parse_origin("http://127.0.0.1:3001").as_deref(),
            Some("http://127.0.0.1:3001")
        );
        assert_eq!(parse_origin("null"), None);
        assert_eq!(parse_origin("ftp://a.com"), None);
        assert_eq!(parse_origin("https://user@a.com"), None);
        assert_eq!(
            origin_of_url("https://a.com/contact?x=1").as_deref(),
            Some("https://a.com")
        );
        assert_eq!(origin_of_url("https://a.com"), Some("https://a.com".into()));
    }
}
