//! The handlers `crm serve` runs, built once from the settings as each function builds
//! its own (through `crm_app::Ports`), and shared by the endpoints, the loops that play
//! the stream's and the schedules' parts, and the local page.

use std::sync::Arc;
use std::time::Duration;

use crm_app::Ports;
use crm_app::digest::Digest;
use crm_app::intake::Intake;
use crm_app::redrive::Redrive;
use crm_app::report::PipelineReport;
use crm_app::webhook::NotionWebhook;
use crm_app::worker::Worker;
use crm_domain::Clock;
use crm_settings::{CachedSecrets, MemorySecrets, Secrets, Settings};
use crm_store::SqliteStore;

pub(crate) type Store_ = SqliteStore;
/// The config's secrets, with the webhook's tokens kept in the store across restarts.
pub(crate) type Secrets_ = crm_app::local_secrets::LocalSecrets<Store_>;

/// The handlers, built once.
pub(crate) struct App {
    pub(crate) intake: Intake<Store_, Secrets_>,
    pub(crate) webhook: NotionWebhook<Store_, Secrets_>,
    pub(crate) worker: Worker<Store_, Secrets_>,
    pub(crate) digest: Digest<Store_, Secrets_>,
    pub(crate) report: PipelineReport<Store_, Secrets_>,
    pub(crate) redrive: Redrive<Store_, Secrets_>,
    pub(crate) store: Store_,
}

impl App {
    /// The handlers, built as the functions build theirs; with `sent`, every Slack
    /// message posted is also kept there (for the page, when Slack is the real one).
    pub(crate) fn build(
        settings: Settings,
        secrets: Secrets,
        store: Store_,
        clock: Arc<dyn Clock>,
        sent: Option<crm_slack::SentLog>,
    ) -> Result<Self, crm_notion::HttpError> {
        let secrets = Arc::new(CachedSecrets::new(
            crm_app::local_secrets::LocalSecrets::new(MemorySecrets::new(secrets), store.clone()),
            Duration::from_secs(1),
            Arc::clone(&clock),
        ));
        let mut ports = Ports::new(settings, store.clone(), secrets, clock)?;
        if let Some(log) = sent {
            ports.slack = ports.slack.clone().recording(log);
        }
        Ok(Self {
            intake: ports.intake(),
            webhook: ports.webhook(),
            worker: ports.worker(),
            digest: ports.digest(),
            report: ports.report(Some(Arc::new(crm_chart::PngChart))),
            redrive: ports.redrive(),
            store,
        })
    }
}
