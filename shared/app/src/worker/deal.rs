//! A deal's stage change, announced in Slack exactly once.
//!
//! Webhook events carry no values and arrive late, twice, merged or out of order, so an
//! event is only a prompt: the worker reads the deal's current stage and compares it
//! with the last stage it applied (kept with the timestamp of the event it came from).
//! An event older than the last applied one is ignored. An announcement is claimed
//! under a key made of the deal, the state it moves from and the stage it moves to, so
//! however many events report one transition, one message is posted.

use chrono::DateTime;
use crm_domain::NotionId;
use crm_domain::deal::{Deal, Move, Owner, changed};
use crm_notion::{NotionClient, NotionError, Page, PropertyValue, UpdatePage, WebhookEvent};
use crm_settings::{Secrets, SecretsSource};
use crm_slack::{Destination, SlackMessage};
use crm_store::{Claimed, Claims, StoreError};
use tracing::Instrument;

use super::WorkerStore;
use super::{Attempt, Outcome, Worker};
use crate::deals::history::{self, Transition};
use crate::deals::{self, DealSchema, Relevance, SchemaError, classify};
use crate::inbox::keys;
use crate::post_once::{self, NotPosted, Posted, UNCONFIRMED};
use crate::slack_people::{Directory, LookupError, Person, people_of};

#[derive(Debug, thiserror::Error)]
enum DealFailure {
    #[error(transparent)]
    Notion(#[from] NotionError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    NotPosted(#[from] NotPosted),
    /// Slack may have posted the announcement but did not confirm it: it is not posted
    /// again, and the item stays failed with this reason for a person to check.
    #[error("{0}; not posted again, check the channel")]
    Unconfirmed(String),
    /// Another attempt holds this announcement right now; it will post or hand it back.
    #[error("another attempt is announcing this stage change")]
    Busy,
    #[error("the Deals data source has no property named {0:?}")]
    NoProperty(String),
    #[error(transparent)]
    Unroutable(#[from] crate::destination::Unroutable),
    /// The owners could not be looked up in Slack (a refused bot token, Slack down).
    #[error("looking the deal's owners up in Slack: {0}")]
    Owners(#[from] LookupError),
    #[error("holding the message for its destination's burst: {0}")]
    Burst(#[from] crate::burst::BurstError),
}

impl DealFailure {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Notion(e) => e.is_retryable(),
            Self::Store(e) => e.is_retryable(),
            Self::NotPosted(e) => e.is_retryable(),
            Self::Busy => true,
            Self::Owners(e) => e.is_retryable(),
            Self::Burst(e) => e.is_retryable(),
            Self::NoProperty(_) | Self::Unroutable(_) | Self::Unconfirmed(_) => false,
        }
    }
}

/// How far ahead of our clock an event's time is believed (Notion's clock may differ a
/// little; a forged far-future time may not).
const MAX_CLOCK_AHEAD_MS: i64 = 5 * 60_000;

pub async fn process<S: WorkerStore, P: SecretsSource>(
    worker: &Worker<S, P>,
    notion: &NotionClient,
    secrets: &Secrets,
    event: &WebhookEvent,
) -> Attempt {
    let span = tracing::info_span!("deal_event", event_id = %event.id, page_id = %event.entity.id, kind = %event.kind);
    let run = Run {
        worker,
        notion,
        secrets,
        event,
    };
    match run.run().instrument(span).await {
        Ok(()) => Outcome::Done.into(),
        Err(DealFailure::Notion(e)) if e.is_token_refused() => Attempt::TokenRefused(e.to_string()),
        Err(failure) if failure.is_retryable() => {
            let notion_error = match &failure {
                DealFailure::Notion(e) => Some(e),
                _ => None,
            };
            worker
                .unfinished(notion, notion_error, failure.to_string())
                .into()
        }
        Err(failure) => Outcome::Failed(failure.to_string()).into(),
    }
}

struct Run<'a, S, P> {
    worker: &'a Worker<S, P>,
    notion: &'a NotionClient,
    secrets: &'a Secrets,
    event: &'a WebhookEvent,
}

impl<S: WorkerStore, P: SecretsSource> Run<'_, S, P> {
    async fn run(&self) -> Result<(), DealFailure> {
        let schema = self.schema().await?;
        let event = self.event;
        if !self.is_about_deals(&schema) {
            tracing::warn!(
                "an event that names a database other than Deals' was ignored (the webhook let it through before it knew the Deals database)"
            );
            return Ok(());
        }
        if event.kind == "page.properties_updated"
            && !event.data.updated_properties.contains(&schema.stage)
        {
            tracing::debug!("stage not among the updated properties");
            return Ok(());
        }
        if event.is_only_by(&self.bot_id().await?) {
            tracing::debug!("our own change");
            return Ok(());
        }
        let ids: Vec<String> = [
            Some(schema.stage.clone()),
            Some(schema.name.clone()),
            schema.value.clone(),
            schema.owner.clone(),
        ]
        .into_iter()
        .flatten()
        .collect();
        let page = match self.notion.retrieve_page(&event.entity.id, &ids).await {
            Ok(page) => page,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if page.in_trash {
            return Ok(());
        }
        let (deal, people) = read_deal(&page, &schema);
        // An event's time orders it against others, so a time far in the future would
        // make every real change after it look older: none is taken past a few minutes
        // from now.
        let now = self.worker.clock.now().as_millis();
        let event_ms = DateTime::parse_from_rfc3339(&event.timestamp)
            .map(|t| t.timestamp_millis())
            .unwrap_or(now)
            .min(now + MAX_CLOCK_AHEAD_MS);
        let store = &self.worker.store;
        let key = keys::deal_stage(&page.id);
        let last = store.cache_get(&key).await?;
        if let Some(last) = &last
            && event_ms < last.version
        {
            tracing::info!("older than the last applied event; ignored");
            return Ok(());
        }
        let previous = last.as_ref().map(|l| l.value.clone());
        let current = deal.stage.clone();
        if !changed(previous.as_deref(), current.as_deref()) {
            if let Some(stage) = &current {
                record_stage(store, &page.id, stage, event_ms).await?;
            }
            return Ok(());
        }
        let stage = current.unwrap_or_default();
        let route = self
            .worker
            .settings
            .routes
            .iter()
            .find(|r| r.stage.eq_ignore_ascii_case(stage.trim()));
        if let Some(route) = route {
            let deal = Deal {
                owners: self.owners(&people).await?,
                ..deal
            };
            let since = last.as_ref().map_or(0, |l| l.version);
            let claim = keys::announcement(&page.id, since, &stage);
            self.announce(&claim, previous.as_deref(), &deal, &route.destination)
                .await?;
            let dm = self
                .worker
                .settings
                .dm_stages
                .iter()
                .any(|s| s.trim().eq_ignore_ascii_case(stage.trim()));
            if dm {
                self.tell_owners(&claim, previous.as_deref(), &deal).await?;
            }
        }
        let moved = Transition {
            from: previous,
            to: stage.clone(),
            at_ms: event_ms,
        };
        self.keep(&page.id, &moved, &schema).await?;
        record_stage(store, &page.id, &stage, event_ms).await?;
        Ok(())
    }

    /// Keeps the applied transition in the deal's history and writes its time to the
    /// deal's `Stage Since` (when the schema has it). Both may be repeated: a retry
    /// writes the same. Done before the stage is recorded as applied, so a failure here
    /// leaves the transition to the retry. The webhook ignores the edit (it is the
    /// integration's own, and not of the stage).
    async fn keep(
        &self,
        page_id: &str,
        moved: &Transition,
        schema: &DealSchema,
    ) -> Result<(), DealFailure> {
        history::keep(&self.worker.store, page_id, moved).await?;
        let Some(property) = &schema.stage_since_name else {
            return Ok(());
        };
        let update = UpdatePage {
            properties: [(property.clone(), PropertyValue::date(moved.notion_date()))].into(),
            in_trash: None,
        };
        match self.notion.update_page(page_id, &update).await {
            Ok(_) => Ok(()),
            // The property changed type or went away since the schema was read: the
            // history still has the time, and the schema is read again within the hour.
            Err(e) if e.status() == Some(400) => {
                tracing::warn!(error = %e, "could not write the deal's Stage Since; the report reads the product's own record");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The deal's owners, mentioned where Slack knows them (with a bot token), else
    /// named.
    async fn owners(&self, people: &[Person]) -> Result<Vec<Owner>, DealFailure> {
        let Some(token) = &self.secrets.slack_bot_token else {
            return Ok(people.iter().map(|p| Owner::named(&p.name)).collect());
        };
        let directory = Directory {
            store: &self.worker.store,
            slack: &self.worker.slack,
            token,
            now_ms: self.worker.clock.now().as_millis(),
        };
        Ok(directory.owners(people).await?)
    }

    /// Sends the announcement to each owner Slack knows, as a direct message, once per
    /// owner and transition ("ping the deal owner").
    async fn tell_owners(
        &self,
        claim: &str,
        previous: Option<&str>,
        deal: &Deal,
    ) -> Result<(), DealFailure> {
        let Some(token) = &self.secrets.slack_bot_token else {
            return Ok(());
        };
        for user in deal.owners.iter().filter_map(|o| o.slack_user.as_deref()) {
            let to = To::DirectMessage { token, user };
            if self
                .post_once(&format!("{claim}:dm:{user}"), previous, deal, to)
                .await?
            {
                tracing::info!("stage change sent to an owner");
            }
        }
        Ok(())
    }

    /// Posts the announcement once per claim key (see `post_once.rs`).
    async fn announce(
        &self,
        claim: &str,
        previous: Option<&str>,
        deal: &Deal,
        destination: &str,
    ) -> Result<(), DealFailure> {
        let to = crate::destination::resolve(destination, self.secrets)?;
        if self
            .post_once(claim, previous, deal, To::Ready(destination, to))
            .await?
        {
            tracing::info!(destination, "stage change announced");
        }
        Ok(())
    }

    /// Posts the announcement under `claim` unless it was posted already; `true` when
    /// posted now. A DM's conversation is opened only once the claim is this attempt's.
    /// With bursts on, the message is held for its destination's batch instead (see
    /// `burst.rs`), which posts it alone or in a summary.
    async fn post_once(
        &self,
        claim: &str,
        previous: Option<&str>,
        deal: &Deal,
        to: To<'_>,
    ) -> Result<bool, DealFailure> {
        let settings = &self.worker.settings;
        let owned = match self
            .worker
            .store
            .claim(claim, settings.lease, settings.retention)
            .await?
        {
            // Reported once, by the attempt that met it; a replay settles the item.
            Claimed::Done { result } if result.as_deref() == Some(UNCONFIRMED) => {
                tracing::info!(
                    "this stage change's post was left unconfirmed earlier; not posted again"
                );
                return Ok(false);
            }
            Claimed::Done { .. } => return Ok(false),
            Claimed::Busy => return Err(DealFailure::Busy),
            Claimed::Owned(owned) => owned,
        };
        let moved = Move {
            previous: previous.map(str::to_owned),
            deal: deal.clone(),
        };
        if settings.burst.enabled() {
            let destination = match &to {
                To::Ready(name, _) => (*name).to_owned(),
                To::DirectMessage { user, .. } => format!("dm:{user}"),
            };
            let held = crate::burst::Held {
                destination,
                key: claim.to_owned(),
                moved,
            };
            self.worker.bursts().hold(owned, &held).await?;
            return Ok(false);
        }
        let to = match to {
            To::Ready(_, to) => to,
            To::DirectMessage { token, user } => match self.worker.slack.open_dm(token, user).await
            {
                Ok(channel) => Destination::Channel {
                    token: token.clone(),
                    channel,
                },
                Err(e) => {
                    owned.fail(&e.to_string()).await;
                    return Err(DealFailure::Owners(e.into()));
                }
            },
        };
        let (text, blocks) = moved.message();
        let now = self.worker.clock.now().as_millis();
        let message = SlackMessage { text, blocks };
        match post_once::post(owned, &self.worker.slack, &to, &message, now).await? {
            Posted::Now => Ok(true),
            Posted::Unconfirmed(reason) => Err(DealFailure::Unconfirmed(reason)),
        }
    }

    /// Whether the event is about the Deals data source. The webhook lets an event
    /// through that names only a database while it does not know Deals' database yet;
    /// here the schema says.
    fn is_about_deals(&self, schema: &DealSchema) -> bool {
        // Settings are validated at start; an id that does not parse cannot happen.
        let Ok(deals) = NotionId::parse(&self.worker.settings.deals_data_source) else {
            return true;
        };
        let database = schema
            .database
            .as_deref()
            .and_then(|d| NotionId::parse(d).ok());
        !matches!(
            classify(self.event.data.parent.as_ref(), &deals, database.as_ref()),
            Relevance::Other(_)
        )
    }

    /// The ids of the Deals properties, read from the schema and cached.
    async fn schema(&self) -> Result<DealSchema, DealFailure> {
        let w = self.worker;
        deals::schema(
            &w.store,
            self.notion,
            &w.settings.deals_data_source,
            &w.settings.properties.deals,
            w.clock.now().as_millis(),
        )
        .await
        .map_err(|e| match e {
            SchemaError::Notion(e) => DealFailure::Notion(e),
            SchemaError::Store(e) => DealFailure::Store(e),
            SchemaError::NoProperty(name) => DealFailure::NoProperty(name),
        })
    }

    /// This integration's bot user id, read once and cached.
    async fn bot_id(&self) -> Result<String, DealFailure> {
        let store = &self.worker.store;
        if let Some(cached) = store.cache_get(keys::NOTION_BOT_USER).await? {
            return Ok(cached.value);
        }
        let bot = self.notion.retrieve_bot_user().await?;
        store.cache_put(keys::NOTION_BOT_USER, &bot.id, 0).await?;
        Ok(bot.id)
    }
}

/// Where an announcement goes.
enum To<'a> {
    /// A destination by its name, resolved.
    Ready(&'a str, Destination),
    /// A DM to this Slack user, its conversation opened when needed.
    DirectMessage {
        token: &'a secrecy::SecretString,
        user: &'a str,
    },
}

/// The deal, its owners named, and the owners as Notion people (to find in Slack).
fn read_deal(page: &Page, schema: &DealSchema) -> (Deal, Vec<Person>) {
    let by_id = |id: &str| page.property_by_id(id).map(|(_, v)| v);
    let stage = by_id(&schema.stage).and_then(PropertyValue::as_text);
    let name = by_id(&schema.name)
        .and_then(PropertyValue::as_text)
        .unwrap_or_default();
    let value = schema
        .value
        .as_deref()
        .and_then(by_id)
        .and_then(|v| match v {
            PropertyValue::Number { number } => *number,
            _ => None,
        });
    let people = schema
        .owner
        .as_deref()
        .and_then(by_id)
        .map(people_of)
        .unwrap_or_default();
    let deal = Deal {
        name,
        url: page.url.clone(),
        stage,
        value,
        owners: people.iter().map(|p| Owner::named(&p.name)).collect(),
        currency: schema.value_format.clone(),
    };
    (deal, people)
}

/// Records `stage` as the last one seen for the deal `page_id`, as of `at_ms` (an
/// event's time): kept unless a later one is already recorded. The one home of "the
/// last stage seen", which the next event's transition is told from.
pub async fn record_stage<S: crm_store::CacheWrite>(
    store: &S,
    page_id: &str,
    stage: &str,
    at_ms: i64,
) -> Result<bool, StoreError> {
    store
        .cache_put(&keys::deal_stage(page_id), stage, at_ms)
        .await
}
