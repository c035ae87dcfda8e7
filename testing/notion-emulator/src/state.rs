//! The emulator's whole state, behind one mutex: every request is short.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::faults::FaultRule;
use crate::ids;
use crate::model::{DataSource, Database, PageRec, User, empty_value, iso, plain, to_minute};
use crate::webhooks::WebhookState;

/// A request refused for a rate limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateRefusal {
    /// `Retry-After`, in whole seconds.
    pub wait: u64,
    /// `additional_data.rate_limit_reason`.
    pub reason: String,
}

/// One `/v1` request as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedRequest {
    /// Arrival order, from 1.
    pub seq: u64,
    pub method: String,
    pub path: String,
    /// The answer's status; 499 while unanswered or when the client gave up waiting.
    pub status: u16,
    /// Milliseconds since the emulator started, when the request arrived.
    pub at_ms: u64,
    /// The query string exactly as it came over the wire (still percent-encoded).
    pub query: String,
}

pub struct State {
    /// The integration's token (an internal connection).
    pub token: String,
    /// Other connections of the same workspace: they share its limits.
    pub other_tokens: HashMap<String, crate::blocks::TokenKind>,
    pub bot_id: String,
    pub users: Vec<User>,
    pub workspace_pages: HashMap<String, String>,
    pub databases: HashMap<String, Database>,
    pub data_sources: HashMap<String, DataSource>,
    pub pages: Vec<PageRec>,
    pub page_index: HashMap<String, usize>,
    pub log: Vec<LoggedRequest>,
    pub log_seq: u64,
    /// Requests being answered now, and the most there were at once since the log was
    /// cleared: how a test sees that a client works side by side.
    pub in_flight: usize,
    pub max_in_flight: usize,
    pub faults: Vec<FaultRule>,
    /// Each connection's budget (one counter per connection) and the workspace's, shared by
    /// every token; a reason to send instead of the documented ones.
    pub rate: Option<crate::rate::RateLimit>,
    pub rate_counters: HashMap<String, crate::rate::Counter>,
    pub workspace_rate: Option<crate::rate::Counter>,
    pub rate_reason: Option<String>,
    /// The Free workspace block limit, and when its grace began.
    pub block_limit: Option<crate::blocks::BlockLimit>,
    pub grace_started: Option<Instant>,
    /// The grace is over, however long it was (the test's "three days later").
    pub grace_ended: bool,
    pub result_cap: usize,
    pub webhooks: WebhookState,
    pub started: Instant,
    pub text_case: crate::filter::TextCase,
    /// Pages created less than this long ago are not yet in query results.
    pub query_lag: std::time::Duration,
    /// What the integration may see of users (its user capabilities).
    pub user_info: crate::model::UserInfo,
}

impl State {
    pub fn new(token: &str) -> Self {
        let bot = User {
            id: ids::new_id(),
            name: "CRM automations".into(),
            bot: true,
            email: None,
        };
        Self {
            token: token.to_owned(),
            other_tokens: HashMap::new(),
            bot_id: bot.id.clone(),
            users: vec![bot],
            workspace_pages: HashMap::new(),
            databases: HashMap::new(),
            data_sources: HashMap::new(),
            pages: Vec::new(),
            page_index: HashMap::new(),
            log: Vec::new(),
            log_seq: 0,
            in_flight: 0,
            max_in_flight: 0,
            faults: Vec::new(),
            rate: None,
            rate_counters: HashMap::new(),
            workspace_rate: None,
            rate_reason: None,
            block_limit: None,
            grace_started: None,
            grace_ended: false,
            result_cap: 10_000,
            webhooks: WebhookState::default(),
            started: Instant::now(),
            text_case: crate::filter::TextCase::from_env(),
            query_lag: std::time::Duration::ZERO,
            user_info: crate::model::UserInfo::default(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// Forgets the request log, and the most requests seen at once with it.
    pub fn clear_log(&mut self) {
        self.log.clear();
        self.max_in_flight = self.in_flight;
    }

    /// Sets each connection's limit (counted anew).
    pub fn set_rate_limit(&mut self, limit: Option<crate::rate::RateLimit>) {
        self.rate = limit;
        self.rate_counters.clear();
    }

    /// Sets the workspace's limit, shared by every token (counted anew).
    pub fn set_workspace_limit(&mut self, limit: Option<crate::rate::RateLimit>) {
        self.workspace_rate =
            limit.map(|l| crate::rate::Counter::starting(l, self.started.into_std()));
    }

    /// Whether `token` is one of the workspace's connections, and which kind.
    pub fn token_kind(&self, token: &str) -> Option<crate::blocks::TokenKind> {
        if token == self.token {
            return Some(crate::blocks::TokenKind::Internal);
        }
        self.other_tokens.get(token).copied()
    }

    /// Which connection `token` belongs to: the integration's whatever its current token
    /// (a rotated token is the same connection, with the budget it had), else the token.
    fn connection_of(&self, token: &str) -> String {
        if token == self.token {
            String::new()
        } else {
            token.to_owned()
        }
    }

    /// Counts a request of `token` against its connection's limit, then the
    /// workspace's; refused, the seconds to wait and the reason. A refused request
    /// spends nothing of either.
    pub fn take_rate_token(&mut self, token: &str) -> Result<(), RateRefusal> {
        let epoch = self.started.into_std();
        let reason = |documented: &str| {
            self.rate_reason
                .clone()
                .unwrap_or_else(|| documented.to_owned())
        };
        let connection = match self.rate {
            Some(limit) => {
                let counter = self
                    .rate_counters
                    .entry(self.connection_of(token))
                    .or_insert_with(|| crate::rate::Counter::starting(limit, epoch));
                if let Err(wait) = counter.take() {
                    return Err(RateRefusal {
                        wait,
                        reason: reason("public_api_request_rate_limit"),
                    });
                }
                true
            }
            None => false,
        };
        if let Some(workspace) = self.workspace_rate.as_mut()
            && let Err(wait) = workspace.take()
        {
            let key = self.connection_of(token);
            if connection && let Some(c) = self.rate_counters.get_mut(&key) {
                c.refund();
            }
            return Err(RateRefusal {
                wait,
                reason: reason("public_api_space_request_rate_limit"),
            });
        }
        Ok(())
    }

    /// Blocks the workspace holds: every page and database is one, and none is ever
    /// given back (the trash keeps pages; deleting restores no capacity).
    pub fn blocks_used(&self) -> u64 {
        let before = self.block_limit.map_or(0, |b| b.used_before);
        before + (self.pages.len() + self.databases.len() + self.workspace_pages.len()) as u64
    }

    /// The refusal of a request that would create a block, when the workspace's grace
    /// is over; `None` when it may go ahead.
    pub fn block_refusal(&self, token: &str, now: Instant) -> Option<crate::error::ApiError> {
        let limit = self.block_limit?;
        let exempt = self.token_kind(token) == Some(crate::blocks::TokenKind::Personal);
        let over = self
            .grace_started
            .is_some_and(|g| self.grace_ended || now >= g + limit.grace());
        (limit.applies() && !exempt && over && self.blocks_used() >= limit.limit)
            .then(|| limit.refusal(self.blocks_used()))
    }

    /// Holds the workspace to a block limit, or none; a workspace over it already starts
    /// its grace now.
    pub fn set_block_limit(&mut self, limit: Option<crate::blocks::BlockLimit>) {
        self.block_limit = limit;
        self.grace_started = None;
        self.grace_ended = false;
        self.count_create(Instant::now());
    }

    /// After a create: the write that reaches the limit starts the grace.
    pub fn count_create(&mut self, now: Instant) {
        if let Some(limit) = self.block_limit
            && limit.applies()
            && self.grace_started.is_none()
            && self.blocks_used() >= limit.limit
        {
            self.grace_started = Some(now);
        }
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn page(&self, id: &str) -> Option<&PageRec> {
        self.page_index.get(id).map(|i| &self.pages[*i])
    }

    pub fn page_mut(&mut self, id: &str) -> Option<&mut PageRec> {
        let i = *self.page_index.get(id)?;
        Some(&mut self.pages[i])
    }

    pub fn insert_page(&mut self, page: PageRec) {
        self.page_index.insert(page.id.clone(), self.pages.len());
        self.pages.push(page);
    }

    pub fn set_page_times(
        &mut self,
        page_id: &str,
        created: Option<DateTime<Utc>>,
        edited: Option<DateTime<Utc>>,
    ) -> bool {
        let Some(id) = ids::normalize(page_id) else {
            return false;
        };
        let Some(page) = self.page_mut(&id) else {
            return false;
        };
        if let Some(c) = created {
            page.created = to_minute(c);
        }
        if let Some(e) = edited {
            page.edited = to_minute(e);
        }
        true
    }

    /// Gives the property `name` of a data source the id `id` (as the API sends it,
    /// URL-encoded), carrying the pages' values over: for tests that need ids with
    /// particular characters.
    pub fn set_property_id(&mut self, data_source_id: &str, name: &str, id: &str) -> bool {
        let Some(ds) = self.data_sources.get_mut(data_source_id) else {
            return false;
        };
        let Some(prop) = ds.properties.iter_mut().find(|p| p.name == name) else {
            return false;
        };
        let old = std::mem::replace(&mut prop.id, id.to_owned());
        for page in self
            .pages
            .iter_mut()
            .filter(|p| p.data_source_id == data_source_id)
        {
            if let Some(value) = page.values.remove(&old) {
                page.values.insert(id.to_owned(), value);
            }
        }
        true
    }

    /// The page as an answer of the API carries it: [`page_json`](Self::page_json) with
    /// each property cut at 25 references — mentions in a title or rich text, related
    /// pages, people — "beyond which values are incomplete" (retrieve-a-page reference;
    /// the property-item endpoint pages through the rest). The emulator keeps them
    /// whole: a client that writes such a value back as it read it loses the rest.
    pub fn api_page_json(&self, page: &PageRec, only: &[String]) -> Value {
        let mut json = self.page_json(page, only);
        if let Some(properties) = json["properties"].as_object_mut() {
            for property in properties.values_mut() {
                cap_references(property);
            }
        }
        json
    }

    /// The page as the emulator holds it; `only` restricts properties to those ids.
    pub fn page_json(&self, page: &PageRec, only: &[String]) -> Value {
        let Some(ds) = self.data_sources.get(&page.data_source_id) else {
            return Value::Null;
        };
        let mut properties = Map::new();
        for schema in &ds.properties {
            if !only.is_empty() && !only.contains(&schema.id) {
                continue;
            }
            let value = match schema.kind.as_str() {
                "created_time" => Value::String(iso(page.created)),
                "last_edited_time" => Value::String(iso(page.edited)),
                "people" => self.people_json(page.values.get(&schema.id)),
                _ => page
                    .values
                    .get(&schema.id)
                    .cloned()
                    .unwrap_or_else(|| empty_value(schema)),
            };
            let mut prop = Map::new();
            prop.insert("id".into(), Value::String(schema.id.clone()));
            prop.insert("type".into(), Value::String(schema.kind.clone()));
            prop.insert(schema.kind.clone(), value);
            if schema.kind == "relation" {
                prop.insert("has_more".into(), Value::Bool(false));
            }
            properties.insert(schema.name.clone(), Value::Object(prop));
        }
        let title = ds
            .title_property()
            .and_then(|t| page.values.get(&t.id))
            .map(plain)
            .unwrap_or_default();
        let user = |id: &str| {
            self.user(id)
                .map(User::short_json)
                .unwrap_or_else(|| json!({"object": "user", "id": id}))
        };
        json!({
            "object": "page",
            "id": page.id,
            "created_time": iso(page.created),
            "last_edited_time": iso(page.edited),
            "created_by": user(&page.created_by),
            "last_edited_by": user(&page.edited_by),
            "cover": null,
            "icon": null,
            "parent": {
                "type": "data_source_id",
                "data_source_id": ds.id,
                "database_id": ds.database_id,
            },
            "in_trash": page.in_trash,
            "is_archived": false,
            "is_locked": false,
            "properties": properties,
            "url": ids::page_url(&title, &page.id),
            "public_url": null,
        })
    }

    fn people_json(&self, stored: Option<&Value>) -> Value {
        let ids = stored
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Value::Array(
            ids.iter()
                .filter_map(|v| v.get("id").and_then(Value::as_str))
                .map(|id| {
                    self.user(id)
                        .map(|u| u.to_json(self.user_info))
                        .unwrap_or_else(|| json!({"object": "user", "id": id}))
                })
                .collect(),
        )
    }

    pub fn pages_json(&self, data_source_id: &str) -> Vec<Value> {
        let Some(ds_id) = ids::normalize(data_source_id) else {
            return Vec::new();
        };
        self.pages
            .iter()
            .filter(|p| p.data_source_id == ds_id)
            .map(|p| self.page_json(p, &[]))
            .collect()
    }

    pub fn database_json(&self, db: &Database) -> Value {
        let sources: Vec<Value> = db
            .data_sources
            .iter()
            .filter_map(|id| self.data_sources.get(id))
            .map(|ds| json!({"id": ds.id, "name": ds.title}))
            .collect();
        json!({
            "object": "database",
            "id": db.id,
            "created_time": iso(db.created),
            "last_edited_time": iso(db.created),
            "title": crate::model::rich_text_json(&db.title),
            "description": [],
            "parent": {"type": "page_id", "page_id": db.parent_page_id},
            "is_inline": false,
            "in_trash": false,
            "is_locked": false,
            "data_sources": sources,
            "icon": null,
            "cover": null,
            "url": ids::page_url(&db.title, &db.id),
            "public_url": null,
        })
    }
}

/// How many references a property value carries in a page object (retrieve-a-page
/// reference).
pub const MAX_REFERENCES: usize = 25;

/// Cuts a property value (`{"type": …, <type>: …}`) at [`MAX_REFERENCES`]: the mentions
/// of a title or rich text (its text stays whole), a relation (which then says
/// `has_more`), people.
fn cap_references(property: &mut Value) {
    let kind = property["type"].as_str().unwrap_or_default().to_owned();
    let Some(items) = property.get_mut(&kind).and_then(Value::as_array_mut) else {
        return;
    };
    match kind.as_str() {
        "title" | "rich_text" => {
            let mut mentions = 0;
            items.retain(|item| {
                if item["type"] != "mention" {
                    return true;
                }
                mentions += 1;
                mentions <= MAX_REFERENCES
            });
        }
        "relation" | "people" if items.len() > MAX_REFERENCES => {
            items.truncate(MAX_REFERENCES);
            if kind == "relation" {
                property["has_more"] = Value::Bool(true);
            }
        }
        _ => {}
    }
}
