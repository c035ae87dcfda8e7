//! The secret document, typed: each field read on its own, never printable.

use std::collections::BTreeMap;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

/// Form providers that have a signing secret, in the order the intake routes list them.
pub const FORM_PROVIDERS: &[&str] = &["own", "tally", "typeform", "formspree", "webflow"];

/// Every secret the functions use. `Debug` shows which secrets are present, never their
/// values.
#[derive(Clone, Default)]
pub struct Secrets {
    /// `None` until the operator fills it in (the deployed secret starts empty).
    pub notion_token: Option<SecretString>,
    pub notion_webhook_token: Option<SecretString>,
    /// Tokens verification handshakes offered while no token is pinned: events are
    /// verified against each, and the first one a signed event proves is pinned.
    pub notion_webhook_candidates: Vec<SecretString>,
    pub form_secrets: BTreeMap<String, SecretString>,
    pub slack_webhooks: BTreeMap<String, SecretString>,
    /// A Slack app's bot token: routes may then name channels (`#sales`), owners are
    /// mentioned and sent direct messages. Optional; webhooks work without it.
    pub slack_bot_token: Option<SecretString>,
    /// The secret keys of browser forms' captcha widgets, by provider (`turnstile`,
    /// `hcaptcha`) or by form name when one form has a widget of its own.
    pub captcha_secrets: BTreeMap<String, SecretString>,
    /// Entries that were left out, and why (field names, never values).
    pub problems: Vec<SecretsFormatError>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field(
                "notion_token",
                &self.notion_token.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "notion_webhook_token",
                &self.notion_webhook_token.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "notion_webhook_candidates",
                &self.notion_webhook_candidates.len(),
            )
            .field(
                "form_secrets",
                &self.form_secrets.keys().collect::<Vec<_>>(),
            )
            .field(
                "slack_webhooks",
                &self.slack_webhooks.keys().collect::<Vec<_>>(),
            )
            .field(
                "slack_bot_token",
                &self.slack_bot_token.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "captcha_secrets",
                &self.captcha_secrets.keys().collect::<Vec<_>>(),
            )
            .field("problems", &self.problems)
            .finish()
    }
}

/// What is wrong with a secret document: the field, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct SecretsFormatError {
    pub field: String,
    pub reason: String,
}

/// The fields of the document.
#[cfg(feature = "file")]
const FIELDS: &[&str] = &[
    "notion_token",
    "notion_webhook_token",
    "notion_webhook_candidates",
    "form_secrets",
    "slack_webhooks",
    "slack_bot_token",
    "captcha_secrets",
];

/// A problem of a config file's `[secrets]` table, as its reader hears it: a file is
/// not read with an entry left out (the deployed secret is, and says so in the log), so
/// the start stops — saying that, and the field meant when the name is near one.
#[cfg(feature = "file")]
fn in_a_file(problem: &SecretsFormatError) -> SecretsFormatError {
    let reason = problem
        .reason
        .split(" (ignored")
        .next()
        .unwrap_or(&problem.reason);
    let unknown = problem.reason.starts_with("unknown field");
    let near = FIELDS.iter().find(|f| {
        let key = problem.field.as_str();
        key.len() > 3 && (f.starts_with(key) || key.starts_with(**f))
    });
    let meant = match near {
        Some(field) if unknown => format!(": did you mean {field}?"),
        _ => String::new(),
    };
    format_error(
        problem.field.clone(),
        format!(
            "{reason}{meant} (crm does not start with an entry it cannot read: fix or remove it)"
        ),
    )
}

pub(super) fn format_error(
    field: impl Into<String>,
    reason: impl Into<String>,
) -> SecretsFormatError {
    SecretsFormatError {
        field: field.into(),
        reason: reason.into(),
    }
}

impl Secrets {
    /// Parses the secret's JSON. Only a document that is not a JSON object is an error;
    /// a bad entry is left out and listed in [`problems`](Self::problems). Nothing here
    /// ever quotes the input, because the input is the secret.
    pub fn from_json(text: &str) -> Result<Self, SecretsFormatError> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            format_error(
                "(document)",
                format!("not valid JSON (line {}, column {})", e.line(), e.column()),
            )
        })?;
        Self::from_value(&value)
    }

    #[cfg(feature = "file")]
    /// Parses the `[secrets]` table of the local TOML config. The file is read once, at
    /// start, by the person running it: any problem is an error there and then.
    pub fn from_toml(value: &toml::Value) -> Result<Self, SecretsFormatError> {
        let table = value
            .as_table()
            .ok_or_else(|| format_error("(table)", "expected a table"))?;
        let mut json = serde_json::Map::new();
        for (key, value) in table {
            json.insert(key.clone(), toml_to_json(value));
        }
        let secrets = Self::from_value(&Value::Object(json))?;
        match secrets.problems.first() {
            Some(problem) => Err(in_a_file(problem)),
            None => Ok(secrets),
        }
    }

    /// The Notion token, or why there is none (for the function that needs it).
    pub fn notion_token(&self) -> Result<&SecretString, MissingSecret> {
        self.notion_token
            .as_ref()
            .ok_or(MissingSecret("notion_token"))
    }

    pub(super) fn from_value(value: &Value) -> Result<Self, SecretsFormatError> {
        let object = value
            .as_object()
            .ok_or_else(|| format_error("(document)", "expected a JSON object"))?;
        let mut problems = Vec::new();
        for key in object.keys() {
            if !matches!(
                key.as_str(),
                "notion_token"
                    | "notion_webhook_token"
                    | "notion_webhook_candidates"
                    | "form_secrets"
                    | "slack_webhooks"
                    | "slack_bot_token"
                    | "captcha_secrets"
            ) {
                problems.push(format_error(key.as_str(), "unknown field (ignored)"));
            }
        }
        let mut text = |field: &str| match string_field(object, field) {
            Ok(value) => value.filter(|t| !t.trim().is_empty()).map(secret),
            Err(problem) => {
                problems.push(problem);
                None
            }
        };
        let notion_token = text("notion_token");
        let notion_webhook_token = text("notion_webhook_token");

        let slack_bot_token = text("slack_bot_token");
        let notion_webhook_candidates = match object.get("notion_webhook_candidates") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| !t.trim().is_empty())
                .map(secret)
                .collect(),
            Some(_) => {
                problems.push(format_error(
                    "notion_webhook_candidates",
                    "expected a list of strings (ignored)",
                ));
                Vec::new()
            }
        };
        let mut form_secrets = BTreeMap::new();
        for (name, value) in string_map(object, "form_secrets", &mut problems) {
            let lower = name.to_ascii_lowercase();
            if !FORM_PROVIDERS.contains(&lower.as_str()) {
                problems.push(format_error(
                    format!("form_secrets.{name}"),
                    format!(
                        "unknown form provider (ignored; expected one of {})",
                        FORM_PROVIDERS.join(", ")
                    ),
                ));
                continue;
            }
            if lower != name {
                problems.push(format_error(
                    format!("form_secrets.{name}"),
                    format!("provider names are lowercase; used as {lower:?}"),
                ));
            }
            form_secrets.insert(lower, value);
        }
        let mut slack_webhooks = BTreeMap::new();
        for (name, url) in string_map(object, "slack_webhooks", &mut problems) {
            let text = url.expose_secret();
            if text.starts_with("https://") || text.starts_with("http://") {
                slack_webhooks.insert(name, url);
            } else {
                problems.push(format_error(
                    format!("slack_webhooks.{name}"),
                    "expected an https:// URL (ignored: messages for it wait in the inbox)",
                ));
            }
        }
        let captcha_secrets = string_map(object, "captcha_secrets", &mut problems)
            .into_iter()
            .collect();
        Ok(Self {
            notion_token,
            notion_webhook_token,
            notion_webhook_candidates,
            form_secrets,
            slack_webhooks,
            slack_bot_token,
            captcha_secrets,
            problems,
        })
    }

    /// The secret as a JSON document, for writing back (the webhook token) and for tests.
    pub fn to_json(&self) -> String {
        let map = |m: &BTreeMap<String, SecretString>| {
            m.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.expose_secret().to_owned())))
                .collect::<serde_json::Map<_, _>>()
        };
        serde_json::json!({
            "notion_token": self
                .notion_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned())
                .unwrap_or_default(),
            "notion_webhook_token": self
                .notion_webhook_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned())
                .unwrap_or_default(),
            "notion_webhook_candidates": self
                .notion_webhook_candidates
                .iter()
                .map(|t| Value::String(t.expose_secret().to_owned()))
                .collect::<Vec<_>>(),
            "form_secrets": map(&self.form_secrets),
            "slack_webhooks": map(&self.slack_webhooks),
            "slack_bot_token": self
                .slack_bot_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned())
                .unwrap_or_default(),
            "captcha_secrets": map(&self.captcha_secrets),
        })
        .to_string()
    }
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn string_field<'a>(
    object: &'a serde_json::Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, SecretsFormatError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format_error(field, "expected a string")),
    }
}

/// The string entries of an object field; anything else is listed as a problem.
fn string_map(
    object: &serde_json::Map<String, Value>,
    field: &str,
    problems: &mut Vec<SecretsFormatError>,
) -> BTreeMap<String, SecretString> {
    let inner = match object.get(field) {
        None | Some(Value::Null) => return BTreeMap::new(),
        Some(Value::Object(inner)) => inner,
        Some(_) => {
            problems.push(format_error(
                field,
                "expected an object of strings (ignored)",
            ));
            return BTreeMap::new();
        }
    };
    let mut out = BTreeMap::new();
    for (key, value) in inner {
        match value {
            // An empty value means "not configured", like a missing key.
            Value::String(s) if s.trim().is_empty() => {}
            Value::String(s) => {
                out.insert(key.clone(), secret(s));
            }
            _ => problems.push(format_error(
                format!("{field}.{key}"),
                "expected a string (ignored)",
            )),
        }
    }
    out
}

#[cfg(feature = "file")]
fn toml_to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
        // Any other TOML type is a mistake in a secrets table; keep its shape (not its
        // value) so the parser reports the field as "expected a string".
        toml::Value::Array(_) => Value::Array(Vec::new()),
        _ => Value::Bool(false),
    }
}

/// A secret a function needs is not configured (or its entry was left out as malformed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the secret has no usable {0}: fill it in (the functions pick it up within the secrets TTL)"
)]
pub struct MissingSecret(pub &'static str);
