//! Bursts: many stage changes for one Slack destination at once (a script moving 40
//! deals) are posted as one summary instead of one message each.
//!
//! Every announcement (a channel's, an owner's DM) is first *held*: added to the open
//! batch of its destination ([`crm_store::Batches`]) under the claim of its own key, so
//! a redelivered event finds it done and adds nothing. A batch is due when no message
//! joined it for `hold`, or `window` after its first; then it is closed (nothing joins a
//! closed batch: the next message opens the destination's next batch) and posted — each
//! message on its own when there are at most `threshold` of them, else one summary. A
//! closed batch's contents never change, so whoever posts it decides the same, and each
//! post has a claim of its own (`sent:{message}` or `sent:{batch}`): every message is in
//! exactly one post.
//!
//! The worker posts the batches it added to once they are due, before its run ends; a
//! run that ends first (or fails to post) leaves them to the redrive, which finds every
//! batch in a registry kept per day.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use crm_domain::Clock;
use crm_domain::deal::{Move, summary};
use crm_settings::Secrets;
use crm_slack::{Destination, SlackClient, SlackMessage};
use crm_store::{Batch, Claim, Claimed, Claims, StoreError};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::inbox::keys;
use crate::post_once::{self, NotPosted, Posted};

crm_store::port!(
    /// What holding and posting bursts keeps: the batches, each message's and batch's
    /// claim and posting mark, and where each destination's open batch is.
    pub BurstStore: Batches, Idempotency, CacheRead, CacheWrite
);

/// How long batches, their registry and their claims are kept: longer than the redrive
/// retries anything.
const RETENTION: Duration = Duration::from_secs(14 * 86_400);
/// Days of registries the redrive looks through for batches not yet posted.
const REGISTRY_DAYS: i64 = 7;
/// How often a wait for a batch to fall due looks again (others may join it).
const POLL: Duration = Duration::from_millis(250);

/// When messages are summarised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BurstSettings {
    /// More messages than this in one batch are one summary; 0: no holding at all.
    pub threshold: u32,
    pub window: Duration,
    pub hold: Duration,
}

impl BurstSettings {
    pub fn from_settings(s: &crm_settings::Settings) -> Self {
        Self {
            threshold: s.slack.burst_threshold,
            window: s.slack.burst_window,
            hold: s.slack.burst_hold,
        }
    }

    /// Whether messages are held for bursts at all.
    pub fn enabled(&self) -> bool {
        self.threshold > 0
    }
}

/// A message held in a batch: where it goes, its own key, and the move it announces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Held {
    /// A destination name (a route's, resolved when posted) or `dm:{slack user}`.
    pub destination: String,
    pub key: String,
    pub moved: Move,
}

#[derive(Debug, thiserror::Error)]
pub enum BurstError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    NotPosted(#[from] NotPosted),
    #[error(transparent)]
    Slack(#[from] crm_slack::SlackError),
    #[error(transparent)]
    Unroutable(#[from] crate::destination::Unroutable),
    #[error("a batch of {destination:?} holds a message that cannot be read")]
    Unreadable { destination: String },
    #[error("another attempt is posting this burst")]
    Busy,
    /// A held DM, and the secret no longer has a bot token to send it with.
    #[error("a direct message is held, and the secret has no slack_bot_token to send it with")]
    NoBotToken,
}

impl BurstError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable(),
            Self::NotPosted(e) => e.is_retryable(),
            Self::Slack(e) => e.is_retryable(),
            Self::Busy => true,
            // Fixed by a person putting the token back, which the next run reads.
            Self::NoBotToken => true,
            Self::Unroutable(_) | Self::Unreadable { .. } => false,
        }
    }
}

/// The batches this process added to and has not yet posted.
#[derive(Debug, Default)]
pub struct Touched(Mutex<std::collections::BTreeSet<String>>);

impl Touched {
    fn add(&self, batch: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(batch.to_owned());
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
            .into_iter()
            .collect()
    }
}

/// Holding and posting bursts, for one worker (or redrive) run.
pub struct Bursts<'a, S> {
    pub store: &'a S,
    pub slack: &'a SlackClient,
    pub clock: &'a dyn Clock,
    pub pause: &'a dyn crate::pause::Pause,
    pub settings: BurstSettings,
    pub touched: &'a Touched,
}

impl<S: BurstStore> Bursts<'_, S> {
    fn day(&self) -> chrono::NaiveDate {
        Utc.timestamp_millis_opt(self.clock.now().as_millis())
            .single()
            .unwrap_or_else(Utc::now)
            .date_naive()
    }

    /// Holds `held` in its destination's open batch under `claim` (the message's own),
    /// which is completed once it is there. From then on posting it is the batch's.
    pub async fn hold(&self, claim: Claim<'_, S>, held: &Held) -> Result<(), BurstError> {
        match self.add(&claim, held).await {
            Ok(batch) => {
                self.touched.add(&batch);
                claim.complete(Some("held")).await;
                Ok(())
            }
            Err(e) => {
                claim.fail(&e.to_string()).await;
                Err(e)
            }
        }
    }

    async fn add(&self, claim: &Claim<'_, S>, held: &Held) -> Result<String, BurstError> {
        let store = self.store;
        // Which batch an attempt was adding to, written before the add: an attempt that
        // stopped after adding must not add the message to a later batch as well.
        let mark = keys::burst_holding(&held.key);
        if claim.resumed()
            && let Some(earlier) = store.cache_get(&mark).await?
            && let Some(batch) = store.batch_get(&earlier.value).await?
            && batch.entries.contains_key(&held.key)
        {
            return Ok(earlier.value);
        }
        let entry = serde_json::to_string(held).map_err(|_| BurstError::Unreadable {
            destination: held.destination.clone(),
        })?;
        let now = self.clock.now().as_millis();
        loop {
            let seq = store
                .cache_get(&keys::burst_pointer(&held.destination))
                .await?
                .map_or(0, |e| e.version);
            let batch = keys::burst_batch(&held.destination, seq);
            // Registered first: a batch that holds anything is always found.
            store
                .batch_add(
                    &keys::burst_registry(self.day()),
                    &batch,
                    &held.destination,
                    RETENTION,
                )
                .await?;
            store.cache_put(&mark, &batch, now).await?;
            if store
                .batch_add(&batch, &held.key, &entry, RETENTION)
                .await?
                .is_some()
            {
                return Ok(batch);
            }
            // Closed: the destination's next batch is open.
            let next = seq + 1;
            store
                .cache_put(
                    &keys::burst_pointer(&held.destination),
                    &next.to_string(),
                    next,
                )
                .await?;
        }
    }

    /// Posts the batches this run added to, each once it is due, waiting for them until
    /// `deadline`; what is not due by then (or fails) is left to the redrive.
    pub async fn post_touched(&self, secrets: &Secrets, deadline: Option<Instant>) {
        let batches = self.touched.take();
        let posts = batches
            .iter()
            .map(|b| self.post_when_due(b, secrets, deadline));
        for (batch, posted) in batches.iter().zip(futures::future::join_all(posts).await) {
            if let Err(e) = posted {
                tracing::warn!(batch, error = %e, "a burst was not posted; the redrive posts it");
            }
        }
    }

    /// The redrive: posts every registered batch that is due and not yet posted.
    pub async fn post_due(&self, secrets: &Secrets) -> Result<usize, BurstError> {
        let today = self.day();
        let mut posted = 0;
        for back in 0..=REGISTRY_DAYS {
            let day = today - chrono::Duration::days(back);
            let Some(registry) = self.store.batch_get(&keys::burst_registry(day)).await? else {
                continue;
            };
            for batch in registry.entries.keys() {
                if self
                    .store
                    .cache_get(&keys::burst_posted(batch))
                    .await?
                    .is_some()
                {
                    continue;
                }
                // One batch that cannot be posted (Slack refusing its destination)
                // does not hold back the others.
                match self
                    .post_when_due(batch, secrets, Some(Instant::now()))
                    .await
                {
                    Ok(true) => posted += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(batch, error = %e, "a burst was not posted; the next run tries again");
                    }
                }
            }
        }
        Ok(posted)
    }

    /// Waits (until `deadline`) for `batch` to fall due, then closes and posts it;
    /// `false` when it was not due in time.
    async fn post_when_due(
        &self,
        batch: &str,
        secrets: &Secrets,
        deadline: Option<Instant>,
    ) -> Result<bool, BurstError> {
        let closed = loop {
            let Some(b) = self.store.batch_get(batch).await? else {
                return Ok(false);
            };
            if b.closed {
                break b;
            }
            let due = b
                .last_at
                .plus(self.settings.hold)
                .min(b.first_at.plus(self.settings.window));
            let now = self.clock.now();
            if now >= due {
                break self.store.batch_close(batch, RETENTION).await?;
            }
            let wait = Duration::from_millis((due.as_millis() - now.as_millis()) as u64);
            if deadline.is_some_and(|d| Instant::now() + wait.min(POLL) > d) {
                return Ok(false);
            }
            self.pause.pause(wait.min(POLL)).await;
        };
        self.post(batch, &closed, secrets).await?;
        let now = self.clock.now().as_millis();
        self.store
            .cache_put(&keys::burst_posted(batch), "posted", now)
            .await?;
        Ok(true)
    }

    /// Posts a closed batch: each message alone, or one summary.
    async fn post(&self, batch: &str, closed: &Batch, secrets: &Secrets) -> Result<(), BurstError> {
        let mut held: Vec<Held> = Vec::with_capacity(closed.entries.len());
        for entry in closed.entries.values() {
            let h: Held = serde_json::from_str(entry).map_err(|_| BurstError::Unreadable {
                destination: batch.to_owned(),
            })?;
            held.push(h);
        }
        let Some(first) = held.first() else {
            return Ok(());
        };
        let destination = first.destination.clone();
        if held.len() <= self.settings.threshold as usize {
            for h in &held {
                let (text, blocks) = h.moved.message();
                self.post_once(
                    &keys::burst_sent(&h.key),
                    &destination,
                    secrets,
                    SlackMessage { text, blocks },
                )
                .await?;
            }
            return Ok(());
        }
        let moves: Vec<Move> = held.into_iter().map(|h| h.moved).collect();
        let (text, blocks) = summary(&moves);
        tracing::info!(
            destination,
            moves = moves.len(),
            "a burst of stage changes posted as one summary"
        );
        self.post_once(
            &keys::burst_sent(batch),
            &destination,
            secrets,
            SlackMessage { text, blocks },
        )
        .await
    }

    async fn post_once(
        &self,
        key: &str,
        destination: &str,
        secrets: &Secrets,
        message: SlackMessage,
    ) -> Result<(), BurstError> {
        let claim = match self
            .store
            .claim(key, Duration::from_secs(120), RETENTION)
            .await?
        {
            Claimed::Done { .. } => return Ok(()),
            Claimed::Busy => return Err(BurstError::Busy),
            Claimed::Owned(claim) => claim,
        };
        let to = match self.destination(destination, secrets).await {
            Ok(to) => to,
            Err(e) => {
                claim.fail(&e.to_string()).await;
                return Err(e);
            }
        };
        let now = self.clock.now().as_millis();
        if let Posted::Unconfirmed(reason) =
            post_once::post(claim, self.slack, &to, &message, now).await?
        {
            // The events it announces are done, so no item is parked for it: it is
            // counted as one, which raises the parked alarm and so reaches ops.
            tracing::error!(destination, %reason, "a held Slack message may have been posted without Slack confirming it; it is not posted again, check the channel");
            crate::telemetry::metrics("worker", &[("InboxParked", 1)]);
        }
        Ok(())
    }

    async fn destination(&self, name: &str, secrets: &Secrets) -> Result<Destination, BurstError> {
        match (name.strip_prefix("dm:"), &secrets.slack_bot_token) {
            (Some(user), Some(token)) => Ok(Destination::Channel {
                token: token.clone(),
                channel: self.slack.open_dm(token, user).await?,
            }),
            (Some(_), None) => Err(BurstError::NoBotToken),
            (None, _) => Ok(crate::destination::resolve(name, secrets)?),
        }
    }
}
