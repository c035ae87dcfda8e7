use serde::Deserialize;
use serde_json::{Map, Value};

use super::page::Page;
use crate::filter::{Filter, Sort};

/// `POST /v1/data_sources/{id}/query`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryRequest {
    pub filter: Option<Filter>,
    pub sorts: Vec<Sort>,
    pub start_cursor: Option<String>,
    /// 1 to 100; Notion's default is 100.
    pub page_size: Option<u32>,
    /// Property ids (or names) to return; all when empty.
    pub filter_properties: Vec<String>,
}

impl QueryRequest {
    pub fn to_body(&self) -> Value {
        let mut body = Map::new();
        if let Some(filter) = &self.filter {
            body.insert(
                "filter".into(),
                serde_json::to_value(filter).unwrap_or(Value::Null),
            );
        }
        if !self.sorts.is_empty() {
            body.insert(
                "sorts".into(),
                serde_json::to_value(&self.sorts).unwrap_or(Value::Null),
            );
        }
        // Notion wants the cursor omitted, not null, on the first page.
        if let Some(cursor) = &self.start_cursor {
            body.insert("start_cursor".into(), Value::String(cursor.clone()));
        }
        if let Some(size) = self.page_size {
            body.insert("page_size".into(), Value::from(size.clamp(1, 100)));
        }
        Value::Object(body)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct QueryResponse {
    pub results: Vec<Page>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub next_cursor: Option<String>,
    #[serde(default)]
    pub request_status: Option<RequestStatus>,
}

/// Set by Notion when a query hit its 10,000-row cap.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RequestStatus {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub incomplete_reason: Option<String>,
}

impl QueryResponse {
    /// False when Notion stopped at its row cap: there were more rows than returned.
    pub fn is_complete(&self) -> bool {
        self.request_status
            .as_ref()
            .is_none_or(|s| s.kind != "incomplete")
    }
}
