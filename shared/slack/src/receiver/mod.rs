//! A local stand-in for Slack: incoming webhooks (here) and the Web API methods the bot
//! token mode calls ([`web_api`]). Records every message, per webhook path and per
//! channel or DM, and answers as Slack does, or misbehaves on demand. Binds 127.0.0.1.
//!
//! Misbehaviour comes in the two kinds a client must tell apart: answers given *instead
//! of* posting (429 `rate_limited` with `Retry-After`, 404 `no_service` for a revoked
//! webhook, 400 `invalid_payload`: Slack's incoming-webhook error answers), and answers
//! that fail *after* posting (a 5xx, or an answer too late for the client), which leave
//! the message in the channel although the client heard no `ok`.

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

mod files;
mod web_api;
pub use files::SharedFile;
pub use web_api::{BotPost, LOCAL_BOT_TOKEN, SlackChannel, SlackUser};

/// One message as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// The webhook path after `/hooks/`, i.e. which destination it was sent to.
    pub hook: String,
    pub body: Value,
}

/// Where Slack put a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// Sent to the incoming webhook of this destination (the path after `/hooks/`).
    Webhook(String),
    /// Posted by the bot in the channel of this name (without `#`).
    Channel(String),
    /// Sent by the bot to the person with this handle.
    Dm(String),
}

/// A message as Slack shows it, wherever it went; `blocks` always an array.
#[derive(Debug, Clone, PartialEq)]
pub struct Posted {
    pub place: Place,
    pub body: Value,
}

impl Posted {
    fn new(place: Place, mut body: Value) -> Self {
        // A form-encoded `chat.postMessage` carries its blocks as a JSON string.
        if let Some(blocks) = body.get("blocks").and_then(Value::as_str)
            && let Ok(parsed) = serde_json::from_str::<Value>(blocks)
        {
            body["blocks"] = parsed;
        }
        Self { place, body }
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Every message posted, webhooks and bot alike, in the order they were posted.
    feed: Vec<Posted>,
    /// Answers to give, in order, before answering `ok` again.
    script: VecDeque<Scripted>,
    /// Print each message (for `make local`).
    echo: bool,
    /// Requests received, answered however.
    attempts: usize,
    /// Webhooks revoked: every post to them is answered 404 `no_service`.
    revoked: BTreeSet<String>,
    /// The Web API's side: users, channels, the bot's posts.
    workspace: web_api::Workspace,
    /// The most text all of a message's blocks may hold together (see [`blocks_refused`]).
    blocks_text_limit: Option<usize>,
}

/// Slack's limits on Block Kit, as the receiver enforces them for webhooks and
/// `chat.postMessage` alike: at most 50 blocks a message and 3,000 characters in a
/// section's text (Block Kit reference; beyond them Slack answers `invalid_blocks`). All
/// blocks together may hold only so much text: Slack answers `msg_blocks_too_long` at
/// about 13,000 characters (slackapi/bolt-js#2509), a limit it does not document, so it
/// is a switch ([`SlackReceiver::set_blocks_text_limit`]), 13,000 unless set.
pub const BLOCKS_TEXT_LIMIT: usize = 13_000;

/// Why Slack would refuse `body`'s blocks, if it would.
fn blocks_refused(body: &Value, total_limit: Option<usize>) -> Option<&'static str> {
    let blocks: Vec<Value> = match body.get("blocks") {
        None => return None,
        Some(Value::Array(b)) => b.clone(),
        // A form carries blocks as a JSON string.
        Some(Value::String(s)) => serde_json::from_str(s).ok()?,
        Some(_) => return Some("invalid_blocks"),
    };
    if blocks.len() > 50 {
        return Some("invalid_blocks");
    }
    let text = |b: &Value| b["text"]["text"].as_str().map_or(0, |t| t.chars().count());
    if blocks
        .iter()
        .any(|b| b["type"] == "section" && text(b) > 3000)
    {
        return Some("invalid_blocks");
    }
    let total: usize = blocks.iter().map(text).sum();
    total_limit
        .is_some_and(|limit| total > limit)
        .then_some("msg_blocks_too_long")
}

#[derive(Debug, Clone, Copy)]
enum Scripted {
    /// Answer `status` (with `Retry-After`) without posting.
    Refuse(u16, Option<u64>),
    /// Post, then answer `status`.
    PostThen(u16),
    /// Post, then answer `ok` only after this many milliseconds.
    PostThenDelay(u64),
}

/// A running receiver; dropping it stops the server.
pub struct SlackReceiver {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl SlackReceiver {
    /// Starts on 127.0.0.1:`port` (0 for any free port).
    pub async fn start(port: u16, echo: bool) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Mutex::new(Inner {
            echo,
            blocks_text_limit: Some(BLOCKS_TEXT_LIMIT),
            ..Inner::default()
        }));
        let app = axum::Router::new()
            .route("/hooks/{*hook}", post(receive))
            .route("/upload/{id}", post(files::upload))
            .route(
                "/api/{method}",
                axum::routing::get(web_api::call).post(web_api::call),
            )
            .with_state(Arc::clone(&inner));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            inner,
            _shutdown: tx,
        })
    }

    /// The webhook URL for destination `name`.
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/hooks/{name}", self.addr)
    }

    /// The most text a message's blocks may hold together before Slack refuses it with
    /// `msg_blocks_too_long` (undocumented; [`BLOCKS_TEXT_LIMIT`] unless set; `None`:
    /// no limit).
    pub fn set_blocks_text_limit(&self, limit: Option<usize>) {
        self.lock().blocks_text_limit = limit;
    }

    /// The Web API's base URL (what `https://slack.com/api` is in Slack).
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// Adds a person to the workspace's directory.
    pub fn add_user(&self, id: &str, handle: &str, email: &str) {
        self.lock().workspace.users.push(SlackUser {
            id: id.into(),
            handle: handle.into(),
            email: email.into(),
        });
    }

    /// Adds a channel; `member` says whether the app was invited to it.
    pub fn add_channel(&self, id: &str, name: &str, member: bool) {
        self.lock().workspace.channels.push(SlackChannel {
            id: id.into(),
            name: name.into(),
            member,
        });
    }

    /// Every message the bot posted, channel posts and DMs, in order.
    pub fn bot_posts(&self) -> Vec<BotPost> {
        self.lock().workspace.posts.clone()
    }

    /// The bot's posts in the channel named `name` (without `#`).
    pub fn channel_posts(&self, name: &str) -> Vec<BotPost> {
        self.bot_posts()
            .into_iter()
            .filter(|p| p.channel_name.as_deref() == Some(name))
            .collect()
    }

    /// The bot's DMs to the person with this handle.
    pub fn dms_to(&self, handle: &str) -> Vec<BotPost> {
        self.bot_posts()
            .into_iter()
            .filter(|p| p.dm_with.as_deref() == Some(handle))
            .collect()
    }

    /// Every file shared in a channel, in order.
    pub fn files(&self) -> Vec<SharedFile> {
        self.lock().workspace.files.clone()
    }

    /// The Web API methods called, in order, however they were answered.
    pub fn api_calls(&self) -> Vec<String> {
        self.lock().workspace.calls.clone()
    }

    /// The next `times` calls of `method` are answered HTTP 429 with `Retry-After:
    /// secs`, and not acted on.
    pub fn rate_limit_method(&self, method: &str, times: usize, secs: u64) {
        let mut inner = self.lock();
        let faults = inner.workspace.faults.entry(method.to_owned()).or_default();
        faults.extend((0..times).map(|_| web_api::Fault::RateLimited(secs)));
    }

    /// The next `times` calls of `method` are answered `{"ok": false, "error": word}`.
    pub fn fail_method(&self, method: &str, times: usize, word: &str) {
        let mut inner = self.lock();
        let faults = inner.workspace.faults.entry(method.to_owned()).or_default();
        faults.extend((0..times).map(|_| web_api::Fault::Error(word.to_owned())));
    }

    /// The bot token changes: calls with the old one are answered `invalid_auth`.
    pub fn rotate_bot_token(&self, token: &str) {
        self.lock().workspace.token = token.to_owned();
    }

    /// Every message posted, by webhook or by the bot, in order: what the workspace
    /// shows.
    pub fn feed(&self) -> Vec<Posted> {
        self.lock().feed.clone()
    }

    /// The people of the workspace's directory.
    pub fn users(&self) -> Vec<SlackUser> {
        self.lock().workspace.users.clone()
    }

    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// Messages sent to destination `name`.
    pub fn to(&self, name: &str) -> Vec<Value> {
        self.lock()
            .received
            .iter()
            .filter(|r| r.hook == name)
            .map(|r| r.body.clone())
            .collect()
    }

    /// The next `times` posts are refused with `status` (with `Retry-After` when
    /// given), and not posted.
    pub fn fail_next(&self, times: usize, status: u16, retry_after: Option<u64>) {
        let mut inner = self.lock();
        for _ in 0..times {
            inner
                .script
                .push_back(Scripted::Refuse(status, retry_after));
        }
    }

    /// The next post is posted, then answered `status` (a 5xx Slack sends after it
    /// already delivered the message).
    pub fn post_then_fail(&self, status: u16) {
        self.lock().script.push_back(Scripted::PostThen(status));
    }

    /// The next post is posted, then answered only after `ms` milliseconds.
    pub fn post_then_delay(&self, ms: u64) {
        self.lock().script.push_back(Scripted::PostThenDelay(ms));
    }

    /// Every post to `hook` is refused with 404 `no_service`, as Slack answers for a
    /// webhook removed from its app, until [`restore`](Self::restore).
    pub fn revoke(&self, hook: &str) {
        self.lock().revoked.insert(hook.to_owned());
    }

    pub fn restore(&self, hook: &str) {
        self.lock().revoked.remove(hook);
    }

    /// How many requests arrived, whatever they were answered.
    pub fn attempts(&self) -> usize {
        self.lock().attempts
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(hook): Path<String>,
    body: Bytes,
) -> Response {
    let (status, delay) = {
        let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.attempts += 1;
        if inner.revoked.contains(&hook) {
            return refuse(404, None);
        }
        let (status, delay) = match inner.script.pop_front() {
            Some(Scripted::Refuse(status, retry_after)) => return refuse(status, retry_after),
            Some(Scripted::PostThen(status)) => (status, 0),
            Some(Scripted::PostThenDelay(ms)) => (200, ms),
            None => (200, 0),
        };
        let Ok(body) = serde_json::from_slice::<Value>(&body) else {
            return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
        };
        if body
            .get("text")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return (StatusCode::BAD_REQUEST, "no_text").into_response();
        }
        if let Some(word) = blocks_refused(&body, inner.blocks_text_limit) {
            return (StatusCode::BAD_REQUEST, word).into_response();
        }
        if inner.echo {
            println!(
                "[slack:{hook}] {}",
                inner
                    .workspace
                    .plain(body["text"].as_str().unwrap_or_default())
            );
        }
        inner
            .feed
            .push(Posted::new(Place::Webhook(hook.clone()), body.clone()));
        inner.received.push(Received { hook, body });
        (status, delay)
    };
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let text = if status.is_success() {
        "ok"
    } else {
        "rollup_error"
    };
    (status, text).into_response()
}

/// Slack's answer when it does not post: its error word for the status.
fn refuse(status: u16, retry_after: Option<u64>) -> Response {
    let text = match status {
        429 => "rate_limited",
        404 => "no_service",
        410 => "channel_is_archived",
        403 => "action_prohibited",
        400 => "invalid_payload",
        _ => "service_unavailable",
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, text).into_response();
    if let Some(secs) = retry_after {
        response.headers_mut().insert("retry-after", secs.into());
    }
    response
}
