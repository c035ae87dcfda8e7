//! Secrets: one JSON document, typed, never printable.
//!
//! ```json
//! {
//!   "notion_token": "ntn_…",
//!   "notion_webhook_token": "",
//!   "form_secrets": { "own": "…", "tally": "…", "typeform": "…", "formspree": "…", "webflow": "…" },
//!   "slack_webhooks": { "won": "https://hooks.slack.com/…", "digest": "https://…" },
//!   "slack_bot_token": "xoxb-…",
//!   "captcha_secrets": { "turnstile": "0x…", "hcaptcha": "0x…" }
//! }
//! ```
//!
//! `notion_webhook_token` starts empty: a verification handshake, while `crm webhook
//! listen` has the window open, offers a token (`notion_webhook_candidates`, a few at
//! most), and the first event signed with one of them pins it there — so a token planted
//! by someone else in the window is never the one events are verified with. A missing form secret makes that provider's route refuse
//! every request (fail closed); a missing Slack webhook makes its messages wait in the
//! inbox until it is added.
//!
//! Each field is read on its own. A bad entry (an unknown field, `"Tally"` for `tally`,
//! a Slack URL without a scheme, a number where text belongs) is left out and listed in
//! [`Secrets::problems`], which [`CachedSecrets`] logs once; only a function that needs
//! that entry fails, with a reason that names it. One mistake in the Slack part can
//! therefore never stop lead intake, which needs only `form_secrets`.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use crm_domain::{Clock, Timestamp};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::sync::Mutex;

/// Form providers that have a signing secret, in the order the intake routes list them.
pub const FORM_PROVIDERS: &[&str] = &["own", "tally", "typeform", "formspree", "webflow"];

/// Every secret the functions use. `Debug` shows which secrets are present, never their
/// values.
#[derive(Clone)]
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

fn format_error(field: impl Into<String>, reason: impl Into<String>) -> SecretsFormatError {
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
            Some(problem) => Err(problem.clone()),
            None => Ok(secrets),
        }
    }

    /// The Notion token, or why there is none (for the function that needs it).
    pub fn notion_token(&self) -> Result<&SecretString, MissingSecret> {
        self.notion_token
            .as_ref()
            .ok_or(MissingSecret("notion_token"))
    }

    fn from_value(value: &Value) -> Result<Self, SecretsFormatError> {
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

/// Why secrets could not be loaded. Names the secret (ARN) and the field, never a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("secret {arn} does not exist (check CRM_SECRET_ARN and the region)")]
    NotFound { arn: String },
    #[error("secret {arn} has no string value (store the secrets as JSON text)")]
    NotString { arn: String },
    #[error("secret {arn} is malformed: {problem}")]
    Malformed {
        arn: String,
        #[source]
        problem: SecretsFormatError,
    },
    #[error(
        "these secrets come from the config file, which is not written to; add notion_webhook_token to its [secrets] table"
    )]
    ReadOnly,
    #[error("secret {arn} kept changing while it was being updated; try again")]
    Contended { arn: String },
    #[error("could not read secret {arn}")]
    Unavailable {
        arn: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The Secrets Manager actions [`SecretsSource::fetch`] makes.
pub const READ_ACTIONS: &[&str] = &["secretsmanager:GetSecretValue"];
/// The Secrets Manager actions [`SecretsWriter::save_webhook_token`] makes: a read, a
/// new version, and the compare-and-set that makes it current.
pub const WRITE_ACTIONS: &[&str] = &[
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
];

/// Where secrets are read from.
pub trait SecretsSource: Send + Sync {
    fn fetch(&self) -> impl Future<Output = Result<Secrets, SecretsError>> + Send;
}

/// The most tokens handshakes may offer before one is pinned: Notion's, and room for a
/// few planted beside it, which cost nothing but a check each.
pub const MAX_WEBHOOK_CANDIDATES: usize = 5;

/// Where the webhook handshake's tokens are written: only the webhook receiver asks for
/// it, so only its role may change the secret.
pub trait SecretsWriter: SecretsSource {
    /// Keeps a token a verification handshake offered, beside the others offered before
    /// (at most [`MAX_WEBHOOK_CANDIDATES`]). Returns where it went (for the log), or
    /// `Ok(None)` when a token is pinned already (a person's, or one a signed event
    /// proved, is never displaced by a request) or the list is full.
    fn offer_webhook_token(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<Option<String>, SecretsError>> + Send;

    /// Pins `token`, which a signed event proved is Notion's, as the one events are
    /// verified with, and forgets the other offers. `Ok(None)` when another is pinned.
    fn pin_webhook_token(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<Option<String>, SecretsError>> + Send;
}

/// What an offer does to a secret document (JSON), the same for every store of it:
/// `Some(())` when the document changed.
pub fn offer_in(document: &mut Value, token: &str) -> Option<bool> {
    let pinned = document
        .get("notion_webhook_token")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.trim().is_empty());
    if pinned || !document.is_object() {
        return None;
    }
    let candidates = document
        .as_object_mut()?
        .entry("notion_webhook_candidates")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !candidates.is_array() {
        *candidates = Value::Array(Vec::new());
    }
    let list = candidates.as_array_mut()?;
    if list.iter().any(|t| t.as_str() == Some(token)) {
        return Some(false);
    }
    if list.len() >= MAX_WEBHOOK_CANDIDATES {
        return None;
    }
    list.push(Value::String(token.to_owned()));
    Some(true)
}

/// What pinning does to a secret document: the token set, the offers gone; `None` when
/// another is pinned already.
pub fn pin_in(document: &mut Value, token: &str) -> Option<()> {
    let pinned = document
        .get("notion_webhook_token")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty());
    if pinned.is_some_and(|t| t != token) || !document.is_object() {
        return None;
    }
    let object = document.as_object_mut()?;
    object.insert(
        "notion_webhook_token".into(),
        Value::String(token.to_owned()),
    );
    object.remove("notion_webhook_candidates");
    Some(())
}

/// The production source: one Secrets Manager secret, by ARN (or name).
#[derive(Debug, Clone)]
pub struct SecretsManagerSource {
    client: Client,
    arn: String,
}

impl SecretsManagerSource {
    pub fn new(client: Client, arn: impl Into<String>) -> Self {
        Self {
            client,
            arn: arn.into(),
        }
    }

    pub fn arn(&self) -> &str {
        &self.arn
    }
}

impl SecretsManagerSource {
    /// The secret's current text (the JSON document).
    async fn read(&self) -> Result<String, SecretsError> {
        Ok(self.read_versioned().await?.0)
    }

    /// The secret's current text and the id of its version.
    async fn read_versioned(&self) -> Result<(String, String), SecretsError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.arn)
            // What a read without a stage returns; named, because the current version
            // is what `update` compares and sets (and moto, the local stand-in, answers
            // an unnamed read with its first version after a stage was moved).
            .version_stage("AWSCURRENT")
            .send()
            .await
            .map_err(|e| {
                let e = e.into_service_error();
                if e.is_resource_not_found_exception() {
                    SecretsError::NotFound {
                        arn: self.arn.clone(),
                    }
                } else {
                    SecretsError::Unavailable {
                        arn: self.arn.clone(),
                        source: Box::new(e),
                    }
                }
            })?;
        let text =
            out.secret_string()
                .map(str::to_owned)
                .ok_or_else(|| SecretsError::NotString {
                    arn: self.arn.clone(),
                })?;
        Ok((text, out.version_id().unwrap_or_default().to_owned()))
    }

    fn unavailable(&self, e: impl std::error::Error + Send + Sync + 'static) -> SecretsError {
        SecretsError::Unavailable {
            arn: self.arn.clone(),
            source: Box::new(e),
        }
    }

    /// Changes the secret's JSON document with a compare-and-set, so that no edit made
    /// meanwhile — by a person in the console, by another function — is lost: the
    /// changed document is stored as a new version, which becomes current only if the
    /// version it was made from still is (Secrets Manager's `UpdateSecretVersionStage`
    /// refuses to move `AWSCURRENT` from a version that no longer has it); otherwise the
    /// change is made again on the newer document. `change` returns `None` when there is
    /// nothing to change.
    pub async fn update<R>(
        &self,
        change: impl Fn(&mut Value) -> Option<R>,
    ) -> Result<Option<R>, SecretsError> {
        for _ in 0..8 {
            let (text, version) = self.read_versioned().await?;
            let mut document: Value =
                serde_json::from_str(&text).map_err(|_| SecretsError::Malformed {
                    arn: self.arn.clone(),
                    problem: format_error("(document)", "not valid JSON"),
                })?;
            let Some(result) = change(&mut document) else {
                return Ok(None);
            };
            let put = self
                .client
                .put_secret_value()
                .secret_id(&self.arn)
                .secret_string(document.to_string())
                .version_stages(PENDING_STAGE)
                .send()
                .await
                .map_err(|e| self.unavailable(e.into_service_error()))?;
            let moved = self
                .client
                .update_secret_version_stage()
                .secret_id(&self.arn)
                .version_stage("AWSCURRENT")
                .remove_from_version_id(&version)
                .move_to_version_id(put.version_id().unwrap_or_default())
                .send()
                .await;
            match moved {
                Ok(_) => return Ok(Some(result)),
                Err(e) => match e.into_service_error() {
                    // AWSCURRENT moved on since the read: another edit won; redo on it.
                    e if e.is_invalid_parameter_exception() => continue,
                    e => return Err(self.unavailable(e)),
                },
            }
        }
        Err(SecretsError::Contended {
            arn: self.arn.clone(),
        })
    }
}

/// The label a new version carries until it is made current.
const PENDING_STAGE: &str = "CRM_PENDING";

impl SecretsWriter for SecretsManagerSource {
    async fn offer_webhook_token(&self, token: &str) -> Result<Option<String>, SecretsError> {
        // An offer already kept changes nothing, and is still where it was said to be.
        let known = std::sync::atomic::AtomicBool::new(false);
        let changed = self
            .update(|document| match offer_in(document, token) {
                Some(true) => Some(()),
                Some(false) => {
                    known.store(true, std::sync::atomic::Ordering::Relaxed);
                    None
                }
                None => None,
            })
            .await?;
        Ok((changed.is_some() || known.into_inner())
            .then(|| format!("the notion_webhook_candidates of secret {}", self.arn)))
    }

    async fn pin_webhook_token(&self, token: &str) -> Result<Option<String>, SecretsError> {
        let pinned = self.update(|document| pin_in(document, token)).await?;
        Ok(pinned.map(|()| format!("the notion_webhook_token field of secret {}", self.arn)))
    }
}

impl SecretsSource for SecretsManagerSource {
    async fn fetch(&self) -> Result<Secrets, SecretsError> {
        let text = self.read().await?;
        Secrets::from_json(&text).map_err(|problem| SecretsError::Malformed {
            arn: self.arn.clone(),
            problem,
        })
    }
}

/// Secrets given up front (the `[secrets]` table of a config file), held in memory and
/// writable: the webhook handshake's token reaches the same process without a secret
/// store, and lasts as long as the process.
#[derive(Debug)]
pub struct MemorySecrets(std::sync::RwLock<Secrets>);

impl MemorySecrets {
    pub fn new(secrets: Secrets) -> Self {
        Self(std::sync::RwLock::new(secrets))
    }
}

impl SecretsWriter for MemorySecrets {
    async fn offer_webhook_token(&self, token: &str) -> Result<Option<String>, SecretsError> {
        self.change(|document| offer_in(document, token).map(|_| ()))
            .map(|done| done.map(|()| "memory (this run only)".to_owned()))
    }

    async fn pin_webhook_token(&self, token: &str) -> Result<Option<String>, SecretsError> {
        self.change(|document| pin_in(document, token))
            .map(|done| done.map(|()| "memory (this run only)".to_owned()))
    }
}

impl MemorySecrets {
    /// Applies `change` to the secrets as a JSON document, as Secrets Manager's are.
    fn change(
        &self,
        change: impl FnOnce(&mut Value) -> Option<()>,
    ) -> Result<Option<()>, SecretsError> {
        let mut secrets = self.0.write().unwrap_or_else(|p| p.into_inner());
        let mut document: Value = serde_json::from_str(&secrets.to_json()).unwrap_or(Value::Null);
        let Some(()) = change(&mut document) else {
            return Ok(None);
        };
        if let Ok(changed) = Secrets::from_value(&document) {
            *secrets = changed;
        }
        Ok(Some(()))
    }
}

impl SecretsSource for MemorySecrets {
    async fn fetch(&self) -> Result<Secrets, SecretsError> {
        Ok(self.0.read().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

/// Reads secrets at most once per TTL, so a warm Lambda does not pay a Secrets Manager
/// call per request, yet a rotated value is picked up within one TTL.
pub struct CachedSecrets<S> {
    source: S,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    cached: Mutex<Option<(Timestamp, Arc<Secrets>)>>,
    /// The problems last logged, so each is said once, not at every refresh.
    logged: Mutex<Vec<SecretsFormatError>>,
}

impl<S> fmt::Debug for CachedSecrets<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedSecrets")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl<S: SecretsSource> CachedSecrets<S> {
    pub fn new(source: S, ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            source,
            ttl,
            clock,
            cached: Mutex::new(None),
            logged: Mutex::new(Vec::new()),
        }
    }

    /// The current secrets: cached while younger than the TTL, otherwise fetched.
    ///
    /// When a refresh fails but an earlier value is cached, the earlier value is
    /// returned and the failure logged: a Secrets Manager hiccup should not fail
    /// requests that the old token still serves. Only a cold start with no value fails.
    pub async fn get(&self) -> Result<Arc<Secrets>, SecretsError> {
        // Holding the lock across the fetch makes concurrent callers share one fetch.
        let mut cached = self.cached.lock().await;
        let now = self.clock.now();
        if let Some((fetched_at, secrets)) = cached.as_ref()
            && now < fetched_at.plus(self.ttl)
        {
            return Ok(Arc::clone(secrets));
        }
        match self.source.fetch().await {
            Ok(fresh) => {
                self.log_problems(&fresh.problems).await;
                let fresh = Arc::new(fresh);
                *cached = Some((now, Arc::clone(&fresh)));
                Ok(fresh)
            }
            Err(err) => match cached.as_ref() {
                Some((_, stale)) => {
                    tracing::warn!(error = %err, "refreshing secrets failed; using the cached value");
                    Ok(Arc::clone(stale))
                }
                None => Err(err),
            },
        }
    }

    /// Reads the secret again unless it was read within `min_age`: for when a service
    /// refuses a credential that may have been rotated. `None` when the cached value is
    /// that fresh (reading again would tell nothing new, and a flood of refusals must not
    /// become a flood of reads).
    pub async fn refresh(&self, min_age: Duration) -> Result<Option<Arc<Secrets>>, SecretsError> {
        let mut cached = self.cached.lock().await;
        let now = self.clock.now();
        if let Some((fetched_at, _)) = cached.as_ref()
            && now < fetched_at.plus(min_age)
        {
            return Ok(None);
        }
        let fresh = self.source.fetch().await?;
        self.log_problems(&fresh.problems).await;
        let fresh = Arc::new(fresh);
        *cached = Some((now, Arc::clone(&fresh)));
        Ok(Some(fresh))
    }

    /// Logs each problem of the secret once (again only if it comes back after a fix).
    async fn log_problems(&self, problems: &[SecretsFormatError]) {
        let mut logged = self.logged.lock().await;
        for problem in problems.iter().filter(|p| !logged.contains(p)) {
            tracing::warn!(field = %problem.field, reason = %problem.reason, "an entry of the secret was left out");
        }
        *logged = problems.to_vec();
    }

    /// Where the secrets come from (to write the webhook token back).
    pub fn source(&self) -> &S {
        &self.source
    }

    /// Forgets the cached value, so the next [`get`](Self::get) reads the source: for when
    /// a service rejects a token that may have been rotated.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}
