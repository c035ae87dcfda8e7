use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::page::Parent;
use super::rich_text::{RichText, plain_text};

/// A data source: the table with the property schema.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DataSource {
    pub id: String,
    #[serde(default)]
    pub title: Vec<RichText>,
    pub parent: Parent,
    #[serde(default)]
    pub properties: BTreeMap<String, PropertySchema>,
    #[serde(default)]
    pub in_trash: bool,
}

impl DataSource {
    pub fn name(&self) -> String {
        plain_text(&self.title)
    }
}

/// One column: id, name, type and the type's configuration (options of a select...).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PropertySchema {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(flatten)]
    pub config: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectOption {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub color: Option<String>,
}

impl PropertySchema {
    /// The options of a select, multi-select or status property.
    pub fn options(&self) -> Vec<SelectOption> {
        self.config
            .get(&self.kind)
            .and_then(|c| c.get("options"))
            .and_then(|o| serde_json::from_value(o.clone()).ok())
            .unwrap_or_default()
    }

    /// A number property's format (`dollar`, `euro`, `number`, …).
    pub fn number_format(&self) -> Option<&str> {
        self.config
            .get("number")
            .and_then(|n| n.get("format"))
            .and_then(Value::as_str)
    }
}

/// A database: the container of one or more data sources.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Database {
    pub id: String,
    #[serde(default)]
    pub title: Vec<RichText>,
    pub parent: Parent,
    #[serde(default)]
    pub data_sources: Vec<DataSourceRef>,
    #[serde(default)]
    pub in_trash: bool,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DataSourceRef {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// `POST /v1/databases` under a page, with the schema of its first data source.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateDatabase {
    pub parent_page_id: String,
    pub title: String,
    /// Property name → type configuration, e.g. `{"email": {}}`.
    pub properties: BTreeMap<String, Value>,
}

impl CreateDatabase {
    pub fn to_body(&self) -> Value {
        json!({
            "parent": {"type": "page_id", "page_id": self.parent_page_id},
            "title": [{"type": "text", "text": {"content": self.title}}],
            "initial_data_source": {"properties": self.properties},
        })
    }
}
