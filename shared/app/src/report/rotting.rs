//! Deals that rot reach their owners: each day, each owner Slack knows gets one DM
//! listing their deals that crossed their stage's limit and that they have not been told
//! about in this stint (a deal is told once per stint in a stage: a move starts a new
//! one). The channel hears of rotting deals only in the weekly report.
//!
//! Two claims, one protocol (`crm_store::Claims`): each (deal, stint, owner) is claimed
//! before the DM (`rotting-told:`), and the owner's day is posted once under its own
//! (`rotting:`, `post_once`). A DM posted — or that Slack may have posted — completes the
//! deals' claims; one certainly not posted hands them back, and so does finding the
//! day's DM already sent: tomorrow's lists them.

use std::collections::BTreeMap;
use std::time::Duration;

use crm_domain::pipeline::{Named, rotting_days, rotting_message};
use crm_settings::SecretsSource;
use crm_slack::{Destination, SlackMessage};
use crm_store::{Claimed, Claims};
use serde::Serialize;

use super::{PipelineReport, ReportError, ReportStore};
use crate::inbox::keys;
use crate::post_once::{self, Posted};
use crate::slack_people::Directory;

/// A told deal is remembered longer than any stage's limit is likely to be.
const TOLD_RETENTION: Duration = Duration::from_secs(180 * 86_400);
/// A day's DM claim outlasts the day's retries.
const DAY_RETENTION: Duration = Duration::from_secs(3 * 86_400);
const LEASE: Duration = crate::digest::CLAIM_LEASE;

/// One rotting deal of an owner's: its page, the stint it is in (when it entered its
/// stage), how the DM names it, its stage and that stage's limit.
struct Rotting {
    page_id: String,
    since_ms: i64,
    named: Named,
    stage: String,
    limit: u32,
}

/// What a run told.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RottingOutcome {
    /// Open deals past their stage's limit.
    pub rotting: usize,
    /// Owners sent a DM by this run.
    pub owners: usize,
    /// Deals named in those DMs.
    pub told: usize,
}

/// Hands the deals' claims back: they are listed again by the next day's DM.
async fn hand_back<S: ReportStore>(claims: Vec<crm_store::Claim<'_, S>>, why: &str) {
    for claim in claims {
        claim.fail(why).await;
    }
}

impl<S: ReportStore, P: SecretsSource> PipelineReport<S, P> {
    /// Sends each owner their newly rotting deals, once a day (with a bot token; without
    /// one there is no one to DM, and nothing is done).
    pub async fn tell_rotting(&self) -> Result<RottingOutcome, ReportError> {
        let secrets = self.secrets.get().await?;
        let Some(token) = secrets.slack_bot_token.clone() else {
            return Ok(RottingOutcome::default());
        };
        let deals = self.read_deals(&secrets).await?;
        let now = self.now();
        let today = self.today();
        let directory = Directory {
            store: &self.store,
            slack: &self.slack,
            token: &token,
            now_ms: self.clock.now().as_millis(),
        };
        // Owner (Slack user) → their rotting deals, with the stint each is in.
        let mut by_owner: BTreeMap<String, Vec<Rotting>> = BTreeMap::new();
        let mut outcome = RottingOutcome::default();
        for read in &deals.reads {
            let Some(days) = rotting_days(&read.deal, &deals.rules, now) else {
                continue;
            };
            outcome.rotting += 1;
            let stage = read.deal.stage.clone().unwrap_or_default();
            let limit = deals
                .rules
                .rot_days
                .get(&stage)
                .copied()
                .unwrap_or_default();
            let named = Named::of(&read.deal, days);
            let since_ms = read.deal.since.at().timestamp_millis();
            for person in &read.people {
                let Some(email) = &person.email else { continue };
                let Some(user) = directory
                    .slack_user(email)
                    .await
                    .map_err(|e| ReportError::Owners(e.to_string()))?
                else {
                    continue;
                };
                by_owner.entry(user).or_default().push(Rotting {
                    page_id: read.page_id.clone(),
                    since_ms,
                    named: named.clone(),
                    stage: stage.clone(),
                    limit,
                });
            }
        }
        for (user, rotting) in by_owner {
            let told = self.tell_owner(&token, &user, today, rotting).await?;
            if told > 0 {
                outcome.owners += 1;
                outcome.told += told;
            }
        }
        Ok(outcome)
    }

    /// One owner's DM: the deals not yet told in their stint, claimed, then posted once
    /// for the day. Returns how many deals it named.
    async fn tell_owner(
        &self,
        token: &secrecy::SecretString,
        user: &str,
        today: chrono::NaiveDate,
        rotting: Vec<Rotting>,
    ) -> Result<usize, ReportError> {
        let mut claims = Vec::new();
        let mut listed = Vec::new();
        for r in rotting {
            let key = keys::rotting_told(&r.page_id, r.since_ms, user);
            match self.store.claim(&key, LEASE, TOLD_RETENTION).await? {
                Claimed::Owned(claim) => {
                    claims.push(claim);
                    listed.push((r.named, r.stage, r.limit));
                }
                Claimed::Done { .. } | Claimed::Busy => {}
            }
        }
        if listed.is_empty() {
            return Ok(0);
        }
        let day = match self
            .store
            .claim(&keys::rotting_dm(today, user), LEASE, DAY_RETENTION)
            .await
        {
            Ok(Claimed::Owned(day)) => day,
            Ok(Claimed::Done { .. } | Claimed::Busy) => {
                hand_back(claims, "today's DM was sent already").await;
                return Ok(0);
            }
            Err(e) => {
                hand_back(claims, &e.to_string()).await;
                return Err(e.into());
            }
        };
        let channel = match self.slack.open_dm(token, user).await {
            Ok(channel) => channel,
            Err(e) => {
                day.fail(&e.to_string()).await;
                hand_back(claims, &e.to_string()).await;
                return Err(ReportError::Owners(e.to_string()));
            }
        };
        let (text, blocks) = rotting_message(&listed);
        let to = Destination::Channel {
            token: token.clone(),
            channel,
        };
        let now = self.clock.now().as_millis();
        match post_once::post(day, &self.slack, &to, &SlackMessage { text, blocks }, now).await {
            Ok(Posted::Now | Posted::Unconfirmed(_)) => {
                for claim in claims {
                    claim.complete(None).await;
                }
                Ok(listed.len())
            }
            Err(not_posted) => {
                hand_back(claims, &not_posted.to_string()).await;
                Err(not_posted.into())
            }
        }
    }
}
