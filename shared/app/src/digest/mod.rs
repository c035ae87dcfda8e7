//! The daily stale-lead digest: one Slack message naming the leads nobody has touched
//! in N days, at most once per day however often the scheduler retries.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use crm_domain::Clock;
use crm_domain::stale::{Recipients, StaleLead, cutoff, digest, is_stale, last_touch, recipients};
use crm_notion::filter::{Choice, Condition, Date, Timestamp};
use crm_notion::{Filter, NotionClient, NotionError, Page, PropertyValue, QueryRequest};
use crm_settings::{CachedSecrets, ContactProperties, SecretsError, SecretsSource, StaleSettings};
use crm_slack::{Destination, SlackClient, SlackMessage};
use crm_store::{Claimed, Claims, StoreError};

use secrecy::{ExposeSecret, SecretString};

use crate::post_once::{self, NotPosted, Posted};
use crate::slack_people::{Directory, Person, people_of};
use serde::Serialize;

crm_store::port!(
    /// What the digest keeps is what posting once keeps (its claim on the day, and the
    /// mark of a post under way), and its presence among the processes spending
    /// Notion's budget.
    pub DigestStore: Idempotency, CacheRead, CacheWrite, Presence
);

#[derive(Debug, Clone)]
pub struct DigestSettings {
    pub contacts_data_source: String,
    pub properties: ContactProperties,
    pub stale: StaleSettings,
}

impl DigestSettings {
    pub fn from_settings(s: &crm_settings::Settings) -> Self {
        Self {
            contacts_data_source: s.notion.contacts.to_string(),
            properties: s.properties.contacts.clone(),
            stale: s.stale.clone(),
        }
    }
}

pub struct Digest<S, P> {
    pub store: S,
    pub notion: NotionClient,
    pub slack: SlackClient,
    pub secrets: Arc<CachedSecrets<P>>,
    pub clock: Arc<dyn Clock>,
    pub settings: DigestSettings,
    /// This process's part of Notion's budget among the processes spending it.
    pub budget_share: Arc<crate::budget_share::BudgetShare>,
}

/// What a run is to post.
struct Made {
    /// Stale leads in all.
    stale: usize,
    /// The channel digest of the leads no owner in Slack looks after.
    channel: Option<(Destination, SlackMessage)>,
    direct: Vec<DirectDigest>,
}

/// One owner's own stale leads, for a DM.
struct DirectDigest {
    user: String,
    token: SecretString,
    message: SlackMessage,
}

/// What a run did, returned to the scheduler (and logged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestReport {
    pub date: String,
    pub stale: usize,
    pub posted: bool,
    /// Owners sent their own stale leads by DM in this run.
    pub direct: usize,
    /// False when the digest for this date had already been handled.
    pub ran: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    MissingSecret(#[from] crm_settings::MissingSecret),
    #[error(transparent)]
    Notion(#[from] NotionError),
    #[error(transparent)]
    NotPosted(#[from] NotPosted),
    #[error("Slack: {0}")]
    Slack(#[from] crm_slack::SlackError),
    #[error("looking the leads' owners up in Slack: {0}")]
    Owners(#[from] crate::slack_people::LookupError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("another run is making today's digest")]
    Busy,
    #[error("reading the stale leads took longer than a run may; the retry starts over")]
    OutOfTime,
    #[error("the digest's destination: {0}")]
    Unroutable(#[from] crate::destination::Unroutable),
}

/// A day's claim is kept a few days: long enough to outlast every retry.
const CLAIM_RETENTION: Duration = Duration::from_secs(3 * 86_400);
/// The longest one run may take: the function's timeout in `template.yaml` (a test
/// holds them equal). Long enough to wait out a spent window of Notion's (up to a
/// minute) or a workspace's longer pause while reading, once, rather than fail the run:
/// a Lambda function waiting costs its memory's seconds, and runs once a day.
pub const RUN_BUDGET: Duration = Duration::from_secs(240);
/// How long a run holds the day's claim. EventBridge Scheduler invokes the function
/// asynchronously, and Lambda retries a failed or timed-out invocation twice, about
/// one and three minutes later: a run killed at its timeout must have let the claim go
/// by then, or both retries would find it busy and the day would have no digest.
pub const CLAIM_LEASE: Duration = Duration::from_secs(270);
/// Time kept for posting once the leads are read: one Slack call at its worst, and a
/// margin. The reading stops (and the run fails, to be retried) rather than eat it.
const POST_RESERVE: Duration = Duration::from_secs(50);

impl<S: DigestStore, P: SecretsSource> Digest<S, P> {
    pub async fn run(&self) -> Result<DigestReport, DigestError> {
        let tz = self.settings.stale.timezone;
        let now = self.clock.now();
        let today = Utc
            .timestamp_millis_opt(now.as_millis())
            .single()
            .unwrap_or_else(Utc::now)
            .with_timezone(&tz)
            .date_naive();
        let key = crate::inbox::keys::digest(today);
        let report = |stale, posted, ran| DigestReport {
            date: today.to_string(),
            stale,
            posted,
            direct: 0,
            ran,
        };
        let claim = match self.store.claim(&key, CLAIM_LEASE, CLAIM_RETENTION).await? {
            Claimed::Done { .. } => {
                tracing::info!(date = %today, "today's digest was already handled");
                return Ok(report(0, false, false));
            }
            Claimed::Busy => return Err(DigestError::Busy),
            Claimed::Owned(claim) => claim,
        };
        let reading = async {
            let made = self.make(today, tz).await;
            if let Err(DigestError::Notion(e)) = &made
                && e.is_token_refused()
                && self.token_rotated().await
            {
                tracing::info!("Notion refused the token; the secret held a new one, trying again");
                return self.make(today, tz).await;
            }
            made
        };
        let made = self
            .budget_share
            .spending(&self.store, &self.notion, reading)
            .await;
        let made = match made {
            Err(err) => {
                claim.fail(&err.to_string()).await;
                return Err(err);
            }
            Ok(None) => {
                // The day is claimed only by a run that posts: a lead may be stale by a
                // later run today (`POST /digest`, a scheduler retry).
                claim.fail("nothing was stale at this run").await;
                tracing::info!(date = %today, "no stale lead now");
                return Ok(report(0, false, true));
            }
            Ok(Some(made)) => made,
        };
        // From here on, never an error once Slack may have a message: a failed run is
        // retried, and the post-once protocol keeps a retry from posting one again.
        // Owners first, each under a claim of their own: one that fails hands the day
        // back, and the retry skips those already told.
        let mut direct = 0;
        for dm in &made.direct {
            match self.tell_owner(&key, dm).await {
                Ok(told) => direct += usize::from(told),
                Err(err) => {
                    claim.fail(&err.to_string()).await;
                    return Err(err);
                }
            }
        }
        let stale = made.stale;
        let Some((to, message)) = made.channel else {
            claim.complete(None).await;
            tracing::info!(date = %today, stale, direct, "stale leads sent to their owners");
            return Ok(DigestReport {
                direct,
                ..report(stale, false, true)
            });
        };
        let now = self.clock.now().as_millis();
        let with_direct = |r: DigestReport| DigestReport { direct, ..r };
        match post_once::post(claim, &self.slack, &to, &message, now).await {
            Ok(Posted::Now) => {
                tracing::info!(date = %today, stale, direct, "digest posted");
                Ok(with_direct(report(stale, true, true)))
            }
            Ok(Posted::Unconfirmed(_)) => Ok(with_direct(report(stale, false, true))),
            Err(not_posted) => Err(DigestError::NotPosted(not_posted)),
        }
    }

    /// Sends one owner their stale leads, once a day: `true` when sent now.
    async fn tell_owner(&self, day_key: &str, dm: &DirectDigest) -> Result<bool, DigestError> {
        let key = format!("{day_key}:dm:{}", dm.user);
        let claim = match self.store.claim(&key, CLAIM_LEASE, CLAIM_RETENTION).await? {
            Claimed::Done { .. } => return Ok(false),
            Claimed::Busy => return Err(DigestError::Busy),
            Claimed::Owned(claim) => claim,
        };
        let channel = match self.slack.open_dm(&dm.token, &dm.user).await {
            Ok(channel) => channel,
            Err(e) => {
                claim.fail(&e.to_string()).await;
                return Err(DigestError::Slack(e));
            }
        };
        let to = Destination::Channel {
            token: dm.token.clone(),
            channel,
        };
        let now = self.clock.now().as_millis();
        match post_once::post(claim, &self.slack, &to, &dm.message, now).await {
            Ok(Posted::Now) => Ok(true),
            Ok(Posted::Unconfirmed(_)) => Ok(false),
            Err(not_posted) => Err(DigestError::NotPosted(not_posted)),
        }
    }

    /// Whether the secret, read again, holds another Notion token than the one in use:
    /// it was rotated since the cache read it.
    async fn token_rotated(&self) -> bool {
        let Ok(before) = self.secrets.get().await else {
            return false;
        };
        match self.secrets.refresh(Duration::ZERO).await {
            Ok(Some(after)) => {
                let token = |s: &crm_settings::Secrets| {
                    s.notion_token
                        .as_ref()
                        .map(|t| t.expose_secret().to_owned())
                };
                token(&after) != token(&before)
            }
            _ => false,
        }
    }

    /// Reads today's stale leads and, when there are any, makes the messages: the
    /// owners' DMs (with a bot token) and the channel's digest of the rest.
    async fn make(&self, today: NaiveDate, tz: Tz) -> Result<Option<Made>, DigestError> {
        let stale = &self.settings.stale;
        let p = &self.settings.properties;
        let cut = cutoff(today, stale.days);
        let cut_instant = tz
            .from_local_datetime(&cut.and_hms_opt(0, 0, 0).unwrap_or_default())
            .earliest()
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| cut.to_string());
        let status = |names: &[String]| match names {
            [one] => Choice::Equals(one.clone()),
            many => Choice::EqualsAny(many.to_vec()),
        };
        // Two branches, each within Notion's two levels of nesting: touched long ago,
        // or never touched and created long ago.
        let request = QueryRequest {
            filter: Some(Filter::or([
                Filter::and([
                    Filter::property(&p.status, Condition::Select(status(&stale.open_statuses))),
                    Filter::property(
                        &p.last_contacted,
                        Condition::Date(Date::Before(cut.to_string())),
                    ),
                ]),
                Filter::and([
                    Filter::property(&p.status, Condition::Select(status(&stale.open_statuses))),
                    Filter::property(&p.last_contacted, Condition::Date(Date::IsEmpty(true))),
                    Filter::timestamp(Timestamp::CreatedTime, Date::Before(cut_instant)),
                ]),
            ])),
            page_size: Some(100),
            ..QueryRequest::default()
        };
        let secrets = self.secrets.get().await?;
        let reading = RUN_BUDGET - POST_RESERVE;
        // A long pause of Notion's (a spent window's `Retry-After`, up to a minute) is
        // waited out within the reading's time, once, rather than failing the run and
        // waiting for Lambda's retry.
        let notion = self
            .notion
            .with_token(secrets.notion_token()?.clone())
            .until(tokio::time::Instant::now() + reading.saturating_sub(self.notion.worst_call()));
        let read = notion.query_all(&self.settings.contacts_data_source, &request);
        let (pages, complete) = tokio::time::timeout(reading, read)
            .await
            .map_err(|_| DigestError::OutOfTime)??;
        let leads: Vec<(StaleLead, Vec<Person>)> = pages
            .iter()
            .filter(|page| !page.in_trash)
            .filter_map(|page| {
                let lead = self.stale_lead(page, tz)?;
                let owners = page.property(&p.owner).map(people_of).unwrap_or_default();
                Some((lead, owners))
            })
            .filter(|(lead, _)| is_stale(lead.last_touch, today, stale.days))
            .collect();
        if leads.is_empty() {
            return Ok(None);
        }
        let count = leads.len();
        let split = match &secrets.slack_bot_token {
            Some(token) => self.split_by_owner(leads, token).await?,
            None => Recipients {
                channel: leads.into_iter().map(|(lead, _)| lead).collect(),
                ..Recipients::default()
            },
        };
        let message = |leads: &[StaleLead]| {
            let (text, blocks) = digest(leads, today, stale.days, complete);
            SlackMessage { text, blocks }
        };
        let channel = if split.channel.is_empty() {
            None
        } else {
            let to = crate::destination::resolve(&stale.destination, &secrets)?;
            Some((to, message(&split.channel)))
        };
        let direct = match &secrets.slack_bot_token {
            Some(token) => split
                .direct
                .iter()
                .map(|(user, leads)| DirectDigest {
                    user: user.clone(),
                    token: token.clone(),
                    message: message(leads),
                })
                .collect(),
            None => Vec::new(),
        };
        Ok(Some(Made {
            stale: count,
            channel,
            direct,
        }))
    }

    /// Each lead to the owners Slack knows, the rest to the channel; each person looked
    /// up once per run (and remembered in the store across runs).
    async fn split_by_owner(
        &self,
        leads: Vec<(StaleLead, Vec<Person>)>,
        token: &SecretString,
    ) -> Result<Recipients, DigestError> {
        let directory = Directory {
            store: &self.store,
            slack: &self.slack,
            token,
            now_ms: self.clock.now().as_millis(),
        };
        let mut known: HashMap<String, Option<String>> = HashMap::new();
        let mut with_users = Vec::with_capacity(leads.len());
        for (lead, people) in leads {
            let mut users = Vec::new();
            for person in &people {
                let Some(email) = &person.email else {
                    continue;
                };
                let user = match known.get(email.as_str()) {
                    Some(user) => user.clone(),
                    None => {
                        let user = directory.slack_user(email).await?;
                        known.insert(email.as_str().to_owned(), user.clone());
                        user
                    }
                };
                users.extend(user);
            }
            with_users.push((lead, users));
        }
        Ok(recipients(with_users))
    }

    fn stale_lead(&self, page: &Page, tz: Tz) -> Option<StaleLead> {
        let p = &self.settings.properties;
        let text = |name: &str| page.property(name).and_then(PropertyValue::as_text);
        let last_touch = match page.property(&p.last_contacted) {
            Some(PropertyValue::Date { date: Some(d) }) => {
                NaiveDate::parse_from_str(d.start.get(..10)?, "%Y-%m-%d").ok()?
            }
            _ => last_touch(
                None,
                DateTime::parse_from_rfc3339(&page.created_time)
                    .ok()?
                    .with_timezone(&Utc),
                tz,
            ),
        };
        Some(StaleLead {
            name: text(&p.name).unwrap_or_default(),
            email: text(&p.email),
            company: text(&p.company),
            url: page.url.clone(),
            last_touch,
        })
    }
}
