//! The redrive: work the stream gave up on is finished without a person
//! (docs/design.md, "Redrive").
//!
//! Every few minutes (EventBridge Scheduler in AWS, a loop in `crm serve`) it reads the
//! open inbox items and, for each, does what `crm_domain::redrive::Policy` says: retry
//! it now through the worker (the same code as `crm replay`), wait out its pause, or
//! give up on it after a week and park it. Then it tells the `ops` destination what a
//! person should know, once: a backlog that has waited too long, items no retry can
//! fix, and the backlog clearing.

mod alarms;
mod report;

pub use alarms::{Invocation, Published};

use std::time::Duration;

use crm_domain::redrive::{ItemTimes, Policy, Standing, Step};
use crm_settings::{RedriveSettings, SecretsSource};
use crm_store::{InboxItem, InboxStatus, LeaseOutcome, StoreError, Unfinished};

use serde::Serialize;
use tokio::time::Instant;

use crate::inbox::keys;
use crate::worker::{Outcome, Ran, Worker};

crm_store::port!(
    /// What the redrive keeps: the worker's records, its run's lease, and what it
    /// lists of the open inbox.
    pub RedriveStore: Leases, Idempotency, CacheRead, CacheWrite, InboxSettle, InboxScan,
        Presence, Batches
);

/// How many open items one run reads; the oldest come first, and a backlog larger
/// than this is worked through over several runs.
const BATCH: usize = 1000;
/// How long one run holds the redrive: longer than the function's timeout in
/// `template.yaml`, so a run killed at its timeout lets the next one in.
pub const RUN_LEASE: Duration = Duration::from_secs(6 * 60);

pub struct Redrive<S, P> {
    pub worker: Worker<S, P>,
    pub policy: Policy,
    /// The Slack destination told about work that needs a person.
    pub ops_destination: String,
}

/// What one run did (returned to the scheduler and logged).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RedriveReport {
    /// Whether this run did the work (false: another run held the redrive).
    pub ran: bool,
    pub retried: usize,
    pub finished: usize,
    /// Still waiting out a pause.
    pub waiting: usize,
    /// Given up on after the age limit, and parked.
    pub given_up: usize,
    /// Due, but left for the next run: this one was out of time.
    pub deferred: usize,
    /// Open items not done longer than the report threshold, after this run.
    pub overdue: usize,
    /// Parked items, after this run.
    pub parked: usize,
    /// Whether ops was sent (or logged) a report.
    pub reported: bool,
    /// Bursts of Slack messages posted that an earlier run left.
    pub bursts: usize,
    /// Whether Notion's creates are held (`worker/creates.rs`), after this run.
    pub creates_held: bool,
}

pub fn policy_from(settings: &RedriveSettings) -> Policy {
    Policy {
        give_up_after: Duration::from_secs(u64::from(settings.give_up_days) * 86_400),
        report_after: Duration::from_secs(u64::from(settings.report_after_minutes) * 60),
        ..Policy::default()
    }
}

fn times(item: &InboxItem) -> ItemTimes {
    ItemTimes {
        standing: match item.status {
            InboxStatus::Pending => Standing::Pending,
            InboxStatus::Failed => Standing::Failed,
            InboxStatus::Parked => Standing::Parked,
            InboxStatus::Done => Standing::Done,
        },
        attempts: item.attempts,
        received_at: item.received_at,
        updated_at: item.updated_at,
        not_before: item.not_before,
    }
}

impl<S: RedriveStore, P: SecretsSource> Redrive<S, P> {
    /// One run, until `deadline` (the function's) when there is one. Runs never
    /// overlap: one that finds the redrive held returns at once.
    pub async fn run(&self, deadline: Option<Instant>) -> Result<RedriveReport, StoreError> {
        let store = &self.worker.store;
        let owner = uuid::Uuid::new_v4().to_string();
        if let LeaseOutcome::Held { .. } =
            store.take_lease(keys::REDRIVE, &owner, RUN_LEASE).await?
        {
            tracing::info!("another redrive is running");
            return Ok(RedriveReport::default());
        }
        let result = self.drive(deadline).await;
        if let Err(e) = store.release_lease(keys::REDRIVE, &owner).await {
            // The lease runs out on its own; the next run only starts later.
            tracing::warn!(error = %e, "could not release the redrive");
        }
        result
    }

    /// Posts the bursts of Slack messages that are due and were left unposted (a worker
    /// run that ended first, or Slack down).
    async fn post_bursts(&self) -> usize {
        let secrets = match self.worker.secrets.get().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "secrets unavailable; held Slack messages wait for the next run");
                return 0;
            }
        };
        match self.worker.bursts().post_due(&secrets).await {
            Ok(posted) => posted,
            Err(e) => {
                tracing::warn!(error = %e, "a held burst of Slack messages was not posted; the next run tries again");
                0
            }
        }
    }

    async fn drive(&self, deadline: Option<Instant>) -> Result<RedriveReport, StoreError> {
        let store = &self.worker.store;
        let mut report = RedriveReport {
            ran: true,
            ..RedriveReport::default()
        };
        let now = self.worker.clock.now();
        let mut due = Vec::new();
        for item in store.inbox_list_open(BATCH).await? {
            match self.policy.step(times(&item), now) {
                Step::Leave => {}
                Step::WaitUntil(_) => report.waiting += 1,
                Step::GiveUp => {
                    let reason = format!(
                        "retried for {} days without success; the last attempt: {}",
                        self.policy.give_up_after.as_secs() / 86_400,
                        item.last_error.as_deref().unwrap_or("none finished"),
                    );
                    store
                        .inbox_mark_failed(&item.id, &reason, Unfinished::Park)
                        .await?;
                    tracing::error!(item = %item.id, %reason, "given up and parked");
                    report.given_up += 1;
                }
                Step::Retry => due.push(((), item)),
            }
        }
        // The same runner as the stream's: side by side, each contact's in order.
        for ((), ran) in self.worker.run_items(due, deadline).await {
            match ran {
                Ran::HandedBack => report.deferred += 1,
                Ran::Finished { outcome, .. } => {
                    report.retried += 1;
                    report.finished += usize::from(outcome == Outcome::Done);
                    report.waiting += usize::from(matches!(outcome, Outcome::Wait { .. }));
                }
            }
        }
        report.bursts = self.post_bursts().await;
        let open = store.inbox_list_open(BATCH).await?;
        self.tell_ops(&open, &mut report).await;
        crate::telemetry::metrics(
            "redrive",
            &[
                // Up to the run's listing (BATCH): what the dashboard shows waiting.
                ("InboxOpen", open.len() as u64),
                ("InboxOverdue", report.overdue as u64),
                ("InboxParked", report.parked as u64),
                ("InboxGivenUp", report.given_up as u64),
                ("NotionCreatesHeld", u64::from(report.creates_held)),
            ],
        );
        tracing::info!(?report, "redrive run");
        Ok(report)
    }
}
