//! Test and local-run controls, under `/__admin` (outside Notion's API; no token).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Shared;
use crate::api::{Author, create_page, update_page};
use crate::error::ApiError;
use crate::faults::FaultRule;
use crate::seed::StageKind;
use crate::webhooks::DeliveryMode;

pub fn routes(shared: Shared) -> Router {
    Router::new()
        .route("/__admin/seed", post(seed))
        .route("/__admin/requests", get(requests).delete(clear_requests))
        .route("/__admin/faults", post(add_fault).delete(clear_faults))
        .route("/__admin/rate_limit", post(rate_limit))
        .route("/__admin/workspace_limit", post(workspace_limit))
        .route("/__admin/rate_limit_reason", post(rate_limit_reason))
        .route("/__admin/tokens", post(add_token))
        .route("/__admin/block_limit", get(block_usage).post(block_limit))
        .route("/__admin/block_limit/end_grace", post(end_grace))
        .route("/__admin/result_cap", post(result_cap))
        .route("/__admin/webhooks", post(subscribe))
        .route("/__admin/webhooks/mode", post(mode))
        .route("/__admin/webhooks/flush", post(flush))
        .route("/__admin/webhooks/redeliver", post(redeliver))
        .route("/__admin/webhooks/deliveries", get(deliveries))
        .route("/__admin/webhooks/idle", get(deliveries_idle))
        .route(
            "/__admin/data_sources/{id}/pages",
            get(list_pages).post(person_creates_page),
        )
        .route(
            "/__admin/pages/{id}",
            axum::routing::patch(person_edits_page),
        )
        .with_state(shared)
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, crate::state::State> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Deserialize, Default)]
struct SeedBody {
    #[serde(default)]
    stage_type: StageKind,
}

async fn seed(State(shared): State<Shared>, body: Option<Json<SeedBody>>) -> Json<Value> {
    let stage = body.map(|b| b.0.stage_type).unwrap_or_default();
    let seeded = crate::seed::seed_crm(&mut lock(&shared), stage);
    Json(json!(seeded))
}

async fn requests(State(shared): State<Shared>) -> Json<Value> {
    Json(json!(lock(&shared).log))
}

async fn clear_requests(State(shared): State<Shared>) -> StatusCode {
    lock(&shared).clear_log();
    StatusCode::NO_CONTENT
}

async fn add_fault(State(shared): State<Shared>, Json(rule): Json<FaultRule>) -> StatusCode {
    lock(&shared).faults.push(rule);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(shared): State<Shared>) -> StatusCode {
    lock(&shared).faults.clear();
    StatusCode::NO_CONTENT
}

/// `{"shape":"bucket","per_second":3,"burst":5}`, `{"shape":"window","requests":3,
/// "seconds":1}`, or `null` for no limit.
async fn rate_limit(
    State(shared): State<Shared>,
    Json(body): Json<Option<crate::RateLimit>>,
) -> StatusCode {
    lock(&shared).set_rate_limit(body);
    StatusCode::NO_CONTENT
}

/// The workspace's limit, shared by every token: a `RateLimit` body or `null`.
async fn workspace_limit(
    State(shared): State<Shared>,
    Json(body): Json<Option<crate::RateLimit>>,
) -> StatusCode {
    lock(&shared).set_workspace_limit(body);
    StatusCode::NO_CONTENT
}

/// `{"reason": "…"}` sent as every 429's `rate_limit_reason`; `null` for the documented.
#[derive(Deserialize)]
struct ReasonBody {
    reason: Option<String>,
}

async fn rate_limit_reason(
    State(shared): State<Shared>,
    Json(body): Json<ReasonBody>,
) -> StatusCode {
    lock(&shared).rate_reason = body.reason;
    StatusCode::NO_CONTENT
}

/// `{"token": "…", "kind": "internal" | "personal"}`: another connection of the
/// workspace.
#[derive(Deserialize)]
struct TokenBody {
    token: String,
    #[serde(default)]
    kind: crate::TokenKind,
}

async fn add_token(State(shared): State<Shared>, Json(body): Json<TokenBody>) -> StatusCode {
    lock(&shared).other_tokens.insert(body.token, body.kind);
    StatusCode::NO_CONTENT
}

/// A `BlockLimit` body (`{"limit":1000,"members":2,"grace_seconds":0,
/// "refusal":"documented"}`) or `null` (an upgraded workspace).
async fn block_limit(
    State(shared): State<Shared>,
    Json(body): Json<Option<crate::BlockLimit>>,
) -> StatusCode {
    lock(&shared).set_block_limit(body);
    StatusCode::NO_CONTENT
}

/// The grace is over, however long it was.
async fn end_grace(State(shared): State<Shared>) -> StatusCode {
    lock(&shared).grace_ended = true;
    StatusCode::NO_CONTENT
}

async fn block_usage(State(shared): State<Shared>) -> Json<Value> {
    let state = lock(&shared);
    Json(json!({"used": state.blocks_used(), "limit": state.block_limit.map(|b| b.limit)}))
}

#[derive(Deserialize)]
struct CapBody {
    cap: usize,
}

async fn result_cap(State(shared): State<Shared>, Json(body): Json<CapBody>) -> StatusCode {
    lock(&shared).result_cap = body.cap;
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct SubscribeBody {
    url: String,
    verification_token: Option<String>,
    /// The subscription's API version (default 2026-03-11).
    #[serde(default)]
    api_version: Option<String>,
}

async fn subscribe(State(shared): State<Shared>, Json(body): Json<SubscribeBody>) -> Json<Value> {
    let token = crate::webhooks::subscribe(
        &shared,
        &body.url,
        body.verification_token,
        body.api_version,
    )
    .await;
    Json(json!({"verification_token": token}))
}

async fn mode(State(shared): State<Shared>, Json(mode): Json<DeliveryMode>) -> StatusCode {
    lock(&shared).webhooks.mode = mode;
    StatusCode::NO_CONTENT
}

async fn flush(State(shared): State<Shared>) -> StatusCode {
    crate::webhooks::flush(&shared);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct RedeliverBody {
    event_id: String,
}

async fn redeliver(State(shared): State<Shared>, Json(body): Json<RedeliverBody>) -> StatusCode {
    if crate::webhooks::redeliver(&shared, &body.event_id) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

async fn deliveries(State(shared): State<Shared>) -> Json<Value> {
    Json(json!(lock(&shared).webhooks.deliveries))
}

/// Whether every event emitted so far has been delivered (or given up on): for a test
/// of another process's emulator to wait for, as `Emulator::deliveries_idle` does.
async fn deliveries_idle(State(shared): State<Shared>) -> Json<Value> {
    Json(json!({"idle": lock(&shared).webhooks.idle()}))
}

async fn list_pages(State(shared): State<Shared>, Path(id): Path<String>) -> Json<Value> {
    Json(json!(lock(&shared).pages_json(&id)))
}

#[derive(Deserialize)]
struct PersonWrite {
    #[serde(default)]
    properties: Value,
    /// Which person; the first seeded person when absent.
    author: Option<String>,
    created_time: Option<chrono::DateTime<chrono::Utc>>,
    last_edited_time: Option<chrono::DateTime<chrono::Utc>>,
}

fn person(state: &crate::state::State, wanted: Option<&str>) -> Author {
    let id = wanted
        .map(str::to_owned)
        .or_else(|| state.users.iter().find(|u| !u.bot).map(|u| u.id.clone()))
        .unwrap_or_else(crate::ids::new_id);
    Author::Person(id)
}

async fn person_creates_page(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Json(body): Json<PersonWrite>,
) -> Response {
    let result = {
        let Some(ds) = crate::ids::normalize(&id) else {
            return ApiError::validation("bad data source id").into_response();
        };
        let mut state = lock(&shared);
        let author = person(&state, body.author.as_deref());
        create_page(&mut state, &ds, &body.properties, author).map(|page| {
            let page_id = page["id"].as_str().unwrap_or_default().to_owned();
            state.set_page_times(&page_id, body.created_time, body.last_edited_time);
            let rec = state.page(&page_id).cloned();
            rec.map(|r| state.page_json(&r, &[])).unwrap_or(page)
        })
    };
    crate::webhooks::pump(&shared);
    match result {
        Ok(page) => Json(page).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn person_edits_page(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Json(body): Json<PersonWrite>,
) -> Response {
    let result = {
        let Some(page_id) = crate::ids::normalize(&id) else {
            return ApiError::validation("bad page id").into_response();
        };
        let mut state = lock(&shared);
        let author = person(&state, body.author.as_deref());
        let write = json!({"properties": body.properties});
        let result = if body.properties.is_null() {
            Ok(page_id.clone())
        } else {
            update_page(&mut state, &page_id, &write, author)
        };
        result.map(|id| {
            state.set_page_times(&id, body.created_time, body.last_edited_time);
            let rec = state.page(&id).cloned();
            rec.map(|r| state.page_json(&r, &[])).unwrap_or(Value::Null)
        })
    };
    crate::webhooks::pump(&shared);
    match result {
        Ok(page) => Json(page).into_response(),
        Err(e) => e.into_response(),
    }
}

/// For the typed handle: create a page as a person.
pub fn create_page_as_person(
    shared: &Shared,
    ds: &str,
    properties: Value,
) -> Result<Value, String> {
    let result = {
        let ds = crate::ids::normalize(ds).ok_or("bad data source id")?;
        let mut state = lock(shared);
        let author = person(&state, None);
        create_page(&mut state, &ds, &properties, author).map_err(|e| e.message)
    };
    crate::webhooks::pump(shared);
    result
}

/// For the typed handle: edit a page as a person.
pub fn update_page_as_person(
    shared: &Shared,
    page_id: &str,
    properties: Value,
) -> Result<Value, String> {
    let result = {
        let id = crate::ids::normalize(page_id).ok_or("bad page id")?;
        let mut state = lock(shared);
        let author = person(&state, None);
        update_page(&mut state, &id, &json!({"properties": properties}), author)
            .map_err(|e| e.message)
            .map(|id| {
                let rec = state.page(&id).cloned();
                rec.map(|r| state.page_json(&r, &[])).unwrap_or(Value::Null)
            })
    };
    crate::webhooks::pump(shared);
    result
}

/// For the typed handle: move a page to (or out of) the trash as a person.
pub fn trash_page_as_person(shared: &Shared, page_id: &str, in_trash: bool) -> Result<(), String> {
    let result = {
        let id = crate::ids::normalize(page_id).ok_or("bad page id")?;
        let mut state = lock(shared);
        let author = person(&state, None);
        update_page(&mut state, &id, &json!({"in_trash": in_trash}), author)
            .map(|_| ())
            .map_err(|e| e.message)
    };
    crate::webhooks::pump(shared);
    result
}
