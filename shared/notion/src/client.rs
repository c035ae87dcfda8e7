use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;

use crate::error::{ApiFailure, NotionError};
use crate::types::{
    CreateDatabase, CreatePage, DataSource, Database, Page, QueryRequest, QueryResponse,
    UpdatePage, UserRef,
};
use crm_pacing::{Call, Ending, Heard, Limiter, RetryPolicy, paced, parse_retry_after};

/// The API version every request is sent with.
pub const NOTION_VERSION: &str = "2026-03-11";

/// How the client paces its requests (`crm_pacing::Limiter`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// Finds what Notion allows by itself (its budget depends on the workspace's plan,
    /// and has been counted per second and per minute), never above `ceiling` when one
    /// is set: room left for other integrations of the workspace.
    Find { ceiling: Option<f64> },
    /// At this rate and never above it, climbing back to it after a refusal: for tests
    /// and benchmarks that measure against a known limit.
    Fixed { rate: f64 },
}

impl Pacing {
    fn limiter(self, burst: u32) -> Limiter {
        match self {
            Self::Find { ceiling } => Limiter::finding(burst, ceiling),
            Self::Fixed { rate } => Limiter::new(rate, burst),
        }
    }
}

/// How to reach Notion.
#[derive(Clone)]
pub struct NotionConfig {
    /// `https://api.notion.com`, or the emulator's address.
    pub base_url: String,
    pub token: SecretString,
    pub pacing: Pacing,
    pub burst: u32,
    /// Longest wait for one HTTP exchange.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl NotionConfig {
    pub fn new(base_url: impl Into<String>, token: SecretString) -> Self {
        Self {
            base_url: base_url.into(),
            token,
            pacing: Pacing::Find { ceiling: None },
            burst: 3,
            request_timeout: Duration::from_secs(20),
            // A call gives up within 20 s of waits (plus its last attempt): a worker
            // must fit several calls of an item inside its invocation.
            retry: RetryPolicy {
                max_elapsed: Duration::from_secs(20),
                ..RetryPolicy::default()
            },
        }
    }
}

/// Whether repeating a request can change anything beyond what the first did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// Reads (GET, and the read-only POST of a query): retried on 5xx and errors.
    Safe,
    /// Writes: retried only when Notion certainly did not act (429, 529, refused
    /// connection), because Notion has no idempotency keys.
    Unsafe,
}

/// The Notion client. Cheap to clone; clones share the connection pool and the limiter.
#[derive(Clone)]
pub struct NotionClient {
    http: reqwest::Client,
    base_url: String,
    token: SecretString,
    limiter: Arc<Limiter>,
    /// What this process sent and what Notion refused for the rate, shared by clones.
    tally: Arc<Tally>,
    retry: RetryPolicy,
    request_timeout: Duration,
    /// Until when a call may wait for Notion's budget (its turn, or a pause after a
    /// 429): the caller's own deadline, when it gave one; else each call's retry budget.
    wait_until: Option<Instant>,
}

/// Counts of calls, for [`NotionClient::take_tally`].
#[derive(Debug, Default)]
struct Tally {
    sent: AtomicU64,
    refused: AtomicU64,
}

impl std::fmt::Debug for NotionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotionClient")
            .field("base_url", &self.base_url)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl NotionClient {
    pub fn new(config: NotionConfig) -> Result<Self, reqwest::Error> {
        let http = crm_http::builder()
            .timeout(config.request_timeout)
            .user_agent(concat!("notion-crm/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            token: config.token,
            limiter: Arc::new(config.pacing.limiter(config.burst)),
            tally: Arc::default(),
            retry: config.retry,
            request_timeout: config.request_timeout,
            wait_until: None,
        })
    }

    /// The same client, whose calls may wait for Notion's budget until `deadline` —
    /// its turn behind other tasks, or a pause after a 429, which today's per-window
    /// budgets make up to a minute long and a workspace's longer — instead of giving up
    /// after each call's retry budget. A call that cannot be sent by then fails
    /// [`NotionError::Paced`], unsent (or with the 429 that began the pause). A deadline
    /// never shortens the retry budget of a call started before it; no call starts after
    /// it. For a piece of work with a deadline of its own
    /// (a worker's item), so that one long pause is waited out once, not turned into
    /// failures.
    pub fn until(&self, deadline: Instant) -> Self {
        Self {
            wait_until: Some(deadline),
            ..self.clone()
        }
    }

    /// The same client — connection pool and limiter included — with another token, for
    /// when the secret was rotated: pacing stays shared across the change.
    pub fn with_token(&self, token: SecretString) -> Self {
        Self {
            token,
            ..self.clone()
        }
    }

    /// Paces this client (and its clones) at the share of the budget that is `me`'s
    /// among the processes `present` (sorted), which spend the same integration's
    /// budget: see `crm_pacing::share_of`.
    pub fn share_budget(&self, present: &[String], me: &str) {
        let share = crm_pacing::share_of(present, me, self.limiter.budget());
        self.limiter.set_share_among(share, present.len().max(1));
    }

    /// The calls sent since the last time this was asked, and how many of them Notion
    /// refused for the rate (429, 529), for the metrics a function reports per run.
    pub fn take_tally(&self) -> (u64, u64) {
        (
            self.tally.sent.swap(0, Ordering::Relaxed),
            self.tally.refused.swap(0, Ordering::Relaxed),
        )
    }

    /// What this process found of Notion's budget, in words for the others spending it
    /// (`crm_pacing::Estimate::to_note`); empty while there is nothing to tell.
    pub fn budget_note(&self) -> String {
        self.limiter
            .estimate()
            .map(|e| e.to_note())
            .unwrap_or_default()
    }

    /// What the other processes spending the same budget found, as their notes say,
    /// and what the server took of each of them lately; a note that says nothing
    /// readable is passed over.
    pub fn adopt_budget_notes<'a>(&self, notes: impl IntoIterator<Item = &'a str>) {
        let mut others_taken = 0.0;
        for estimate in notes
            .into_iter()
            .filter_map(crm_pacing::Estimate::from_note)
        {
            self.limiter.adopt(estimate);
            others_taken += estimate.taken;
        }
        self.limiter.set_others_taken(others_taken);
    }

    /// Until when every call of the process waits out a pause Notion asked for (a 429's
    /// or 529's `Retry-After`), if one is on now: work that cannot wait that long goes
    /// back to be run after it.
    pub fn paused_until(&self) -> Option<Instant> {
        self.limiter.paused_until()
    }

    /// The longest one call can take: its retries' time budget, then one last request.
    pub fn worst_call(&self) -> Duration {
        self.retry.max_elapsed + self.request_timeout
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// One page of a data source query.
    pub async fn query_data_source(
        &self,
        data_source_id: &str,
        request: &QueryRequest,
    ) -> Result<QueryResponse, NotionError> {
        let query = filter_properties_query(&request.filter_properties);
        self.call(
            Method::POST,
            &format!("/v1/data_sources/{data_source_id}/query"),
            &query,
            Some(request.to_body()),
            Repeat::Safe,
        )
        .await
    }

    /// Every page matching the query, following each cursor. The flag is false when
    /// Notion stopped at its 10,000-row cap, so callers can say the list is partial.
    pub async fn query_all(
        &self,
        data_source_id: &str,
        request: &QueryRequest,
    ) -> Result<(Vec<Page>, bool), NotionError> {
        let mut pages = Vec::new();
        let complete = self
            .query_each(data_source_id, request, |batch| pages.extend(batch))
            .await?;
        Ok((pages, complete))
    }

    /// Every page matching the query, handed to `each` one response at a time, so a
    /// caller that keeps only what it needs of each page never holds them all (the
    /// weekly report over every deal). The same flag as [`query_all`](Self::query_all).
    pub async fn query_each(
        &self,
        data_source_id: &str,
        request: &QueryRequest,
        mut each: impl FnMut(Vec<Page>),
    ) -> Result<bool, NotionError> {
        let mut request = request.clone();
        loop {
            let response = self.query_data_source(data_source_id, &request).await?;
            let complete = response.is_complete();
            each(response.results);
            match (response.has_more, response.next_cursor) {
                (true, Some(cursor)) => request.start_cursor = Some(cursor),
                _ => return Ok(complete),
            }
        }
    }

    pub async fn retrieve_page(
        &self,
        page_id: &str,
        filter_properties: &[String],
    ) -> Result<Page, NotionError> {
        let query = filter_properties_query(filter_properties);
        self.call(
            Method::GET,
            &format!("/v1/pages/{page_id}"),
            &query,
            None,
            Repeat::Safe,
        )
        .await
    }

    /// Creates a page. A 503 for a create Notion did commit comes back as the created
    /// page (read through `committed_resource_id`), so a retry can never make two.
    pub async fn create_page(&self, request: &CreatePage) -> Result<Page, NotionError> {
        self.create("/v1/pages", request.to_body(), "/v1/pages")
            .await
    }

    pub async fn update_page(
        &self,
        page_id: &str,
        request: &UpdatePage,
    ) -> Result<Page, NotionError> {
        self.call(
            Method::PATCH,
            &format!("/v1/pages/{page_id}"),
            &[],
            Some(request.to_body()),
            Repeat::Unsafe,
        )
        .await
    }

    /// The integration's own bot user: the author of every change this project makes,
    /// which is how its own writes are told apart in webhook events.
    pub async fn retrieve_bot_user(&self) -> Result<UserRef, NotionError> {
        self.call(Method::GET, "/v1/users/me", &[], None, Repeat::Safe)
            .await
    }

    /// Every user of the workspace (people and bots, not guests), following each cursor.
    /// Needs the integration's user information capability (else Notion answers 403);
    /// people's emails only with "with email addresses".
    pub async fn list_users(&self) -> Result<Vec<UserRef>, NotionError> {
        let mut users = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("page_size", "100".to_owned())];
            if let Some(c) = &cursor {
                query.push(("start_cursor", c.clone()));
            }
            let page: UserList = self
                .call(Method::GET, "/v1/users", &query, None, Repeat::Safe)
                .await?;
            users.extend(page.results);
            match (page.has_more, page.next_cursor) {
                (true, Some(next)) => cursor = Some(next),
                _ => return Ok(users),
            }
        }
    }

    pub async fn retrieve_data_source(&self, id: &str) -> Result<DataSource, NotionError> {
        self.call(
            Method::GET,
            &format!("/v1/data_sources/{id}"),
            &[],
            None,
            Repeat::Safe,
        )
        .await
    }

    pub async fn retrieve_database(&self, id: &str) -> Result<Database, NotionError> {
        self.call(
            Method::GET,
            &format!("/v1/databases/{id}"),
            &[],
            None,
            Repeat::Safe,
        )
        .await
    }

    /// Creates a database with its first data source; like [`create_page`](Self::create_page),
    /// a 503 after commit is resolved by reading what was created.
    pub async fn create_database(&self, request: &CreateDatabase) -> Result<Database, NotionError> {
        self.create("/v1/databases", request.to_body(), "/v1/databases")
            .await
    }

    /// POSTs a create to `path`; when Notion answers 503 but names the object it
    /// committed, reads that object from `read_prefix/{id}` instead of failing, since
    /// the caller's retry would otherwise create it twice.
    async fn create<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Value,
        read_prefix: &str,
    ) -> Result<T, NotionError> {
        let result = self
            .call(Method::POST, path, &[], Some(body), Repeat::Unsafe)
            .await;
        match result {
            Err(err) => match err.committed_resource_id() {
                Some(id) => {
                    tracing::info!(id, path, "create answered 503 after commit; reading it");
                    let read = format!("{read_prefix}/{id}");
                    self.call(Method::GET, &read, &[], None, Repeat::Safe).await
                }
                None => Err(err),
            },
            ok => ok,
        }
    }

    /// Sends one logical call, paced and retried within the policy.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
        repeat: Repeat,
    ) -> Result<T, NotionError> {
        let started = Instant::now();
        // Past the work's deadline no call starts: each has a worst case of its own, and
        // one started late would carry the work (a worker's item) past its time and its
        // lease. The work comes back later.
        if self.wait_until.is_some_and(|until| started >= until) {
            return Err(NotionError::Paced {
                method: method.to_string(),
                path: path.to_owned(),
            });
        }
        // Waiting for a slot counts against the call's time too: with many tasks (or a
        // long pause) ahead, the call gives up unsent rather than outlast its budget —
        // or its caller's deadline, when it gave one.
        let own = started + self.retry.max_elapsed;
        let deadline = self.wait_until.map_or(own, |until| until.max(own));
        let call = format!("{method} {path}");
        let call = Call {
            service: "Notion",
            call: &call,
        };
        let unsent = || NotionError::Paced {
            method: method.to_string(),
            path: path.to_owned(),
        };
        let value = paced(
            &self.limiter,
            &self.retry,
            deadline,
            call,
            unsent,
            |retry| {
                let (method, body) = (&method, body.as_ref());
                async move {
                    let outcome = self.send_once(method, path, query, body).await;
                    self.ending(outcome, repeat, retry)
                }
            },
        )
        .await?;
        decode(&method, path, value)
    }

    /// How an answer ended, for the paced loop. A 429 or 529 pauses every call of the
    /// process and slows the pace; any other answer from Notion means it took the call;
    /// a transport failure says nothing about the budget. Only rate refusals and what
    /// [`retry_wait`](Self::retry_wait) allows are tried again.
    fn ending(
        &self,
        outcome: Result<Value, NotionError>,
        repeat: Repeat,
        retry: u32,
    ) -> Ending<Value, NotionError> {
        self.tally.sent.fetch_add(1, Ordering::Relaxed);
        let err = match outcome {
            Ok(value) => return Ending::done(Ok(value), Heard::Took),
            Err(err) => err,
        };
        if err.is_rate_refusal() {
            self.tally.refused.fetch_add(1, Ordering::Relaxed);
            let retry_after = err.retry_after();
            return Ending::refused(err, retry_after);
        }
        let heard = match &err {
            // A blocked integration's 429 says nothing about the pace.
            NotionError::Api(e) if e.status == 429 => Heard::Nothing,
            NotionError::Api(_) => Heard::Took,
            _ => Heard::Nothing,
        };
        match self.retry_wait(&err, repeat, retry) {
            Some(wait) => Ending::again(err, heard, wait),
            None => Ending::done(Err(err), heard),
        }
    }

    /// How long to wait before retrying after `err` (not a rate refusal: the limiter
    /// times those), or `None` when it must not be retried.
    fn retry_wait(&self, err: &NotionError, repeat: Repeat, retry: u32) -> Option<Duration> {
        match err {
            NotionError::Api(e)
                if matches!(e.status, 500 | 502 | 503 | 504) && repeat == Repeat::Safe =>
            {
                Some(self.retry.backoff(retry))
            }
            NotionError::Transport { source, .. }
                if repeat == Repeat::Safe || source.is_connect() =>
            {
                Some(self.retry.backoff(retry))
            }
            NotionError::Timeout { .. } if repeat == Repeat::Safe => {
                Some(self.retry.backoff(retry))
            }
            _ => None,
        }
    }

    async fn send_once(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, NotionError> {
        let url = format!("{}{}", self.base_url, path);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(self.token.expose_secret())
            .header("Notion-Version", NOTION_VERSION);
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let transport = |source: reqwest::Error| {
            if source.is_timeout() {
                NotionError::Timeout {
                    method: method.to_string(),
                    path: path.to_owned(),
                }
            } else {
                NotionError::Transport {
                    method: method.to_string(),
                    path: path.to_owned(),
                    source: source.without_url(),
                }
            }
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let header_request_id = response
            .headers()
            .get("x-notion-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response.bytes().await.map_err(transport)?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| NotionError::Decode {
                method: method.to_string(),
                path: path.to_owned(),
                detail: crm_domain::redact::serde_error(&e),
            });
        }
        Err(api_error(status, &bytes, retry_after, header_request_id))
    }
}

/// The `filter_properties` query pairs for property ids as Notion names them.
///
/// Notion sends property ids URL-encoded (`%3AUPp` is the id `:UPp`), and the query
/// string encoder encodes whatever it is given, so an id passed as-is reaches Notion as
/// `%253AUPp` and is refused with 400. Each id is therefore decoded once here and
/// encoded once by the encoder — what the official SDK does since its PR #402. Both
/// calls that take `filter_properties` build their query through this one function.
fn filter_properties_query(ids: &[String]) -> Vec<(&'static str, String)> {
    ids.iter()
        .map(|id| {
            let decoded = percent_encoding::percent_decode_str(id).decode_utf8_lossy();
            ("filter_properties", decoded.into_owned())
        })
        .collect()
}

fn decode<T: DeserializeOwned>(
    method: &Method,
    path: &str,
    value: Value,
) -> Result<T, NotionError> {
    serde_json::from_value(value).map_err(|e| NotionError::Decode {
        method: method.to_string(),
        path: path.to_owned(),
        detail: crm_domain::redact::serde_error(&e),
    })
}

/// Reads Notion's error body. An edge proxy may answer with HTML instead; then the
/// status alone decides.
fn api_error(
    status: StatusCode,
    body: &[u8],
    header_retry_after: Option<Duration>,
    header_request_id: Option<String>,
) -> NotionError {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_owned);
    let additional = json.get("additional_data");
    let additional_text = |key: &str| {
        additional
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let body_retry_after = additional
        .and_then(|a| a.get("retry_after"))
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64);
    NotionError::Api(Box::new(ApiFailure {
        status: status.as_u16(),
        code: text("code").unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("unknown")
                .to_lowercase()
                .replace(' ', "_")
        }),
        message: text("message").unwrap_or_else(|| format!("HTTP {status}")),
        request_id: text("request_id").or(header_request_id),
        retry_after: header_retry_after.or(body_retry_after),
        rate_limit_reason: additional_text("rate_limit_reason"),
        committed_resource_id: additional_text("committed_resource_id"),
        block_limit: status == StatusCode::FORBIDDEN
            && additional.is_some_and(|a| a.get("block_limit").is_some()),
    }))
}

/// One page of `GET /v1/users`.
#[derive(serde::Deserialize)]
struct UserList {
    results: Vec<UserRef>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::filter_properties_query;

    #[test]
    fn property_ids_are_decoded_once_for_the_query_encoder() {
        let ids = ["%3AUPp", "M%3BBw", "%25%40Ge", "title"].map(String::from);
        let pairs = filter_properties_query(&ids);
        let values: Vec<&str> = pairs.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(values, [":UPp", "M;Bw", "%@Ge", "title"]);
        assert!(pairs.iter().all(|(k, _)| *k == "filter_properties"));
    }
}
