//! Where secrets come from: the traits each side uses, the edits a verification
//! handshake makes to any store of the document, and secrets held in memory.

use std::future::Future;

use serde_json::Value;

use super::format::{Secrets, SecretsFormatError};

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

/// Secrets given up front (the `[secrets]` table of a config file), held in memory and
/// writable: the webhook handshake's token reaches the same process without a secret
/// store, and lasts as long as the process.
#[derive(Debug)]
pub struct MemorySecrets(std::sync::RwLock<Secrets>);

impl MemorySecrets {
    pub fn new(secrets: Secrets) -> Self {
        Self(std::sync::RwLock::new(secrets))
    }

    /// Replaces the secrets, as an operator writing a new version of the secret would.
    pub fn replace(&self, secrets: Secrets) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = secrets;
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
