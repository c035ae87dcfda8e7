//! The worker: does the Notion work for inbox items, triggered by the table's stream.
//!
//! Each record ends one of three ways:
//! * **done** — the item is marked done;
//! * **retry** — a fault that may pass (Notion 429/5xx, a busy contact, the store): the
//!   item is marked failed with the reason and the record is reported as a batch item
//!   failure, so the stream delivers it again with backoff;
//! * **failed** — a fault retrying cannot fix (a payload we cannot read, Notion refusing
//!   the write as invalid): the item is marked failed with the reason and the stream
//!   moves on. It stays in the table, listed as open, to be replayed once fixed.
//!
//! Nothing is dropped: in every case the item and its reason are in the table.

mod budget;
mod contacts_index;
pub mod creates;
mod deal;
pub use deal::record_stage;
mod lanes;
mod lead;

pub use budget::{MARGIN as DEADLINE_MARGIN, item_worst_case, lease_for, may_start};
pub use contacts_index::IndexGate;
pub use lanes::Ran;

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use chrono_tz::Tz;
use crm_domain::Clock;
use crm_notion::NotionClient;
use crm_settings::{
    CachedSecrets, LeadSettings, PropertyNames, Secrets, SecretsSource, StageRoute,
};
use crm_slack::SlackClient;
use crm_store::{InboxItem, InboxScan, InboxStatus, Unfinished, inbox_item_from_stream_image};

use crate::inbox::Work;
use secrecy::ExposeSecret;

crm_store::port!(
    /// What the worker keeps: a lease per email, a claim per piece of work, the
    /// contacts index and the deals' last stages, and each item's outcome.
    /// And its presence among the processes spending Notion's budget.
    /// And the batches that gather a burst of Slack messages.
    pub WorkerStore: Leases, Idempotency, CacheRead, CacheWrite, InboxSettle, Presence,
        Batches
);

/// The invocation's deadline (wall-clock, as Lambda gives it) on the runtime's clock.
pub fn deadline_in(deadline: std::time::SystemTime) -> tokio::time::Instant {
    let left = deadline
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    tokio::time::Instant::now() + left
}

/// How soon after a read the secret is read again when Notion refuses its token: often
/// enough to pick up a rotation at once, rarely enough that a batch of refused items
/// makes one read, not one each.
const TOKEN_RECHECK: Duration = Duration::from_secs(10);

/// Why an item waits when Notion refuses the secret's current token.
fn still_refused(reason: &str) -> String {
    format!(
        "{reason} (Notion refuses the secret's notion_token: put the new one in with `crm secret set notion_token`; the next try uses it)"
    )
}

fn token_of(secrets: &Secrets) -> Option<&str> {
    secrets.notion_token.as_ref().map(|t| t.expose_secret())
}

/// What one try at an item came to.
pub(crate) enum Attempt {
    Ended(Outcome),
    /// Notion refused the token (401/403): it may have been rotated since it was read.
    TokenRefused(String),
}

impl From<Outcome> for Attempt {
    fn from(outcome: Outcome) -> Self {
        Self::Ended(outcome)
    }
}

/// How an item ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Retry(String),
    Failed(String),
    /// Not run to the end because it cannot be before `until` (a pause Notion asked for
    /// outlasts the attempt's time, or creates are held: `creates.rs`): back in the
    /// inbox with that time, for the redrive, no attempt counted and no stream retry
    /// spent.
    Wait {
        reason: String,
        until: crm_domain::Timestamp,
    },
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    pub done: Vec<String>,
    /// Item id and why it failed again.
    pub failed: Vec<(String, String)>,
}

/// Settings the worker reads.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub contacts_data_source: String,
    pub deals_data_source: String,
    pub activities_data_source: String,
    /// Stages announced in Slack and where.
    pub routes: Vec<StageRoute>,
    /// Stages whose announcement each owner also gets as a DM (with a bot token).
    pub dm_stages: Vec<String>,
    /// When a burst of messages for one destination is posted as one summary.
    pub burst: crate::burst::BurstSettings,
    pub properties: PropertyNames,
    pub timezone: Tz,
    pub leads: LeadSettings,
    /// How long one attempt may hold a contact (and a submission) before another
    /// worker may take over; longer than [`item_budget`](Self::item_budget).
    pub lease: Duration,
    /// The worst case of one item (see `budget.rs`): a record is taken only while this
    /// still fits before the invocation's deadline.
    pub item_budget: Duration,
    /// How long a done item (and its submission id) is remembered for duplicates.
    pub retention: Duration,
    /// How long to wait for Notion's queries to show a write before looking for it
    /// after a create whose answer was lost. Notion does not document how soon a
    /// created page appears in queries.
    pub settle: Duration,
    /// Items written at the same time (each contact's and each deal's one after
    /// another): enough calls in flight that Notion's budget, not its latency, bounds
    /// the drain.
    pub concurrency: usize,
}

impl WorkerSettings {
    pub fn from_settings(s: &crm_settings::Settings) -> Self {
        Self {
            contacts_data_source: s.notion.contacts.to_string(),
            deals_data_source: s.notion.deals.to_string(),
            activities_data_source: s.notion.activities.to_string(),
            routes: s.routes.clone(),
            dm_stages: s.slack.dm_stages.clone(),
            burst: crate::burst::BurstSettings::from_settings(s),
            properties: s.properties.clone(),
            timezone: s.stale.timezone,
            leads: s.leads.clone(),
            lease: budget::lease_for(budget::item_worst_case(Duration::from_secs(40))),
            item_budget: budget::item_worst_case(Duration::from_secs(40)),
            retention: Duration::from_secs(30 * 86_400),
            settle: Duration::from_secs(2),
            concurrency: s.notion.concurrency as usize,
        }
    }
}

pub struct Worker<S, P> {
    pub store: S,
    /// The client without a token; each batch uses it with the current secret.
    pub notion: NotionClient,
    pub slack: SlackClient,
    pub secrets: Arc<CachedSecrets<P>>,
    pub clock: Arc<dyn Clock>,
    /// How waits for `clock` are made (held Slack messages wait for their batch).
    pub pause: Arc<dyn crate::pause::Pause>,
    pub settings: WorkerSettings,
    /// One catch-up of the contacts index at a time in this process.
    pub index_gate: Arc<contacts_index::IndexGate>,
    /// This process's part of Notion's budget among the processes spending it.
    pub budget_share: Arc<crate::budget_share::BudgetShare>,
    /// Batches of Slack messages this process added to and has yet to post.
    pub touched: Arc<crate::burst::Touched>,
}

impl<S: WorkerStore, P> Worker<S, P> {
    /// Holding and posting bursts of Slack messages with this worker's store and clock.
    pub fn bursts(&self) -> crate::burst::Bursts<'_, S> {
        crate::burst::Bursts {
            store: &self.store,
            slack: &self.slack,
            clock: self.clock.as_ref(),
            pause: self.pause.as_ref(),
            settings: self.settings.burst,
            touched: &self.touched,
        }
    }
}

impl<S: WorkerStore, P: SecretsSource> Worker<S, P> {
    /// Handles one batch of stream records, items for different contacts and deals side
    /// by side (see `lanes.rs`), and reports the ones to retry. With a `deadline` (the
    /// invocation's), an item starts only while its worst case still fits before it;
    /// the rest are reported untouched, so none is killed halfway holding its claim and
    /// lease.
    pub async fn handle_stream(
        &self,
        event: Event,
        deadline: Option<tokio::time::Instant>,
    ) -> DynamoDbEventResponse {
        let mut taken = Vec::new();
        for record in event.records {
            // New work is an inbox item that becomes pending: an INSERT, or a MODIFY when
            // an id whose done item had expired (but was not yet deleted by TTL) is
            // accepted again and the put replaces it. The stream filter in
            // `template.yaml` lets exactly these through; they are checked here too.
            let modify = match record.event_name.as_str() {
                "INSERT" => false,
                "MODIFY" => true,
                _ => continue,
            };
            let image = serde_json::to_value(&record.change.new_image).unwrap_or_default();
            match inbox_item_from_stream_image(&image) {
                Ok(Some(item)) if !modify || item.status == InboxStatus::Pending => {
                    taken.push((record.change.sequence_number, item));
                }
                Ok(_) => {}
                Err(err) => {
                    // The item is in the table, listed as open; retrying cannot fix it.
                    tracing::error!(error = %err, "unreadable inbox record in the stream");
                }
            }
        }
        let ran = self.run_items(taken, deadline).await;
        let handed_back = ran.iter().filter(|(_, r)| *r == Ran::HandedBack).count();
        if handed_back > 0 {
            tracing::warn!(
                handed_back,
                "not enough time left for every item; the rest of the batch is handed back"
            );
        }
        self.report_batch(&ran);
        let mut response = DynamoDbEventResponse::default();
        for (sequence_number, ran) in ran {
            // Reported only when it failed or was not started: a record done is never
            // reported, whatever else in the batch failed.
            if !ran.settled() {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = sequence_number;
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    /// One metrics line per stream batch, for the dashboard: items done, items left for
    /// a retry (failed, waiting or handed back), Notion's calls and rate refusals, and
    /// the messages Slack took.
    fn report_batch<K>(&self, ran: &[(K, Ran)]) {
        let done = ran
            .iter()
            .filter(|(_, r)| {
                matches!(
                    r,
                    Ran::Finished {
                        outcome: Outcome::Done,
                        ..
                    }
                )
            })
            .count() as u64;
        let (calls, refused) = self.notion.take_tally();
        crate::telemetry::metrics(
            "worker",
            &[
                ("ItemsDone", done),
                ("ItemsNotDone", ran.len() as u64 - done),
                ("NotionCalls", calls),
                ("NotionRateLimited", refused),
                ("SlackPosts", self.slack.take_posted()),
            ],
        );
    }

    /// Processes one inbox item (from the stream, a replay or the local server).
    ///
    /// When Notion refuses the token, the secret may have been rotated since it was
    /// read (the cache keeps it for minutes): the secret is read again — or, when
    /// another item read it moments ago, what that one read is taken — and, if the token
    /// changed, the item is tried once more. A token still refused is a fault the
    /// operator fixes in the secret (a token rotated in Notion first): the item fails
    /// for the redrive to retry, and a later try picks up the new token. Never parked.
    pub async fn process(&self, item: &InboxItem) -> Outcome {
        // The item's calls may wait out a long pause of Notion's (today's per-window
        // budgets ask for up to a minute, a workspace's for more) within the item's own
        // worst case, keeping time for one last request: waited out once, not spent as
        // a failure and a stream retry (`budget.rs`). One deadline for the whole item,
        // a second try after a rotated token included, so it never outlasts its lease.
        let wait_until = tokio::time::Instant::now()
            + self
                .settings
                .item_budget
                .saturating_sub(self.notion.worst_call());
        let secrets = match self.secrets.get().await {
            Ok(s) => s,
            Err(err) => return Outcome::Retry(format!("secrets unavailable: {err}")),
        };
        let reason = match self.attempt(item, &secrets, wait_until).await {
            Attempt::Ended(outcome) => return outcome,
            Attempt::TokenRefused(reason) => reason,
        };
        let read = match self.secrets.refresh(TOKEN_RECHECK).await {
            Ok(Some(fresh)) => Ok(fresh),
            // Read again moments ago, by the item refused just before this one: what it
            // read is the newest there is.
            Ok(None) => self.secrets.get().await,
            Err(err) => Err(err),
        };
        let fresh = match read {
            Ok(fresh) if token_of(&fresh) != token_of(&secrets) => fresh,
            Ok(_) => return Outcome::Retry(still_refused(&reason)),
            Err(err) => {
                return Outcome::Retry(format!(
                    "{reason}; and the secret could not be read again: {err}"
                ));
            }
        };
        tracing::info!("Notion refused the token; the secret held a new one, trying again");
        match self.attempt(item, &fresh, wait_until).await {
            Attempt::Ended(outcome) => outcome,
            Attempt::TokenRefused(reason) => Outcome::Retry(still_refused(&reason)),
        }
    }

    async fn attempt(
        &self,
        item: &InboxItem,
        secrets: &Secrets,
        wait_until: tokio::time::Instant,
    ) -> Attempt {
        // Fixing the secret fixes this: retried, never parked as unfixable.
        let token = match secrets.notion_token() {
            Ok(token) => token.clone(),
            Err(missing) => return Outcome::Retry(missing.to_string()).into(),
        };
        let notion = self.notion.with_token(token).until(wait_until);
        match Work::parse(item) {
            Ok(Work::Lead { lead, submission }) => {
                lead::process(self, &notion, &lead, &submission).await
            }
            Ok(Work::Event(event)) => deal::process(self, &notion, secrets, &event).await,
            Err(unreadable) => Outcome::Failed(unreadable).into(),
        }
    }

    /// Records the outcome on the item; `false` when the stream should deliver the
    /// record again.
    pub async fn finish(&self, item: &InboxItem, outcome: Outcome) -> bool {
        let recorded = match &outcome {
            Outcome::Done => {
                self.store
                    .inbox_mark_done(&item.id, self.settings.retention)
                    .await
            }
            Outcome::Retry(reason) => {
                self.store
                    .inbox_mark_failed(&item.id, reason, Unfinished::Retry)
                    .await
            }
            Outcome::Failed(reason) => {
                self.store
                    .inbox_mark_failed(&item.id, reason, Unfinished::Park)
                    .await
            }
            Outcome::Wait { reason, until } => {
                self.store
                    .inbox_mark_failed(&item.id, reason, Unfinished::Wait { until: *until })
                    .await
            }
        };
        match (&outcome, recorded) {
            (_, Err(err)) => {
                tracing::error!(item = %item.id, error = %err, ?outcome, "could not record the outcome; the stream will retry");
                false
            }
            (Outcome::Done, Ok(())) => true,
            (Outcome::Retry(reason), Ok(())) => {
                tracing::warn!(item = %item.id, %reason, "will retry");
                false
            }
            (Outcome::Wait { reason, until }, Ok(())) => {
                tracing::info!(item = %item.id, %reason, until_ms = until.as_millis(), "back in the inbox until then; the redrive runs it");
                true
            }
            (Outcome::Failed(reason), Ok(())) => {
                tracing::error!(item = %item.id, %reason, "parked: no retry can fix this; the redrive tells ops, and `crm replay` runs it once the cause is fixed");
                crate::telemetry::metrics("worker", &[("InboxParked", 1)]);
                true
            }
        }
    }
}

impl<S, P> Worker<S, P> {
    /// How an item ends that Notion's failure `e` stopped: when it is a pause Notion
    /// asked for (or no turn in the process's pace) that the item's time could not
    /// wait out, it waits in the inbox until the pause is over, spending no stream
    /// retry; else a retry.
    pub(crate) fn unfinished(
        &self,
        notion: &NotionClient,
        e: Option<&crm_notion::NotionError>,
        reason: String,
    ) -> Outcome {
        let paced = e.is_some_and(|e| {
            e.is_rate_refusal() || matches!(e, crm_notion::NotionError::Paced { .. })
        });
        if !paced {
            return Outcome::Retry(reason);
        }
        let left = notion
            .paused_until()
            .map(|until| until.saturating_duration_since(tokio::time::Instant::now()))
            .unwrap_or_default();
        Outcome::Wait {
            reason,
            until: self.clock.now().plus(left),
        }
    }
}

/// `crm replay`: needs to list the open inbox, which the stream-fed worker never does.
impl<S: WorkerStore + InboxScan, P: SecretsSource> Worker<S, P> {
    /// Processes every item not yet done (pending, failed or parked), oldest first, and
    /// records each outcome: what an operator runs once the cause of failures is fixed.
    pub async fn replay(&self, limit: usize) -> Result<ReplayReport, crm_store::StoreError> {
        let items = self.store.inbox_list_open(limit).await?;
        let tagged = items.into_iter().map(|i| (i.id.clone(), i)).collect();
        let mut report = ReplayReport::default();
        for (id, ran) in self.run_items(tagged, None).await {
            match ran {
                Ran::Finished {
                    outcome: Outcome::Done,
                    ..
                } => report.done.push(id),
                Ran::Finished {
                    outcome:
                        Outcome::Retry(reason) | Outcome::Failed(reason) | Outcome::Wait { reason, .. },
                    ..
                } => report.failed.push((id, reason)),
                Ran::HandedBack => {}
            }
        }
        Ok(report)
    }
}
