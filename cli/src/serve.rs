//! `crm serve`: the whole product on 127.0.0.1.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Args;
use crm_app::Ports;
use crm_app::digest::Digest;
use crm_app::intake::Intake;
use crm_app::redrive::Redrive;
use crm_app::webhook::NotionWebhook;
use crm_app::worker::Worker;
use crm_domain::{Clock, SystemClock};
use crm_notion_emulator::{DEFAULT_TOKEN, Emulator, StageKind};
use crm_settings::{CachedSecrets, MemorySecrets, Secrets, SecretsLocation, Settings};
use crm_slack::receiver::{LOCAL_BOT_TOKEN, SlackReceiver};
use crm_store::prelude::*;
use crm_store::{InboxStatus, SqliteStore};
use serde_json::json;

use crate::bridge::{from_lambda, to_lambda};
use crm_domain::browser_form::snippet::{Send, snippet};

/// The signing secret of `POST /lead` when running on the emulator.
pub const LOCAL_FORM_SECRET: &str = "local-form-secret";

#[derive(Args)]
pub struct ServeArgs {
    /// A TOML config (settings and a `[secrets]` table) for real Notion and Slack;
    /// without one, the built-in Notion emulator and console Slack are used.
    #[arg(long, env = "CRM_CONFIG_FILE")]
    config: Option<PathBuf>,
    /// Port for the intake and webhook endpoints (0 picks a free one).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Port of the demo site with a browser form (another origin than the intake; 0
    /// picks a free one). Served with the built-in emulator only.
    #[arg(long, default_value_t = 3001)]
    demo_port: u16,
    /// Where the SQLite store lives.
    #[arg(long, default_value = ".crm-local")]
    data: PathBuf,
}

type Store_ = SqliteStore;
/// The config's secrets, with the webhook's tokens kept in the store across restarts.
type Secrets_ = crm_app::local_secrets::LocalSecrets<Store_>;

/// The handlers `serve` runs, built once (as each function builds its own).
pub(crate) struct App {
    intake: Intake<Store_, Secrets_>,
    webhook: NotionWebhook<Store_, Secrets_>,
    pub(crate) worker: Worker<Store_, Secrets_>,
    pub(crate) digest: Digest<Store_, Secrets_>,
    redrive: Redrive<Store_, Secrets_>,
    pub(crate) store: Store_,
}

pub async fn run(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_writer(std::io::stderr),
            )
            .with(crm_app::telemetry::filter())
            .init();
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let port = listener.local_addr()?.port();
    let base = format!("http://127.0.0.1:{port}");
    let mut demo = None;

    // Keep the emulator and the Slack console alive for the whole run.
    let mut emulator: Option<Arc<Emulator>> = None;
    let slack_console: Option<Arc<SlackReceiver>>;
    let mut workspace = None;
    let mut sent = None;
    let (settings, secrets) = match &args.config {
        Some(path) => {
            let settings = Settings::from_file_and_env(path, std::env::vars())?;
            let mut secrets = match &settings.secrets {
                SecretsLocation::Inline(s) => (**s).clone(),
                SecretsLocation::SecretsManager { .. } => {
                    return Err("crm serve reads secrets from the config's [secrets] table; remove secret_arn".into());
                }
            };
            slack_console = local_slack_for(&settings, &mut secrets).await?;
            if slack_console.is_none() {
                sent = Some(crm_slack::SentLog::default());
            }
            (settings, secrets)
        }
        None => {
            let emu = Arc::new(Emulator::start(0, DEFAULT_TOKEN).await?);
            let ws = emu.seed_crm(StageKind::Status);
            let stale = crate::demo::seed_data(&emu, &ws, chrono::Utc::now().date_naive())?;
            tracing::info!(
                stale,
                "demo data seeded: contacts (some stale), deals in every stage, activities"
            );
            workspace = Some(ws.clone());
            let slack = Arc::new(SlackReceiver::start(0, true).await?);
            let demo_listener =
                tokio::net::TcpListener::bind(("127.0.0.1", args.demo_port)).await?;
            let demo_origin = format!("http://{}", demo_listener.local_addr()?);
            let forms = crate::demo::form_toml(&demo_origin, &base);
            demo = Some((demo_listener, demo_origin));
            let toml = format!(
                r#"
table_name = "local"
contacts_data_source_id = "{}"
deals_data_source_id = "{}"
activities_data_source_id = "{}"
notion_base_url = "{}"
notion_rate_per_second = 10
slack_api_base = "{}"
# A burst is told sooner than in production: a move shows in the console in seconds.
slack_burst_hold_seconds = 2
[secrets]
notion_token = "{DEFAULT_TOKEN}"
form_secrets = {{ own = "{LOCAL_FORM_SECRET}" }}
slack_webhooks = {{ won = "{}", lost = "{}", negotiation = "{}", digest = "{}" }}
slack_bot_token = "{LOCAL_BOT_TOKEN}"
# Cloudflare's documented test secret that passes every token: a form given a Turnstile
# captcha locally (CRM_BROWSER_FORMS) works without an account.
captcha_secrets = {{ turnstile = "1x0000000000000000000000000000000AA" }}

{forms}
"#,
                ws.contacts_data_source_id,
                ws.deals_data_source_id,
                ws.activities_data_source_id,
                emu.base_url(),
                slack.api_url(),
                slack.url("won"),
                slack.url("lost"),
                slack.url("negotiation"),
                slack.url("digest"),
            );
            let settings =
                Settings::load(Some(("(built-in local config)", &toml)), std::env::vars())?;
            let SecretsLocation::Inline(secrets) = &settings.secrets else {
                return Err("local config has no secrets".into());
            };
            let secrets = (**secrets).clone();
            emulator = Some(emu);
            slack_console = Some(slack);
            (settings, secrets)
        }
    };

    std::fs::create_dir_all(&args.data)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = SqliteStore::open(
        &store_file(&args.data, emulator.is_some())?,
        Arc::clone(&clock),
    )?;
    if let (Some(emulator), Some(ws)) = (&emulator, &workspace) {
        crate::demo::remember_stages(&store, emulator, ws).await?;
    }
    let notion_url = settings.notion.base_url.clone();
    let demo_page = match (demo, settings.forms.forms.get(crate::demo::FORM)) {
        (Some((listener, origin)), Some(form)) => {
            let site = crate::demo::router(form, &base);
            tokio::spawn(async move { axum::serve(listener, site).await });
            Some(format!("{origin}/"))
        }
        _ => None,
    };
    let forms: serde_json::Map<String, serde_json::Value> = settings
        .forms
        .forms
        .keys()
        .map(|name| (name.clone(), json!(format!("{base}/lead/form/{name}"))))
        .collect();
    let form = settings
        .forms
        .forms
        .get(crate::demo::FORM)
        .map(|form| snippet(form, &base, Send::Fetch))
        .unwrap_or_default();
    let n = &settings.notion;
    let sources = [
        ("Contacts", n.contacts.to_string()),
        ("Deals", n.deals.to_string()),
        ("Activities", n.activities.to_string()),
    ];
    let slack = match &slack_console {
        Some(console) => crate::page::Slack::Console(Arc::clone(console)),
        None => crate::page::Slack::Real(sent.clone().unwrap_or_default()),
    };
    let app = Arc::new(build(settings, secrets, store, clock, sent)?);
    let notion = match (&emulator, &workspace) {
        (Some(emulator), Some(ws)) => crate::page::Notion::Emulated {
            emulator: Arc::clone(emulator),
            workspace: Box::new(ws.clone()),
            form,
        },
        // Read with the process's own client: its pacing is the one for this token.
        _ => crate::page::Notion::Real {
            links: crate::page::notion_links(
                &app.digest
                    .notion
                    .with_token(app.digest.secrets.get().await?.notion_token()?.clone()),
                sources,
            )
            .await,
        },
    };
    let page = crate::page::Page::new(Arc::clone(&app), notion, slack);

    let router = Router::new()
        .route("/lead", post(intake))
        .route("/lead/{provider}", post(intake))
        .route("/lead/form/{form}", post(intake).options(intake))
        .route("/notion/webhook", post(webhook))
        .merge(
            Router::new()
                .route("/digest", post(digest))
                .route("/inbox", get(inbox))
                .route("/replay", post(replay))
                .route_layer(axum::middleware::from_fn(crate::page::local_only)),
        )
        .with_state(Arc::clone(&app))
        .merge(crate::page::routes(page));
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });

    if let Some(emulator) = &emulator {
        // Locally, the operator is the one starting the emulator's subscription.
        crm_app::webhook::open_handshake_window(&app.store, app.worker.clock.as_ref(), 5).await?;
        emulator.subscribe(&format!("{base}/notion/webhook")).await;
    } else {
        crm_app::webhook::open_handshake_window(&app.store, app.worker.clock.as_ref(), 15).await?;
        tracing::info!("the webhook accepts Notion's verification handshake for 15 minutes");
    }
    println!(
        "{}",
        json!({
            "intake": format!("{base}/lead"),
            "webhook": format!("{base}/notion/webhook"),
            "digest": format!("{base}/digest"),
            "inbox": format!("{base}/inbox"),
            "replay": format!("{base}/replay"),
            "page": format!("{base}/"),
            "forms": forms,
            "demo_page": demo_page,
            "notion": notion_url,
            "form_secret": if emulator.is_some() { Some(LOCAL_FORM_SECRET) } else { None },
            "workspace": workspace,
        })
    );
    println!("Open {base}/ to watch it work.");
    if emulator.is_some() {
        println!(
            "Or try: $(CRM_FORM_SECRET={LOCAL_FORM_SECRET} cargo run -q -p crm-cli -- sign --curl {base}/lead '{{\"email\":\"ann@example.com\",\"name\":\"Ann\",\"message\":\"Hello\"}}')"
        );
        if let Some(page) = &demo_page {
            println!("Or open {page} and send its form from a browser.");
        }
    }
    // The work starts once the first line is out: what it prints (Slack messages) comes
    // after the line a user or a script reads the URLs from.
    tokio::spawn(work_loop(Arc::clone(&app)));
    tokio::spawn(digest_loop(Arc::clone(&app)));
    tokio::spawn(redrive_loop(Arc::clone(&app)));
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        r = server => { r??; }
    }
    Ok(())
}

/// The handlers, built as the functions build theirs; with `sent`, every Slack message
/// posted is also kept there (for the page, when Slack is the real one).
fn build(
    settings: Settings,
    secrets: Secrets,
    store: Store_,
    clock: Arc<dyn Clock>,
    sent: Option<crm_slack::SentLog>,
) -> Result<App, Box<dyn std::error::Error>> {
    let secrets = Arc::new(CachedSecrets::new(
        crm_app::local_secrets::LocalSecrets::new(MemorySecrets::new(secrets), store.clone()),
        Duration::from_secs(1),
        Arc::clone(&clock),
    ));
    let mut ports = Ports::new(settings, store.clone(), secrets, clock)?;
    if let Some(log) = sent {
        ports.slack = ports.slack.clone().recording(log);
    }
    Ok(App {
        intake: ports.intake(),
        webhook: ports.webhook(),
        worker: ports.worker(),
        digest: ports.digest(),
        redrive: ports.redrive(),
        store,
    })
}

async fn intake(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    from_lambda(
        app.intake
            .handle(to_lambda(method, uri, headers, body, Some(peer)))
            .await,
    )
}

async fn webhook(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    from_lambda(
        app.webhook
            .handle(to_lambda(method, uri, headers, body, None))
            .await,
    )
}

async fn digest(State(app): State<Arc<App>>) -> Response {
    match app.digest.run().await {
        Ok(report) => axum::Json(json!(report)).into_response(),
        Err(e) => (
            axum::http::StatusCode::BAD_GATEWAY,
            axum::Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

/// A config that names no Slack (no webhook, no bot token) gets the local Slack: each
/// destination the settings use (stage routes, the digest, ops) is one of its webhooks,
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
        ]);
    for name in names {
        let url = secrecy::SecretString::from(slack.url(&name));
        secrets.slack_webhooks.insert(name, url);
    }
    tracing::info!("the config names no Slack: messages go to the console and the local page");
    Ok(Some(slack))
}

/// `crm replay` locally: every open item now.
async fn replay(State(app): State<Arc<App>>) -> Response {
    match app.worker.replay(500).await {
        Ok(report) => axum::Json(json!({
            "done": report.done,
            "failed": report.failed.iter().map(|(id, reason)| json!({"id": id, "reason": reason})).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn inbox(State(app): State<Arc<App>>) -> Response {
    match app.store.inbox_list_open(100).await {
        Ok(items) => axum::Json(json!(items
            .iter()
            .map(|i| json!({"id": i.id, "kind": i.kind, "status": i.status.as_str(), "attempts": i.attempts, "last_error": i.last_error}))
            .collect::<Vec<_>>()))
        .into_response(),
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The stream's job locally: new inbox items go to the worker at once. What fails is
/// the redrive's, as in AWS.
async fn work_loop(app: Arc<App>) {
    loop {
        match app.store.inbox_list_open(50).await {
            Ok(items) => {
                // Side by side, as the Lambda worker does with a batch.
                let pending = items
                    .into_iter()
                    .filter(|i| i.status == InboxStatus::Pending)
                    .map(|i| ((), i))
                    .collect();
                app.worker.run_items(pending, None).await;
            }
            Err(e) => tracing::error!(error = %e, "could not read the inbox"),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The redrive's schedule locally: every minute (five in AWS), the same code.
async fn redrive_loop(app: Arc<App>) {
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        if let Err(e) = app.redrive.run(None).await {
            tracing::warn!(error = %e, "redrive failed; trying again in a minute");
        }
    }
}

/// The scheduler's job locally: the digest at 09:00 in the configured time zone, each
/// day, as EventBridge Scheduler fires it ([`Daily`]); a run that fails is tried again
/// a minute later (the digest posts at most once a day on its own).
async fn digest_loop(app: Arc<App>) {
    let tz = app.digest.settings.stale.timezone;
    let now = || chrono::Utc::now().with_timezone(&tz);
    let mut daily = Daily::starting(now());
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let t = now();
        if !daily.due(t) {
            continue;
        }
        match app.digest.run().await {
            Ok(_) => daily.ran(t),
            Err(e) => tracing::warn!(error = %e, "digest failed; will try again in a minute"),
        }
    }
}

/// 09:00 each day in local time (DST moves the UTC hour, not this one). A server
/// started after 09:00 waits for the next day's, as a schedule created then would; the
/// local page's "Run the digest now" runs it at once.
struct Daily {
    last: Option<chrono::NaiveDate>,
}

impl Daily {
    const HOUR: u32 = 9;

    fn starting(now: chrono::DateTime<chrono_tz::Tz>) -> Self {
        let past = chrono::Timelike::hour(&now) >= Self::HOUR;
        Self {
            last: past.then(|| now.date_naive()),
        }
    }

    fn due(&self, now: chrono::DateTime<chrono_tz::Tz>) -> bool {
        chrono::Timelike::hour(&now) >= Self::HOUR && self.last != Some(now.date_naive())
    }

    fn ran(&mut self, now: chrono::DateTime<chrono_tz::Tz>) {
        self.last = Some(now.date_naive());
    }
}

/// The store's file. With the built-in emulator, whose workspace is new at each start,
/// a new store too: what an old one holds (contacts cached by page id, deals' last
/// stages, today's digest) is about pages that are gone.
fn store_file(data: &std::path::Path, emulated: bool) -> std::io::Result<PathBuf> {
    if !emulated {
        return Ok(data.join("crm.sqlite"));
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        match std::fs::remove_file(data.join(format!("demo.sqlite{suffix}"))) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(data.join("demo.sqlite"))
}

#[cfg(test)]
mod tests {
    use super::Daily;
    use chrono::TimeZone;
    use chrono_tz::Europe::Berlin;

    fn at(d: u32, h: u32, m: u32) -> chrono::DateTime<chrono_tz::Tz> {
        Berlin.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap()
    }

    #[test]
    fn the_digest_is_due_at_nine_once_a_day_and_not_at_a_late_start() {
        let mut daily = Daily::starting(at(27, 8, 59));
        assert!(!daily.due(at(27, 8, 59)));
        assert!(daily.due(at(27, 9, 0)));
        assert!(daily.due(at(27, 9, 1)), "a failed run is due again");
        daily.ran(at(27, 9, 1));
        assert!(!daily.due(at(27, 23, 59)));
        assert!(!daily.due(at(28, 8, 0)));
        assert!(daily.due(at(28, 9, 0)));

        let late = Daily::starting(at(27, 14, 0));
        assert!(!late.due(at(27, 14, 1)), "not at start after 09:00");
        // Berlin moves to summer time on 2026-03-29: 09:00 stays 09:00.
        assert!(!late.due(at(29, 8, 59)));
        assert!(late.due(at(29, 9, 0)));
    }
}
