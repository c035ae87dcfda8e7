//! The production source: one Secrets Manager secret, read by ARN, and changed only by a
//! compare-and-set on its version (a new version staged, then made current only if the
//! one it was made from still is).

use aws_sdk_secretsmanager::Client;
use serde_json::Value;

use super::format::{Secrets, format_error};
use super::source::{SecretsError, SecretsSource, SecretsWriter, offer_in, pin_in};

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
