//! Draining at Notion's limit: how close the worker comes to the integration's budget.
//!
//! Each drain has an emulator of its own — one integration's budget — and a table of
//! its own, so the drains run at the same time without sharing anything but the
//! machine. The worker takes its records as one DynamoDB stream shard hands them to the
//! Lambda function: a batch of the template's `BatchSize` at a time, the next batch
//! when the last is done, a record reported failed handed out again. Every process runs
//! with the deployed defaults: no rate set (the pacing finds the budget) and the default
//! burst.
//!
//! Each budget Notion has counted by is measured: the older average per second (a strict
//! one-second window, a bucket), today's budget per connection per 60-second window
//! (180 and 600), and a workspace's budget shared by its connections (whose
//! `Retry-After` is longer than a minute). Against an average per second, the share is
//! what Notion took per second from the first call to the last, over the average; against
//! a budget per window, what Notion took in each window the drain filled, over the
//! window's budget (the last window, which the drain need not fill, is left out).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crm_app::inbox::{event_id, lead_id};
use crm_app::worker::Worker;
use crm_notion_emulator::{
    DEFAULT_TOKEN, Emulator, FaultAction, FaultRule, RateLimit, SeededWorkspace, StageKind,
};
use crm_settings::SecretsManagerSource;
use crm_store::{DynamoStore, Store};
use crm_testkit::request::{HttpEvent, notion_signed};
use serde_json::{Value, json};

use crate::{Env, Row, fresh_dynamo, ports_on, signed_lead};

type Error = Box<dyn std::error::Error>;

/// Notion's documented average (older copies).
const LIMIT: f64 = 3.0;
/// Leads per drain at 3 requests a second: about five minutes of Notion's budget.
const LEADS: usize = 300;
const DEALS: usize = 100;
/// Lambda's retries of a failing record (`MaximumRetryAttempts`).
const MAX_RETRIES: u32 = 20;

/// A budget as Notion counts it, or has.
#[derive(Clone, Copy)]
struct Model {
    name: &'static str,
    connection: RateLimit,
    /// The workspace's budget over every connection, when it is the one that binds.
    workspace: Option<RateLimit>,
    /// What it allows over a long run, in requests per second.
    sustained: f64,
    /// The budget per window that binds (requests, seconds): the share is counted per
    /// window. `None`: an average per second.
    window: Option<(usize, f64)>,
}

impl Model {
    /// Leads that keep the drain about as long at every budget.
    fn leads(&self) -> usize {
        (LEADS as f64 * self.sustained / LIMIT).round() as usize
    }
}

const STRICT: Model = Model {
    name: "3/s, a strict 1-s window",
    connection: RateLimit::STRICT,
    workspace: None,
    sustained: LIMIT,
    window: None,
};

fn models() -> [Model; 5] {
    [
        STRICT,
        Model {
            name: "3/s, a bucket with bursts of 30",
            connection: RateLimit::Bucket {
                per_second: LIMIT,
                burst: 30,
            },
            workspace: None,
            sustained: LIMIT,
            window: None,
        },
        Model {
            name: "180 a minute",
            connection: RateLimit::per_minute(180),
            workspace: None,
            sustained: 3.0,
            window: Some((180, 60.0)),
        },
        Model {
            name: "600 a minute",
            connection: RateLimit::per_minute(600),
            workspace: None,
            sustained: 10.0,
            window: Some((600, 60.0)),
        },
        Model {
            name: "600 a minute, the workspace 600 per 2 minutes",
            connection: RateLimit::per_minute(600),
            workspace: Some(RateLimit::Budget {
                requests: 600,
                seconds: 120.0,
                aligned: false,
            }),
            sustained: 5.0,
            window: Some((600, 120.0)),
        },
    ]
}

/// One integration's budget: an emulator with the CRM seeded, counting as `model`,
/// answering after `latency_ms`.
async fn budget(model: Model, latency_ms: u64) -> Result<(Emulator, SeededWorkspace), Error> {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await?;
    let ws = emulator.seed_crm(StageKind::Status);
    emulator.set_rate_limit(Some(model.connection));
    emulator.set_workspace_limit(model.workspace);
    if latency_ms > 0 {
        emulator.inject(FaultRule::new(
            None,
            "*",
            FaultAction::Latency { ms: latency_ms },
        ));
    }
    Ok((emulator, ws))
}

/// The worker's stream batch size and timeout, as `template.yaml` deploys them.
fn batch_size() -> Result<usize, Error> {
    Ok(crm_testkit::template_number("worker", "BatchSize")? as usize)
}

fn invocation() -> Result<Duration, Error> {
    Ok(Duration::from_secs(crm_testkit::template_number(
        "worker", "Timeout",
    )?))
}

/// Feeds `ids` to `worker` as one stream shard does, until each is settled or out of
/// retries.
async fn shard<S: Store + Clone>(
    worker: &Worker<S, SecretsManagerSource>,
    ids: Vec<String>,
    batch: usize,
) -> Result<(), Error> {
    let mut queue: VecDeque<(String, u32)> = ids.into_iter().map(|id| (id, 0)).collect();
    while !queue.is_empty() {
        let mut items = Vec::new();
        for (id, tries) in queue.drain(..batch.min(queue.len())) {
            if let Some(item) = worker.store.inbox_get(&id).await? {
                items.push(((id, tries), item));
            }
        }
        let ran = worker
            .run_items(items, Some(tokio::time::Instant::now() + invocation()?))
            .await;
        let again: Vec<_> = ran
            .into_iter()
            .filter(|(_, r)| !r.settled())
            .filter_map(|((id, tries), _)| (tries < MAX_RETRIES).then_some((id, tries + 1)))
            .collect();
        if !again.is_empty() {
            // Not expected at Notion's pace: say so beside the table.
            eprintln!(
                "{} records failed or were handed back; delivered again",
                again.len()
            );
        }
        for record in again.into_iter().rev() {
            queue.push_front(record);
        }
    }
    Ok(())
}

/// What the emulator saw of a drain.
pub struct Seen {
    pub requests: usize,
    pub refused: usize,
    /// The share of the budget Notion took (see the module docs).
    pub share: f64,
}

fn seen(emulator: &Emulator, model: &Model) -> Seen {
    let mut seen = seen_against(emulator, model.sustained);
    if let Some((budget, seconds)) = model.window {
        seen.share = windows_filled(emulator, budget, seconds);
    }
    seen
}

/// What Notion took in each window but the last, over the window's budget: windows as
/// the emulator starts them, with the first call after the last window ended.
fn windows_filled(emulator: &Emulator, budget: usize, seconds: f64) -> f64 {
    let mut taken: Vec<u64> = emulator
        .requests()
        .iter()
        .filter(|r| r.status != 429)
        .map(|r| r.at_ms)
        .collect();
    taken.sort_unstable();
    let length = (seconds * 1000.0) as u64;
    let mut windows: Vec<usize> = Vec::new();
    let mut start = None;
    for at in taken {
        match start {
            Some(s) if at < s + length => *windows.last_mut().expect("a window") += 1,
            _ => {
                start = Some(at);
                windows.push(1);
            }
        }
    }
    windows.pop();
    if windows.is_empty() {
        return f64::NAN;
    }
    windows.iter().sum::<usize>() as f64 / (windows.len() * budget) as f64
}

/// What the emulator saw, against a limit of `limit` requests a second.
pub fn seen_against(emulator: &Emulator, limit: f64) -> Seen {
    let log = emulator.requests();
    let refused = log.iter().filter(|r| r.status == 429).count();
    let taken: Vec<u64> = log
        .iter()
        .filter(|r| r.status != 429)
        .map(|r| r.at_ms)
        .collect();
    let span = match (taken.iter().min(), taken.iter().max()) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 / 1000.0,
        _ => f64::INFINITY,
    };
    Seen {
        requests: log.len(),
        refused,
        share: (taken.len().saturating_sub(1)) as f64 / span / limit,
    }
}

/// Leads lost (no contact, or fewer Activities than submissions) and contacts doubled,
/// read from Notion.
fn lost_and_doubled(
    emulator: &Emulator,
    ws: &SeededWorkspace,
    emails: &[String],
) -> (usize, usize) {
    let mut contacts: HashMap<String, usize> = HashMap::new();
    for page in emulator.pages(&ws.contacts_data_source_id) {
        if let Some(email) = page["properties"]["Email"]["email"].as_str() {
            *contacts.entry(email.to_owned()).or_default() += 1;
        }
    }
    let activities = emulator.pages(&ws.activities_data_source_id).len();
    let missing = emails.iter().filter(|e| !contacts.contains_key(*e)).count();
    let lost = missing.max(emails.len().saturating_sub(activities));
    let doubled = contacts.values().map(|n| n - 1).sum();
    (lost, doubled)
}

struct Leads {
    emulator: Emulator,
    ws: SeededWorkspace,
    emails: Vec<String>,
    workers: Vec<(Worker<DynamoStore, SecretsManagerSource>, Vec<String>)>,
    /// The deployment's table, which they all use.
    store: DynamoStore,
}

/// `LEADS` new leads accepted at once, split over `processes` workers (each its own
/// process: its own client and limiter, as two stream shards of one deployment, which
/// share its table).
async fn accept_leads(
    env: &Env,
    model: Model,
    latency_ms: u64,
    processes: usize,
) -> Result<Leads, Error> {
    let (emulator, ws) = budget(model, latency_ms).await?;
    let mut workers = Vec::new();
    let mut emails = Vec::new();
    let store = fresh_dynamo().await?;
    for p in 0..processes {
        let ports = ports_on(env, &emulator, &ws, store.clone(), None)?;
        let intake = ports.intake();
        let mut ids = Vec::new();
        for i in (p..model.leads()).step_by(processes) {
            let email = format!("drain{i}@example.com");
            let body =
                json!({"email": email, "submission_id": format!("drain-{i}"), "message": "hello"});
            intake.handle(signed_lead(&body.to_string())).await;
            ids.push(lead_id(&format!("own:drain-{i}")));
            emails.push(email);
        }
        workers.push((ports.worker(), ids));
    }
    emulator.clear_requests();
    Ok(Leads {
        emulator,
        ws,
        emails,
        workers,
        store,
    })
}

fn figures(took: Duration, seen: &Seen, lost: usize, doubled: usize) -> String {
    format!(
        "{:.0} s; {:.1} % of the budget; {} × 429 ({:.2} % of {} calls); {lost} lost; {doubled} duplicate contacts",
        took.as_secs_f64(),
        seen.share * 100.0,
        seen.refused,
        seen.refused as f64 * 100.0 / seen.requests.max(1) as f64,
        seen.requests,
    )
}

/// One worker drains the model's leads.
async fn leads(env: &Env, model: Model, latency_ms: u64) -> Result<Row, Error> {
    let run = accept_leads(env, model, latency_ms, 1).await?;
    let started = Instant::now();
    for (worker, ids) in &run.workers {
        shard(worker, ids.clone(), batch_size()?).await?;
    }
    let took = started.elapsed();
    let (lost, doubled) = lost_and_doubled(&run.emulator, &run.ws, &run.emails);
    Ok((
        format!(
            "drain {} new leads at once, no rate set: Notion at {}, {latency_ms} ms latency",
            model.leads(),
            model.name
        ),
        figures(took, &seen(&run.emulator, &model), lost, doubled),
    ))
}

/// Two workers, each with half the leads, and the digest over 250 stale leads, with no
/// rate set, share one budget. The share is given while both workers ran, and over the
/// whole drain (once one is done, the other takes the budget back alone).
async fn shared(env: &Env, model: Model) -> Result<Row, Error> {
    let latency_ms = 200;
    let run = accept_leads(env, model, latency_ms, 2).await?;
    for i in 0..250 {
        run.emulator.create_page_as_person(
            json!({"Name": {"title": [{"text": {"content": format!("Old {i}")}}]},
                   "Email": {"email": format!("old{i}@example.com")},
                   "Status": {"select": {"name": "new lead"}},
                   "Last Contacted": {"date": {"start": "2025-01-01"}}}),
            &run.ws.contacts_data_source_id,
        )?;
    }
    run.emulator.clear_requests();
    let digest = ports_on(env, &run.emulator, &run.ws, run.store.clone(), None)?.digest();
    let started = Instant::now();
    let batch = batch_size()?;
    let first_done = std::cell::RefCell::new(None::<Seen>);
    let drains = run.workers.iter().map(|(worker, ids)| async {
        let result = shard(worker, ids.clone(), batch).await;
        first_done
            .borrow_mut()
            .get_or_insert_with(|| seen(&run.emulator, &model));
        result
    });
    let (drained, report) = tokio::join!(futures::future::join_all(drains), async {
        // The digest starts while both workers are busy.
        tokio::time::sleep(Duration::from_secs(30)).await;
        digest.run().await
    });
    for d in drained {
        d?;
    }
    let took = started.elapsed();
    let posted = match report {
        Ok(r) => r.posted.to_string(),
        Err(e) => format!("no, {e}"),
    };
    let (lost, doubled) = lost_and_doubled(&run.emulator, &run.ws, &run.emails);
    let both = first_done.into_inner().map_or(0.0, |s| s.share);
    Ok((
        format!(
            "two workers ({} leads each) and the digest (250 stale leads) sharing one budget, no rate set: Notion at {}, {latency_ms} ms latency",
            model.leads() / 2,
            model.name
        ),
        format!(
            "{:.1} % of the budget while both workers ran; overall {}; digest posted: {posted}",
            both * 100.0,
            figures(took, &seen(&run.emulator, &model), lost, doubled)
        ),
    ))
}

/// `DEALS` stage changes at once, each to a routed stage: with the default burst
/// settings, one summary per destination covering every change.
async fn deals(env: &Env) -> Result<Row, Error> {
    let latency_ms = 200;
    let (emulator, ws) = budget(STRICT, latency_ms).await?;
    let ports = ports_on(env, &emulator, &ws, fresh_dynamo().await?, None)?;
    let notion = ports.notion.with_token(DEFAULT_TOKEN.to_owned().into());
    let stage_id = notion
        .retrieve_data_source(&ws.deals_data_source_id)
        .await?
        .properties["Stage"]
        .id
        .clone();
    let webhook = ports.webhook();
    let stages = ["won", "lost", "negotiation"];
    let mut ids = Vec::new();
    for i in 0..DEALS {
        let page = emulator.create_page_as_person(
            json!({"Deal Name": {"title": [{"text": {"content": format!("Deal {i}")}}]},
                   "Stage": {"status": {"name": stages[i % 3]}}}),
            &ws.deals_data_source_id,
        )?;
        let event = deal_event(i, &page, &ws, &stage_id);
        let signed = [notion_signed(crate::WEBHOOK_TOKEN, event.as_bytes())];
        webhook
            .handle(HttpEvent::post("/", event).headers(&signed).request())
            .await;
        ids.push(event_id(&format!("bench-deal-{i}")));
    }
    let announced = || -> usize { stages.iter().map(|s| env.slack.to(s).len()).sum() };
    // The changes a message covers: a summary lists each (`• ` lines), a single post one.
    let covered = || -> usize {
        stages
            .iter()
            .flat_map(|s| env.slack.to(s))
            .map(|m| {
                let text = m["text"].as_str().unwrap_or_default();
                text.lines().filter(|l| l.starts_with("• ")).count().max(1)
            })
            .sum()
    };
    let (before, covered_before) = (announced(), covered());
    emulator.clear_requests();
    let started = Instant::now();
    shard(&ports.worker(), ids, batch_size()?).await?;
    let took = started.elapsed();
    let posted = announced() - before;
    let covered = covered() - covered_before;
    let s = seen(&emulator, &STRICT);
    Ok((
        format!(
            "{DEALS} deal stage changes at once: Notion at 3/s (strict 1-s window), {latency_ms} ms latency, Slack 1/s per destination"
        ),
        format!(
            "{:.0} s; {posted} Slack messages covering {covered} of {DEALS} changes; {} × 429 ({:.2} % of {} calls)",
            took.as_secs_f64(),
            s.refused,
            s.refused as f64 * 100.0 / s.requests.max(1) as f64,
            s.requests
        ),
    ))
}

fn deal_event(i: usize, page: &Value, ws: &SeededWorkspace, stage_id: &str) -> String {
    json!({
        "id": format!("bench-deal-{i}"), "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "type": "page.properties_updated", "authors": [{"id": ws.people[0].0, "type": "person"}],
        "entity": {"id": page["id"], "type": "page"},
        "data": {"parent": {"id": ws.deals_database_id, "type": "database",
                            "data_source_id": ws.deals_data_source_id},
                 "updated_properties": [stage_id]},
    })
    .to_string()
}

/// Every drain at once, each on its own budget.
pub async fn measure(
    env: &Env,
    rows: &mut Vec<Row>,
    all: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut runs: Vec<futures::future::LocalBoxFuture<'_, Result<Row, Error>>> = Vec::new();
    for model in models().into_iter().filter(|_| all) {
        runs.push(Box::pin(leads(env, model, 200)));
    }
    if all {
        // Latency does not bound the drain: Notion's budget does.
        for latency in [0, 500] {
            runs.push(Box::pin(leads(env, STRICT, latency)));
        }
    }
    for model in models() {
        runs.push(Box::pin(shared(env, model)));
    }
    if all {
        runs.push(Box::pin(deals(env)));
    }
    for row in futures::future::join_all(runs).await {
        rows.push(row?);
    }
    Ok(())
}
