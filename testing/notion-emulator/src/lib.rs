//! A Notion API emulator for tests and `make local`.
//!
//! It keeps real state (databases, data sources, pages) and answers the endpoints this
//! project uses the way Notion does — shapes, error bodies, filters, sorts, cursors —
//! so that the project's client and an unmodified official SDK behave against it as
//! against `api.notion.com`. On top of Notion, it can be told to misbehave the ways
//! Notion does (429 with `Retry-After`, 529, 5xx, a 503 after committing a write,
//! latency, a rate limit), it logs every request so tests can count calls, and it sends
//! signed webhook deliveries for page changes, optionally duplicated, reordered,
//! delayed or merged.
//!
//! # A witness, not a friend
//!
//! Where Notion documents a behaviour, the emulator does exactly that and refuses what
//! Notion refuses, so a client bug fails here as it would against Notion. Where Notion
//! does not document it, the emulator has a switch, and the product's tests pass in
//! every setting. Each behaviour names its source:
//!
//! | behaviour | source |
//! |---|---|
//! | `Notion-Version` required; data-source paths refused on 2022-06-28 (`invalid_request_url`) | versioning page; notion-mcp-server issues #178/#179 |
//! | error body `{object, status, code, message, request_id}`; codes per status | status-codes page; SDK `src/errors.ts` |
//! | 429 `rate_limited` with `Retry-After` and `additional_data.retry_after`; 529 `service_overload`; 503 after a saved write with `committed_resource_id` | request-limits page |
//! | per-connection budget per 60-s window, `Retry-After` to its reset (≤ 60 s), reason `public_api_request_rate_limit`; a per-workspace limit over every connection, reason `public_api_space_request_rate_limit` | request-limits page (current copy) |
//! | Free workspace with more than one member: 1,000 lifetime blocks (each page one), the create reaching it succeeds and starts a 3-day grace, then creates refused; reads and edits answered; personal access tokens exempt | "Workspace block limits" page |
//! | `filter_properties` matches a property id in its one wire form (the JSON id decoded, then query-encoded); a double-encoded id (`%253A…`) or a name is a 400 `validation_error` | retrieve-a-page reference ("page property value IDs"); SDK PR #402 |
//! | `request_status` only on a response cut at the 10,000-row cap | changelog 2026-07-08; a live capture without it |
//! | `archived` refused on 2026-03-11 (use `in_trash`); accepted before | upgrade guide 2026-03-11 |
//! | `in_trash` is not a query body parameter; trashed pages are never returned | query-a-data-source reference (2026 copy) |
//! | filters: operators per type, two levels of `and`/`or`, sorts, opaque cursors, `page_size` 1–100 | filter and sort reference; SDK `api-endpoints` types |
//! | rich text ≤ 2,000 characters, arrays ≤ 100 | request-limits page |
//! | a page object carries at most 25 references per property (mentions in a title or rich text, related pages with `has_more`, people); the page keeps them all | retrieve-a-page reference |
//! | webhook handshake unsigned, deliveries signed `sha256=` HMAC of the body with the verification token | webhooks page; SDK `src/webhooks.ts` |
//! | a page's event parent names `data_source_id` from API 2025-09-03, only the database on 2022-06-28 | "Webhook events" reference; upgrade guide 2025-09-03 |
//! | deliveries retried up to 8 times; may be duplicated, delayed, out of order | "Event types & delivery" page |
//!
//! Switches for what Notion leaves unsaid:
//!
//! | switch | why |
//! |---|---|
//! | [`TextCase`] (`set_text_case`, `NOTION_EMULATOR_TEXT_CASE`): text filters case-sensitive or not | the filter reference says only "matches the provided string" |
//! | `set_query_lag`: a new page shows in queries only after a delay | read-after-write in queries is not documented; search is "eventually consistent" |
//! | [`DeliveryMode::aggregate_ms`]: merge a page's events within a window | the delivery page says page events are aggregated, not for how long |
//! | [`DeliveryMode`] `duplicate` / `reorder` / `delay_ms` | delivery is "at most once" in aim, retried, unordered |
//! | [`RateLimit`] (`set_rate_limit`): the older "average of 3 a second" as a token bucket or a strict sliding window; the current per-connection budget per 60-s window of any size, its window starting at the first request or on the clock | the older page gives an average, not the counter's shape; the current one gives no number per plan |
//! | `set_workspace_limit`: a budget shared by every token (`add_token`), its window any length | "Retry-After for this limit can be longer than a minute"; no size or window given |
//! | `set_rate_limit_reason`: a `rate_limit_reason` no client has seen | "Other rate_limit_reason values can appear" |
//! | [`BlockLimit`] (`set_block_limit`): its [`BlockRefusal`] shape, documented or bare | one copy gives 403 `restricted_resource` with `additional_data.block_limit`, others no shape |
//!
//! The seeded workspace ([`Emulator::seed_crm`]) is the product's schema table
//! (`crm_domain::schema`) at its default names: what `crm setup` creates. Tests wait for
//! webhook deliveries with [`Emulator::deliveries_idle`] instead of sleeping.
//!
//! Admin routes live under `/__admin`, outside Notion's `/v1`, and need no token.

mod admin;
mod api;
mod blocks;
mod error;
mod faults;
mod filter;
mod gate;
mod ids;
mod model;
mod rate;
mod schema;
mod seed;
mod state;
mod values;
mod webhooks;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use blocks::{BlockLimit, BlockRefusal, TokenKind};
pub use faults::{FaultAction, FaultRule};
pub use filter::TextCase;
pub use model::UserInfo;
pub use rate::RateLimit;
pub use seed::{SeededWorkspace, StageKind};
pub use state::LoggedRequest;
pub use webhooks::{DeliveryMode, DeliveryRecord};

use state::State;

/// The token the emulator accepts unless told otherwise.
pub const DEFAULT_TOKEN: &str = "ntn_emulator_token";

/// A running emulator. Dropping it stops the server.
pub struct Emulator {
    addr: SocketAddr,
    shared: Shared,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// State shared by the HTTP handlers and the typed handle.
pub(crate) type Shared = Arc<Mutex<State>>;

impl Emulator {
    /// Starts on 127.0.0.1 at `port` (0 picks a free one), accepting `token`.
    pub async fn start(port: u16, token: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let shared: Shared = Arc::new(Mutex::new(State::new(token)));
        let app = router(Arc::clone(&shared));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            shared,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to give a Notion client (without `/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates the CRM workspace (Contacts, Deals, Activities; see the seed module).
    pub fn seed_crm(&self, stage: StageKind) -> SeededWorkspace {
        seed::seed_crm(&mut self.state(), stage)
    }

    /// Adds a person to the workspace (who can own pages and edit them in the app);
    /// returns their user id.
    pub fn add_person(&self, name: &str, email: &str) -> String {
        let id = ids::new_id();
        self.state().users.push(model::User {
            id: id.clone(),
            name: name.into(),
            bot: false,
            email: Some(email.into()),
        });
        id
    }

    /// Accepts `token` from now on, and no other: a rotated integration token.
    pub fn set_token(&self, token: &str) {
        self.state().token = token.to_owned();
    }

    pub fn inject(&self, rule: FaultRule) {
        self.state().faults.push(rule);
    }

    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// Answers 429 like Notion beyond each connection's limit (counted per token).
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        self.state().set_rate_limit(limit);
    }

    /// Answers 429 like Notion beyond the workspace's limit, shared by every token, with
    /// `Retry-After` to its window's reset (which may be more than a minute).
    pub fn set_workspace_limit(&self, limit: Option<RateLimit>) {
        self.state().set_workspace_limit(limit);
    }

    /// Sends `reason` as every 429's `rate_limit_reason` (`None`: the documented ones),
    /// for a reason the client has never seen.
    pub fn set_rate_limit_reason(&self, reason: Option<&str>) {
        self.state().rate_reason = reason.map(str::to_owned);
    }

    /// Another connection of the same workspace: it has a budget of its own and shares
    /// the workspace's limits.
    pub fn add_token(&self, token: &str, kind: TokenKind) {
        self.state().other_tokens.insert(token.to_owned(), kind);
    }

    /// Holds the workspace to the Free block limit (`None`: unlimited, as after an
    /// upgrade). The grace starts with the create that reaches the limit, or, when the
    /// workspace is over it already, now.
    pub fn set_block_limit(&self, limit: Option<BlockLimit>) {
        self.state().set_block_limit(limit);
    }

    /// Ends the block limit's grace now, however long it was: the three days passed.
    /// A grace not yet started (the limit not reached) is not affected.
    pub fn end_block_grace(&self) {
        self.state().grace_ended = true;
    }

    /// Blocks the workspace has used (every page and database is one).
    pub fn blocks_used(&self) -> u64 {
        self.state().blocks_used()
    }

    /// Whether text filters ignore case (Notion does not say); the default comes from
    /// `NOTION_EMULATOR_TEXT_CASE`.
    pub fn set_text_case(&self, case: TextCase) {
        self.state().text_case = case;
    }

    pub fn text_case(&self) -> TextCase {
        self.state().text_case
    }

    /// Leaves pages out of query results until `lag` after they were created. Notion
    /// does not document how soon a new page shows in queries (its search is documented
    /// as eventually consistent), so this is a switch; 0 by default.
    pub fn set_query_lag(&self, lag: std::time::Duration) {
        self.state().query_lag = lag;
    }

    /// What the integration may see of users: with or without their emails, or nothing
    /// but their ids (its user capabilities; with emails by default).
    pub fn set_user_info(&self, info: UserInfo) {
        self.state().user_info = info;
    }

    /// Caps query results like Notion's 10,000-row limit, at `cap` rows.
    pub fn set_result_cap(&self, cap: usize) {
        self.state().result_cap = cap;
    }

    /// Every `/v1` request so far: method, path, status, time.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state().log.clone()
    }

    /// How many requests were answered with `status` (429: refused for the rate).
    pub fn answered(&self, status: u16) -> usize {
        self.state()
            .log
            .iter()
            .filter(|r| r.status == status)
            .count()
    }

    pub fn clear_requests(&self) {
        self.state().clear_log();
    }

    /// The most requests it was answering at once since the log was last cleared.
    pub fn max_in_flight(&self) -> usize {
        self.state().max_in_flight
    }

    /// Registers a webhook subscription: sends the verification handshake to `url` and
    /// signs later deliveries with the token it returns.
    pub async fn subscribe(&self, url: &str) -> String {
        webhooks::subscribe(&self.shared, url, None, None).await
    }

    /// Like [`subscribe`](Self::subscribe), for a subscription created with another
    /// API version (`2022-06-28` payloads name a page's database, not its data source).
    pub async fn subscribe_with_version(&self, url: &str, api_version: &str) -> String {
        webhooks::subscribe(&self.shared, url, None, Some(api_version.to_owned())).await
    }

    pub fn set_delivery_mode(&self, mode: DeliveryMode) {
        self.state().webhooks.mode = mode;
    }

    /// Sends the events held back by [`DeliveryMode::reorder`], newest first.
    pub fn flush_deliveries(&self) {
        webhooks::flush(&self.shared);
    }

    /// Waits until every event emitted so far has been delivered (or given up on after
    /// Notion's attempts): nothing queued, merging or in flight. Events held for a
    /// reordered flush are not waited for. False if that takes longer than `within`.
    pub async fn deliveries_idle(&self, within: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while !self.state().webhooks.idle() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        true
    }

    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.state().webhooks.deliveries.clone()
    }

    /// Sends an already delivered event again, as Notion's retries do.
    pub fn redeliver(&self, event_id: &str) -> bool {
        webhooks::redeliver(&self.shared, event_id)
    }

    /// Pages of a data source as the API would return them (trashed ones included).
    pub fn pages(&self, data_source_id: &str) -> Vec<serde_json::Value> {
        let state = self.state();
        state.pages_json(data_source_id)
    }

    /// Creates a page as a person in the Notion app would (authored by a person).
    pub fn create_page_as_person(
        &self,
        properties: serde_json::Value,
        data_source_id: &str,
    ) -> Result<serde_json::Value, String> {
        admin::create_page_as_person(&self.shared, data_source_id, properties)
    }

    /// Edits a page as a person in the Notion app would.
    pub fn update_page_as_person(
        &self,
        page_id: &str,
        properties: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        admin::update_page_as_person(&self.shared, page_id, properties)
    }

    /// Moves a page to the trash (or restores it) as a person would.
    pub fn trash_page_as_person(&self, page_id: &str, in_trash: bool) -> Result<(), String> {
        admin::trash_page_as_person(&self.shared, page_id, in_trash)
    }

    /// Gives a property a chosen id (URL-encoded, as the API sends ids), e.g. one with
    /// `%3A` in it, so tests can check how clients put ids on the wire.
    pub fn set_property_id(&self, data_source_id: &str, name: &str, id: &str) -> bool {
        self.state().set_property_id(data_source_id, name, id)
    }

    /// Replaces a property's configuration (`{"format": "euro"}` for a number), as a
    /// person editing the column would.
    pub fn set_property_config(
        &self,
        data_source_id: &str,
        name: &str,
        config: serde_json::Value,
    ) -> bool {
        let mut state = self.state();
        let Some(p) = state
            .data_sources
            .get_mut(data_source_id)
            .and_then(|ds| ds.properties.iter_mut().find(|p| p.name == name))
        else {
            return false;
        };
        p.config = config;
        true
    }

    /// Deletes a property from a data source's schema, as a person editing the table
    /// would: for workspaces set up before a property existed.
    pub fn remove_property(&self, data_source_id: &str, name: &str) -> bool {
        let mut state = self.state();
        let Some(ds) = state.data_sources.get_mut(data_source_id) else {
            return false;
        };
        let before = ds.properties.len();
        ds.properties.retain(|p| p.name != name);
        ds.properties.len() < before
    }

    /// Moves a page's creation and edit times, for tests of age-based rules.
    pub fn set_page_times(
        &self,
        page_id: &str,
        created: Option<chrono::DateTime<chrono::Utc>>,
        last_edited: Option<chrono::DateTime<chrono::Utc>>,
    ) -> bool {
        self.state().set_page_times(page_id, created, last_edited)
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        self.stop_inner().await;
    }

    async fn stop_inner(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn router(shared: Shared) -> axum::Router {
    api::routes(Arc::clone(&shared))
        .merge(admin::routes(Arc::clone(&shared)))
        .layer(axum::middleware::from_fn(local_only))
}

/// Every route answers only when addressed as 127.0.0.1 or localhost, from no other
/// origin (`crm_domain::loopback`): the emulator holds a workspace's contacts, and a page
/// on another site must not read them through a rebound DNS name. Notion's own API is
/// not reachable this way, so nothing a client of Notion does is refused.
async fn local_only(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::header::{HOST, ORIGIN};
    use axum::response::IntoResponse;
    let local = {
        let headers = request.headers();
        let host = headers.get(HOST).and_then(|v| v.to_str().ok());
        let origin = headers.get(ORIGIN).and_then(|v| v.to_str().ok());
        crm_domain::loopback::addressed_locally(host, origin)
    };
    if local {
        return next.run(request).await;
    }
    (
        axum::http::StatusCode::FORBIDDEN,
        "the Notion emulator answers only on 127.0.0.1 and localhost, to no other origin",
    )
        .into_response()
}
