//! Notion's `/v1` endpoints.

mod pages;
mod query;
mod schema_routes;

use axum::Router;
use axum::body::Bytes;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

use crate::Shared;
use crate::error::ApiError;
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
    let bot = state
        .user(&state.bot_id)
        .map(crate::model::User::to_json)
        .unwrap_or(Value::Null);
    axum::Json(bot)
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

/// Repeated `filter_properties` query parameters, decoded once.
pub(crate) fn filter_properties(query: Option<&str>) -> Vec<String> {
    query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| {
            crate::ids::percent_decode(k) == "filter_properties" || *k == "filter_properties[]"
        })
        .map(|(_, v)| crate::ids::percent_decode(v))
        .collect()
}

pub(crate) fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_properties_are_decoded_once() {
        assert_eq!(
            filter_properties(Some(
                "filter_properties=%253AUPp&filter_properties=title&x=1"
            )),
            ["%3AUPp", "title"]
        );
        assert_eq!(
            filter_properties(Some("filter_properties=Last+Contacted")),
            ["Last Contacted"]
        );
        assert!(filter_properties(None).is_empty());
    }
}
