//! The receiver's side of Slack's upload flow (docs.slack.dev/reference/methods/
//! files.getUploadURLExternal and files.completeUploadExternal):
//!
//! * `files.getUploadURLExternal` needs `filename` and `length` (a positive integer):
//!   otherwise `invalid_arguments`. It answers `upload_url` and `file_id`;
//! * the upload URL takes the bytes (raw, or a multipart form — kept as sent) and
//!   answers HTTP 200; an unknown URL is 404;
//! * `files.completeUploadExternal` needs `files` (an array, or its JSON text in a form)
//!   of `{id, title}`; each id must be one this workspace handed out, whose bytes came,
//!   and not yet completed ("can only be called once"): otherwise `file_not_found`
//!   (the page lists that word; which case gives which word it does not say, so one
//!   word serves all three). `channel_id` must be a channel's id — Slack takes no name
//!   here — the app is in: `channel_not_found`, `not_in_channel`; without one the file
//!   stays private ("If not specified the file will be private"). `blocks` are checked
//!   as `chat.postMessage`'s are, and ignored when `initial_comment` is given.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::Inner;
use super::web_api::Workspace;

/// An upload handed out and not yet completed.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub filename: String,
    pub length: u64,
    pub bytes: Option<Vec<u8>>,
    pub alt_text: Option<String>,
}

/// A file shared in a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedFile {
    pub id: String,
    /// Empty for a file left private (no `channel_id`).
    pub channel: String,
    pub channel_name: String,
    pub filename: String,
    pub title: String,
    pub alt_text: Option<String>,
    /// The length `files.getUploadURLExternal` was told.
    pub length: u64,
    pub bytes: Vec<u8>,
    /// The message it was shared with (`blocks` or `initial_comment`).
    pub message: Value,
}

pub(super) fn get_upload_url(
    ws: &mut Workspace,
    args: &Map<String, Value>,
    headers: &HeaderMap,
) -> Response {
    let filename = args
        .get("filename")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let length = match args.get("length") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    let (false, Some(length @ 1..)) = (filename.trim().is_empty(), length) else {
        return super::web_api::error("invalid_arguments");
    };
    ws.next_file += 1;
    let id = format!("F{:08}", ws.next_file);
    ws.uploads.insert(
        id.clone(),
        Pending {
            filename: filename.to_owned(),
            length,
            bytes: None,
            alt_text: args
                .get("alt_txt")
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
    );
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    super::web_api::ok(json!({
        "upload_url": format!("http://{host}/upload/{id}"),
        "file_id": id,
    }))
}

/// The upload URL: the bytes of a file handed out.
pub(super) async fn upload(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    match inner.workspace.uploads.get_mut(&id) {
        Some(pending) => {
            pending.bytes = Some(body.to_vec());
            (StatusCode::OK, format!("OK - {}", body.len())).into_response()
        }
        None => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

pub(super) fn complete(
    ws: &mut Workspace,
    args: &Map<String, Value>,
    blocks_text_limit: Option<usize>,
) -> Result<Vec<SharedFile>, &'static str> {
    let files: Vec<Value> = match args.get("files") {
        Some(Value::Array(f)) => f.clone(),
        Some(Value::String(s)) => serde_json::from_str(s).map_err(|_| "invalid_arguments")?,
        _ => return Err("invalid_arguments"),
    };
    if files.is_empty() {
        return Err("invalid_arguments");
    }
    let channel_id = args
        .get("channel_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // "If not specified the file will be private": shared nowhere, kept all the same.
    let channel = if channel_id.is_empty() {
        super::web_api::SlackChannel {
            id: String::new(),
            name: String::new(),
            member: true,
        }
    } else {
        ws.channels
            .iter()
            .find(|c| c.id == channel_id)
            .cloned()
            .ok_or("channel_not_found")?
    };
    if !channel.member {
        return Err("not_in_channel");
    }
    let comment = args.get("initial_comment").cloned();
    if comment.is_none()
        && let Some(word) = super::blocks_refused(&Value::Object(args.clone()), blocks_text_limit)
    {
        return Err(word);
    }
    let ids: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap_or_default().to_owned(),
                f["title"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    if ids
        .iter()
        .any(|(id, _)| ws.uploads.get(id).is_none_or(|p| p.bytes.is_none()))
    {
        return Err("file_not_found");
    }
    let message = match comment {
        Some(text) => json!({ "text": text }),
        None => json!({ "blocks": args.get("blocks").cloned().unwrap_or(Value::Null) }),
    };
    let mut shared = Vec::new();
    for (id, title) in ids {
        let Some(pending) = ws.uploads.remove(&id) else {
            return Err("file_not_found");
        };
        shared.push(SharedFile {
            id,
            channel: channel.id.clone(),
            channel_name: channel.name.clone(),
            filename: pending.filename,
            title,
            alt_text: pending.alt_text,
            length: pending.length,
            bytes: pending.bytes.unwrap_or_default(),
            message: message.clone(),
        });
    }
    ws.files.extend(shared.iter().cloned());
    Ok(shared)
}
