//! `make bench`: measures what users judge the stack by and prints one table.
//!
//! Runs against the same local servers as the tests (DynamoDB Local and moto, started
//! by `infra/test-servers.sh run`), the Notion emulator and the Slack receiver. The
//! bootstraps measured for cold start, memory and size are the release builds of the
//! five functions for this machine.

mod coldstart;
mod drain;
mod import;
mod report;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crm_app::Ports;
use crm_domain::notion_signature;
use crm_domain::{Clock, SystemClock};
use crm_notion_emulator::{DEFAULT_TOKEN, Emulator, SeededWorkspace, StageKind};
use crm_settings::{CachedSecrets, SecretsManagerSource, Settings};
use crm_slack::receiver::SlackReceiver;
use crm_store::prelude::*;
use crm_store::{DynamoStore, SqliteStore};
use crm_testkit::request::{HttpEvent, own_signed};
use serde_json::json;

pub const FORM_SECRET: &str = "bench-form-secret";
pub const WEBHOOK_TOKEN: &str = "secret_bench_webhook_token";

pub struct Env {
    pub emulator: Emulator,
    pub ws: SeededWorkspace,
    pub slack: SlackReceiver,
    pub table: String,
    pub arn: String,
    pub aws: aws_config::SdkConfig,
}

type Row = (String, String);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = setup().await?;
    let mut rows: Vec<Row> = Vec::new();
    // `BENCH_ONLY=drain,coldstart` measures only those parts (`shared`: only the drains
    // of processes sharing one budget).
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let wanted = |part: &str| only.is_empty() || only.split(',').any(|p| p.trim() == part);
    if wanted("intake") {
        intake_latency(&env, &mut rows).await?;
    }
    if wanted("webhook") {
        webhook_latency(&env, &mut rows).await?;
    }
    if wanted("calls") {
        notion_calls(&env, &mut rows).await?;
    }
    if wanted("drain") || wanted("shared") {
        drain::measure(&env, &mut rows, wanted("drain")).await?;
    }
    if wanted("import") {
        import::measure(&mut rows).await?;
    }
    if wanted("coldstart") {
        coldstart::measure(&env, &mut rows).await?;
    }
    if wanted("report") {
        report::measure(&env, &mut rows).await?;
    }
    println!("\n| measurement | result |\n|---|---|");
    for (what, result) in rows {
        println!("| {what} | {result} |");
    }
    Ok(())
}

async fn setup() -> Result<Env, Box<dyn std::error::Error>> {
    for var in crm_testkit::AWS_ENDPOINTS {
        crm_testkit::local_endpoint(var)?;
    }
    let aws = crm_settings::sdk_config().await;
    let (_, table) = crm_testkit::aws::new_table("crm-bench").await;
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await?;
    let ws = emulator.seed_crm(StageKind::Status);
    let slack = SlackReceiver::start(0, false).await?;
    let secret = json!({
        "notion_token": DEFAULT_TOKEN,
        "notion_webhook_token": WEBHOOK_TOKEN,
        "form_secrets": {"own": FORM_SECRET},
        "slack_webhooks": {"won": slack.url("won"), "lost": slack.url("lost"),
                           "negotiation": slack.url("negotiation"), "digest": slack.url("digest"),
                           "report": slack.url("report")},
    });
    let arn = crm_testkit::aws::new_secret("crm-bench", &secret.to_string()).await;
    Ok(Env {
        emulator,
        ws,
        slack,
        table,
        arn,
        aws,
    })
}

/// The `CRM_*` variables a deployed function would get, pointing at the local servers;
/// `rate` is `CRM_NOTION_RATE_PER_SECOND` (`None`: `auto`, as deployed by default).
pub fn variables(env: &Env, rate: Option<f64>) -> Vec<(String, String)> {
    variables_on(env, &env.emulator, &env.ws, &env.table, rate)
}

/// The same, towards another emulator (another integration's budget) and table.
pub fn variables_on(
    env: &Env,
    emulator: &Emulator,
    ws: &SeededWorkspace,
    table: &str,
    rate: Option<f64>,
) -> Vec<(String, String)> {
    let mut vars = crm_testkit::function_env(
        table,
        &env.arn,
        [
            &ws.contacts_data_source_id,
            &ws.deals_data_source_id,
            &ws.activities_data_source_id,
        ],
    );
    vars.push(("CRM_NOTION_BASE_URL".into(), emulator.base_url()));
    let rate = rate.map_or_else(|| "auto".to_owned(), |r| r.to_string());
    vars.push(("CRM_NOTION_RATE_PER_SECOND".into(), rate));
    vars
}

fn ports<S: Store + Clone>(
    env: &Env,
    store: S,
    rate: Option<f64>,
) -> Result<Ports<S, SecretsManagerSource>, Box<dyn std::error::Error>> {
    ports_on(env, &env.emulator, &env.ws, store, rate)
}

/// The functions' ports towards `emulator`, as a deployment with its own table.
pub fn ports_on<S: Store + Clone>(
    env: &Env,
    emulator: &Emulator,
    ws: &SeededWorkspace,
    store: S,
    rate: Option<f64>,
) -> Result<Ports<S, SecretsManagerSource>, Box<dyn std::error::Error>> {
    let settings = Settings::load(None, variables_on(env, emulator, ws, &env.table, rate))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let secrets = Arc::new(CachedSecrets::new(
        SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&env.aws), &env.arn),
        Duration::from_secs(300),
        Arc::clone(&clock),
    ));
    Ok(Ports::new(settings, store, secrets, clock)?)
}

fn dynamo(env: &Env) -> DynamoStore {
    DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&env.aws),
        &env.table,
        Arc::new(SystemClock),
    )
}

pub fn signed_lead(body: &str) -> lambda_http::Request {
    let headers = own_signed(FORM_SECRET, SystemClock.now().as_secs(), body.as_bytes());
    HttpEvent::post("/lead", body).headers(&headers).request()
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    format!(
        "p50 {:.2} ms, p99 {:.2} ms (n={})",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples.len()
    )
}

async fn intake_latency(env: &Env, rows: &mut Vec<Row>) -> Result<(), Box<dyn std::error::Error>> {
    let sqlite_dir = std::env::temp_dir().join(format!("crm-bench-{}", std::process::id()));
    std::fs::create_dir_all(&sqlite_dir)?;
    let sqlite = SqliteStore::open(&sqlite_dir.join("bench.sqlite"), Arc::new(SystemClock))?;
    for (label, intake) in [
        (
            "DynamoDB Local",
            Arc::new(ports(env, dynamo(env), Some(100.0))?.intake()) as Arc<dyn IntakeLike>,
        ),
        (
            "SQLite",
            Arc::new(ports(env, sqlite, Some(100.0))?.intake()) as Arc<dyn IntakeLike>,
        ),
    ] {
        // Warm the secret cache and connections.
        intake
            .call(format!(
                "{{\"email\":\"warm@example.com\",\"submission_id\":\"warm-{label}\"}}"
            ))
            .await;
        let mut samples = Vec::new();
        for i in 0..300 {
            let body = format!(
                "{{\"email\":\"lat{i}@example.com\",\"submission_id\":\"lat-{label}-{i}\"}}"
            );
            let started = Instant::now();
            let status = intake.call(body).await;
            samples.push(started.elapsed());
            assert_eq!(status, 202);
        }
        rows.push((
            format!("lead intake latency, {label} store"),
            percentiles(samples),
        ));
        let started = Instant::now();
        let total = 1000;
        let tasks = (0..16).map(|w| {
            let intake = Arc::clone(&intake);
            tokio::spawn(async move {
                for i in (w..total).step_by(16) {
                    let body = format!(
                        "{{\"email\":\"tp{i}@example.com\",\"submission_id\":\"tp-{label}-{i}\"}}"
                    );
                    intake.call(body).await;
                }
            })
        });
        futures::future::join_all(tasks).await;
        let rate = total as f64 / started.elapsed().as_secs_f64();
        rows.push((
            format!("lead intake throughput, {label} store, 16 concurrent"),
            format!("{rate:.0} requests/s"),
        ));
    }
    let _ = std::fs::remove_dir_all(&sqlite_dir);
    Ok(())
}

/// The intake over either store, behind one interface for the measuring loop.
trait IntakeLike: Send + Sync {
    fn call(&self, body: String) -> futures::future::BoxFuture<'_, u16>;
}

impl<S: Store + Clone + 'static> IntakeLike for crm_app::intake::Intake<S, SecretsManagerSource> {
    fn call(&self, body: String) -> futures::future::BoxFuture<'_, u16> {
        Box::pin(async move { self.handle(signed_lead(&body)).await.status().as_u16() })
    }
}

async fn webhook_latency(env: &Env, rows: &mut Vec<Row>) -> Result<(), Box<dyn std::error::Error>> {
    let webhook = ports(env, dynamo(env), Some(100.0))?.webhook();
    let mut samples = Vec::new();
    for i in 0..300 {
        let body = json!({
            "id": format!("bench-event-{i}"), "timestamp": "2026-11-24T09:00:00.000Z",
            "type": "page.properties_updated", "authors": [{"id": "u", "type": "person"}],
            "entity": {"id": "59833787-2cf9-4fdf-8782-e53db20768a5", "type": "page"},
            "data": {"parent": {"id": "d", "type": "database", "data_source_id": env.ws.deals_data_source_id}, "updated_properties": ["x"]},
        })
        .to_string();
        let sig = notion_signature::sign(WEBHOOK_TOKEN, body.as_bytes());
        let mut request = lambda_http::Request::new(lambda_http::Body::Text(body));
        *request.method_mut() = lambda_http::http::Method::POST;
        request
            .headers_mut()
            .insert(notion_signature::HEADER, sig.parse()?);
        let started = Instant::now();
        let status = webhook.handle(request).await.status().as_u16();
        samples.push(started.elapsed());
        assert_eq!(status, 200);
    }
    rows.push((
        "Notion webhook latency, DynamoDB Local store".into(),
        percentiles(samples),
    ));
    Ok(())
}

/// Requests the emulator saw while `f` ran.
async fn calls<F: std::future::Future<Output = ()>>(env: &Env, f: F) -> usize {
    env.emulator.clear_requests();
    f.await;
    env.emulator.requests().len()
}

async fn notion_calls(env: &Env, rows: &mut Vec<Row>) -> Result<(), Box<dyn std::error::Error>> {
    let p = ports(env, dynamo(env), Some(100.0))?;
    let (intake, worker, digest) = (p.intake(), p.worker(), p.digest());
    let process = |id: String| {
        let worker = &worker;
        let store = &p.store;
        async move {
            let item = store
                .inbox_get(&id)
                .await
                .ok()
                .flatten()
                .unwrap_or_else(|| panic!("no {id}"));
            let outcome = worker.process(&item).await;
            worker.finish(&item, outcome).await;
        }
    };
    intake
        .handle(signed_lead(
            r#"{"email":"calls@example.com","submission_id":"calls-1","message":"a"}"#,
        ))
        .await;
    let first = calls(env, process("lead:own:calls-1".into())).await;
    rows.push((
        "Notion calls, new lead (query, create contact, create activity)".into(),
        first.to_string(),
    ));
    intake
        .handle(signed_lead(
            r#"{"email":"calls@example.com","submission_id":"calls-2","message":"b"}"#,
        ))
        .await;
    let repeat = calls(env, process("lead:own:calls-2".into())).await;
    rows.push((
        "Notion calls, repeat lead (cached contact: read, activity)".into(),
        repeat.to_string(),
    ));

    for i in 0..250 {
        env.emulator
            .create_page_as_person(
                json!({"Name": {"title": [{"text": {"content": format!("Old {i}")}}]}, "Status": {"select": {"name": "new lead"}},
                       "Last Contacted": {"date": {"start": "2025-01-01"}}}),
                &env.ws.contacts_data_source_id,
            )
            .map_err(|e| e.to_string())?;
    }
    let n = calls(env, async {
        let _ = digest.run().await;
    })
    .await;
    rows.push((
        "Notion calls, digest over 250 stale leads".into(),
        n.to_string(),
    ));
    Ok(())
}

/// A store on a new, empty table: so one measurement never processes another's items.
pub async fn fresh_dynamo() -> Result<DynamoStore, Box<dyn std::error::Error>> {
    let (client, table) = crm_testkit::aws::new_table("crm-bench").await;
    Ok(DynamoStore::new(client, table, Arc::new(SystemClock)))
}
