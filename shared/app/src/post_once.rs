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

use crm_slack::{Destination, SlackClient, SlackError, SlackMessage};
use crm_store::{Claim, Idempotency, StoreError};

crm_store::port!(
    /// What posting once keeps: the claim and a mark for a post under way.
    pub PostStore: Idempotency, CacheRead, CacheWrite
);

/// The result recorded on a claim whose post Slack did not confirm.
pub const UNCONFIRMED: &str = "unconfirmed";

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

fn posting_key(claim: &Claim<'_, impl Idempotency>) -> String {
    crate::inbox::keys::posting(claim.key())
}

/// Posts `message` once under `claim`, as the module describes. With the bot, the claim
/// keeps the id of the channel posted in as its result (see [`posted_in`]).
pub async fn post<S: PostStore>(
    claim: Claim<'_, S>,
    slack: &SlackClient,
    to: &Destination,
    message: &SlackMessage,
    now_ms: i64,
) -> Result<Posted, NotPosted> {
    send_once(claim, now_ms, slack.send(to, message)).await
}

/// The channel a post completed under `result` (a claim's) went to, when Slack said.
pub fn posted_in(result: Option<&str>) -> Option<&str> {
    result.filter(|r| *r != UNCONFIRMED && !r.is_empty())
}

/// Sends once under `claim` with `send` (a post, an upload: anything that shares one
/// message), as the module describes; `send` answers the channel id when it knows it.
pub async fn send_once<S: PostStore>(
    claim: Claim<'_, S>,
    now_ms: i64,
    send: impl std::future::Future<Output = Result<Option<String>, SlackError>>,
) -> Result<Posted, NotPosted> {
    let store = claim.store();
    let marker = posting_key(&claim);
    if claim.resumed()
        && store
            .cache_get(&marker)
            .await
            .map_err(NotPosted::Store)?
            .is_some()
    {
        let reason = "an earlier attempt stopped while posting".to_owned();
        settle_unconfirmed(claim, &reason).await;
        return Ok(Posted::Unconfirmed(reason));
    }
    if let Err(e) = store.cache_put(&marker, claim.owner(), now_ms).await {
        claim.fail("could not record the post").await;
        return Err(NotPosted::Store(e));
    }
    match send.await {
        Ok(channel) => {
            complete(claim, channel.as_deref()).await;
            Ok(Posted::Now)
        }
        Err(e) if e.may_have_posted() => {
            let reason = e.to_string();
            settle_unconfirmed(claim, &reason).await;
            Ok(Posted::Unconfirmed(reason))
        }
        Err(e) => {
            if let Err(err) = store.cache_delete(&marker).await {
                tracing::error!(key = %claim.key(), error = %err, "could not take back the posting mark");
            }
            claim.fail(&e.to_string()).await;
            Err(NotPosted::Slack(e))
        }
    }
}

async fn settle_unconfirmed<S: PostStore>(claim: Claim<'_, S>, reason: &str) {
    tracing::error!(key = %claim.key(), %reason, "Slack did not confirm a message; it is not posted again");
    complete(claim, Some(UNCONFIRMED)).await;
}

/// Completes the claim and forgets its posting mark.
async fn complete<S: PostStore>(claim: Claim<'_, S>, result: Option<&str>) {
    let store = claim.store();
    let marker = posting_key(&claim);
    claim.complete(result).await;
    if let Err(e) = store.cache_delete(&marker).await {
        tracing::warn!(error = %e, "could not clear the posting mark");
    }
}
