//! A Slack message posted at most once per claim, and said so when it is not certain.
//!
//! Slack's incoming webhooks have no idempotency key, and an answer can fail after the
//! message was posted (a 5xx, a timeout, a cut connection). So a post is never repeated
//! unless it certainly did not happen, and the protocol is:
//!
//! 1. claim the post under its key (the transition, the day) — one owner at a time;
//! 2. record "posting" for the key, then post;
//! 3. confirmed → complete the claim; certainly not posted (429, refused connection,
//!    a refusal) → take "posting" back and hand the claim back, to be retried;
//!    unconfirmed → complete the claim as `unconfirmed` and report it: never re-posted;
//! 4. an attempt that finds the claim abandoned *with* "posting" recorded (it stopped
//!    between recording and completing) treats the post as unconfirmed too.
//!
//! So every message is posted at most once, and at least once unless Slack left it
//! unconfirmed, in which case the item says so and waits for a person to look.

use std::time::Duration;

use crm_slack::{SlackClient, SlackError, SlackMessage};
use crm_store::{Begin, Store, StoreError};
use secrecy::SecretString;

/// The result recorded on a claim whose post Slack did not confirm.
pub const UNCONFIRMED: &str = "unconfirmed";

/// A claim on one piece of once-only work.
pub enum Claimed<'a, S> {
    /// This attempt owns it.
    Owned(Claim<'a, S>),
    /// Done before; `result` is what was recorded.
    Done { result: Option<String> },
    /// Another attempt owns it right now.
    Busy,
}

/// Owned once-only work: ends with [`complete`](Self::complete), [`fail`](Self::fail)
/// or [`post`](Self::post). Each logs its own store errors: a claim that cannot be
/// recorded expires with its lease.
pub struct Claim<'a, S> {
    store: &'a S,
    key: String,
    owner: String,
    retention: Duration,
    /// An earlier attempt held it and did not finish.
    resumed: bool,
}

/// Claims `key` for `lease`, to be remembered for `retention` once done.
pub async fn claim<'a, S: Store>(
    store: &'a S,
    key: &str,
    lease: Duration,
    retention: Duration,
) -> Result<Claimed<'a, S>, StoreError> {
    let owner = uuid::Uuid::new_v4().to_string();
    let resumed = match store.begin(key, &owner, lease, retention).await? {
        Begin::Completed { result } => return Ok(Claimed::Done { result }),
        Begin::InProgress { .. } => return Ok(Claimed::Busy),
        Begin::Claimed => false,
        Begin::Reclaimed => true,
    };
    Ok(Claimed::Owned(Claim {
        store,
        key: key.to_owned(),
        owner,
        retention,
        resumed,
    }))
}

/// How a post ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    Now,
    /// Slack may or may not have it; recorded so, and never posted again.
    Unconfirmed(String),
}

/// A post that certainly did not happen; the claim was handed back.
#[derive(Debug, thiserror::Error)]
pub enum NotPosted {
    #[error(transparent)]
    Slack(SlackError),
    #[error(transparent)]
    Store(StoreError),
}

impl NotPosted {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Slack(e) => e.is_retryable(),
            Self::Store(e) => e.is_retryable(),
        }
    }
}

impl<S: Store> Claim<'_, S> {
    fn posting_key(&self) -> String {
        format!("posting:{}", self.key)
    }

    /// Posts `message` once, as the module describes.
    pub async fn post(
        self,
        slack: &SlackClient,
        webhook: &SecretString,
        message: &SlackMessage,
        now_ms: i64,
    ) -> Result<Posted, NotPosted> {
        let marker = self.posting_key();
        if self.resumed
            && self
                .store
                .cache_get(&marker)
                .await
                .map_err(NotPosted::Store)?
                .is_some()
        {
            let reason = "an earlier attempt stopped while posting".to_owned();
            self.settle_unconfirmed(&reason).await;
            return Ok(Posted::Unconfirmed(reason));
        }
        if let Err(e) = self.store.cache_put(&marker, &self.owner, now_ms).await {
            self.fail("could not record the post").await;
            return Err(NotPosted::Store(e));
        }
        match slack.post(webhook, message).await {
            Ok(()) => {
                self.complete(None).await;
                Ok(Posted::Now)
            }
            Err(e) if e.may_have_posted() => {
                let reason = e.to_string();
                self.settle_unconfirmed(&reason).await;
                Ok(Posted::Unconfirmed(reason))
            }
            Err(e) => {
                if let Err(err) = self.store.cache_delete(&marker).await {
                    tracing::error!(key = %self.key, error = %err, "could not take back the posting mark");
                }
                self.fail(&e.to_string()).await;
                Err(NotPosted::Slack(e))
            }
        }
    }

    async fn settle_unconfirmed(self, reason: &str) {
        tracing::error!(key = %self.key, %reason, "Slack did not confirm a message; it is not posted again");
        self.complete(Some(UNCONFIRMED)).await;
    }

    /// Marks the work done (and forgets any posting mark).
    pub async fn complete(self, result: Option<&str>) {
        match self
            .store
            .complete(&self.key, &self.owner, result, self.retention)
            .await
        {
            Ok(()) | Err(StoreError::ClaimLost { .. }) => {}
            Err(e) => {
                tracing::error!(key = %self.key, error = %e, "could not record once-only work as done")
            }
        }
        if let Err(e) = self.store.cache_delete(&self.posting_key()).await {
            tracing::warn!(key = %self.key, error = %e, "could not clear the posting mark");
        }
    }

    /// Hands the work back, to be claimed again at once.
    pub async fn fail(self, reason: &str) {
        match self.store.fail(&self.key, &self.owner, reason).await {
            Ok(()) | Err(StoreError::ClaimLost { .. }) => {}
            Err(e) => {
                tracing::error!(key = %self.key, error = %e, "could not hand once-only work back")
            }
        }
    }
}
