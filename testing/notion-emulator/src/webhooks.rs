//! Webhook deliveries shaped and signed like Notion's.
//!
//! Notion aggregates, delays, duplicates and reorders deliveries, and retries a failed
//! one up to 8 times ("Event types & delivery" in Notion's webhook reference). The
//! delivery mode switches make each of those happen on demand.
//!
//! Payload shapes follow the subscription's API version: from 2025-09-03 a page's
//! `data.parent` names its `data_source_id`; a subscription on 2022-06-28 gets
//! `{"id": <database>, "type": "database"}` only (Notion's "Webhook events" reference,
//! `api_version` field; upgrade guide for 2025-09-03).

use std::collections::HashMap;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::Shared;
use crate::api::Author;
use crate::model::{PageRec, iso};
use crate::state::State;

const MAX_ATTEMPTS: u32 = 8;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryMode {
    /// Deliver every event twice (the second as attempt 2, as Notion's retry would).
    #[serde(default)]
    pub duplicate: bool,
    /// Hold events until [`crate::Emulator::flush_deliveries`], then send newest first.
    #[serde(default)]
    pub reorder: bool,
    /// Wait this long before each delivery.
    #[serde(default)]
    pub delay_ms: u64,
    /// Merge events of one type about one page raised within this many milliseconds
    /// into one, as Notion does for page events (except page.locked/unlocked): the
    /// merged event lists every updated property and every author, carries the time
    /// of the last change, and the states in between are never delivered. How long
    /// Notion's window is, it does not say; 0 turns merging off.
    #[serde(default)]
    pub aggregate_ms: u64,
}

/// One delivery attempt and how the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryRecord {
    pub event_id: String,
    pub event_type: String,
    pub entity_id: String,
    pub attempt: u32,
    /// The receiver's status, or `None` when it could not be reached.
    pub status: Option<u16>,
    /// Every author of the event is the integration's own bot (its own edit).
    pub by_bot: bool,
}

#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub url: String,
    pub token: String,
    /// The API version chosen when the subscription was created: it shapes payloads.
    pub api_version: String,
}

/// The API version a subscription gets unless told otherwise.
pub const DEFAULT_API_VERSION: &str = "2026-03-11";

#[derive(Debug, Default)]
pub struct WebhookState {
    pub subscriptions: Vec<Subscription>,
    pub mode: DeliveryMode,
    pub outbox: Vec<Value>,
    pub held: Vec<Value>,
    pub sent: HashMap<String, Value>,
    pub deliveries: Vec<DeliveryRecord>,
    pub workspace_id: String,
    /// Events being merged, each with the time its window closes.
    pub merging: Vec<(Value, tokio::time::Instant)>,
    /// Delivery tasks not yet finished (retries included). Counted under the state
    /// lock in the same step that takes events out of the outbox or a merge window, so
    /// "nothing queued, merging or in flight" is never true while an event is on its way.
    pub in_flight: usize,
}

impl WebhookState {
    /// Whether every event emitted so far has been delivered or given up on (events
    /// held for a reordered flush wait for the flush and do not count).
    pub fn idle(&self) -> bool {
        self.outbox.is_empty() && self.merging.is_empty() && self.in_flight == 0
    }
}

/// One delivery task, counted in [`WebhookState::in_flight`] when it was spawned; it
/// counts itself out when it ends, however it ends.
struct InFlight(Shared);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = lock(&self.0);
        state.webhooks.in_flight = state.webhooks.in_flight.saturating_sub(1);
    }
}

/// Queues the event for a page change; [`pump`] sends it once the state lock is free.
pub fn emit(state: &mut State, kind: &str, page: &PageRec, updated: Vec<String>, author: &Author) {
    if state.webhooks.subscriptions.is_empty() {
        return;
    }
    let (author_id, author_type) = match author {
        Author::Bot => (state.bot_id.clone(), "bot"),
        Author::Person(id) => (id.clone(), "person"),
    };
    let database_id = state
        .data_sources
        .get(&page.data_source_id)
        .map(|d| d.database_id.clone())
        .unwrap_or_default();
    if state.webhooks.workspace_id.is_empty() {
        state.webhooks.workspace_id = crate::ids::new_id();
    }
    let mut data = json!({
        "parent": {"id": database_id, "type": "database", "data_source_id": page.data_source_id},
    });
    if kind == "page.properties_updated" {
        data["updated_properties"] = json!(updated);
    }
    let event = json!({
        "id": crate::ids::new_id(),
        "timestamp": iso(chrono::Utc::now()),
        "workspace_id": state.webhooks.workspace_id,
        "workspace_name": "CRM workspace",
        "subscription_id": "",
        "integration_id": state.bot_id,
        "type": kind,
        "authors": [{"id": author_id, "type": author_type}],
        "attempt_number": 1,
        "api_version": DEFAULT_API_VERSION,
        "entity": {"id": page.id, "type": "page"},
        "data": data,
    });
    state.webhooks.outbox.push(event);
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sends (or holds, when reordering, or merges, when aggregating) every queued event.
pub fn pump(shared: &Shared) {
    let (events, subs, mode) = {
        let mut state = lock(shared);
        let mut events: Vec<Value> = state.webhooks.outbox.drain(..).collect();
        let window = state.webhooks.mode.aggregate_ms;
        if window > 0 {
            let now = tokio::time::Instant::now();
            events = merge(&mut state.webhooks.merging, events, now, window, shared);
            events.extend(take_due(&mut state.webhooks.merging, now));
        }
        if events.is_empty() {
            return;
        }
        for e in &events {
            if let Some(id) = e["id"].as_str() {
                state.webhooks.sent.insert(id.to_owned(), e.clone());
            }
        }
        if state.webhooks.mode.reorder {
            state.webhooks.held.extend(events);
            return;
        }
        state.webhooks.in_flight += state.webhooks.subscriptions.len();
        (
            events,
            state.webhooks.subscriptions.clone(),
            state.webhooks.mode.clone(),
        )
    };
    spawn_all(shared, events, subs, mode);
}

/// Folds aggregatable events into the ones being merged; returns the others. A new
/// merge window wakes the pump when it closes.
fn merge(
    merging: &mut Vec<(Value, tokio::time::Instant)>,
    events: Vec<Value>,
    now: tokio::time::Instant,
    window_ms: u64,
    shared: &Shared,
) -> Vec<Value> {
    let mut rest = Vec::new();
    for event in events {
        let kind = event["type"].as_str().unwrap_or_default();
        let aggregated = kind.starts_with("page.") && !kind.ends_with("locked");
        if !aggregated {
            rest.push(event);
            continue;
        }
        let same =
            |e: &Value| e["type"] == event["type"] && e["entity"]["id"] == event["entity"]["id"];
        if let Some((into, _)) = merging.iter_mut().find(|(e, _)| same(e)) {
            fold(into, &event);
            continue;
        }
        let closes = now + Duration::from_millis(window_ms);
        merging.push((event, closes));
        let shared = shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(closes).await;
            pump(&shared);
        });
    }
    rest
}

/// `later` merged into `into`: the union of updated properties and authors, the time
/// of the last change.
fn fold(into: &mut Value, later: &Value) {
    for key in ["updated_properties"] {
        if let (Some(have), Some(more)) = (
            into["data"][key].as_array().cloned(),
            later["data"][key].as_array(),
        ) {
            let mut all = have;
            all.extend(
                more.iter()
                    .filter(|p| !all.contains(p))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            into["data"][key] = Value::Array(all);
        }
    }
    if let (Some(have), Some(more)) = (
        into["authors"].as_array().cloned(),
        later["authors"].as_array(),
    ) {
        let mut all = have;
        for a in more {
            if !all.iter().any(|x| x["id"] == a["id"]) {
                all.push(a.clone());
            }
        }
        into["authors"] = Value::Array(all);
    }
    into["timestamp"] = later["timestamp"].clone();
}

/// The merged events whose window has closed.
fn take_due(
    merging: &mut Vec<(Value, tokio::time::Instant)>,
    now: tokio::time::Instant,
) -> Vec<Value> {
    let (due, open): (Vec<_>, Vec<_>) = merging.drain(..).partition(|(_, closes)| *closes <= now);
    *merging = open;
    due.into_iter().map(|(e, _)| e).collect()
}

/// Sends held events, newest first.
pub fn flush(shared: &Shared) {
    let (events, subs, mode) = {
        let mut state = lock(shared);
        let mut events: Vec<Value> = state.webhooks.held.drain(..).collect();
        events.reverse();
        state.webhooks.in_flight += state.webhooks.subscriptions.len();
        (
            events,
            state.webhooks.subscriptions.clone(),
            state.webhooks.mode.clone(),
        )
    };
    spawn_all(shared, events, subs, mode);
}

/// Sends an event again, as Notion's retry would (with the next attempt number).
pub fn redeliver(shared: &Shared, event_id: &str) -> bool {
    let (event, subs) = {
        let mut state = lock(shared);
        let Some(event) = state.webhooks.sent.get(event_id).cloned() else {
            return false;
        };
        state.webhooks.in_flight += state.webhooks.subscriptions.len();
        (event, state.webhooks.subscriptions.clone())
    };
    for sub in subs {
        let shared = shared.clone();
        let event = event.clone();
        tokio::spawn(async move {
            let _counted = InFlight(shared.clone());
            deliver(&shared, &sub, event, 2).await;
        });
    }
    true
}

fn spawn_all(shared: &Shared, events: Vec<Value>, subs: Vec<Subscription>, mode: DeliveryMode) {
    for sub in subs {
        let shared = shared.clone();
        let events = events.clone();
        let mode = mode.clone();
        // One task per subscription keeps this subscription's deliveries in the order
        // chosen above.
        tokio::spawn(async move {
            let _counted = InFlight(shared.clone());
            for event in events {
                if mode.delay_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(mode.delay_ms)).await;
                }
                deliver(&shared, &sub, event.clone(), 1).await;
                if mode.duplicate {
                    deliver(&shared, &sub, event, 2).await;
                }
            }
        });
    }
}

/// HMAC-SHA256 of the body with the verification token, as `sha256=<hex>`.
pub fn signature(token: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// One HTTP client for every delivery (its connection pool is reused).
fn client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            crm_http::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default()
        })
        .clone()
}

/// Delivers `event` from attempt `first` on, retrying failures with backoff up to
/// Notion's 8 attempts.
async fn deliver(shared: &Shared, sub: &Subscription, mut event: Value, first: u32) {
    let http = client();
    let mut attempt = first;
    loop {
        event["attempt_number"] = json!(attempt);
        event["subscription_id"] = json!(sub.id);
        shape_for_version(&mut event, &sub.api_version);
        let body = serde_json::to_vec(&event).unwrap_or_default();
        let result = http
            .post(&sub.url)
            .header("content-type", "application/json")
            .header("x-notion-signature", signature(&sub.token, &body))
            .body(body)
            .send()
            .await;
        let status = result.as_ref().ok().map(|r| r.status().as_u16());
        lock(shared).webhooks.deliveries.push(DeliveryRecord {
            event_id: event["id"].as_str().unwrap_or_default().to_owned(),
            event_type: event["type"].as_str().unwrap_or_default().to_owned(),
            entity_id: event["entity"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            attempt,
            status,
            by_bot: event["authors"]
                .as_array()
                .is_some_and(|a| !a.is_empty() && a.iter().all(|x| x["type"] == "bot")),
        });
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        if ok || attempt >= MAX_ATTEMPTS {
            return;
        }
        let backoff = Duration::from_millis(100 * 2u64.pow(attempt.min(5)));
        tokio::time::sleep(backoff).await;
        attempt += 1;
    }
}

/// Gives an event the shape of the subscription's API version: before 2025-09-03 a
/// page's parent names only its database.
fn shape_for_version(event: &mut Value, api_version: &str) {
    event["api_version"] = json!(api_version);
    if api_version < "2025-09-03"
        && let Some(parent) = event["data"]["parent"].as_object_mut()
    {
        parent.remove("data_source_id");
    }
}

/// Registers a subscription: posts the verification handshake (`{"verification_token"}`,
/// unsigned, as Notion does) and signs later deliveries with that token.
pub async fn subscribe(
    shared: &Shared,
    url: &str,
    token: Option<String>,
    api_version: Option<String>,
) -> String {
    let token = token.unwrap_or_else(|| format!("secret_{}", uuid::Uuid::new_v4().simple()));
    let sub = Subscription {
        id: crate::ids::new_id(),
        url: url.to_owned(),
        token: token.clone(),
        api_version: api_version.unwrap_or_else(|| DEFAULT_API_VERSION.to_owned()),
    };
    let handshake = json!({"verification_token": token});
    let _ = client().post(url).json(&handshake).send().await;
    lock(shared).webhooks.subscriptions.push(sub);
    token
}
