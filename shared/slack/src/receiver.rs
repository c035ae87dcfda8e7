//! A local stand-in for Slack's incoming webhooks: records every message per path and
//! answers `ok`, or misbehaves on demand (429 with `Retry-After`, 500). Binds 127.0.0.1.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

/// One message as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// The webhook path after `/hooks/`, i.e. which destination it was sent to.
    pub hook: String,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Answers to give, in order, before answering `ok` again: (status, Retry-After).
    script: VecDeque<(u16, Option<u64>)>,
    /// Print each message (for `make local`).
    echo: bool,
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
            ..Inner::default()
        }));
        let app = axum::Router::new()
            .route("/hooks/{*hook}", post(receive))
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

    /// The next `times` posts get `status` (with `Retry-After` when given).
    pub fn fail_next(&self, times: usize, status: u16, retry_after: Option<u64>) {
        let mut inner = self.lock();
        for _ in 0..times {
            inner.script.push_back((status, retry_after));
        }
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
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((status, retry_after)) = inner.script.pop_front() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, "rate_limited").into_response();
        if let Some(secs) = retry_after {
            response.headers_mut().insert("retry-after", secs.into());
        }
        return response;
    }
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
    if inner.echo {
        println!(
            "[slack:{hook}] {}",
            body["text"].as_str().unwrap_or_default()
        );
    }
    inner.received.push(Received { hook, body });
    (StatusCode::OK, "ok").into_response()
}
