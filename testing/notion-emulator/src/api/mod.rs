//! Notion's `/v1` endpoints.

mod pages;
mod query;
mod schema_routes;

use axum::Router;
use axum::body::Bytes;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::Shared;
use crate::error::ApiError;
use crate::model::DataSource;
use crate::state::State;

pub use pages::{Author, create_page, update_page};

pub fn routes(shared: Shared) -> Router {
    Router::new()
        .route("/v1/pages", post(pages::create))
        .route("/v1/pages/{id}", get(pages::retrieve).patch(pages::update))
        .route(
            "/v1/data_sources/{id}",
            get(schema_routes::retrieve_data_source),
        )
        .route("/v1/data_sources/{id}/query", post(query::query))
        .route("/v1/databases", post(schema_routes::create_database))
        .route("/v1/databases/{id}", get(schema_routes::retrieve_database))
        .route("/v1/users/me", get(me))
        .route("/v1/users", get(list_users))
        .fallback(invalid_url)
        .method_not_allowed_fallback(invalid_url)
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            crate::gate::gate,
        ))
        .with_state(shared)
}

/// The integration's bot user, as `GET /v1/users/me` returns it.
async fn me(axum::extract::State(shared): axum::extract::State<Shared>) -> axum::Json<Value> {
    let state = lock(&shared);
    let mut bot = state
        .user(&state.bot_id)
        // "The user object returned will adhere to the limitations of the integration's
        // capabilities" (GET /v1/users/me).
        .map(|u| u.to_json(state.user_info))
        .unwrap_or(Value::Null);
    // The bot's own workspace, and its limits: "Free workspaces are limited to 5 MiB
    // per file, paid workspaces to 5 GiB", as `workspace_limits.max_file_upload_size_in_bytes`
    // of the bot user says (Notion's "Working with files and media"; notion-sdk-js 3.1.2
    // added the field to the User response). A workspace with the block limit switched
    // on is on Free.
    if let Some(info) = bot.get_mut("bot").and_then(Value::as_object_mut) {
        let upload = if state.block_limit.is_some() {
            5u64 << 20
        } else {
            5u64 << 30
        };
        info.insert(
            "owner".into(),
            json!({"type": "workspace", "workspace": true}),
        );
        info.insert("workspace_name".into(), json!("Emulated workspace"));
        info.insert(
            "workspace_limits".into(),
            json!({"max_file_upload_size_in_bytes": upload}),
        );
    }
    axum::Json(bot)
}

/// `GET /v1/users` ("List all users"): the workspace's people and bots, `page_size` (at
/// most 100) at a time after `start_cursor`. Guests are not included; without user
/// information capabilities the call is refused with 403 (Notion's reference for the
/// endpoint says both).
async fn list_users(
    axum::extract::State(shared): axum::extract::State<Shared>,
    axum::extract::Query(params): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<axum::Json<Value>, ApiError> {
    let state = lock(&shared);
    if state.user_info == crate::model::UserInfo::None {
        return Err(ApiError::for_status(403));
    }
    let page_size = match params.get("page_size") {
        None => 100,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                return Err(ApiError::validation(format!(
                    "query failed validation: query.page_size should be a number between 1 and 100, instead was `{v}`."
                )));
            }
        },
    };
    let users = &state.users;
    let start = match params.get("start_cursor") {
        None => 0,
        Some(cursor) => crate::ids::normalize(cursor)
            .and_then(|c| users.iter().position(|u| u.id == c))
            .ok_or_else(|| {
                ApiError::validation(format!("start_cursor provided is invalid: {cursor}"))
            })?,
    };
    let end = (start + page_size).min(users.len());
    let has_more = end < users.len();
    Ok(axum::Json(serde_json::json!({
        "object": "list",
        "results": users[start..end].iter().map(|u| u.to_json(state.user_info)).collect::<Vec<_>>(),
        "next_cursor": if has_more { Value::String(users[end].id.clone()) } else { Value::Null },
        "has_more": has_more,
        "type": "user",
        "user": {},
    })))
}

async fn invalid_url() -> Response {
    ApiError::invalid_url().into_response()
}

/// The request body as JSON; an empty body is `{}`.
pub(crate) fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(body)
        .map_err(|_| ApiError::new(400, "invalid_json", "Error parsing JSON body."))
}

/// A path id, with or without dashes.
pub(crate) fn path_id(raw: &str, what: &str) -> Result<String, ApiError> {
    crate::ids::normalize(raw).ok_or_else(|| {
        ApiError::validation(format!(
            "path failed validation: path.{what}_id should be a valid uuid, instead was `\"{raw}\"`."
        ))
    })
}

/// The `filter_properties` query parameters, resolved to property ids of `ds`.
///
/// Notion names property ids URL-encoded in JSON (`%3AUPp` is the id `:UPp`) and, like
/// every HTTP server, decodes the query string once, so the one wire form of that id is
/// `filter_properties=%3AUPp`. A client that hands the JSON form to its query encoder
/// sends `%253AUPp`, which decodes to `%3AUPp`: no property has that id, and Notion
/// answers 400 — the bug the official SDK fixed in its PR #402 ("Fix bug for encoding
/// filter_properties query parameter": Notion "looked for `U%253AC%253C` but couldn't
/// find it & returned an error"). The parameter takes property ids only (the API
/// reference: "a list of page property value IDs"), so names are refused the same way.
pub(crate) fn wanted_properties(
    query: Option<&str>,
    ds: &DataSource,
) -> Result<Vec<String>, ApiError> {
    query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| {
            crate::ids::percent_decode(k) == "filter_properties" || *k == "filter_properties[]"
        })
        .map(|(_, v)| {
            let wire = crate::ids::percent_decode(v);
            ds.properties
                .iter()
                .find(|p| crate::ids::percent_decode(&p.id) == wire)
                .map(|p| p.id.clone())
                .ok_or_else(|| {
                    ApiError::validation(format!(
                        "filter_properties failed validation: no property of this data source has the id `{wire}`."
                    ))
                })
        })
        .collect()
}

pub(crate) fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deals, with Stage's id `:UPp` (`%3AUPp` in JSON).
    fn deals() -> DataSource {
        let mut state = State::new("t");
        let ws = crate::seed::seed_crm(&mut state, crate::StageKind::Select);
        assert!(state.set_property_id(&ws.deals_data_source_id, "Stage", "%3AUPp"));
        state.data_sources[&ws.deals_data_source_id].clone()
    }

    #[test]
    fn filter_properties_match_the_single_encoded_wire_form_only() {
        let ds = deals();
        for wire in ["%3AUPp", ":UPp", "%3aUPp"] {
            assert_eq!(
                wanted_properties(Some(&format!("filter_properties={wire}&x=1")), &ds).unwrap(),
                ["%3AUPp"],
                "{wire}"
            );
        }
        assert_eq!(
            wanted_properties(Some("filter_properties=title"), &ds).unwrap(),
            ["title"]
        );
        assert!(wanted_properties(None, &ds).unwrap().is_empty());
        // The JSON form encoded again: `%253AUPp` on the wire.
        let err = wanted_properties(Some("filter_properties=%253AUPp"), &ds).unwrap_err();
        assert_eq!((err.status, err.code), (400, "validation_error"));
        // Names are not ids.
        assert!(wanted_properties(Some("filter_properties=Stage"), &ds).is_err());
    }
}
