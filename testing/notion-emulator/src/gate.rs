//! What every `/v1` request passes through: token and version checks, the rate limit,
//! injected faults, and the request log.

use std::time::Duration;

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Shared;
use crate::error::ApiError;
use crate::faults::FaultAction;
use crate::state::LoggedRequest;

pub const SUPPORTED_VERSIONS: &[&str] = &["2022-06-28", "2025-09-03", "2026-03-11"];

pub async fn gate(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let caller = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    // Pages and databases are blocks; a page's properties are not.
    let creates_block = method == "POST" && matches!(path.as_str(), "/v1/pages" | "/v1/databases");
    let (seq, latency, action, rate_ok, known, blocked) = {
        let mut state = shared.lock().unwrap_or_else(|p| p.into_inner());
        let at_ms = u64::try_from(state.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        // Logged on arrival, so a request whose client gave up still counts.
        state.log_seq += 1;
        let seq = state.log_seq;
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        state.log.push(LoggedRequest {
            seq,
            method: method.clone(),
            path: path.clone(),
            status: 499,
            at_ms,
            query,
        });
        let mut latency = 0;
        let mut action = None;
        for rule in state.faults.iter_mut() {
            if !rule.matches(&method, &path) {
                continue;
            }
            let applies = match &rule.action {
                FaultAction::Latency { ms } => {
                    latency += ms;
                    true
                }
                other if action.is_none() => {
                    action = Some(other.clone());
                    true
                }
                _ => false,
            };
            if applies && let Some(n) = rule.times.as_mut() {
                *n -= 1;
            }
        }
        state.faults.retain(|r| r.times != Some(0));
        // Only a workspace's own connections are counted: any other token gets 401.
        let known = state.token_kind(&caller).is_some();
        let rate_ok = if known {
            state.take_rate_token(&caller)
        } else {
            Ok(())
        };
        let blocked = creates_block
            .then(|| state.block_refusal(&caller, tokio::time::Instant::now()))
            .flatten();
        (seq, latency, action, rate_ok, known, blocked)
    };
    let _answering = InFlight(shared.clone());
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let response = match check(&request, known, &path) {
        Err(e) => e.into_response(),
        Ok(()) if let Err(refusal) = rate_ok => {
            let mut e = ApiError::for_status(429);
            e.retry_after = Some(refusal.wait);
            e.additional_data = Some(json!({
                "retry_after": refusal.wait,
                "rate_limit_reason": refusal.reason,
            }));
            e.into_response()
        }
        Ok(()) if let Some(refusal) = blocked => refusal.into_response(),
        Ok(()) => match action {
            Some(FaultAction::Status {
                status,
                retry_after,
                rate_limit_reason,
            }) => {
                let mut e = ApiError::for_status(status);
                e.retry_after = retry_after;
                if retry_after.is_some() || rate_limit_reason.is_some() {
                    e.additional_data = Some(json!({
                        "retry_after": retry_after,
                        "rate_limit_reason": rate_limit_reason,
                    }));
                }
                e.into_response()
            }
            Some(FaultAction::CommitThen503) => {
                let is_create = method == "POST";
                let response = next.run(request).await;
                commit_then_503(response, is_create).await
            }
            Some(FaultAction::CommitThen { status }) => {
                let response = next.run(request).await;
                if response.status().is_success() {
                    ApiError::for_status(status).into_response()
                } else {
                    response
                }
            }
            Some(FaultAction::Reset) => broken_response(),
            _ => next.run(request).await,
        },
    };
    let mut state = shared.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(entry) = state.log.iter_mut().rev().find(|r| r.seq == seq) {
        entry.status = response.status().as_u16();
    }
    if creates_block {
        // Also after a create saved but answered with an error: its block counts.
        state.count_create(tokio::time::Instant::now());
    }
    drop(state);
    crate::webhooks::pump(&shared);
    response
}

/// Counts a request out when its answer is done or its client gave up.
struct InFlight(Shared);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        state.in_flight = state.in_flight.saturating_sub(1);
    }
}

/// A response whose body fails at once after promising bytes: the server closes the
/// connection mid-answer, and the client sees it cut, as after a reset.
fn broken_response() -> axum::response::Response {
    struct Cut;
    impl http_body::Body for Cut {
        type Data = axum::body::Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
            let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
            std::task::Poll::Ready(Some(Err(reset)))
        }
    }
    axum::response::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("content-length", "4096")
        .body(axum::body::Body::new(Cut))
        .unwrap_or_default()
}

fn check(request: &Request, known_token: bool, path: &str) -> Result<(), ApiError> {
    if !known_token {
        return Err(ApiError::new(401, "unauthorized", "API token is invalid."));
    }
    let Some(version) = request
        .headers()
        .get("notion-version")
        .and_then(|v| v.to_str().ok())
    else {
        return Err(ApiError::new(
            400,
            "missing_version",
            "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.",
        ));
    };
    if !SUPPORTED_VERSIONS.contains(&version) {
        return Err(ApiError::validation(format!(
            "Notion-Version header failed validation: `{version}` is not a supported version."
        )));
    }
    // Data-source endpoints do not exist before 2025-09-03.
    if version == "2022-06-28" && path.starts_with("/v1/data_sources") {
        return Err(ApiError::invalid_url());
    }
    Ok(())
}

/// Keeps the write the handler made and answers 503 as Notion does when a write was
/// saved but the response failed.
async fn commit_then_503(response: Response, is_create: bool) -> Response {
    if !response.status().is_success() {
        return response;
    }
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let id = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned));
    let mut e = ApiError::for_status(503);
    let mut extra = json!({"retry_guidance": "The write may have been saved. Read the object again before retrying; do not repeat the write."});
    if is_create && let Some(id) = id {
        extra["committed_resource_id"] = Value::String(id);
    }
    e.additional_data = Some(extra);
    e.into_response()
}
