use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use super::{json_body, lock, path_id, wanted_properties};
use crate::Shared;
use crate::error::ApiError;
use crate::filter::{compare, compile, compile_sorts, matches};

pub async fn query(
    State(shared): State<Shared>,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(&raw, "data_source")?;
    let body = json_body(&body)?;
    let state = lock(&shared);
    let ds = state
        .data_sources
        .get(&id)
        .ok_or_else(|| ApiError::not_found("data_source", &id))?;
    let only = wanted_properties(query.as_deref(), ds)?;

    let page_size = match body.get("page_size") {
        None | Some(Value::Null) => 100,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=100) => n as usize,
            _ => {
                return Err(ApiError::validation(format!(
                    "body failed validation: body.page_size should be a number between 1 and 100, instead was `{v}`."
                )));
            }
        },
    };
    let filter = match body.get("filter") {
        None | Some(Value::Null) => None,
        Some(f) => Some(compile(f, ds, 0)?),
    };
    let sorts = match body.get("sorts") {
        None | Some(Value::Null) => Vec::new(),
        Some(s) => compile_sorts(s, ds)?,
    };
    // Trashed pages are never returned, and `in_trash` is not a body parameter of this
    // endpoint (query-a-data-source reference, 2026 copy): refused rather than ignored,
    // so no caller can come to rely on it.
    if body.get("in_trash").is_some() {
        return Err(ApiError::validation(
            "body failed validation: body.in_trash is not a parameter of this endpoint.",
        ));
    }

    let mut rows: Vec<_> = state
        .pages
        .iter()
        .filter(|p| p.data_source_id == id && !p.in_trash)
        // Not yet indexed (the query-lag switch).
        .filter(|p| p.written.elapsed() >= state.query_lag)
        .filter(|p| {
            filter
                .as_ref()
                .is_none_or(|f| matches(f, p, state.text_case))
        })
        .collect();
    rows.sort_by(|a, b| compare(&sorts, a, b));
    let capped = rows.len() > state.result_cap;
    rows.truncate(state.result_cap);

    let start = match body.get("start_cursor") {
        None | Some(Value::Null) => 0,
        Some(Value::String(cursor)) => crate::ids::normalize(cursor)
            .and_then(|c| rows.iter().position(|p| p.id == c))
            .ok_or_else(|| {
                ApiError::validation(format!("start_cursor provided is invalid: {cursor}"))
            })?,
        Some(other) => {
            return Err(ApiError::validation(format!(
                "body.start_cursor should be a string, instead was `{other}`."
            )));
        }
    };
    let end = (start + page_size).min(rows.len());
    let results: Vec<Value> = rows[start..end]
        .iter()
        .map(|p| state.api_page_json(p, &only))
        .collect();
    let has_more = end < rows.len();
    let mut list = json!({
        "object": "list",
        "results": results,
        "next_cursor": if has_more { Value::String(rows[end].id.clone()) } else { Value::Null },
        "has_more": has_more,
        "type": "page_or_data_source",
        "page_or_data_source": {},
    });
    // Only a response cut at the 10,000-row cap carries `request_status` (changelog
    // 2026-07-08; a live capture shows it absent on ordinary responses).
    if capped && !has_more {
        list["request_status"] =
            json!({"type": "incomplete", "incomplete_reason": "query_result_limit_reached"});
    }
    Ok(Json(list))
}
