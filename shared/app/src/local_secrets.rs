//! Secrets for `crm serve --config`: the config file's `[secrets]`, with what Notion's
//! webhook handshake writes — the offered tokens and the one a signed event pinned —
//! kept in the store, where the local product keeps the rest of its state. Held in
//! memory only, they were gone at a restart, and every delivery after it was refused.
//!
//! A token written in the config file is a person's and wins; the store's are used only
//! while the file has none.

use crm_settings::{MemorySecrets, Secrets, SecretsError, SecretsSource, SecretsWriter};
use crm_store::{CacheRead, CacheWrite, StoreError};
use serde_json::Value;

use crate::inbox::keys;

/// The config file's secrets over the store's webhook tokens.
#[derive(Debug)]
pub struct LocalSecrets<S> {
    file: MemorySecrets,
    store: S,
}

impl<S> LocalSecrets<S> {
    pub fn new(file: MemorySecrets, store: S) -> Self {
        Self { file, store }
    }
}

fn unavailable(e: StoreError) -> SecretsError {
    SecretsError::Unavailable {
        arn: "the local store".into(),
        source: Box::new(e),
    }
}

/// The webhook's part of a secret document: the pinned token and the offers.
const FIELDS: [&str; 2] = ["notion_webhook_token", "notion_webhook_candidates"];

impl<S: CacheRead + CacheWrite> LocalSecrets<S> {
    /// The secrets as one JSON document: the file's, with the store's webhook fields
    /// where the file has no token.
    async fn document(&self) -> Result<Value, SecretsError> {
        let mut document: Value =
            serde_json::from_str(&self.file.fetch().await?.to_json()).unwrap_or(Value::Null);
        let file_has_token = document["notion_webhook_token"]
            .as_str()
            .is_some_and(|t| !t.trim().is_empty());
        if file_has_token {
            return Ok(document);
        }
        if let Some(entry) = self
            .store
            .cache_get(keys::LOCAL_WEBHOOK_TOKENS)
            .await
            .map_err(unavailable)?
        {
            let kept: Value = serde_json::from_str(&entry.value).unwrap_or(Value::Null);
            for field in FIELDS {
                if let Some(value) = kept.get(field) {
                    document[field] = value.clone();
                }
            }
        }
        Ok(document)
    }

    /// Applies `change` to the document and keeps the webhook fields it leaves.
    async fn change(
        &self,
        change: impl FnOnce(&mut Value) -> Option<()>,
    ) -> Result<Option<String>, SecretsError> {
        let mut document = self.document().await?;
        if change(&mut document).is_none() {
            return Ok(None);
        }
        let kept: serde_json::Map<String, Value> = FIELDS
            .iter()
            .filter_map(|f| Some(((*f).to_owned(), document.get(*f)?.clone())))
            .collect();
        self.store
            .cache_put(
                keys::LOCAL_WEBHOOK_TOKENS,
                &Value::Object(kept).to_string(),
                0,
            )
            .await
            .map_err(unavailable)?;
        Ok(Some("the local store (kept across restarts)".to_owned()))
    }
}

impl<S: CacheRead + CacheWrite> SecretsSource for LocalSecrets<S> {
    async fn fetch(&self) -> Result<Secrets, SecretsError> {
        let document = self.document().await?;
        Secrets::from_json(&document.to_string()).map_err(|problem| SecretsError::Malformed {
            arn: "the config file's [secrets]".into(),
            problem,
        })
    }
}

impl<S: CacheRead + CacheWrite> SecretsWriter for LocalSecrets<S> {
    async fn offer_webhook_token(&self, token: &str) -> Result<Option<String>, SecretsError> {
        self.change(|document| crm_settings::offer_in(document, token).map(|_| ()))
            .await
    }

    async fn pin_webhook_token(&self, token: &str) -> Result<Option<String>, SecretsError> {
        self.change(|document| crm_settings::pin_in(document, token))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crm_domain::SystemClock;
    use crm_store::SqliteStore;
    use secrecy::ExposeSecret;

    fn file() -> MemorySecrets {
        MemorySecrets::new(Secrets::from_json(r#"{"notion_token": "ntn_x"}"#).unwrap())
    }

    /// A restart is a new process over the same store file: what the handshake and the
    /// first signed event wrote is still there.
    #[tokio::test]
    async fn the_webhook_token_outlives_a_restart() {
        let dir = std::env::temp_dir().join(format!("crm-local-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("crm.sqlite");
        let open = || SqliteStore::open(&path, Arc::new(SystemClock)).unwrap();
        {
            let secrets = LocalSecrets::new(file(), open());
            assert!(
                secrets
                    .offer_webhook_token("secret_a")
                    .await
                    .unwrap()
                    .is_some()
            );
            assert!(
                secrets
                    .offer_webhook_token("secret_b")
                    .await
                    .unwrap()
                    .is_some()
            );
            assert!(
                secrets
                    .pin_webhook_token("secret_b")
                    .await
                    .unwrap()
                    .is_some()
            );
        }
        let restarted = LocalSecrets::new(file(), open());
        let read = restarted.fetch().await.unwrap();
        assert_eq!(
            read.notion_webhook_token.unwrap().expose_secret(),
            "secret_b"
        );
        assert!(read.notion_webhook_candidates.is_empty());
        assert_eq!(read.notion_token.unwrap().expose_secret(), "ntn_x");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
