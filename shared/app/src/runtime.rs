//! The context a function builds once per cold start: settings, AWS clients, the store
//! and the secrets cache. Building clients once is what keeps warm invocations at
//! milliseconds; validating settings here is what makes a bad deploy fail at start with
//! a message naming the setting, not on the first lead.

use std::sync::Arc;

use crm_domain::{Clock, SystemClock};
use crm_notion::{NotionClient, NotionConfig};
use crm_settings::{
    CachedSecrets, ConfigError, MemorySecrets, Secrets, SecretsError, SecretsLocation,
    SecretsManagerSource, SecretsSource, SecretsWriter, Settings,
};
use crm_store::{DynamoStore, Store};
use secrecy::SecretString;

use crate::budget_share::BudgetShare;
use crate::digest::{Digest, DigestSettings};
use crate::intake::Intake;
use crate::redrive::Redrive;
use crate::webhook::NotionWebhook;
use crate::worker::{IndexGate, Worker, WorkerSettings};
use crm_slack::{SlackClient, SlackConfig};

/// The secrets source this deployment is configured with.
#[derive(Debug)]
pub enum SecretsProvider {
    SecretsManager(SecretsManagerSource),
    /// The `[secrets]` table of a config file, held in memory.
    Memory(MemorySecrets),
}

impl SecretsSource for SecretsProvider {
    async fn fetch(&self) -> Result<Secrets, SecretsError> {
        match self {
            Self::SecretsManager(s) => s.fetch().await,
            Self::Memory(s) => s.fetch().await,
        }
    }
}

impl SecretsWriter for SecretsProvider {
    async fn offer_webhook_token(&self, token: &str) -> Result<Option<String>, SecretsError> {
        match self {
            Self::SecretsManager(s) => s.offer_webhook_token(token).await,
            Self::Memory(s) => s.offer_webhook_token(token).await,
        }
    }

    async fn pin_webhook_token(&self, token: &str) -> Result<Option<String>, SecretsError> {
        match self {
            Self::SecretsManager(s) => s.pin_webhook_token(token).await,
            Self::Memory(s) => s.pin_webhook_token(token).await,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("could not build the HTTP client")]
    Http(#[from] crm_notion::HttpError),
}

/// Everything the handlers share, built once: settings, clock, store, secrets and the
/// two HTTP clients. Generic over the store and the secrets source, so the Lambda
/// functions (DynamoDB, Secrets Manager) and `crm serve` (SQLite, a config file) build
/// the same handlers the same way.
pub struct Ports<S, P> {
    pub settings: Settings,
    pub clock: Arc<dyn Clock>,
    /// How the handlers wait for `clock` (a sleep, unless a test's clock is manual).
    pub pause: Arc<dyn crate::pause::Pause>,
    pub store: S,
    pub secrets: Arc<CachedSecrets<P>>,
    /// Paced for the whole process; each use takes the current token from `secrets`.
    pub notion: NotionClient,
    pub slack: SlackClient,
    /// One build or catch-up of the contacts index at a time for the whole process (the
    /// worker and, in `crm serve`, the redrive).
    pub index_gate: Arc<IndexGate>,
    /// This process's part of Notion's budget (the worker, the digest and, in
    /// `crm serve`, the redrive spend it together).
    pub budget_share: Arc<BudgetShare>,
    /// The browser forms, checked at start.
    pub forms: Arc<std::collections::BTreeMap<String, crm_domain::browser_form::FormConfig>>,
    /// Browser forms' captcha checks, with the settings' timeout.
    pub captcha: crate::intake::CaptchaVerifier,
}

/// The context of a deployed function.
pub type Context = Ports<DynamoStore, SecretsProvider>;

impl<S, P> std::fmt::Debug for Ports<S, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports")
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

impl<S: Store + Clone, P: SecretsSource> Ports<S, P> {
    pub fn new(
        settings: Settings,
        store: S,
        secrets: Arc<CachedSecrets<P>>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, crm_notion::HttpError> {
        Ok(Self {
            notion: NotionClient::new(notion_config(&settings))?,
            slack: SlackClient::new(SlackConfig {
                api_base: settings.slack.api_base.clone(),
                ..SlackConfig::default()
            })?,
            forms: Arc::new(settings.forms.forms.clone()),
            captcha: crate::intake::CaptchaVerifier::new(&settings.forms)?,
            settings,
            clock,
            pause: Arc::new(crate::pause::Sleep),
            store,
            secrets,
            index_gate: Arc::default(),
            budget_share: Arc::default(),
        })
    }

    /// The lead-intake handler.
    pub fn intake(&self) -> Intake<S, P> {
        Intake {
            store: self.store.clone(),
            secrets: Arc::clone(&self.secrets),
            clock: Arc::clone(&self.clock),
            accept_plain_signature: self.settings.leads.accept_plain_signature,
            forms: Arc::clone(&self.forms),
            captcha: self.captcha.clone(),
        }
    }

    /// The stale-lead digest.
    pub fn digest(&self) -> Digest<S, P> {
        Digest {
            store: self.store.clone(),
            notion: self.notion.clone(),
            slack: self.slack.clone(),
            secrets: Arc::clone(&self.secrets),
            clock: Arc::clone(&self.clock),
            settings: DigestSettings::from_settings(&self.settings),
            budget_share: Arc::clone(&self.budget_share),
        }
    }

    /// The weekly pipeline report, with the chart renderer of the function that posts
    /// it (none elsewhere: the report is then text alone).
    pub fn report(
        &self,
        chart: Option<Arc<dyn crate::report::Chart>>,
    ) -> crate::report::PipelineReport<S, P> {
        crate::report::PipelineReport {
            store: self.store.clone(),
            notion: self.notion.clone(),
            slack: self.slack.clone(),
            secrets: Arc::clone(&self.secrets),
            clock: Arc::clone(&self.clock),
            settings: crate::report::ReportSettings::from_settings(&self.settings),
            budget_share: Arc::clone(&self.budget_share),
            chart,
        }
    }

    /// The redrive: the worker's code, run on a schedule over what the stream left.
    pub fn redrive(&self) -> Redrive<S, P> {
        Redrive {
            worker: self.worker(),
            policy: crate::redrive::policy_from(&self.settings.redrive),
            ops_destination: self.settings.redrive.ops_destination.clone(),
        }
    }

    /// The worker.
    pub fn worker(&self) -> Worker<S, P> {
        let mut settings = WorkerSettings::from_settings(&self.settings);
        settings.item_budget =
            crate::worker::item_worst_case(self.notion.worst_call().max(self.slack.worst_call()));
        settings.lease = crate::worker::lease_for(settings.item_budget);
        Worker {
            store: self.store.clone(),
            notion: self.notion.clone(),
            slack: self.slack.clone(),
            secrets: Arc::clone(&self.secrets),
            clock: Arc::clone(&self.clock),
            pause: Arc::clone(&self.pause),
            settings,
            index_gate: Arc::clone(&self.index_gate),
            budget_share: Arc::clone(&self.budget_share),
            touched: Arc::default(),
        }
    }
}

/// The webhook receiver alone may write the secret (the handshake's token).
impl<S: Store + Clone, P: SecretsWriter> Ports<S, P> {
    /// The Notion webhook handler.
    pub fn webhook(&self) -> NotionWebhook<S, P> {
        NotionWebhook::new(
            self.store.clone(),
            Arc::clone(&self.secrets),
            Arc::clone(&self.clock),
            self.settings.notion.deals.clone(),
        )
        .knowing([
            self.settings.notion.contacts.clone(),
            self.settings.notion.activities.clone(),
        ])
    }
}

/// The Notion client's configuration from the settings: base URL and pacing. The token
/// is not in it: each use takes the current one from the secret.
pub fn notion_config(settings: &Settings) -> NotionConfig {
    let mut notion = NotionConfig::new(&settings.notion.base_url, SecretString::from(""));
    notion.pacing = crm_notion::Pacing::Find {
        ceiling: settings.notion.rate_per_second,
    };
    notion.burst = settings.notion.burst;
    notion
}

impl Context {
    /// Loads settings from the environment and builds the context.
    pub async fn from_env() -> Result<Self, ContextError> {
        let settings = Settings::from_env()?;
        Self::build(settings, Arc::new(SystemClock)).await
    }

    /// [`from_env`](Self::from_env) for a function's `main`: logs why it cannot start,
    /// in one line naming every bad setting, before the runtime reports the failure.
    pub async fn start(function: &'static str) -> Result<Self, ContextError> {
        match Self::from_env().await {
            Ok(ctx) => {
                tracing::info!(function, table = ctx.store.table(), "ready");
                Ok(ctx)
            }
            Err(err) => {
                tracing::error!(function, error = %err, "cannot start");
                Err(err)
            }
        }
    }

    /// Builds the AWS clients for `settings` and warms the secrets cache.
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> Result<Self, ContextError> {
        crate::telemetry::set_stack(&settings.stack);
        let aws = crm_settings::sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
        let provider = match &settings.secrets {
            SecretsLocation::SecretsManager { arn } => SecretsProvider::SecretsManager(
                SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&aws), arn),
            ),
            SecretsLocation::Inline(secrets) => {
                SecretsProvider::Memory(MemorySecrets::new((**secrets).clone()))
            }
        };
        let secrets = Arc::new(CachedSecrets::new(
            provider,
            settings.secrets_ttl,
            Arc::clone(&clock),
        ));
        // Reading the secret now puts its latency in the cold start instead of the first
        // request. A failure is not fatal here: each request retries the read, and the
        // error (which names the secret, never a value) is in the log.
        if let Err(err) = secrets.get().await {
            tracing::error!(error = %err, "could not load secrets at start");
        }
        let store = DynamoStore::new(dynamodb, &settings.table_name, Arc::clone(&clock));
        Ok(Self::new(settings, store, secrets, clock)?)
    }
}
