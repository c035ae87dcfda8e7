//! Raw HTTP access to the emulator, the way any Notion client would talk to it.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use crm_notion_emulator::{DEFAULT_TOKEN, Emulator};
use serde_json::{Value, json};

pub const VERSION: &str = "2026-03-11";

pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(emulator: &Emulator) -> Self {
        Self {
            base: emulator.base_url(),
            http: crm_http::client(),
        }
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
        version: Option<&str>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(v) = version {
            req = req.header("Notion-Version", v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.raw(method, path, body, Some(DEFAULT_TOKEN), Some(VERSION))
            .await
    }

    /// A successful call's body.
    pub async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self.call(method, path, body).await;
        assert_eq!(status, 200, "{method} {path}: {body}");
        body
    }

    /// A GET with query parameters, encoded as an HTTP client encodes them.
    pub async fn get_with(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let (status, body) = self.get_status(path, query).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A GET with query parameters (encoded by the client's query encoder).
    pub async fn get_status(&self, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let (status, body, _) = self.get_as(path, query, DEFAULT_TOKEN).await;
        (status, body)
    }

    /// A GET with `token`: the status, the body and the `Retry-After` header.
    pub async fn get_as(
        &self,
        path: &str,
        query: &[(&str, &str)],
        token: &str,
    ) -> (u16, Value, Option<String>) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .query(query)
            .bearer_auth(token)
            .header("Notion-Version", VERSION)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        (
            status,
            response.json().await.unwrap_or(Value::Null),
            retry_after,
        )
    }

    pub async fn query(&self, ds: &str, body: Value) -> (u16, Value) {
        self.call("POST", &format!("/v1/data_sources/{ds}/query"), Some(body))
            .await
    }
}

/// Asserts Notion's error body: object, status, code, message, request_id.
pub fn assert_error(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["object"], "error", "{body}");
    assert_eq!(body["status"], want_status, "{body}");
    assert_eq!(body["code"], want_code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["request_id"].as_str().is_some(), "{body}");
}

/// What a webhook receiver got: headers and raw body of each POST.
#[derive(Clone, Default)]
pub struct Received(pub Arc<Mutex<Vec<(HeaderMap, Bytes)>>>);

impl Received {
    pub fn all(&self) -> Vec<(HeaderMap, Bytes)> {
        self.0.lock().unwrap().clone()
    }

    pub fn events(&self) -> Vec<Value> {
        self.all()
            .iter()
            .map(|(_, b)| serde_json::from_slice::<Value>(b).unwrap())
            .filter(|v| v.get("verification_token").is_none())
            .collect()
    }

    /// Waits until `n` events arrived (or panics after 10 s).
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        let what = format!("{n} events");
        let within = std::time::Duration::from_secs(10);
        crm_testkit::eventually(&what, within, || async {
            let events = self.events();
            (events.len() >= n).then_some(events)
        })
        .await
    }
}

/// A receiver on 127.0.0.1 answering `status` to every delivery.
pub async fn receiver(status: Arc<Mutex<u16>>) -> (String, Received) {
    let received = Received::default();
    let store = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let store = store.clone();
            let status = status.clone();
            async move {
                store.0.lock().unwrap().push((headers, body));
                StatusCode::from_u16(*status.lock().unwrap()).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), received)
}

pub fn ok_status() -> Arc<Mutex<u16>> {
    Arc::new(Mutex::new(200))
}

pub fn title(text: &str) -> Value {
    json!({"title": [{"text": {"content": text}}]})
}
