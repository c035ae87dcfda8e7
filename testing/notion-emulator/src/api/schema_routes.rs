use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde_json::Value;

use super::{json_body, lock, path_id};
use crate::Shared;
use crate::error::ApiError;

pub async fn retrieve_data_source(
    State(shared): State<Shared>,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(&raw, "data_source")?;
    let state = lock(&shared);
    let ds = state
        .data_sources
        .get(&id)
        .ok_or_else(|| ApiError::not_found("data_source", &id))?;
    Ok(Json(ds.to_json()))
}

pub async fn retrieve_database(
    State(shared): State<Shared>,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(&raw, "database")?;
    let state = lock(&shared);
    let db = state
        .databases
        .get(&id)
        .ok_or_else(|| ApiError::not_found("database", &id))?;
    Ok(Json(state.database_json(db)))
}

pub async fn create_database(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = json_body(&body)?;
    let mut state = lock(&shared);
    let id = crate::schema::create_database(&mut state, &body)?;
    let db = state.databases[&id].clone();
    Ok(Json(state.database_json(&db)))
}
