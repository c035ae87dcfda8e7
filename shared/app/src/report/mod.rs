//! The weekly pipeline report: the deals read from Notion, their figures
//! (`crm_domain::pipeline`), one Slack post per week however often the scheduler
//! retries or `POST /report` asks, and — with a bot token and a chart renderer — the
//! chart shared once in the same channel with Slack's upload flow.
//!
//! The week (ISO, in the configured time zone) is claimed like the digest's day: the
//! text is posted once under `report:<week>` (`post_once`: never twice, said when Slack
//! left it unconfirmed), and the claim keeps the channel Slack posted in. The chart has a
//! claim of its own (`report:<week>:chart`), taken only once the text is posted, so a run
//! that failed between the two finishes the chart on the next run, and a run that finds
//! both done posts nothing.

mod read;
mod rotting;

use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use crm_domain::Clock;
use crm_domain::pipeline::{Pipeline, ReportRules, pipeline, report_message};
use crm_notion::{NotionClient, NotionError, QueryRequest};
use crm_settings::{CachedSecrets, DealProperties, Secrets, SecretsError, SecretsSource};
use crm_slack::{Destination, SlackClient, SlackMessage, Upload};
use crm_store::{Claimed, Claims, StoreError};
use serde::Serialize;

use crate::post_once::{self, NotPosted, Posted};

pub use read::Read;
pub use rotting::RottingOutcome;

crm_store::port!(
    /// What the report keeps: its claims on the week and the chart (and the marks of a
    /// post under way), its presence among the processes spending Notion's budget, and
    /// it reads the deals' kept moves.
    pub ReportStore: Idempotency, CacheRead, CacheWrite, Presence, Batches
);

/// Renders the report's chart as a PNG. The renderer (and its font) lives only in the
/// function that posts the report; everything else runs without one.
pub trait Chart: Send + Sync {
    fn png(&self, figures: &Pipeline, currency: &str, today: NaiveDate) -> Result<Vec<u8>, String>;
}

#[derive(Debug, Clone)]
pub struct ReportSettings {
    pub deals_data_source: String,
    pub properties: DealProperties,
    pub report: crm_settings::ReportSettings,
    pub timezone: Tz,
}

impl ReportSettings {
    pub fn from_settings(s: &crm_settings::Settings) -> Self {
        Self {
            deals_data_source: s.notion.deals.to_string(),
            properties: s.properties.deals.clone(),
            report: s.report.clone(),
            timezone: s.stale.timezone,
        }
    }
}

pub struct PipelineReport<S, P> {
    pub store: S,
    pub notion: NotionClient,
    pub slack: SlackClient,
    pub secrets: Arc<CachedSecrets<P>>,
    pub clock: Arc<dyn Clock>,
    pub settings: ReportSettings,
    pub budget_share: Arc<crate::budget_share::BudgetShare>,
    pub chart: Option<Arc<dyn Chart>>,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportOutcome {
    /// The ISO week: `2026-W50`.
    pub week: String,
    pub deals: usize,
    /// The text was posted by this run.
    pub posted: bool,
    /// The chart was shared by this run.
    pub chart: bool,
    /// False when this week's report had been posted already.
    pub ran: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    MissingSecret(#[from] crm_settings::MissingSecret),
    #[error(transparent)]
    Notion(#[from] NotionError),
    #[error(transparent)]
    NotPosted(#[from] NotPosted),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("another run is making this week's report")]
    Busy,
    #[error("reading the deals took longer than a run may; the retry starts over")]
    OutOfTime,
    #[error("the report's destination: {0}")]
    Unroutable(#[from] crate::destination::Unroutable),
    #[error("the Deals data source has no property named {0:?}")]
    NoProperty(String),
    #[error("telling the deals' owners in Slack: {0}")]
    Owners(String),
}

/// A week's claims are kept past every retry, and past the week.
const CLAIM_RETENTION: Duration = Duration::from_secs(14 * 86_400);
/// As the digest's: the scheduler's retries find a killed run's claim free again.
const CLAIM_LEASE: Duration = crate::digest::CLAIM_LEASE;
/// The longest a run may read: the digest's budget, less the time posting takes.
const READING: Duration = Duration::from_secs(180);

/// What a run made to post.
struct Made {
    figures: Pipeline,
    currency: String,
    deals: usize,
    message: SlackMessage,
}

impl<S: ReportStore, P: SecretsSource> PipelineReport<S, P> {
    pub async fn run(&self) -> Result<ReportOutcome, ReportError> {
        let today = self.today();
        let week = today.iso_week();
        let key = crate::inbox::keys::report(week);
        let mut outcome = ReportOutcome {
            week: format!("{}-W{:02}", week.year(), week.week()),
            deals: 0,
            posted: false,
            chart: false,
            ran: false,
        };
        let secrets = self.secrets.get().await?;
        let claim = match self.store.claim(&key, CLAIM_LEASE, CLAIM_RETENTION).await? {
            Claimed::Done { result } => {
                tracing::info!(week = %outcome.week, "this week's report was posted already");
                // A run that failed after the text leaves the chart to this one.
                if let Some(channel) = post_once::posted_in(result.as_deref()) {
                    outcome.chart = self
                        .share_chart(week, &secrets, channel, None, today)
                        .await?;
                }
                return Ok(outcome);
            }
            Claimed::Busy => return Err(ReportError::Busy),
            Claimed::Owned(claim) => claim,
        };
        outcome.ran = true;
        let made = match self.make(today, &secrets).await {
            Ok(made) => made,
            Err(e) => {
                claim.fail(&e.to_string()).await;
                return Err(e);
            }
        };
        outcome.deals = made.deals;
        if made.deals == 0 {
            // Nothing to report is not a report: a deal added later this week is.
            claim.fail("no deals at this run").await;
            tracing::info!(week = %outcome.week, "no deals to report");
            return Ok(outcome);
        }
        let to = match crate::destination::resolve(&self.settings.report.destination, &secrets) {
            Ok(to) => to,
            Err(e) => {
                claim.fail(&e.to_string()).await;
                return Err(e.into());
            }
        };
        let now = self.clock.now().as_millis();
        let posted = post_once::post(claim, &self.slack, &to, &made.message, now).await?;
        outcome.posted = posted == Posted::Now;
        tracing::info!(week = %outcome.week, deals = made.deals, posted = outcome.posted, "pipeline report");
        if outcome.posted
            && let Destination::Channel { .. } = to
            && let Claimed::Done { result } =
                self.store.claim(&key, CLAIM_LEASE, CLAIM_RETENTION).await?
            && let Some(channel) = post_once::posted_in(result.as_deref())
        {
            outcome.chart = self
                .share_chart(week, &secrets, channel, Some(&made), today)
                .await?;
        }
        Ok(outcome)
    }

    /// Shares the chart once in `channel` (an id): `true` when shared now. The figures are
    /// `made`'s, or read again (a run finishing an earlier one's chart). A chart that
    /// cannot be drawn is logged and left out; the text said everything already.
    async fn share_chart(
        &self,
        week: chrono::IsoWeek,
        secrets: &Secrets,
        channel: &str,
        made: Option<&Made>,
        today: NaiveDate,
    ) -> Result<bool, ReportError> {
        let (Some(chart), Some(token)) = (&self.chart, &secrets.slack_bot_token) else {
            return Ok(false);
        };
        let chart_key = crate::inbox::keys::report_chart(week);
        let claim = match self
            .store
            .claim(&chart_key, CLAIM_LEASE, CLAIM_RETENTION)
            .await?
        {
            Claimed::Done { .. } => return Ok(false),
            Claimed::Busy => return Err(ReportError::Busy),
            Claimed::Owned(claim) => claim,
        };
        let read;
        let made = match made {
            Some(made) => made,
            None => match self.make(today, secrets).await {
                Ok(m) => {
                    read = m;
                    &read
                }
                Err(e) => {
                    claim.fail(&e.to_string()).await;
                    return Err(e);
                }
            },
        };
        let png = match chart.png(&made.figures, &made.currency, today) {
            Ok(png) => png,
            Err(why) => {
                tracing::error!(%why, "the report's chart could not be drawn; the text was posted");
                claim.complete(Some("not drawn")).await;
                return Ok(false);
            }
        };
        let title = format!("Pipeline — week of {}", today.format("%-d %b %Y"));
        let upload = Upload {
            filename: "pipeline.png",
            title: &title,
            alt_text: "Open deals and value by stage, and the value won in each of the last 12 weeks",
            bytes: &png,
            message: None,
        };
        let now = self.clock.now().as_millis();
        let sharing = async {
            self.slack
                .upload_file(token, channel, &upload)
                .await
                .map(|()| None)
        };
        Ok(post_once::send_once(claim, now, sharing).await? == Posted::Now)
    }

    /// Reads every deal and makes the report.
    async fn make(&self, today: NaiveDate, secrets: &Secrets) -> Result<Made, ReportError> {
        let deals = self.read_deals(secrets).await?;
        let now = self.now();
        let reads: Vec<_> = deals.reads.into_iter().map(|r| r.deal).collect();
        let figures = pipeline(&reads, &deals.rules, now, today);
        let (text, blocks) = report_message(&figures, &deals.currency, today, deals.complete);
        Ok(Made {
            figures,
            currency: deals.currency,
            deals: reads.len(),
            message: SlackMessage { text, blocks },
        })
    }

    fn now(&self) -> chrono::DateTime<Utc> {
        Utc.timestamp_millis_opt(self.clock.now().as_millis())
            .single()
            .unwrap_or_else(Utc::now)
    }

    fn today(&self) -> NaiveDate {
        self.now()
            .with_timezone(&self.settings.timezone)
            .date_naive()
    }

    /// Every deal of the Deals data source, with the rules the report weighs them by
    /// (the schema's stages in its order) and its currency.
    async fn read_deals(&self, secrets: &Secrets) -> Result<Deals, ReportError> {
        let reading = async {
            let notion = self
                .notion
                .with_token(secrets.notion_token()?.clone())
                .until(
                    tokio::time::Instant::now() + READING.saturating_sub(self.notion.worst_call()),
                );
            let p = &self.settings.properties;
            let ds = notion
                .retrieve_data_source(&self.settings.deals_data_source)
                .await?;
            let stage = ds
                .properties
                .get(&p.stage)
                .ok_or_else(|| ReportError::NoProperty(p.stage.clone()))?;
            let stages: Vec<String> = stage
                .options()
                .into_iter()
                .map(|o| o.name.trim().to_lowercase())
                .collect();
            let currency = ds
                .properties
                .get(&p.value)
                .and_then(|v| v.number_format())
                .unwrap_or("dollar")
                .to_owned();
            let has_since = ds.properties.contains_key(&p.stage_since);
            let request = QueryRequest {
                page_size: Some(100),
                ..QueryRequest::default()
            };
            // Each response's pages become deals as they come: the report never holds
            // every page of a large pipeline at once.
            let mut reads: Vec<Read> = Vec::new();
            let complete = notion
                .query_each(&self.settings.deals_data_source, &request, |pages| {
                    reads.extend(pages.iter().filter_map(|page| read::deal(page, p)));
                })
                .await?;
            if !has_since {
                for r in &mut reads {
                    read::since_from_history(&self.store, r).await?;
                }
            }
            Ok::<_, ReportError>((reads, stages, currency, complete))
        };
        let read = self
            .budget_share
            .spending(&self.store, &self.notion, reading);
        let (reads, stages, currency, complete) = tokio::time::timeout(READING, read)
            .await
            .map_err(|_| ReportError::OutOfTime)??;
        Ok(Deals {
            reads,
            rules: ReportRules {
                stages,
                probability: self.settings.report.probabilities.clone(),
                rot_days: self.settings.report.rot_days.clone(),
            },
            currency,
            complete,
        })
    }
}

/// The deals as read, and how to weigh them.
struct Deals {
    reads: Vec<Read>,
    rules: ReportRules,
    currency: String,
    complete: bool,
}
