//! Notion's error responses.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error as Notion sends it: `{"object":"error","status","code","message","request_id"}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub additional_data: Option<Value>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            additional_data: None,
            retry_after: None,
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "validation_error", message)
    }

    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::new(
            404,
            "object_not_found",
            format!(
                "Could not find {kind} with ID: {id}. Make sure the relevant pages and databases are shared with your integration."
            ),
        )
    }

    pub fn invalid_url() -> Self {
        Self::new(400, "invalid_request_url", "Invalid request URL.")
    }

    /// The standard code for an HTTP status, for injected faults.
    pub fn for_status(status: u16) -> Self {
        let (code, message) = match status {
            400 => ("validation_error", "Body failed validation."),
            401 => ("unauthorized", "API token is invalid."),
            403 => (
                "restricted_resource",
                "Insufficient permissions for this resource.",
            ),
            404 => ("object_not_found", "Could not find object."),
            409 => (
                "conflict_error",
                "Conflict occurred while saving. Please try again.",
            ),
            429 => (
                "rate_limited",
                "You have been rate limited. Please try again in a few minutes.",
            ),
            500 => ("internal_server_error", "Unexpected error occurred."),
            502 => ("bad_gateway", "Bad gateway."),
            503 => (
                "service_unavailable",
                "Notion is unavailable. Please try again later.",
            ),
            504 => (
                "gateway_timeout",
                "Notion timed out while processing the request.",
            ),
            529 => (
                "service_overload",
                "Notion is overloaded. Please try again later.",
            ),
            _ => ("internal_server_error", "Unexpected error occurred."),
        };
        Self::new(status, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = crate::ids::new_id();
        let mut body = json!({
            "object": "error",
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "request_id": request_id,
        });
        if let Some(extra) = self.additional_data {
            body["additional_data"] = extra;
        }
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(body)).into_response();
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-notion-request-id", v);
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        response
    }
}
