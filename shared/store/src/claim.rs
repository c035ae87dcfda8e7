//! Once-only work as one value: claim it, then complete it or hand it back.
//!
//! Every piece of work that must happen once (a lead's Notion writes, a stage change's
//! Slack post, a day's digest) follows the same protocol over the idempotency records:
//! [`Idempotency::begin`] under a fresh owner, then [`Idempotency::complete`] or
//! [`Idempotency::fail`]. A
//! [`Claim`] holds the owner and ends the protocol with one call that logs its own
//! store errors: a claim that could not be recorded runs out with its lease, and the
//! work is then claimable again, so a caller has nothing useful to do with the error.

use std::time::Duration;

use crate::{Begin, Idempotency, StoreError};

/// What claiming a piece of work found.
pub enum Claimed<'a, S> {
    /// This attempt owns the work now.
    Owned(Claim<'a, S>),
    /// It was done before; `result` is what was recorded.
    Done { result: Option<String> },
    /// Another attempt owns it right now.
    Busy,
}

/// Owned once-only work. Ends with [`complete`](Self::complete) or
/// [`fail`](Self::fail); dropped without either, it is claimable again once its lease
/// has run out.
pub struct Claim<'a, S> {
    store: &'a S,
    key: String,
    owner: String,
    retention: Duration,
    resumed: bool,
}

/// Claiming, for every store.
pub trait Claims: Idempotency + Sized {
    /// Claims `key` for `lease`; once done it is remembered for `retention`.
    fn claim(
        &self,
        key: &str,
        lease: Duration,
        retention: Duration,
    ) -> impl std::future::Future<Output = Result<Claimed<'_, Self>, StoreError>> + Send {
        async move {
            let owner = uuid::Uuid::new_v4().to_string();
            let resumed = match self.begin(key, &owner, lease, retention).await? {
                Begin::Completed { result } => return Ok(Claimed::Done { result }),
                Begin::InProgress { .. } => return Ok(Claimed::Busy),
                Begin::Claimed => false,
                Begin::Reclaimed => true,
            };
            Ok(Claimed::Owned(Claim {
                store: self,
                key: key.to_owned(),
                owner,
                retention,
                resumed,
            }))
        }
    }
}

impl<S: Idempotency> Claims for S {}

impl<'a, S: Idempotency> Claim<'a, S> {
    /// Whether an earlier attempt held this work and did not finish it: some of it may
    /// be done already, so steps that create things must look first.
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// This attempt's identity (also usable for leases taken on its behalf).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The store the claim is in, for work recorded alongside it.
    pub fn store(&self) -> &'a S {
        self.store
    }

    /// Marks the work done, keeping `result`.
    pub async fn complete(self, result: Option<&str>) {
        match self
            .store
            .complete(&self.key, &self.owner, result, self.retention)
            .await
        {
            Ok(()) => {}
            // Another attempt took over after this one's lease ran out; it finishes.
            Err(StoreError::ClaimLost { .. }) => {
                tracing::warn!(key = %self.key, "the claim had passed to another attempt")
            }
            Err(e) => {
                tracing::error!(key = %self.key, error = %e, "could not record once-only work as done")
            }
        }
    }

    /// Hands the work back, claimable again at once, recording why.
    pub async fn fail(self, reason: &str) {
        match self.store.fail(&self.key, &self.owner, reason).await {
            Ok(()) | Err(StoreError::ClaimLost { .. }) => {}
            Err(e) => {
                tracing::error!(key = %self.key, error = %e, "could not hand once-only work back")
            }
        }
    }
}
