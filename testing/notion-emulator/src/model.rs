//! What the emulator stores, and how Notion shows it.

use std::collections::HashMap;

use chrono::{DateTime, Timelike, Utc};
use serde_json::{Map, Value, json};

/// Notion's timestamp format: milliseconds, `Z`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Notion stores page times to the minute.
pub fn to_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t)
}

#[derive(Debug, Clone)]
pub struct PropSchema {
    pub id: String,
    pub name: String,
    pub kind: String,
    /// The type's configuration object, e.g. `{"options": [...]}` for a select.
    pub config: Value,
}

impl PropSchema {
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("id".into(), Value::String(self.id.clone()));
        obj.insert("name".into(), Value::String(self.name.clone()));
        obj.insert("type".into(), Value::String(self.kind.clone()));
        obj.insert("description".into(), Value::String(String::new()));
        obj.insert(self.kind.clone(), self.config.clone());
        Value::Object(obj)
    }

    pub fn options(&self) -> Vec<Value> {
        self.config
            .get("options")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct DataSource {
    pub id: String,
    pub database_id: String,
    pub title: String,
    pub properties: Vec<PropSchema>,
    pub created: DateTime<Utc>,
    pub edited: DateTime<Utc>,
}

impl DataSource {
    /// A property by name or by id (ids as sent: URL-encoded).
    pub fn property(&self, key: &str) -> Option<&PropSchema> {
        self.properties.iter().find(|p| p.name == key).or_else(|| {
            self.properties
                .iter()
                .find(|p| crate::ids::is_property_id(&p.id, key))
        })
    }

    pub fn property_index(&self, key: &str) -> Option<usize> {
        self.properties
            .iter()
            .position(|p| p.name == key)
            .or_else(|| {
                self.properties
                    .iter()
                    .position(|p| crate::ids::is_property_id(&p.id, key))
            })
    }

    pub fn title_property(&self) -> Option<&PropSchema> {
        self.properties.iter().find(|p| p.kind == "title")
    }

    pub fn to_json(&self) -> Value {
        let properties: Map<String, Value> = self
            .properties
            .iter()
            .map(|p| (p.name.clone(), p.to_json()))
            .collect();
        json!({
            "object": "data_source",
            "id": self.id,
            "created_time": iso(self.created),
            "last_edited_time": iso(self.edited),
            "title": rich_text_json(&self.title),
            "description": [],
            "properties": properties,
            "parent": {"type": "database_id", "database_id": self.database_id},
            "database_parent": {"type": "page_id"},
            "in_trash": false,
            "is_inline": false,
            "icon": null,
            "cover": null,
            "url": crate::ids::page_url(&self.title, &self.database_id),
            "public_url": null,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Database {
    pub id: String,
    pub title: String,
    pub parent_page_id: String,
    pub data_sources: Vec<String>,
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub bot: bool,
    pub email: Option<String>,
}

/// What the integration may see of users: its "user capabilities" (Notion's
/// capabilities reference: "No user information — user objects will not include
/// information about the user, including name, profile images, or their email address";
/// "User information without email addresses — … omit the email address"; "User
/// information with email addresses"). User objects always keep `object` and `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserInfo {
    None,
    WithoutEmail,
    #[default]
    WithEmail,
}

impl User {
    pub fn to_json(&self, info: UserInfo) -> Value {
        if info == UserInfo::None {
            return self.short_json();
        }
        if self.bot {
            json!({"object": "user", "id": self.id, "name": self.name, "avatar_url": null, "type": "bot", "bot": {}})
        } else if info == UserInfo::WithEmail {
            json!({"object": "user", "id": self.id, "name": self.name, "avatar_url": null, "type": "person",
                   "person": {"email": self.email}})
        } else {
            json!({"object": "user", "id": self.id, "name": self.name, "avatar_url": null, "type": "person",
                   "person": {}})
        }
    }

    pub fn short_json(&self) -> Value {
        json!({"object": "user", "id": self.id})
    }
}

#[derive(Debug, Clone)]
pub struct PageRec {
    pub id: String,
    pub data_source_id: String,
    pub created: DateTime<Utc>,
    pub edited: DateTime<Utc>,
    pub created_by: String,
    pub edited_by: String,
    pub in_trash: bool,
    /// Property id → the value under the type key (e.g. a string for `email`).
    pub values: HashMap<String, Value>,
    /// When it was written, for the query lag switch.
    pub written: tokio::time::Instant,
}

/// The rich-text array Notion returns for a plain string.
pub fn rich_text_json(text: &str) -> Value {
    if text.is_empty() {
        return json!([]);
    }
    json!([text_object(text, None)])
}

pub fn text_object(content: &str, link: Option<&Value>) -> Value {
    json!({
        "type": "text",
        "text": {"content": content, "link": link.cloned().unwrap_or(Value::Null)},
        "annotations": {
            "bold": false, "italic": false, "strikethrough": false,
            "underline": false, "code": false, "color": "default"
        },
        "plain_text": content,
        "href": link.and_then(|l| l.get("url")).cloned().unwrap_or(Value::Null),
    })
}

/// The plain text of a stored rich-text array.
pub fn plain(value: &Value) -> String {
    value
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| {
                    p.get("plain_text")
                        .or_else(|| p.get("text").and_then(|t| t.get("content")))
                        .and_then(Value::as_str)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The empty value of a property type, as a new page has it.
pub fn empty_value(schema: &PropSchema) -> Value {
    match schema.kind.as_str() {
        "title" | "rich_text" | "relation" | "people" | "multi_select" | "files" => json!([]),
        "checkbox" => Value::Bool(false),
        // A status always has a value in Notion: the first option.
        "status" => schema.options().first().cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    }
}
