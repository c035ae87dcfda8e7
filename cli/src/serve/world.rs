//! What `crm serve` talks to: the built-in world (the Notion emulator seeded with demo
//! data, the Slack console, the demo site) or the one a config file names (real Notion,
//! real Slack or the console when it names none).

use std::path::Path;
use std::sync::Arc;

use crm_notion_emulator::{DEFAULT_TOKEN, Emulator, SeededWorkspace as Workspace, StageKind};
use crm_settings::{Secrets, SecretsLocation, Settings};
use crm_slack::receiver::{LOCAL_BOT_TOKEN, SlackReceiver};
use secrecy::SecretString;
use tokio::net::TcpListener;

/// The signing secret of `POST /lead` when running on the emulator.
pub const LOCAL_FORM_SECRET: &str = "local-form-secret";

/// Cloudflare's documented test secret that passes every token: a form given a
/// Turnstile captcha locally (`CRM_BROWSER_FORMS`) works without an account.
const TURNSTILE_PASSES: &str = "1x0000000000000000000000000000000AA";

/// The stage routes' destinations and the digest's, each a webhook of the local Slack.
const LOCAL_DESTINATIONS: [&str; 4] = ["won", "lost", "negotiation", "digest"];

/// What the settings point at.
pub(super) struct World {
    pub settings: Settings,
    pub secrets: Secrets,
    /// The local Slack, when messages go to the console (and the page).
    pub slack_console: Option<Arc<SlackReceiver>>,
    /// Messages posted to the real Slack, for the page.
    pub sent: Option<crm_slack::SentLog>,
    pub emulated: Option<Emulated>,
}

/// The built-in world's parts, alive for the whole run.
pub(super) struct Emulated {
    pub emulator: Arc<Emulator>,
    pub workspace: Workspace,
    /// The demo site's listener and origin, until it is served.
    pub demo: Option<(TcpListener, String)>,
    /// The built-in settings by name, for the other commands (`crate::local`).
    pub settings: Vec<(&'static str, String)>,
}

impl World {
    /// The world of a config file: its settings (`CRM_*` variables over them) and its
    /// `[secrets]` table.
    pub async fn configured(path: &Path) -> Result<Self, Box<dyn std::error::Error>> {
        let settings = Settings::from_file_and_env(path, std::env::vars())?;
        let mut secrets = match &settings.secrets {
            SecretsLocation::Inline(s) => (**s).clone(),
            SecretsLocation::SecretsManager { .. } => {
                return Err(
                    "crm serve reads secrets from the config's [secrets] table; remove secret_arn"
                        .into(),
                );
            }
        };
        let slack_console = local_slack_for(&settings, &mut secrets).await?;
        let sent = slack_console.is_none().then(crm_slack::SentLog::default);
        Ok(Self {
            settings,
            secrets,
            slack_console,
            sent,
            emulated: None,
        })
    }

    /// The built-in world: the emulator seeded with the schema and demo data, the local
    /// Slack, and the demo site on `demo_port`, for the intake at `base`.
    pub async fn built_in(base: &str, demo_port: u16) -> Result<Self, Box<dyn std::error::Error>> {
        let emulator = Arc::new(Emulator::start(0, DEFAULT_TOKEN).await?);
        let workspace = emulator.seed_crm(StageKind::Status);
        let stale = crate::demo::seed_data(&emulator, &workspace, chrono::Utc::now().date_naive())?;
        eprintln!(
            "demo data: contacts ({stale} of them not contacted in over 30 days), deals in every stage, activities"
        );
        let slack = Arc::new(SlackReceiver::start(0, true).await?);
        let demo_listener = crate::serve::bind(demo_port, "--demo-port").await?;
        let demo_origin = format!("http://{}", demo_listener.local_addr()?);
        let by_name = local_settings(&emulator, &workspace, &slack, &demo_origin, base);
        let settings = Settings::built_in(
            "(built-in local config)",
            by_name.clone(),
            local_secrets(&slack),
            std::env::vars(),
        )?;
        let SecretsLocation::Inline(secrets) = &settings.secrets else {
            return Err("the built-in config has no secrets".into());
        };
        let secrets = (**secrets).clone();
        Ok(Self {
            settings,
            secrets,
            slack_console: Some(slack),
            sent: None,
            emulated: Some(Emulated {
                emulator,
                workspace,
                demo: Some((demo_listener, demo_origin)),
                settings: by_name,
            }),
        })
    }
}

/// The built-in settings: the emulator's data sources, the local Slack, a pace and a
/// burst hold made for watching (a move shows in the console in seconds), and the demo
/// site's browser form.
fn local_settings(
    emulator: &Emulator,
    ws: &Workspace,
    slack: &SlackReceiver,
    demo_origin: &str,
    base: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("table_name", "local".into()),
        (
            "contacts_data_source_id",
            ws.contacts_data_source_id.clone(),
        ),
        ("deals_data_source_id", ws.deals_data_source_id.clone()),
        (
            "activities_data_source_id",
            ws.activities_data_source_id.clone(),
        ),
        ("notion_base_url", emulator.base_url()),
        ("notion_rate_per_second", "10".into()),
        ("slack_api_base", slack.api_url()),
        ("slack_burst_hold_seconds", "2".into()),
        // The report goes to a channel the bot is in, so its chart is shared too.
        ("report_destination", "#sales".into()),
        ("browser_forms", crate::demo::forms_json(demo_origin, base)),
    ]
}

/// The built-in secrets: the emulator's token, the local form secret, a webhook of the
/// local Slack for each destination, its bot token, and a captcha secret that passes.
fn local_secrets(slack: &SlackReceiver) -> Secrets {
    let secret = |s: &str| SecretString::from(s.to_owned());
    Secrets {
        notion_token: Some(secret(DEFAULT_TOKEN)),
        form_secrets: [("own".to_owned(), secret(LOCAL_FORM_SECRET))].into(),
        slack_webhooks: LOCAL_DESTINATIONS
            .iter()
            .map(|name| ((*name).to_owned(), secret(&slack.url(name))))
            .collect(),
        slack_bot_token: Some(secret(LOCAL_BOT_TOKEN)),
        captcha_secrets: [("turnstile".to_owned(), secret(TURNSTILE_PASSES))].into(),
        ..Secrets::default()
    }
}

/// A config that names no Slack (no webhook, no bot token) gets the local Slack: each
/// destination the settings use (stage routes, the digest, ops, the report) is one of its webhooks,
/// printed to the console and shown on the page. A real Notion can be tried before
/// Slack is set up.
async fn local_slack_for(
    settings: &Settings,
    secrets: &mut Secrets,
) -> std::io::Result<Option<Arc<SlackReceiver>>> {
    if !secrets.slack_webhooks.is_empty() || secrets.slack_bot_token.is_some() {
        return Ok(None);
    }
    let slack = Arc::new(SlackReceiver::start(0, true).await?);
    let names = settings
        .routes
        .iter()
        .map(|r| r.destination.clone())
        .chain([
            settings.stale.destination.clone(),
            settings.redrive.ops_destination.clone(),
            settings.report.destination.clone(),
        ]);
    for name in names {
        let url = SecretString::from(slack.url(&name));
        secrets.slack_webhooks.insert(name, url);
    }
    eprintln!("the config names no Slack: messages go to the console and the local page");
    Ok(Some(slack))
}
