//! Webhook deliveries shaped and signed like Notion's.
//!
//! Notion aggregates, delays, duplicates and reorders deliveries, and retries a failed
//! one up to 8 times. The delivery mode switches make each of those happen on demand.

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
}

#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub url: String,
    pub token: String,
}

#[derive(Debug, Default)]
pub struct WebhookState {
    pub subscriptions: Vec<Subscription>,
    pub mode: DeliveryMode,
    pub outbox: Vec<Value>,
    pub held: Vec<Value>,
    pub sent: HashMap<String, Value>,
    pub deliveries: Vec<DeliveryRecord>,
    pub workspace_id: String,
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
        "api_version": "2026-03-11",
        "entity": {"id": page.id, "type": "page"},
        "data": data,
    });
    state.webhooks.outbox.push(event);
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sends (or holds, when reordering) every queued event.
pub fn pump(shared: &Shared) {
    let (events, subs, mode) = {
        let mut state = lock(shared);
        if state.webhooks.outbox.is_empty() {
            return;
        }
        let events: Vec<Value> = state.webhooks.outbox.drain(..).collect();
        for e in &events {
            if let Some(id) = e["id"].as_str() {
                state.webhooks.sent.insert(id.to_owned(), e.clone());
            }
        }
        if state.webhooks.mode.reorder {
            state.webhooks.held.extend(events);
            return;
        }
        (
            events,
            state.webhooks.subscriptions.clone(),
            state.webhooks.mode.clone(),
        )
    };
    spawn_all(shared, events, subs, mode);
}

/// Sends held events, newest first.
pub fn flush(shared: &Shared) {
    let (events, subs, mode) = {
        let mut state = lock(shared);
        let mut events: Vec<Value> = state.webhooks.held.drain(..).collect();
        events.reverse();
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
        let state = lock(shared);
        match state.webhooks.sent.get(event_id) {
            Some(e) => (e.clone(), state.webhooks.subscriptions.clone()),
            None => return false,
        }
    };
    for sub in subs {
        let shared = shared.clone();
        let event = event.clone();
        tokio::spawn(async move { deliver(&shared, &sub, event, 2).await });
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
            reqwest::Client::builder()
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

/// Registers a subscription: posts the verification handshake (`{"verification_token"}`,
/// unsigned, as Notion does) and signs later deliveries with that token.
pub async fn subscribe(shared: &Shared, url: &str, token: Option<String>) -> String {
    let token = token.unwrap_or_else(|| format!("secret_{}", uuid::Uuid::new_v4().simple()));
    let sub = Subscription {
        id: crate::ids::new_id(),
        url: url.to_owned(),
        token: token.clone(),
    };
    let handshake = json!({"verification_token": token});
    let _ = client().post(url).json(&handshake).send().await;
    lock(shared).webhooks.subscriptions.push(sub);
    token
}
