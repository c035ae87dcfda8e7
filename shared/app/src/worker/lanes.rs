//! Items written at the same time.
//!
//! Notion's budget, not its latency, should bound the worker: one lead costs three
//! calls of a few hundred milliseconds each, so one lead at a time leaves most of the
//! budget unspent. Items are therefore run side by side, up to a limit, and the pacing
//! limiter the Notion client shares between them spends the budget.
//!
//! Side by side only where it is safe: items are sorted into lanes — one per contact
//! (the canonical email) and one per deal page — and a lane runs its items one after
//! another, in the order they came. Two submissions of one person would otherwise
//! race for the contact's lease and one would be sent back to wait; two events of one
//! deal would race to record the last stage seen.

use std::collections::HashMap;

use futures::StreamExt;
use tokio::time::Instant;

use crm_settings::SecretsSource;
use crm_store::InboxItem;

use super::WorkerStore;
use super::{Outcome, Worker, budget};
use crate::inbox::Work;

/// How one item of a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ran {
    /// Processed; `settled` when its outcome is recorded and it needs no redelivery.
    Finished { outcome: Outcome, settled: bool },
    /// Not started: its worst case no longer fitted before the deadline.
    HandedBack,
}

impl Ran {
    /// Whether the item needs no redelivery: done, or parked.
    pub fn settled(&self) -> bool {
        matches!(self, Self::Finished { settled: true, .. })
    }
}

/// The lane an item runs in.
fn lane(item: &InboxItem) -> String {
    match Work::parse(item) {
        Ok(Work::Lead { lead, .. }) => format!("contact {}", lead.email.as_str()),
        Ok(Work::Event(event)) => format!("page {}", event.entity.id),
        // Fails on its own; it waits for no one.
        Err(_) => format!("item {}", item.id),
    }
}

/// Sorts tagged items into lanes, keeping their order within each lane and the order
/// in which lanes first appear.
fn into_lanes<T>(items: Vec<(T, InboxItem)>) -> Vec<Vec<(T, InboxItem)>> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut lanes: Vec<Vec<(T, InboxItem)>> = Vec::new();
    for (tag, item) in items {
        let key = lane(&item);
        let at = *index.entry(key).or_insert_with(|| {
            lanes.push(Vec::new());
            lanes.len() - 1
        });
        lanes[at].push((tag, item));
    }
    lanes
}

impl<S: WorkerStore, P: SecretsSource> Worker<S, P> {
    /// Processes and records `items`, up to `concurrency` lanes at a time, and says how
    /// each ended, tag by tag. With a `deadline`, an item starts only while its worst
    /// case still fits before it; the others are handed back untouched.
    pub async fn run_items<T>(
        &self,
        items: Vec<(T, InboxItem)>,
        deadline: Option<Instant>,
    ) -> Vec<(T, Ran)> {
        if items.is_empty() {
            return Vec::new();
        }
        let lanes = into_lanes(items);
        let runs = futures::stream::iter(lanes)
            .map(|lane| self.run_lane(lane, deadline))
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect::<Vec<_>>();
        let ran = self
            .budget_share
            .spending(&self.store, &self.notion, runs)
            .await
            .into_iter()
            .flatten()
            .collect();
        self.post_bursts(deadline).await;
        ran
    }

    /// Posts the bursts of Slack messages the items held, once each is due, while the
    /// run has time; the rest are the redrive's.
    async fn post_bursts(&self, deadline: Option<Instant>) {
        if !self.settings.burst.enabled() {
            return;
        }
        let secrets = match self.secrets.get().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "secrets unavailable; the redrive posts the held messages");
                return;
            }
        };
        let until = deadline.map(|d| d.checked_sub(budget::MARGIN).unwrap_or(d));
        self.bursts().post_touched(&secrets, until).await;
    }

    async fn run_lane<T>(
        &self,
        lane: Vec<(T, InboxItem)>,
        deadline: Option<Instant>,
    ) -> Vec<(T, Ran)> {
        let mut ran = Vec::with_capacity(lane.len());
        let mut handing_back = false;
        for (tag, item) in lane {
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            handing_back = handing_back
                || remaining.is_some_and(|r| !budget::may_start(r, self.settings.item_budget));
            if handing_back {
                ran.push((tag, Ran::HandedBack));
                continue;
            }
            let outcome = self.process(&item).await;
            let settled = self.finish(&item, outcome.clone()).await;
            ran.push((tag, Ran::Finished { outcome, settled }));
        }
        ran
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_store::InboxStatus;

    fn lead(id: &str, email: &str) -> InboxItem {
        let lead = serde_json::json!({
            "submission_id": id, "email": email, "name": null, "company": null,
            "phone": null, "message": null, "source": "website", "utm": {},
            "provider": "own", "received_at_ms": 0,
        });
        InboxItem {
            id: format!("lead:own:{id}"),
            kind: "lead".into(),
            payload: lead.to_string(),
            status: InboxStatus::Pending,
            attempts: 0,
            last_error: None,
            received_at: crm_domain::Timestamp::from_millis(0),
            updated_at: crm_domain::Timestamp::from_millis(0),
            not_before: None,
        }
    }

    #[test]
    fn one_persons_submissions_share_a_lane_in_their_order() {
        let items = vec![
            (1, lead("1", "ann@example.com")),
            (2, lead("2", "bo@example.com")),
            (3, lead("3", "ann@example.com")),
            (4, lead("4", "cy@example.com")),
        ];
        let tags: Vec<Vec<i32>> = into_lanes(items)
            .into_iter()
            .map(|l| l.into_iter().map(|(t, _)| t).collect())
            .collect();
        assert_eq!(tags, vec![vec![1, 3], vec![2], vec![4]]);
    }
}
