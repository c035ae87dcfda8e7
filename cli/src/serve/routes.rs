//! The endpoints of `crm serve`: the intake and the webhook as API Gateway and the
//! Function URL call them (through the bridge), and the local-only ones the page and
//! scripts use (run the digest or the report, list the inbox, replay).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use crm_store::prelude::*;
use serde_json::json;

use crate::app::App;
use crate::bridge::{from_lambda, to_lambda};

/// Every endpoint but the page's.
pub(super) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/lead", post(intake))
        .route("/lead/{provider}", post(intake))
        .route("/lead/form/{form}", post(intake).options(intake))
        .route("/notion/webhook", post(webhook))
        .merge(
            Router::new()
                .route("/digest", post(digest))
                .route("/report", post(report))
                .route("/inbox", get(inbox))
                .route("/replay", post(replay))
                .route_layer(axum::middleware::from_fn(crate::page::local_only)),
        )
        .with_state(app)
}

async fn intake(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    from_lambda(
        app.intake
            .handle(to_lambda(method, uri, headers, body, Some(peer)))
            .await,
    )
}

async fn webhook(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    from_lambda(
        app.webhook
            .handle(to_lambda(method, uri, headers, body, None))
            .await,
    )
}

async fn digest(State(app): State<Arc<App>>) -> Response {
    match app.digest.run().await {
        Ok(report) => axum::Json(json!(report)).into_response(),
        Err(e) => (
            axum::http::StatusCode::BAD_GATEWAY,
            axum::Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

/// The weekly pipeline report now, as `POST /digest` runs the digest: once a week.
async fn report(State(app): State<Arc<App>>) -> Response {
    match app.report.run().await {
        Ok(outcome) => axum::Json(json!(outcome)).into_response(),
        Err(e) => (
            axum::http::StatusCode::BAD_GATEWAY,
            axum::Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

/// `crm replay` locally: every open item now.
async fn replay(State(app): State<Arc<App>>) -> Response {
    match app.worker.replay(500).await {
        Ok(report) => axum::Json(json!({
            "done": report.done,
            "failed": report.failed.iter().map(|(id, reason)| json!({"id": id, "reason": reason})).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn inbox(State(app): State<Arc<App>>) -> Response {
    match app.store.inbox_list_open(100).await {
        Ok(items) => axum::Json(json!(items
            .iter()
            .map(|i| json!({"id": i.id, "kind": i.kind, "status": i.status.as_str(), "attempts": i.attempts, "last_error": i.last_error}))
            .collect::<Vec<_>>()))
        .into_response(),
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
