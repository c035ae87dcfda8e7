//! Secrets read through a cache with a TTL: rotation works without a redeploy.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crm_domain::{Clock, Timestamp};
use tokio::sync::Mutex;

use super::format::{Secrets, SecretsFormatError};
use super::source::{SecretsError, SecretsSource};

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
