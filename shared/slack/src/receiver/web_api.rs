//! The Web API part of the receiver: `chat.postMessage`, `users.lookupByEmail`,
//! `conversations.open` and the upload flow (`files.rs`), with Slack's documented request and answer shapes
//! (docs.slack.dev/apis/web-api and each method's reference page):
//!
//! * arguments in the query string, a form body (`application/x-www-form-urlencoded`),
//!   or a JSON body — JSON only with the token in `Authorization: Bearer`, as Slack
//!   requires ("To make use of sending JSON … you must provide your token value using an
//!   Authorization HTTP header"); a form may carry the token as `token`;
//! * every answer HTTP 200 with `{"ok": true, …}` or `{"ok": false, "error": "…"}`: no
//!   token → `not_authed`, another token → `invalid_auth`, an unknown channel →
//!   `channel_not_found`, a channel the app is not in → `not_in_channel`, no text and
//!   no blocks → `no_text`, blocks Slack would refuse → `invalid_blocks` or
//!   `msg_blocks_too_long` (see `blocks_refused`), an unknown email → `users_not_found`, an unknown user to
//!   open a conversation with → `user_not_found`, an unknown method → `unknown_method`;
//! * over the limit: HTTP 429 with `Retry-After` (scripted per method here);
//! * a directory of users with emails, channels the app is or is not a member of, and
//!   the messages it posted, channel posts and DMs apart.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::Inner;

/// A person in the Slack workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackUser {
    pub id: String,
    /// The handle shown as `@handle`.
    pub handle: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackChannel {
    pub id: String,
    /// Without the `#`.
    pub name: String,
    /// Whether the app was invited: posting elsewhere is `not_in_channel`.
    pub member: bool,
}

/// A message the bot posted.
#[derive(Debug, Clone, PartialEq)]
pub struct BotPost {
    /// The conversation id (`C…` for a channel, `D…` for a DM).
    pub channel: String,
    /// For a DM: the person's handle.
    pub dm_with: Option<String>,
    /// For a channel post: the channel's name.
    pub channel_name: Option<String>,
    pub body: Value,
}

impl BotPost {
    pub fn text(&self) -> &str {
        self.body["text"].as_str().unwrap_or_default()
    }
}

/// An answer given instead of the method's.
#[derive(Debug, Clone)]
pub(super) enum Fault {
    /// HTTP 429 with `Retry-After`, not acted on.
    RateLimited(u64),
    /// HTTP 200 `{"ok": false, "error": …}`, not acted on.
    Error(String),
}

#[derive(Debug)]
pub(super) struct Workspace {
    pub token: String,
    pub users: Vec<SlackUser>,
    pub channels: Vec<SlackChannel>,
    pub posts: Vec<BotPost>,
    /// Faults to answer per method, in order.
    pub faults: HashMap<String, VecDeque<Fault>>,
    /// Each call's method, in order, answered however.
    pub calls: Vec<String>,
    next_ts: u64,
    /// Uploads handed out and not yet completed, by file id.
    pub uploads: HashMap<String, super::files::Pending>,
    /// Files shared in channels, in order.
    pub files: Vec<super::files::SharedFile>,
    pub next_file: u64,
}

impl Workspace {
    /// A message's text as a person reads it in Slack: mentions by handle, links by
    /// their label, no escapes (what the console prints).
    pub fn plain(&self, mrkdwn: &str) -> String {
        crm_domain::slack::plain_text(mrkdwn, |id| {
            self.users
                .iter()
                .find(|u| u.id == id)
                .map(|u| u.handle.clone())
        })
    }
}

/// The bot token of the local workspace.
pub const LOCAL_BOT_TOKEN: &str = "xoxb-local-bot-token";

impl Default for Workspace {
    /// One person with an account (Dana, whom the Notion emulator also seeds; Sam there
    /// has none here) and two channels the app is in.
    fn default() -> Self {
        Self {
            token: LOCAL_BOT_TOKEN.into(),
            users: vec![SlackUser {
                id: "U_DANA".into(),
                handle: "dana".into(),
                email: "dana@example.com".into(),
            }],
            channels: vec![
                SlackChannel {
                    id: "C_SALES".into(),
                    name: "sales".into(),
                    member: true,
                },
                SlackChannel {
                    id: "C_OPS".into(),
                    name: "ops".into(),
                    member: true,
                },
            ],
            posts: Vec::new(),
            faults: HashMap::new(),
            calls: Vec::new(),
            next_ts: 1,
            uploads: HashMap::new(),
            files: Vec::new(),
            next_file: 0,
        }
    }
}

pub(super) fn ok(mut fields: Value) -> Response {
    fields["ok"] = Value::Bool(true);
    axum::Json(fields).into_response()
}

pub(super) fn error(word: &str) -> Response {
    axum::Json(json!({"ok": false, "error": word})).into_response()
}

/// The call's arguments: the query string, then the body (form or JSON).
fn arguments(
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<Map<String, Value>, &'static str> {
    let mut args = Map::new();
    let pairs = |bytes: &[u8], args: &mut Map<String, Value>| {
        for (k, v) in form_urlencoded::parse(bytes) {
            args.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    };
    pairs(query.unwrap_or_default().as_bytes(), &mut args);
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if kind.starts_with("application/json") {
        if !headers.contains_key(header::AUTHORIZATION) {
            return Err("not_authed");
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => args.extend(fields),
            _ => return Err("invalid_json"),
        }
    } else if !body.is_empty() {
        pairs(body, &mut args);
    }
    Ok(args)
}

pub(super) async fn call(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut guard = inner.lock().unwrap_or_else(|p| p.into_inner());
    let inner = &mut *guard;
    let echo = inner.echo;
    let blocks_text_limit = inner.blocks_text_limit;
    let ws = &mut inner.workspace;
    ws.calls.push(method.clone());
    if let Some(fault) = ws.faults.get_mut(&method).and_then(VecDeque::pop_front) {
        return match fault {
            Fault::RateLimited(secs) => {
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(json!({"ok": false, "error": "ratelimited"})),
                )
                    .into_response();
                response.headers_mut().insert("retry-after", secs.into());
                response
            }
            Fault::Error(word) => error(&word),
        };
    }
    let args = match arguments(&headers, query.as_deref(), &body) {
        Ok(args) => args,
        Err(word) => return error(word),
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let token = bearer.or_else(|| args.get("token").and_then(Value::as_str));
    match token {
        None => return error("not_authed"),
        Some(t) if t != ws.token => return error("invalid_auth"),
        Some(_) => {}
    }
    let text = |name: &str| {
        args.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    match method.as_str() {
        "chat.postMessage" => {
            let wanted = text("channel");
            let has_blocks = match args.get("blocks") {
                Some(Value::Array(b)) => !b.is_empty(),
                // A form carries blocks as a JSON string.
                Some(Value::String(s)) => {
                    serde_json::from_str::<Vec<Value>>(s).is_ok_and(|b| !b.is_empty())
                }
                _ => false,
            };
            if text("text").is_empty() && !has_blocks {
                return error("no_text");
            }
            if let Some(word) =
                super::blocks_refused(&Value::Object(args.clone()), blocks_text_limit)
            {
                return error(word);
            }
            let (channel, dm_with, channel_name) = if let Some(user) =
                wanted.strip_prefix('D').and_then(|rest| {
                    ws.users
                        .iter()
                        .find(|u| u.id.trim_start_matches('U') == rest)
                }) {
                (wanted.clone(), Some(user.handle.clone()), None)
            } else {
                let name = wanted.trim_start_matches('#');
                let Some(found) = ws
                    .channels
                    .iter()
                    .find(|c| c.id == wanted || c.name == name)
                else {
                    return error("channel_not_found");
                };
                if !found.member {
                    return error("not_in_channel");
                }
                (found.id.clone(), None, Some(found.name.clone()))
            };
            let post = BotPost {
                channel: channel.clone(),
                dm_with,
                channel_name,
                body: Value::Object(args.clone()),
            };
            if echo {
                let to = match (&post.dm_with, &post.channel_name) {
                    (Some(handle), _) => format!("dm @{handle}"),
                    (None, Some(name)) => format!("#{name}"),
                    (None, None) => channel.clone(),
                };
                println!("[slack:{to}] {}", ws.plain(post.text()));
            }
            let place = match (&post.dm_with, &post.channel_name) {
                (Some(handle), _) => super::Place::Dm(handle.clone()),
                (None, Some(name)) => super::Place::Channel(name.clone()),
                (None, None) => super::Place::Channel(channel.clone()),
            };
            inner
                .feed
                .push(super::Posted::new(place, post.body.clone()));
            ws.posts.push(post);
            let ts = format!("{}.000100", 1_700_000_000 + ws.next_ts);
            ws.next_ts += 1;
            ok(json!({"channel": channel, "ts": ts, "message": {"text": text("text"), "ts": ts}}))
        }
        "users.lookupByEmail" => {
            let email = text("email");
            match ws
                .users
                .iter()
                .find(|u| u.email.eq_ignore_ascii_case(&email))
            {
                Some(user) => ok(json!({"user": {
                    "id": user.id, "name": user.handle, "deleted": false,
                    "profile": {"email": user.email, "display_name": user.handle},
                }})),
                None => error("users_not_found"),
            }
        }
        "conversations.open" => {
            let users = text("users");
            let mut ids = users.split(',').map(str::trim).filter(|u| !u.is_empty());
            match (ids.next(), ids.next()) {
                (Some(id), None) if ws.users.iter().any(|u| u.id == id) => {
                    let dm = format!("D{}", id.trim_start_matches('U'));
                    ok(json!({"channel": {"id": dm}}))
                }
                (None, _) => error("users_list_not_supplied"),
                _ => error("user_not_found"),
            }
        }
        "files.getUploadURLExternal" => super::files::get_upload_url(ws, &args, &headers),
        "files.completeUploadExternal" => {
            match super::files::complete(ws, &args, blocks_text_limit) {
                Ok(shared) => {
                    for file in shared.iter().filter(|f| !f.channel.is_empty()) {
                        if echo {
                            println!("[slack:#{}] a file: {}", file.channel_name, file.title);
                        }
                        let mut body = file.message.clone();
                        body["files"] = json!([{"id": file.id, "title": file.title}]);
                        inner.feed.push(super::Posted::new(
                            super::Place::Channel(file.channel_name.clone()),
                            body,
                        ));
                    }
                    let files: Vec<Value> = shared
                        .iter()
                        .map(|f| json!({"id": f.id, "title": f.title}))
                        .collect();
                    ok(json!({ "files": files }))
                }
                Err(word) => error(word),
            }
        }
        _ => error("unknown_method"),
    }
}
