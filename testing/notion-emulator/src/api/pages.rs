use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use serde_json::Value;

use super::{json_body, lock, path_id, wanted_properties};
use crate::Shared;
use crate::error::ApiError;
use crate::model::{PageRec, to_minute};
use crate::state::State as EmuState;
use crate::webhooks;

/// Who made a change: the integration (through the API) or a person (in the app).
#[derive(Debug, Clone)]
pub enum Author {
    Bot,
    Person(String),
}

impl Author {
    fn id(&self, state: &EmuState) -> String {
        match self {
            Self::Bot => state.bot_id.clone(),
            Self::Person(id) => id.clone(),
        }
    }
}

pub async fn create(State(shared): State<Shared>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let body = json_body(&body)?;
    let mut state = lock(&shared);
    let ds_id = parent_data_source(&state, &body)?;
    let properties = body
        .get("properties")
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    create_page(&mut state, &ds_id, &properties, Author::Bot).map(Json)
}

/// Creates a page in `ds_id`; shared by the API and the admin routes.
pub fn create_page(
    state: &mut EmuState,
    ds_id: &str,
    properties: &Value,
    author: Author,
) -> Result<Value, ApiError> {
    if !state.data_sources.contains_key(ds_id) {
        return Err(ApiError::not_found("data_source", ds_id));
    }
    let values = crate::values::write_properties(state, ds_id, properties)?;
    let now = to_minute(state.now());
    let author_id = author.id(state);
    let page = PageRec {
        id: crate::ids::new_id(),
        data_source_id: ds_id.to_owned(),
        created: now,
        edited: now,
        created_by: author_id.clone(),
        edited_by: author_id,
        in_trash: false,
        values: values.into_iter().collect(),
        written: tokio::time::Instant::now(),
    };
    let json = state.api_page_json(&page, &[]);
    webhooks::emit(state, "page.created", &page, Vec::new(), &author);
    state.insert_page(page);
    Ok(json)
}

fn parent_data_source(state: &EmuState, body: &Value) -> Result<String, ApiError> {
    let parent = body.get("parent").ok_or_else(|| {
        ApiError::validation(
            "body failed validation: body.parent should be defined, instead was `undefined`.",
        )
    })?;
    if let Some(ds) = parent.get("data_source_id").and_then(Value::as_str) {
        return crate::ids::normalize(ds).ok_or_else(|| {
            ApiError::validation("body.parent.data_source_id should be a valid uuid.")
        });
    }
    if let Some(db) = parent.get("database_id").and_then(Value::as_str) {
        let id = crate::ids::normalize(db).ok_or_else(|| {
            ApiError::validation("body.parent.database_id should be a valid uuid.")
        })?;
        let database = state
            .databases
            .get(&id)
            .ok_or_else(|| ApiError::not_found("database", &id))?;
        return match database.data_sources.as_slice() {
            [only] => Ok(only.clone()),
            _ => Err(ApiError::validation(
                "Databases with multiple data sources are not supported in this API version.",
            )),
        };
    }
    Err(ApiError::validation(
        "body.parent should have a data_source_id (pages outside data sources are not emulated).",
    ))
}

pub async fn retrieve(
    State(shared): State<Shared>,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(&raw, "page")?;
    let state = lock(&shared);
    let page = state
        .page(&id)
        .ok_or_else(|| ApiError::not_found("page", &id))?;
    let only = page_properties(&state, page, query.as_deref())?;
    Ok(Json(state.api_page_json(page, &only)))
}

pub async fn update(
    State(shared): State<Shared>,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(&raw, "page")?;
    let body = json_body(&body)?;
    // API 2026-03-11 removed `archived` everywhere in favour of `in_trash` (upgrade guide
    // for 2026-03-11); earlier versions still take it as an alias.
    let version = headers
        .get("notion-version")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if body.get("archived").is_some() && version >= "2026-03-11" {
        return Err(ApiError::validation(
            "body failed validation: body.archived is not supported in this API version; use body.in_trash.",
        ));
    }
    let mut state = lock(&shared);
    if let Some(page) = state.page(&id) {
        page_properties(&state, page, query.as_deref())?;
    }
    let page = update_page(&mut state, &id, &body, Author::Bot)?;
    let rec = state
        .page(&page)
        .cloned()
        .ok_or_else(|| ApiError::not_found("page", &id))?;
    let only = page_properties(&state, &rec, query.as_deref())?;
    Ok(Json(state.api_page_json(&rec, &only)))
}

/// `filter_properties` of a request about `page`, checked against its data source.
fn page_properties(
    state: &EmuState,
    page: &PageRec,
    query: Option<&str>,
) -> Result<Vec<String>, ApiError> {
    match state.data_sources.get(&page.data_source_id) {
        Some(ds) => wanted_properties(query, ds),
        None => Ok(Vec::new()),
    }
}

/// Applies `body` (`properties`, `in_trash`) to a page; shared by API and admin routes.
/// Returns the page id.
pub fn update_page(
    state: &mut EmuState,
    id: &str,
    body: &Value,
    author: Author,
) -> Result<String, ApiError> {
    let page = state
        .page(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("page", id))?;
    let in_trash = body
        .get("in_trash")
        .or_else(|| body.get("archived"))
        .and_then(Value::as_bool);
    let properties = body.get("properties");
    if page.in_trash && in_trash != Some(false) && properties.is_some() {
        return Err(ApiError::validation(
            "Can't edit block that is archived. You must unarchive the block before editing.",
        ));
    }
    let values = match properties {
        Some(p) => crate::values::write_properties(state, &page.data_source_id, p)?,
        None => Vec::new(),
    };
    let author_id = author.id(state);
    let now = to_minute(state.now());
    let page_mut = state
        .page_mut(id)
        .ok_or_else(|| ApiError::not_found("page", id))?;
    let mut changed = Vec::new();
    for (prop, value) in values {
        if page_mut.values.get(&prop) != Some(&value) {
            changed.push(prop.clone());
        }
        page_mut.values.insert(prop, value);
    }
    let trash_changed = in_trash.is_some_and(|t| t != page_mut.in_trash);
    if let Some(t) = in_trash {
        page_mut.in_trash = t;
    }
    if !changed.is_empty() || trash_changed {
        page_mut.edited = now;
        page_mut.edited_by = author_id;
    }
    let snapshot = page_mut.clone();
    if trash_changed {
        let kind = if snapshot.in_trash {
            "page.deleted"
        } else {
            "page.undeleted"
        };
        webhooks::emit(state, kind, &snapshot, Vec::new(), &author);
    }
    if !changed.is_empty() {
        webhooks::emit(
            state,
            "page.properties_updated",
            &snapshot,
            changed,
            &author,
        );
    }
    Ok(snapshot.id)
}
