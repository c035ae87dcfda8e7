//! Telling ops, once: the backlog when it begins and when it clears, each parked item
//! once. One message per run at most, so an outage of hours is one message, not one
//! per lead.
//!
//! Once means: what was reported is recorded after Slack took the message, so a
//! failed post is tried again by the next run; a run killed between the post and the
//! record repeats its message (ops reports are at-least-once, unlike deal alerts).

use std::time::Duration;

use crm_domain::ops::{CreatesHeld, Report, Unfinished};
use crm_settings::SecretsSource;
use crm_slack::SlackMessage;
use crm_store::{Claim, Claimed, Claims, InboxItem, InboxStatus};

use super::RedriveStore;

use super::{Redrive, RedriveReport, times};
use crate::inbox::{Kind, keys};
use crate::worker::creates::{Creates, PROBE_EVERY};

/// How long a parked item's report is remembered: a month later, if still parked, it
/// is reported again.
const PARKED_MEMORY: Duration = Duration::from_secs(30 * 86_400);
/// How long the report on one spell of held creates is remembered.
const HELD_MEMORY: Duration = Duration::from_secs(90 * 86_400);
/// The backlog's state in the store.
const REPORTED: &str = "reported";
const CLEAR: &str = "clear";

fn unfinished(item: &InboxItem) -> Unfinished {
    Unfinished {
        id: item.id.clone(),
        reason: item
            .last_error
            .clone()
            .unwrap_or_else(|| "not picked up yet".into()),
    }
}

impl<S: RedriveStore, P: SecretsSource> Redrive<S, P> {
    pub(super) async fn tell_ops(&self, open: &[InboxItem], run: &mut RedriveReport) {
        let store = &self.worker.store;
        let now = self.worker.clock.now();
        let overdue: Vec<&InboxItem> = open
            .iter()
            .filter(|i| self.policy.overdue(times(i), now))
            .collect();
        let parked: Vec<&InboxItem> = open
            .iter()
            .filter(|i| i.status == InboxStatus::Parked)
            .collect();
        run.overdue = overdue.len();
        run.parked = parked.len();

        let backlog = match store.cache_get(keys::OPS_BACKLOG).await {
            Ok(entry) => entry.is_some_and(|e| e.value == REPORTED),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the backlog's state; reporting next run");
                return;
            }
        };
        let creates = Creates {
            store,
            clock: self.worker.clock.as_ref(),
        };
        let held = match creates.held().await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(error = %e, "could not read whether creates are held; reporting next run");
                return;
            }
        };
        run.creates_held = held.is_some();
        let mut claims: Vec<Claim<'_, S>> = Vec::new();
        let mut report = Report {
            waiting_minutes: self.policy.report_after.as_secs() / 60,
            // Not while creates are held: what waits for them is not cleared.
            cleared: backlog && overdue.is_empty() && held.is_none(),
            ..Report::default()
        };
        // Creates held: said once per spell, with the leads that wait for it. It stands
        // for the backlog too (recorded as reported below), so the leads it holds are
        // not listed again an hour later, and its end is the backlog clearing.
        if let Some(held) = held {
            let key = keys::ops_creates_held(held.since_ms);
            match store.claim(&key, super::RUN_LEASE, HELD_MEMORY).await {
                Ok(Claimed::Owned(claim)) => {
                    claims.push(claim);
                    report.creates_held = Some(CreatesHeld {
                        cause: held.why,
                        leads_waiting: open
                            .iter()
                            .filter(|i| i.kind == Kind::Lead.as_str())
                            .filter(|i| i.status != InboxStatus::Parked)
                            .count(),
                        probe_minutes: PROBE_EVERY.as_secs() / 60,
                    });
                }
                Ok(Claimed::Done { .. } | Claimed::Busy) => {}
                Err(e) => tracing::warn!(error = %e, "could not check the report on held creates"),
            }
        }
        if !backlog && report.creates_held.is_none() {
            report.waiting = overdue.iter().map(|i| unfinished(i)).collect();
        }
        for item in parked {
            let key = keys::ops_parked(&item.id);
            match store.claim(&key, super::RUN_LEASE, PARKED_MEMORY).await {
                Ok(Claimed::Owned(claim)) => {
                    claims.push(claim);
                    report.parked.push(unfinished(item));
                }
                Ok(Claimed::Done { .. } | Claimed::Busy) => {}
                Err(e) => tracing::warn!(error = %e, "could not check a parked item's report"),
            }
        }
        if report.is_empty() {
            return;
        }
        if let Err(why) = self.send(&report).await {
            tracing::warn!(%why, "could not tell ops; the next run tries again");
            for claim in claims {
                claim.fail(&why).await;
            }
            return;
        }
        for claim in claims {
            claim.complete(None).await;
        }
        let state = if report.cleared
            || (!backlog && report.waiting.is_empty() && report.creates_held.is_none())
        {
            CLEAR
        } else {
            REPORTED
        };
        if let Err(e) = store
            .cache_put(keys::OPS_BACKLOG, state, now.as_millis())
            .await
        {
            tracing::warn!(error = %e, "could not record the backlog's state");
        }
        run.reported = true;
    }

    /// Posts the report to the ops destination; without one, the log is the report.
    async fn send(&self, report: &Report) -> Result<(), String> {
        self.tell(&report.lines()).await
    }

    /// Where ops messages go; without a destination, `None`, and the log says `lines`.
    pub(super) async fn ops_destination(
        &self,
        lines: &[String],
    ) -> Result<Option<crm_slack::Destination>, String> {
        let secrets = self.worker.secrets.get().await.map_err(|e| e.to_string())?;
        match crate::destination::resolve(&self.ops_destination, &secrets) {
            Ok(to) => Ok(Some(to)),
            Err(_) => {
                tracing::error!(
                    destination = %self.ops_destination,
                    report = %lines.join("\n"),
                    "work needs attention; add an ops webhook to slack_webhooks in the secret (or a bot token and an ops channel) to hear about it in Slack"
                );
                Ok(None)
            }
        }
    }

    /// Posts lines to the ops destination; without one, the log says them.
    pub(super) async fn tell(&self, lines: &[String]) -> Result<(), String> {
        let text = lines.join("\n");
        let Some(to) = self.ops_destination(lines).await? else {
            return Ok(());
        };
        let message = SlackMessage {
            text: text.clone(),
            blocks: crm_domain::slack::sections(lines),
        };
        self.worker
            .slack
            .send(&to, &message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
